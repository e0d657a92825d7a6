//! Graceful shutdown: the signal that starts it and the flag every
//! connection task watches.

use tokio::sync::watch;

/// Fires the shutdown flag once.
#[derive(Debug)]
pub(crate) struct Trigger(watch::Sender<bool>);

impl Trigger {
    /// Tells every [`Shutdown`] holder to wind down.
    pub(crate) fn fire(&self) {
        self.0.send_replace(true);
    }
}

/// A connection task's view of the shutdown flag.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once shutdown has started (at once if it already has).
    /// Cancel safe: it only observes the flag.
    pub(crate) async fn wait(&mut self) {
        // An error means the trigger is gone, which only happens when the
        // server is exiting anyway: treat it as a shutdown.
        let _ = self.0.wait_for(|started| *started).await;
    }

    /// Whether shutdown has started.
    pub(crate) fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

/// A trigger and the first receiver.
pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Shutdown(receiver))
}

/// The process signals that stop the server: Ctrl-C (SIGINT) and SIGTERM.
/// The handlers are installed when this is built, before the server
/// announces itself, so a signal sent right after `listening on` is never
/// lost to the default action.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next stop signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
