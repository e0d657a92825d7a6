//! The open connection: standard input out, messages in, until it closes.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use switchboard::{CloseCode, CloseFrame, Message, WebSocket};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use super::display::{self, Style};
use super::input::{self, Input};
use super::{ConnectArgs, Outcome};

/// Payload of the ping sent when standard input ends.
const DRAIN_PING: &[u8] = b"switchboard: end of input";
/// How long to wait for the answer to [`DRAIN_PING`] before closing anyway.
/// Long enough for a loaded server, short enough not to hang on one that
/// never answers pings.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the session stands on closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    /// Standard input ended; a ping went out and the close follows its
    /// pong (or the deadline). A server that answers in order has sent
    /// every reply to earlier lines by then; a server that sees our close
    /// frame first stops sending and its pending replies would be lost.
    Draining(Instant),
    /// This side sent a close frame.
    ByUs,
}

/// Runs the session over an open WebSocket.
pub(super) async fn run<S>(mut ws: WebSocket<S>, args: &ConnectArgs, style: Style) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let commands = style == Style::Interactive;
    let mut stdin = BufReader::new(tokio::io::stdin());
    // Persistent across loop turns: `read_until` keeps partial lines here
    // when another branch wins the select.
    let mut line = Vec::new();
    let mut stdin_open = true;
    let mut closing = Closing::Open;
    let mut pinger = args.ping.map(every);
    let mut pings_sent: u64 = 0;
    loop {
        tokio::select! {
            read = stdin.read_until(b'\n', &mut line), if stdin_open && closing == Closing::Open => {
                let request = match read {
                    Ok(0) => None,
                    Ok(_) => Some(input::parse(input::trim_line_ending(std::mem::take(&mut line)), commands)),
                    Err(error) => {
                        eprintln!("error: cannot read standard input: {error}");
                        return Outcome::LocalError;
                    }
                };
                let Some(request) = request else {
                    // End of input: let the replies to earlier lines arrive,
                    // then close politely.
                    stdin_open = false;
                    closing = Closing::Draining(Instant::now() + DRAIN_TIMEOUT);
                    if let Err(error) = ws.send(Message::Ping(Bytes::from_static(DRAIN_PING))).await {
                        return report(&error);
                    }
                    continue;
                };
                let message = match request {
                    Input::Data(data) => data_message(data, args.binary),
                    Input::Ping(payload) => {
                        pings_sent += 1;
                        Some(Message::Ping(payload.map_or_else(|| Bytes::from(pings_sent.to_string()), Bytes::from)))
                    }
                    Input::Close(code, reason) => {
                        closing = Closing::ByUs;
                        Some(Message::Close(Some(CloseFrame::new(code, reason))))
                    }
                    Input::Help => {
                        eprintln!("{}", input::COMMANDS_HELP);
                        None
                    }
                    Input::Invalid(why) => {
                        eprintln!("{why}");
                        None
                    }
                };
                if let Some(message) = message {
                    if let Err(error) = ws.send(message).await {
                        return report(&error);
                    }
                }
            }
            _ = tick(&mut pinger), if closing == Closing::Open => {
                pings_sent += 1;
                if let Err(error) = ws.send(Message::Ping(Bytes::from(pings_sent.to_string()))).await {
                    return report(&error);
                }
            }
            _ = drain_deadline(closing) => {
                closing = Closing::ByUs;
                if let Err(error) = send_close(&mut ws).await {
                    return report(&error);
                }
            }
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => print_line(&display::text_line(style, &text)),
                Some(Ok(Message::Binary(data))) => print_line(&display::binary_line(style, &data)),
                Some(Ok(Message::Pong(payload))) if matches!(closing, Closing::Draining(_)) && payload == DRAIN_PING => {
                    closing = Closing::ByUs;
                    if let Err(error) = send_close(&mut ws).await {
                        return report(&error);
                    }
                }
                // Keepalive pongs carry no payload; ours always do.
                Some(Ok(Message::Pong(payload))) if !payload.is_empty() => eprintln!("{}", display::pong_line(&payload)),
                Some(Ok(Message::Close(frame))) => {
                    eprintln!("{}", display::close_line(frame.as_ref()));
                    return finish(&mut ws, closing, frame).await;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return report(&error),
                None => {
                    eprintln!("error: the connection ended without a close frame (1006)");
                    return Outcome::Abnormal;
                }
            },
        }
    }
}

/// After the peer's close frame: lets the driver finish the handshake
/// (the echo is already queued; the server then closes TCP), then decides.
async fn finish<S>(ws: &mut WebSocket<S>, closing: Closing, frame: Option<CloseFrame>) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Drain to the end of the stream so the close echo is flushed and the
    // transport winds down; bounded by the driver's close timeout.
    while let Some(next) = ws.recv().await {
        if let Err(error) = next {
            tracing::debug!(%error, "after the close frame");
            break;
        }
    }
    match closing {
        Closing::ByUs => Outcome::Clean,
        Closing::Open | Closing::Draining(_) => {
            Outcome::for_peer_close(frame.map(|frame| frame.code))
        }
    }
}

/// Starts the close handshake with 1000.
async fn send_close<S>(ws: &mut WebSocket<S>) -> Result<(), switchboard::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))
        .await
}

/// Resolves at the drain deadline; never while not draining.
async fn drain_deadline(closing: Closing) {
    match closing {
        Closing::Draining(deadline) => tokio::time::sleep_until(deadline).await,
        _ => std::future::pending().await,
    }
}

fn data_message(data: Vec<u8>, binary: bool) -> Option<Message> {
    if binary {
        return Some(Message::binary(data));
    }
    match String::from_utf8(data) {
        Ok(text) => Some(Message::text(text)),
        Err(_) => {
            // RFC 6455 §5.6: text messages are UTF-8.
            eprintln!("not sent: the line is not UTF-8; use --binary to send raw bytes");
            None
        }
    }
}

fn report(error: &switchboard::Error) -> Outcome {
    match error.close_code() {
        Some(code) => eprintln!("error: {error} (close code {})", code.0),
        None => eprintln!("error: {error}"),
    }
    Outcome::for_error(error)
}

fn print_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head -1`) is not worth failing the session.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn every(period: Duration) -> Interval {
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// The next tick, or never without `--ping`.
async fn tick(pinger: &mut Option<Interval>) {
    match pinger {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
