//! The physical limit: plain TCP echo on one core. Reads into a reused
//! buffer and writes the same bytes back; no WebSocket parsing at all. The
//! load generator's `--raw-tcp` mode sends it the same masked frames a
//! WebSocket client would, and parses the echoed frames itself.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One read's worth. As large as the biggest write a WebSocket server in the
/// table makes (tungstenite corks 128 KiB), so that large messages cost the
/// raw echo no more syscalls than any WebSocket server: with 64 KiB it was
/// slower than tungstenite at 64 KiB messages.
const BUFFER_SIZE: usize = 256 * 1024;

fn main() -> anyhow::Result<()> {
    switchboard_bench::serve("raw-tcp-echo", |mut stream| async move {
        // Allocate only once data has arrived (`peek` waits for a byte;
        // `readable` may wake spuriously): an idle connection then costs no
        // buffer, so its memory is the floor of the table.
        if !matches!(stream.peek(&mut [0u8; 1]).await, Ok(1)) {
            return;
        }
        let mut buffer = vec![0u8; BUFFER_SIZE];
        loop {
            let n = match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if stream.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    })
}
