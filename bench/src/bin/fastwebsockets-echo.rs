//! Echo server on fastwebsockets, as its `echo_server` example does: hyper
//! performs the HTTP/1.1 upgrade on any path, a `FragmentCollector`
//! delivers whole messages (so text is UTF-8-checked per message), pings and
//! closes are answered automatically (`set_auto_pong`, `set_auto_close`),
//! payloads above the writev threshold go out with one vectored write, and
//! the connection task runs `unconstrained`. fastwebsockets writes each
//! frame as it is given (it has no write buffer to cork).

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn echo(upgrade: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgrade.await?;
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    ws.set_writev(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade_any_path(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgrade) = upgrade::upgrade(&mut request)?;
    tokio::task::spawn_local(tokio::task::unconstrained(async move {
        let _ = echo(upgrade).await;
    }));
    Ok(response)
}

fn main() -> anyhow::Result<()> {
    switchboard_bench::serve("fastwebsockets-echo", |stream| async move {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service_fn(upgrade_any_path))
            .with_upgrades()
            .await;
    })
}
