//! A hub server on a free loopback port and a minimal Centrifugo JSON
//! client over `switchboard::connect`, everything bounded in time.
#![allow(dead_code)] // each test file uses a different part

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard::{ClientBuilder, Message, WebSocket};
use switchboard_hub::{HubConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Upper bound on anything a test waits for.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A running hub; stops (gracefully) when dropped.
pub struct Hub {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Hub {
    /// Starts a server with `config` (its listen address replaced by a
    /// free loopback port).
    pub async fn start(mut config: HubConfig) -> Hub {
        config.listen = "127.0.0.1:0".into();
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.serve_until(async {
            let _ = stopped.await;
        }));
        Hub {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts a server with the embedded defaults.
    pub async fn start_default() -> Hub {
        Hub::start(HubConfig::default()).await
    }

    /// `ws://ADDR/connection/websocket`.
    pub fn url(&self) -> String {
        format!("ws://{}/connection/websocket", self.addr)
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `future` on a multi-threaded runtime, failing after [`TIMEOUT`].
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    run_within(TIMEOUT, future)
}

/// Runs `future` on a two-thread runtime, failing after `deadline`.
pub fn run_within<F: std::future::Future>(deadline: Duration, future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(deadline, future)
                .await
                .unwrap_or_else(|_| panic!("the test did not finish within {deadline:?}"))
        })
}

/// One HTTP/1.1 request on a fresh connection; the status and the body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// `POST /api/<method>` with `params` and no key; the JSON body (HTTP 200
/// asserted).
pub async fn api(addr: SocketAddr, method: &str, params: Value) -> Value {
    let (status, body) = http(
        addr,
        "POST",
        &format!("/api/{method}"),
        &[],
        &params.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A Centrifugo JSON client: commands with ids, replies matched by id,
/// pushes kept in arrival order, server pings answered.
pub struct JsonClient {
    pub ws: WebSocket<TcpStream>,
    next_id: u64,
    pushes: VecDeque<Value>,
    replies: VecDeque<Value>,
    /// The connect reply.
    pub connected: Value,
}

impl JsonClient {
    /// Opens the WebSocket (offering `subprotocols`) without sending
    /// `connect`.
    pub async fn open(
        url: &str,
        subprotocols: &[&str],
    ) -> (WebSocket<TcpStream>, http::Response<()>) {
        let uri: http::Uri = url.parse().unwrap();
        let tcp = TcpStream::connect((uri.host().unwrap(), uri.port_u16().unwrap()))
            .await
            .unwrap();
        let mut builder = ClientBuilder::new(url);
        for protocol in subprotocols {
            builder = builder.subprotocol(*protocol);
        }
        builder.connect_on(tcp).await.expect("WebSocket handshake")
    }

    /// Opens the WebSocket and connects (anonymous).
    pub async fn connect(url: &str) -> JsonClient {
        let (ws, _) = Self::open(url, &[]).await;
        Self::with_socket(ws).await
    }

    /// Connects (anonymous) over an open WebSocket.
    pub async fn with_socket(ws: WebSocket<TcpStream>) -> JsonClient {
        let mut client = JsonClient {
            ws,
            next_id: 1,
            pushes: VecDeque::new(),
            replies: VecDeque::new(),
            connected: Value::Null,
        };
        let reply = client
            .request(json!({"connect": {"name": "rust-test"}}))
            .await;
        client.connected = reply["connect"].clone();
        assert!(
            client.connected["client"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{reply}"
        );
        client
    }

    /// The client id the server gave.
    pub fn client_id(&self) -> String {
        self.connected["client"].as_str().unwrap().to_owned()
    }

    /// Sends `command` with the next id; returns the id.
    pub async fn send(&mut self, mut command: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .expect("send a command");
        id
    }

    /// Sends `commands` in one WebSocket message (newline-delimited, as
    /// the JSON protocol allows), with the next ids; returns the ids.
    pub async fn send_batch(&mut self, commands: Vec<Value>) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut lines = Vec::new();
        for mut command in commands {
            command["id"] = json!(self.next_id);
            ids.push(self.next_id);
            self.next_id += 1;
            lines.push(command.to_string());
        }
        self.ws
            .send(Message::text(lines.join("\n")))
            .await
            .expect("send a batch of commands");
        ids
    }

    /// The replies to `ids`, in the order they arrived.
    pub async fn replies_to(&mut self, ids: &[u64]) -> Vec<Value> {
        let mut arrived = Vec::new();
        while arrived.len() < ids.len() {
            let wanted = self
                .replies
                .iter()
                .position(|reply| ids.iter().any(|id| reply["id"] == json!(id)));
            match wanted {
                Some(at) => arrived.push(self.replies.remove(at).unwrap()),
                None => self.read().await.unwrap_or_else(|close| {
                    panic!("the connection closed before the replies: {close:?}")
                }),
            }
        }
        arrived
    }

    /// Sends `command` and waits for its reply (pushes meanwhile are kept).
    pub async fn request(&mut self, command: Value) -> Value {
        let id = self.send(command).await;
        loop {
            if let Some(at) = self.replies.iter().position(|r| r["id"] == json!(id)) {
                return self.replies.remove(at).unwrap();
            }
            self.read().await.unwrap_or_else(|close| {
                panic!("the connection closed before the reply: {close:?}")
            });
        }
    }

    /// The next push (`{"push": ...}` contents), in arrival order.
    pub async fn next_push(&mut self) -> Value {
        loop {
            if let Some(push) = self.pushes.pop_front() {
                return push;
            }
            self.read()
                .await
                .expect("the connection closed before a push");
        }
    }

    /// The next publication push on `channel` (other pushes are skipped).
    pub async fn next_publication(&mut self, channel: &str) -> Value {
        loop {
            let push = self.next_push().await;
            if push["channel"] == channel && !push["pub"].is_null() {
                return push["pub"].clone();
            }
        }
    }

    /// Reads one WebSocket message and sorts its replies; `None` when the
    /// connection ended, with the close frame if there was one.
    pub async fn read(&mut self) -> Result<(), Option<switchboard::CloseFrame>> {
        let text = loop {
            match self.ws.recv().await {
                Some(Ok(Message::Text(text))) => break text,
                Some(Ok(Message::Close(frame))) => return Err(frame),
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("connection failed: {error}"),
                None => return Err(None),
            }
        };
        for line in text.as_str().split('\n') {
            let reply: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{line:?} is not JSON: {error}"));
            if reply == json!({}) {
                // A server ping: answer with an empty command.
                self.ws.send(Message::text("{}")).await.expect("pong");
            } else if reply.get("id").is_some() {
                self.replies.push_back(reply);
            } else if let Some(push) = reply.get("push") {
                self.pushes.push_back(push.clone());
            } else {
                panic!("unexpected server message {reply}");
            }
        }
        Ok(())
    }

    /// Reads until the server closes; returns its close frame.
    pub async fn closed(&mut self) -> Option<switchboard::CloseFrame> {
        loop {
            if let Err(frame) = self.read().await {
                return frame;
            }
        }
    }
}
