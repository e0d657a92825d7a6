//! A TCP relay on 127.0.0.1 between an SDK client and the hub that a test can
//! cut (drop every connection, refuse new ones), restore, and pause (stop
//! reading what the server sends: the client "stops reading").

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the relay does with traffic right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    /// Accepted connections are dropped at once while set.
    cut: bool,
    /// Nothing is read from the server side while set.
    paused: bool,
    /// Bumped by every cut: connections of an older generation end.
    generation: u64,
}

/// A running relay; dropping it stops accepting (connections of the current
/// generation end with the test's runtime).
pub struct Relay {
    /// Where SDK clients connect instead of the hub.
    pub addr: SocketAddr,
    state: watch::Sender<State>,
    accepted: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl Relay {
    /// Listens on an ephemeral loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay on 127.0.0.1");
        let addr = listener.local_addr().expect("relay address");
        let (state, _) = watch::channel(State {
            cut: false,
            paused: false,
            generation: 0,
        });
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept_task = tokio::spawn(accept_loop(
            listener,
            upstream,
            state.clone(),
            Arc::clone(&accepted),
        ));
        Relay {
            addr,
            state,
            accepted,
            accept_task,
        }
    }

    /// `ws://RELAY/connection/websocket`.
    pub fn hub_url(&self) -> String {
        format!("ws://{}/connection/websocket", self.addr)
    }

    /// Drops every relayed connection and refuses new ones until [`Relay::restore`].
    pub fn cut(&self) {
        self.state.send_modify(|s| {
            s.cut = true;
            s.generation += 1;
        });
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.state.send_modify(|s| s.cut = false);
    }

    /// Stops reading from the server side of every connection (the client
    /// still sends); the server's writes then back up into its own queue.
    pub fn pause(&self) {
        self.state.send_modify(|s| s.paused = true);
    }

    /// Reads from the server side again.
    pub fn resume(&self) {
        self.state.send_modify(|s| s.paused = false);
    }

    /// Client connections accepted so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.cut();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    state: watch::Sender<State>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        let now = *state.borrow();
        if now.cut {
            // Refused: the SDK sees its connection close and backs off.
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream).await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::spawn(pump(
            client_read,
            server_write,
            state.subscribe(),
            now.generation,
            false,
        ));
        tokio::spawn(pump(
            server_read,
            client_write,
            state.subscribe(),
            now.generation,
            true,
        ));
    }
}

/// Copies one direction until end of stream, an error or a cut of its
/// generation; `pausable` directions also wait while the relay is paused.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<State>,
    generation: u64,
    pausable: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let ended = |s: &State| s.generation != generation;
    loop {
        if pausable {
            match state.wait_for(|s| ended(s) || !s.paused).await {
                Ok(s) if !ended(&s) => {}
                _ => return,
            }
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            changed = state.wait_for(|s| ended(s) || (pausable && s.paused)) => {
                match changed {
                    Ok(s) if !ended(&s) => continue,
                    _ => return,
                }
            }
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        tokio::select! {
            written = to.write_all(&buf[..n]) => if written.is_err() { return },
            _ = state.wait_for(ended) => return,
        }
    }
}
