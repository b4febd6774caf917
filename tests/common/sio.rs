//! Minimal Socket.IO (protocol v5 / Engine.IO v4) client for integration tests.
//!
//! WebSocket transport only. A background task owns the socket: it answers
//! Engine.IO pings as soon as they arrive (even while the test is not reading),
//! sends outgoing packets, and forwards every parsed packet to the client
//! through a channel. Every wait is a channel receive bounded by a timeout.
//!
//! One client talks to exactly one namespace. Binary attachments are not
//! supported. Set `SIO_DEBUG=1` to print every frame to stderr.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Bound on the WebSocket handshake plus the Engine.IO and Socket.IO handshakes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on the graceful close in [`SioClient::close`].
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// An event received from the server.
#[derive(Debug, Clone)]
pub struct SioEvent {
    pub name: String,
    /// The first argument, `Null` if the event had none.
    pub data: Value,
}

/// Result of a namespace connection attempt that reached the Socket.IO layer.
pub enum ConnectOutcome {
    Connected(SioClient),
    /// The `connect_error` message sent by the server.
    Rejected(String),
}

impl ConnectOutcome {
    /// The client, or a panic naming the rejection message.
    #[track_caller]
    pub fn unwrap_connected(self) -> SioClient {
        match self {
            ConnectOutcome::Connected(c) => c,
            ConnectOutcome::Rejected(m) => panic!("expected a connection, got connect_error: {m}"),
        }
    }

    /// The rejection message, or a panic if the connection was accepted.
    #[track_caller]
    pub fn unwrap_rejected(self) -> String {
        match self {
            ConnectOutcome::Rejected(m) => m,
            ConnectOutcome::Connected(c) => {
                panic!("expected connect_error, got a connection (sid {:?})", c.sid)
            }
        }
    }
}

impl fmt::Debug for ConnectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectOutcome::Connected(c) => f.debug_tuple("Connected").field(c).finish(),
            ConnectOutcome::Rejected(m) => f.debug_tuple("Rejected").field(m).finish(),
        }
    }
}

/// What the background task reports.
#[derive(Debug)]
enum Incoming {
    /// Engine.IO open packet (handshake data).
    Open(Value),
    /// Socket.IO packet addressed to some namespace.
    Packet { ns: String, packet: Packet },
    /// The WebSocket (or Engine.IO session) ended.
    Closed(String),
}

#[derive(Debug)]
enum Packet {
    Connect(Value),
    Disconnect,
    Event {
        name: String,
        data: Value,
    },
    Ack {
        id: u64,
        data: Value,
    },
    ConnectError(String),
    /// Binary events/acks are not supported by this client.
    Unsupported(String),
}

enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

pub struct SioClient {
    ns: String,
    sid: Option<String>,
    out_tx: mpsc::UnboundedSender<Outgoing>,
    in_rx: mpsc::UnboundedReceiver<Incoming>,
    task: JoinHandle<()>,
    /// Events already received but not yet returned by `next_event`.
    pending: VecDeque<SioEvent>,
    /// Acks received while not waiting for them (late acks).
    acks: HashMap<u64, Value>,
    history: Vec<SioEvent>,
    /// Whether received events are also kept in `history` (see [`without_history`](Self::without_history)).
    keep_history: bool,
    next_ack_id: u64,
    /// Set once the server disconnected the namespace or the socket closed.
    disconnected: Option<String>,
}

impl fmt::Debug for SioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SioClient")
            .field("ns", &self.ns)
            .field("sid", &self.sid)
            .field("disconnected", &self.disconnected)
            .finish_non_exhaustive()
    }
}

impl SioClient {
    /// Opens a WebSocket to `base` + `path` and connects to namespace `ns`.
    ///
    /// `base`: `"http://127.0.0.1:PORT"` (or `ws://…`); `path`: `"/ws"`;
    /// `ns`: `"/device/demo"` or `"/"`; `query`: extra query parameters;
    /// `headers`: extra HTTP headers for the upgrade request; `auth`: the
    /// handshake auth object, or `Null` for none.
    ///
    /// `Err` means the transport failed (refused, HTTP error on upgrade,
    /// timeout, …); a `connect_error` from the server is `Ok(Rejected(msg))`.
    pub async fn connect(
        base: &str,
        path: &str,
        ns: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        auth: Value,
    ) -> Result<ConnectOutcome, String> {
        let url = build_url(base, path, query)?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad url {url}: {e}"))?;
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("bad header name {k:?}: {e}"))?;
            let value =
                HeaderValue::from_str(v).map_err(|e| format!("bad header value {v:?}: {e}"))?;
            request.headers_mut().append(name, value);
        }

        let deadline = Instant::now() + CONNECT_TIMEOUT;
        // TCP_NODELAY, like Node's `ws` and browsers: with Nagle's algorithm each small write
        // waits for the previous one's ACK, which held a load client's sends back ~1.5 ms.
        let (ws, _resp) = match tokio::time::timeout_at(
            deadline,
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), true),
        )
        .await
        {
            Err(_) => return Err(format!("websocket connect to {url} timed out")),
            Ok(Err(WsError::Http(resp))) => {
                let body = resp
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                return Err(format!(
                    "websocket upgrade to {url} refused: HTTP {} {body}",
                    resp.status()
                ));
            }
            Ok(Err(e)) => return Err(format!("websocket connect to {url} failed: {e}")),
            Ok(Ok(pair)) => pair,
        };

        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_socket(ws, in_tx, out_rx));
        let ns = normalize_ns(ns);
        let mut client = SioClient {
            ns,
            sid: None,
            out_tx,
            in_rx,
            task,
            pending: VecDeque::new(),
            acks: HashMap::new(),
            history: Vec::new(),
            keep_history: true,
            next_ack_id: 1,
            disconnected: None,
        };

        // Engine.IO open packet.
        match client.recv_raw(deadline).await? {
            Incoming::Open(_) => {}
            other => return Err(format!("expected Engine.IO open packet, got {other:?}")),
        }

        // Socket.IO CONNECT to the namespace.
        let payload = if auth.is_null() {
            None
        } else {
            Some(auth.to_string())
        };
        let packet = client.encode('0', None, payload.as_deref());
        client.send_text(packet)?;

        loop {
            let incoming = client.recv_raw(deadline).await?;
            let (ns, packet) = match incoming {
                Incoming::Packet { ns, packet } => (ns, packet),
                Incoming::Closed(reason) => {
                    return Err(format!("connection closed during handshake: {reason}"))
                }
                Incoming::Open(_) => continue,
            };
            if ns != client.ns {
                continue;
            }
            match packet {
                Packet::Connect(data) => {
                    client.sid = data.get("sid").and_then(Value::as_str).map(str::to_owned);
                    return Ok(ConnectOutcome::Connected(client));
                }
                Packet::ConnectError(message) => {
                    client.shutdown().await;
                    return Ok(ConnectOutcome::Rejected(message));
                }
                Packet::Event { name, data } => {
                    // Not expected before CONNECT, but never lose an event.
                    let ev = SioEvent { name, data };
                    client.history.push(ev.clone());
                    client.pending.push_back(ev);
                }
                Packet::Disconnect => {
                    return Err("server disconnected the namespace during handshake".into())
                }
                Packet::Ack { .. } | Packet::Unsupported(_) => {}
            }
        }
    }

    /// The namespace this client is connected to.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The Socket.IO session id sent by the server in its CONNECT packet.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Next event (acks are not events), or `Err` on timeout or disconnection.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<SioEvent, String> {
        self.next_event_until(Instant::now() + timeout).await
    }

    /// Waits for the first event with this name and returns it. Other events
    /// received meanwhile are dropped (they remain in [`history`](Self::history)).
    pub async fn wait_for(&mut self, name: &str, timeout: Duration) -> Result<SioEvent, String> {
        self.wait_until(timeout, |ev| ev.name == name)
            .await
            .map_err(|e| format!("waiting for event {name:?}: {e}"))
    }

    /// Waits for the first event matching `pred`. Non-matching events received
    /// meanwhile are dropped (they remain in [`history`](Self::history)).
    pub async fn wait_until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&SioEvent) -> bool,
    ) -> Result<SioEvent, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.next_event_until(deadline).await.map_err(|e| {
                format!(
                    "{e} (events seen: {:?})",
                    self.history.iter().map(|e| &e.name).collect::<Vec<_>>()
                )
            })?;
            if pred(&ev) {
                return Ok(ev);
            }
        }
    }

    /// Every event received so far, in order of arrival (events still in
    /// flight in the channel appear once a receiving call has seen them).
    pub fn history(&self) -> &[SioEvent] {
        &self.history
    }

    /// Emits `name` with `data` as its single argument (no argument if `Null`).
    pub async fn emit(&mut self, name: &str, data: Value) -> Result<(), String> {
        let packet = self.encode('2', None, Some(&event_payload(name, data)));
        self.send_text(packet)
    }

    /// Emits with an ack id and waits for the ack, returning its first argument
    /// (`Null` if none). Events arriving meanwhile are queued for `next_event`.
    pub async fn emit_with_ack(
        &mut self,
        name: &str,
        data: Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        let packet = self.encode('2', Some(id), Some(&event_payload(name, data)));
        self.send_text(packet)?;

        self.wait_ack(id, name, timeout).await
    }

    /// Emits an event carrying one binary attachment (a Socket.IO `BINARY_EVENT`): `data` must
    /// hold the placeholder `{"_placeholder": true, "num": 0}` where the bytes belong. Waits
    /// for the ack like [`emit_with_ack`](Self::emit_with_ack).
    pub async fn emit_binary_with_ack(
        &mut self,
        name: &str,
        data: Value,
        attachment: Vec<u8>,
        timeout: Duration,
    ) -> Result<Value, String> {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        let packet = self.encode('5', Some(id), Some(&event_payload(name, data)));
        // The attachment count goes right after the packet type: `451-/ns,<id>[...]`.
        let packet = format!("451-{}", &packet[2..]);
        self.send_text(packet)?;
        self.out_tx
            .send(Outgoing::Binary(attachment))
            .map_err(|_| "socket closed".to_string())?;
        self.wait_ack(id, name, timeout).await
    }

    /// Waits for the ack with this id; events arriving meanwhile are queued.
    async fn wait_ack(&mut self, id: u64, name: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.acks.remove(&id) {
                return Ok(v);
            }
            if let Some(reason) = &self.disconnected {
                return Err(format!("no ack for {name:?}: {reason}"));
            }
            let incoming = self
                .recv_raw(deadline)
                .await
                .map_err(|e| format!("no ack for {name:?}: {e}"))?;
            self.dispatch(incoming);
        }
    }

    /// Waits until the server disconnects the namespace (`41`) or the socket
    /// closes. Events arriving meanwhile are queued for `next_event`.
    pub async fn wait_disconnected(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.disconnected.is_none() {
            let incoming = self
                .recv_raw(deadline)
                .await
                .map_err(|e| format!("still connected: {e}"))?;
            self.dispatch(incoming);
        }
        Ok(())
    }

    /// Leaves the namespace and closes the WebSocket.
    pub async fn close(mut self) {
        if self.disconnected.is_none() {
            let packet = self.encode('1', None, None);
            let _ = self.send_text(packet);
        }
        self.shutdown().await;
    }

    // ---- internals ----

    async fn shutdown(&mut self) {
        let _ = self.out_tx.send(Outgoing::Close);
        if tokio::time::timeout(CLOSE_TIMEOUT, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }

    fn send_text(&self, text: String) -> Result<(), String> {
        if let Some(reason) = &self.disconnected {
            if reason.starts_with("socket closed") {
                return Err(reason.clone());
            }
        }
        self.out_tx
            .send(Outgoing::Text(text))
            .map_err(|_| "socket closed".to_string())
    }

    /// `4` + type + (`/ns,` unless default namespace) + ack id + payload.
    fn encode(&self, ty: char, id: Option<u64>, payload: Option<&str>) -> String {
        let mut s = String::from('4');
        s.push(ty);
        if self.ns != "/" {
            s.push_str(&self.ns);
            s.push(',');
        }
        if let Some(id) = id {
            s.push_str(&id.to_string());
        }
        if let Some(p) = payload {
            s.push_str(p);
        }
        s
    }

    async fn recv_raw(&mut self, deadline: Instant) -> Result<Incoming, String> {
        match tokio::time::timeout_at(deadline, self.in_rx.recv()).await {
            Err(_) => Err("timed out".into()),
            Ok(None) => Err("socket closed".into()),
            Ok(Some(i)) => Ok(i),
        }
    }

    /// Records an incoming item: events go to `pending` and `history`, acks to
    /// `acks`, disconnections to `disconnected`.
    fn dispatch(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Open(_) => {}
            Incoming::Closed(reason) => {
                if self.disconnected.is_none() {
                    self.disconnected = Some(format!("socket closed: {reason}"));
                }
            }
            Incoming::Packet { ns, packet } => {
                if ns != self.ns {
                    return;
                }
                match packet {
                    Packet::Event { name, data } => {
                        let ev = SioEvent { name, data };
                        if self.keep_history {
                            self.history.push(ev.clone());
                        }
                        self.pending.push_back(ev);
                    }
                    Packet::Ack { id, data } => {
                        self.acks.insert(id, data);
                    }
                    Packet::Disconnect => {
                        if self.disconnected.is_none() {
                            self.disconnected = Some("disconnected by server".into());
                        }
                    }
                    Packet::ConnectError(m) => {
                        if self.disconnected.is_none() {
                            self.disconnected = Some(format!("connect_error: {m}"));
                        }
                    }
                    Packet::Connect(_) | Packet::Unsupported(_) => {}
                }
            }
        }
    }

    async fn next_event_until(&mut self, deadline: Instant) -> Result<SioEvent, String> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(ev);
            }
            if let Some(reason) = &self.disconnected {
                // Drain whatever is already buffered, then report.
                match self.in_rx.try_recv() {
                    Ok(incoming) => {
                        self.dispatch(incoming);
                        continue;
                    }
                    Err(_) => return Err(reason.clone()),
                }
            }
            let incoming = self.recv_raw(deadline).await?;
            self.dispatch(incoming);
        }
    }
}

/// tungstenite zeroes its whole read buffer before every read of the socket, and reads again
/// until one finds nothing: with its default of 128 KiB, that was a third of the load tool's
/// CPU while its 1,000 subscribers each read a few small frames at a time. The server's side
/// (engineioxide) reads into 4 KiB; a larger frame still grows the buffer as it needs.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// What [`ws_config`] reads into at once.
const READ_BUFFER: usize = 4096;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Owns the WebSocket: answers pings, writes outgoing packets, forwards
/// parsed incoming packets.
async fn run_socket(
    mut ws: Ws,
    in_tx: mpsc::UnboundedSender<Incoming>,
    mut out_rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    loop {
        tokio::select! {
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(frame))) => {
                        let reason = frame
                            .map(|f| format!("close frame {} {}", f.code, f.reason))
                            .unwrap_or_else(|| "close frame".into());
                        let _ = in_tx.send(Incoming::Closed(reason));
                        return;
                    }
                    // Binary attachments are unsupported; WebSocket ping/pong
                    // frames are answered by tungstenite itself.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        let _ = in_tx.send(Incoming::Closed(e.to_string()));
                        return;
                    }
                    None => {
                        let _ = in_tx.send(Incoming::Closed("stream ended".into()));
                        return;
                    }
                };
                let text = text.as_str();
                trace("<-", text);
                let (ty, rest) = match text.chars().next() {
                    Some(c) => (c, &text[c.len_utf8()..]),
                    None => continue,
                };
                match ty {
                    // open
                    '0' => {
                        let v = serde_json::from_str(rest).unwrap_or(Value::Null);
                        let _ = in_tx.send(Incoming::Open(v));
                    }
                    // close
                    '1' => {
                        let _ = in_tx.send(Incoming::Closed("Engine.IO close packet".into()));
                        let _ = ws.close(None).await;
                        return;
                    }
                    // ping -> pong (echoing any probe payload)
                    '2' => {
                        trace("->", "3");
                        if ws.send(Message::text(format!("3{rest}"))).await.is_err() {
                            let _ = in_tx.send(Incoming::Closed("failed to send pong".into()));
                            return;
                        }
                    }
                    // message
                    '4' => {
                        let (ns, packet) = parse_sio(rest);
                        let _ = in_tx.send(Incoming::Packet { ns, packet });
                    }
                    // pong, upgrade, noop
                    _ => {}
                }
            }
            out = out_rx.recv() => {
                // What was emitted meanwhile goes out in one write, as Node's and browsers'
                // clients write what one tick emitted: the server then reads several packets
                // at once, as it does from them.
                let mut next = out;
                loop {
                    let frame = match next {
                        Some(Outgoing::Text(s)) => {
                            trace("->", &s);
                            Message::text(s)
                        }
                        Some(Outgoing::Binary(bytes)) => {
                            trace("->", &format!("<{} binary bytes>", bytes.len()));
                            Message::binary(bytes)
                        }
                        Some(Outgoing::Close) | None => {
                            let _ = ws.close(None).await;
                            // Read until the server acknowledges the close (bounded).
                            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                                while let Some(Ok(_)) = ws.next().await {}
                            })
                            .await;
                            let _ = in_tx.send(Incoming::Closed("closed by client".into()));
                            return;
                        }
                    };
                    if let Err(e) = ws.feed(frame).await {
                        let _ = in_tx.send(Incoming::Closed(format!("send failed: {e}")));
                        return;
                    }
                    match out_rx.try_recv() {
                        Ok(more) => next = Some(more),
                        Err(_) => break,
                    }
                }
                if let Err(e) = ws.flush().await {
                    let _ = in_tx.send(Incoming::Closed(format!("send failed: {e}")));
                    return;
                }
            }
        }
    }
}

/// Prints every Engine.IO frame to stderr when `SIO_DEBUG` is set.
fn trace(dir: &str, text: &str) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("SIO_DEBUG").is_some()) {
        eprintln!("[sio] {dir} {text}");
    }
}

/// Parses a Socket.IO packet (the Engine.IO message payload, after the `4`).
fn parse_sio(s: &str) -> (String, Packet) {
    let ty = match s.chars().next() {
        Some(c) if c.is_ascii_digit() => c,
        _ => return ("/".into(), Packet::Unsupported(s.into())),
    };
    let mut rest = &s[1..];
    // Binary packets carry `<attachments>-` before the namespace.
    if ty == '5' || ty == '6' {
        if let Some(i) = rest.find('-') {
            rest = &rest[i + 1..];
        }
    }
    let ns = if rest.starts_with('/') {
        match rest.find(',') {
            Some(i) => {
                let ns = &rest[..i];
                rest = &rest[i + 1..];
                ns.to_string()
            }
            None => {
                let ns = rest.to_string();
                rest = "";
                ns
            }
        }
    } else {
        "/".to_string()
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        rest[..digits].parse::<u64>().ok()
    } else {
        None
    };
    let body = &rest[digits..];
    let json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return (ns, Packet::Unsupported(format!("bad JSON {body:?}: {e}"))),
        }
    };
    let packet = match ty {
        '0' => Packet::Connect(json),
        '1' => Packet::Disconnect,
        '2' => match json {
            Value::Array(mut args) if !args.is_empty() => {
                let name = match args.remove(0) {
                    Value::String(n) => n,
                    other => other.to_string(),
                };
                let data = if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                };
                Packet::Event { name, data }
            }
            other => Packet::Unsupported(format!("bad event payload {other}")),
        },
        '3' => match (id, json) {
            (Some(id), Value::Array(mut args)) => {
                let data = if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                };
                Packet::Ack { id, data }
            }
            (id, other) => Packet::Unsupported(format!("bad ack {id:?} {other}")),
        },
        '4' => Packet::ConnectError(match json {
            Value::Object(ref o) => o
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| json.to_string()),
            Value::String(m) => m,
            other => other.to_string(),
        }),
        _ => Packet::Unsupported(format!("binary or unknown packet type {ty}")),
    };
    (ns, packet)
}

fn event_payload(name: &str, data: Value) -> String {
    let args = if data.is_null() {
        Value::Array(vec![Value::String(name.into())])
    } else {
        Value::Array(vec![Value::String(name.into()), data])
    };
    args.to_string()
}

fn normalize_ns(ns: &str) -> String {
    if ns.is_empty() || ns == "/" {
        "/".into()
    } else if ns.starts_with('/') {
        ns.into()
    } else {
        format!("/{ns}")
    }
}

fn build_url(base: &str, path: &str, query: &[(&str, &str)]) -> Result<String, String> {
    let base = base.trim_end_matches('/');
    let ws_base = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_string()
    } else {
        return Err(format!("unsupported base url {base:?}"));
    };
    let mut path = path.trim_end_matches('/').to_string();
    if !path.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    let mut url = format!("{ws_base}{path}/?EIO=4&transport=websocket");
    for (k, v) in query {
        url.push('&');
        url.push_str(&percent_encode(k));
        url.push('=');
        url.push_str(&percent_encode(v));
    }
    Ok(url)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Pipelined acks and bounded memory, for long-running load clients (`benches/load.rs`).
impl SioClient {
    /// Stops keeping received events in the history: a load client reads every event from the
    /// queue, and copying each one into a history it never reads would cost the tool as much
    /// CPU as parsing it.
    pub fn without_history(&mut self) {
        self.keep_history = false;
        self.history.clear();
    }

    /// Emits with an ack id without waiting for the ack, so one client can keep many requests
    /// in flight; the ack comes back from [`next_ack`](Self::next_ack) with this id.
    pub fn emit_with_ack_id(&mut self, name: &str, data: Value) -> Result<u64, String> {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        let packet = self.encode('2', Some(id), Some(&event_payload(name, data)));
        self.send_text(packet)?;
        Ok(id)
    }

    /// The next ack to arrive, for any id, with its first argument. Events arriving meanwhile
    /// are queued for `next_event` (see [`discard_events`](Self::discard_events)).
    pub async fn next_ack(&mut self, timeout: Duration) -> Result<(u64, Value), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(&id) = self.acks.keys().next() {
                let data = self.acks.remove(&id).unwrap_or(Value::Null);
                return Ok((id, data));
            }
            if let Some(reason) = &self.disconnected {
                return Err(format!("no ack: {reason}"));
            }
            let incoming = self
                .recv_raw(deadline)
                .await
                .map_err(|e| format!("no ack: {e}"))?;
            self.dispatch(incoming);
        }
    }

    /// Waits for at least one event, then returns it with every event already received, in
    /// order, and forgets them (history included), so a client that runs for minutes stays
    /// bounded and handles a burst in one go.
    pub async fn next_events(&mut self, timeout: Duration) -> Result<Vec<SioEvent>, String> {
        let first = self.next_event(timeout).await?;
        while let Ok(incoming) = self.in_rx.try_recv() {
            self.dispatch(incoming);
        }
        self.history.clear();
        let mut events = Vec::with_capacity(self.pending.len() + 1);
        events.push(first);
        events.extend(self.pending.drain(..));
        Ok(events)
    }

    /// Returns the events received and still queued, and forgets them (history included).
    pub fn take_events(&mut self) -> Vec<SioEvent> {
        self.history.clear();
        self.pending.drain(..).collect()
    }

    /// Forgets every received event (queued and in the history) and returns how many were
    /// still queued, so a client that runs for minutes does not keep every event it saw.
    pub fn discard_events(&mut self) -> usize {
        self.take_events().len()
    }
}
