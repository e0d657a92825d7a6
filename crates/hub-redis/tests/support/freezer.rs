//! A TCP relay in front of Redis that can silently freeze its pub/sub
//! connections: their bytes from Redis stop arriving, yet nothing is
//! closed, as when a subscription is dropped without the socket noticing.
//! Connections made later pass normally.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The relay's handle.
pub struct Freezer {
    port: u16,
    /// Pub/sub connections opened before this generation are frozen.
    frozen_before: Arc<AtomicU64>,
    generations: Arc<AtomicU64>,
}

impl Freezer {
    /// Relays a free 127.0.0.1 port to Redis on `upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen_before = Arc::new(AtomicU64::new(0));
        let generations = Arc::new(AtomicU64::new(1));
        let frozen = frozen_before.clone();
        let next = generations.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let generation = generations.fetch_add(1, Ordering::SeqCst);
                let frozen = frozen.clone();
                tokio::spawn(relay(client, upstream, generation, frozen));
            }
        });
        Self {
            port,
            frozen_before,
            generations: next,
        }
    }

    /// The relay's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Freezes every pub/sub connection open now; later ones pass.
    pub fn freeze_pubsub(&self) {
        let now = self.generations.load(Ordering::SeqCst);
        self.frozen_before.store(now, Ordering::SeqCst);
    }
}

async fn relay(client: TcpStream, upstream: u16, generation: u64, frozen_before: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let pubsub = Arc::new(AtomicBool::new(false));
    let seen_subscribe = pubsub.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(read) = client_read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            if buffer[..read]
                .windows(9)
                .any(|window| window.eq_ignore_ascii_case(b"SUBSCRIBE"))
            {
                seen_subscribe.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    });
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read) = server_read.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let frozen =
            pubsub.load(Ordering::SeqCst) && generation < frozen_before.load(Ordering::SeqCst);
        if frozen {
            // Swallowed: the client waits forever for these bytes.
            continue;
        }
        if client_write.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
}
