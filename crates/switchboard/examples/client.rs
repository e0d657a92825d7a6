//! Minimal client: sends each argument as a text message, prints the
//! replies, then closes cleanly.
//!
//! ```sh
//! cargo run -p switchboard --example echo-server &
//! cargo run -p switchboard --example client -- ws://127.0.0.1:9001/ hello world
//! ```

use switchboard::{CloseCode, Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let texts: Vec<String> = args.collect();

    let (mut ws, response) = switchboard::connect(&url).await?;
    println!("connected to {url} ({})", response.status());
    for text in &texts {
        ws.send(Message::text(text.as_str())).await?;
        match ws.recv().await {
            Some(Ok(Message::Text(reply))) => println!("< {reply}"),
            Some(Ok(other)) => println!("< {other:?}"),
            Some(Err(error)) => return Err(error),
            None => break,
        }
    }
    ws.close(CloseCode::NORMAL, "bye").await?;
    println!("closed cleanly");
    Ok(())
}
