//! The plumbing of tests that drive third-party peers (SDKs, browsers,
//! other WebSocket stacks) as child processes: the opt-out switch, a
//! time-bounded runtime, and a child's standard error kept for failure
//! messages.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Set to `1` to skip every interop test (they print that they skipped).
pub const SKIP_ENV: &str = "SWITCHBOARD_SKIP_INTEROP";

/// True (after printing why) when `SWITCHBOARD_SKIP_INTEROP=1` asks to skip.
pub fn skip_requested(test: &str) -> bool {
    let skip = std::env::var(SKIP_ENV).is_ok_and(|v| v == "1");
    if skip {
        eprintln!("SKIPPED {test}: {SKIP_ENV}=1 is set");
    }
    skip
}

/// Runs `body` on a fresh two-worker runtime; panics, naming `what`, when it
/// takes longer than `limit`.
pub fn run_bounded<F: Future<Output = ()>>(limit: Duration, what: &str, body: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime")
        .block_on(async {
            tokio::time::timeout(limit, body)
                .await
                .unwrap_or_else(|_| panic!("{what} exceeded {limit:?}"))
        });
}

/// Reads `pipe` (a child's standard error) to its end on a spawned task,
/// into the returned text, so that a failing test can show what the child
/// said and the child never blocks on a full pipe.
pub fn collect_text<R: AsyncRead + Unpin + Send + 'static>(mut pipe: R) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    tokio::spawn(async move {
        let mut buf = vec![0; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("stderr buffer")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// The first file named `program` in a `$PATH` directory, if any.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}
