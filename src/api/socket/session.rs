//! One client connection as the socket edge sees it: an Engine.IO session, which may start
//! on long-polling and move to a WebSocket, and multiplexes any number of namespaces. What
//! its namespaces share lives here: their inbound rate budget and order of arrival, and the
//! bytes queued for the client (counted in [`super::outbound`]).
//!
//! # Bounding what waits for a client
//!
//! socketioxide queues each connection's outgoing packets in a channel counted in packets
//! (`limits.client_queue_packets`) and says nothing of their size, so a client that stops
//! reading could hold gigabytes in a few thousand large packets. Each session therefore counts
//! the bytes it queued ([`Outbound::admit`]) and the bytes that left: what the polling
//! responses carried (counted by [`attach_session`]) and what the WebSocket's TCP connection
//! wrote (its [`ConnectionMeter`]). The difference is what waits; a packet that would take it
//! past `limits.client_queue_bytes` is not queued, and the connection is closed as a slow
//! consumer by closing its transport — `disconnect()` would need room in the very queue that
//! is full. The client resumes with `lastSeq` and loses nothing.
//!
//! A replay waits for room instead ([`leaves_half_free`]), and takes at most half of the
//! queue, so that live delivery, which never waits, finds room beside it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::SEC_WEBSOCKET_KEY;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::TryStreamExt;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};

use super::outbound::Outbound;
pub use super::outbound::QueueBudget;
use crate::api::auth::CREDENTIAL_HEADERS;
use crate::api::connection::ConnectionMeter;
use crate::metrics::Metrics;
use crate::store::turn::Arrivals;

/// What every session is held to, and where sessions are found by id.
pub struct Sessions {
    pub socket_path: String,
    pub events_per_minute: u32,
    pub queue: QueueBudget,
    pub metrics: Arc<Metrics>,
    by_id: Mutex<HashMap<Sid, Weak<Session>>>,
}

impl Sessions {
    pub fn new(
        socket_path: String,
        events_per_minute: u32,
        queue: QueueBudget,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            socket_path,
            events_per_minute,
            queue,
            metrics,
            by_id: Mutex::default(),
        })
    }

    fn find(&self, sid: Sid) -> Option<Arc<Session>> {
        self.by_id
            .lock()
            .expect("sessions lock")
            .get(&sid)?
            .upgrade()
    }

    /// Whether a request to `uri` opens a new session: one for the socket path without a
    /// session id, whatever its transport.
    pub fn opens_session(&self, uri: &axum::http::Uri) -> bool {
        uri.path().starts_with(&self.socket_path)
            && engine_query(uri.query().unwrap_or_default()).0.is_none()
    }

    fn register(self: &Arc<Self>, sid: Sid, session: &Arc<Session>) {
        if session.id.set(sid).is_ok() {
            self.by_id
                .lock()
                .expect("sessions lock")
                .insert(sid, Arc::downgrade(session));
        }
    }
}

/// What the namespaces of one client connection share.
pub struct Session {
    pub rate: RateLimiter,
    pub arrivals: Arrivals,
    pub outbound: Outbound,
    sessions: Arc<Sessions>,
    /// The Engine.IO session id, once known: polling requests and the WebSocket upgrade of
    /// the session carry it.
    id: OnceLock<Sid>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(sid) = self.id.get() {
            self.sessions
                .by_id
                .lock()
                .expect("sessions lock")
                .remove(sid);
        }
    }
}

/// The session `socket` belongs to (every socket has one: see [`attach_session`]).
pub fn session_of(socket: &SocketRef) -> Option<&Arc<Session>> {
    socket.req_parts().extensions.get::<Arc<Session>>()
}

/// Leaves on a session's handshake request only the headers read after it is answered: the
/// credentials, which the handshake of each namespace reads (when the client connects to it,
/// maybe much later), and the key a WebSocket's upgrade is answered with. socketioxide keeps
/// the handshake request for the session's life, and with it every header a client sent: a
/// browser's user agent, cookies, `Accept-*` and fetch metadata are 0.5–2 KB that nothing
/// reads again.
fn keep_session_headers(headers: &mut HeaderMap) {
    let kept: Vec<_> = CREDENTIAL_HEADERS
        .into_iter()
        .chain([SEC_WEBSOCKET_KEY])
        .filter_map(|name| headers.remove(&name).map(|value| (name, value)))
        .collect();
    // Sized to what it holds: a map's first insertion makes room for six headers (~650 bytes).
    let mut session_headers = HeaderMap::with_capacity(kept.len());
    session_headers.extend(kept);
    *headers = session_headers;
}

/// Gives each new Socket.IO session its [`Session`], on the handshake request that
/// socketioxide keeps for the session's life, and credits the session with what its later
/// requests carry to the client: the polling responses, or the WebSocket that takes over.
pub async fn attach_session(
    State(sessions): State<Arc<Sessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with(&sessions.socket_path) {
        return next.run(request).await;
    }
    let (sid, websocket) = engine_query(request.uri().query().unwrap_or_default());
    let meter = request.extensions().get::<Arc<ConnectionMeter>>().cloned();
    let Some(sid) = sid else {
        keep_session_headers(request.headers_mut());
        let session = Arc::new(Session {
            rate: RateLimiter::new(sessions.events_per_minute),
            arrivals: Arrivals::default(),
            outbound: Outbound::default(),
            sessions: sessions.clone(),
            id: OnceLock::new(),
        });
        if websocket {
            // A WebSocket from the start: its connection carries everything of the session.
            if let Some(meter) = meter {
                session.outbound.carry_on(meter);
            }
            request.extensions_mut().insert(session);
            return next.run(request).await;
        }
        request.extensions_mut().insert(session.clone());
        let response = next.run(request).await;
        return learn_sid(response, &sessions, &session).await;
    };
    let session = sessions.find(sid);
    let poll = request.method() == axum::http::Method::GET;
    if websocket {
        if let (Some(session), Some(meter)) = (&session, meter) {
            session.outbound.carry_on(meter);
        }
        return next.run(request).await;
    }
    let response = next.run(request).await;
    match session {
        Some(session) if poll && response.status().is_success() => count_poll(response, &session),
        _ => response,
    }
}

/// The `sid` and whether the transport is `websocket`, from an Engine.IO query string.
fn engine_query(query: &str) -> (Option<Sid>, bool) {
    let mut sid = None;
    let mut websocket = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sid" => sid = Sid::from_str(&value).ok(),
            "transport" => websocket = value == "websocket",
            _ => {}
        }
    }
    (sid, websocket)
}

/// Reads the session id from a polling handshake's answer (`0{"sid":…}`, a few hundred
/// bytes), so that the session's later requests can be credited to it.
async fn learn_sid(
    response: Response,
    sessions: &Arc<Sessions>,
    session: &Arc<Session>,
) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    #[derive(serde::Deserialize)]
    struct Open {
        sid: String,
    }
    let open = bytes
        .strip_prefix(b"0")
        .and_then(|json| serde_json::from_slice::<Open>(json).ok());
    if let Some(sid) = open.and_then(|open| Sid::from_str(&open.sid).ok()) {
        sessions.register(sid, session);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Credits `session` with the bytes of a polling response as they are written out.
fn count_poll(response: Response, session: &Arc<Session>) -> Response {
    let session = Arc::downgrade(session);
    response.map(|body| {
        Body::from_stream(body.into_data_stream().inspect_ok(move |chunk| {
            if let Some(session) = session.upgrade() {
                session.outbound.left(chunk.len());
            }
        }))
    })
}

/// Why a packet did not reach a socket's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It would not fit in the queue's byte or packet budget right now.
    Full,
    /// The socket is gone or was cut off.
    Gone,
}

/// The fewest bytes an event packet takes on the wire: `42`, the namespace and a comma (none
/// for `/`), and `["<event>",<payload>]`, before any framing.
fn event_bytes(socket: &SocketRef, event: &str, payload: &RawValue) -> usize {
    namespace_bytes(socket) + 2 + event.len() + 5 + payload.get().len()
}

fn namespace_bytes(socket: &SocketRef) -> usize {
    match socket.ns() {
        "/" => 0,
        ns => ns.len() + 1,
    }
}

/// Whether queuing `event` for `socket` leaves at least half of its session's queue free. A
/// replay waits for this before each event it sends, so that it never takes more than half
/// of the queue: live delivery and the `sync` that ends the replay, which do not wait, find
/// room in the other half, and a client that reads its replay slowly is not taken for a slow
/// consumer when a live event comes.
pub fn leaves_half_free(socket: &SocketRef, event: &str, payload: &RawValue) -> bool {
    let Some(session) = session_of(socket) else {
        return true;
    };
    let bytes = event_bytes(socket, event, payload);
    session
        .outbound
        .leaves_half_free(bytes, session.sessions.queue)
}

/// Queues `event` for `socket` within the session's byte budget.
pub fn emit(socket: &SocketRef, event: &str, payload: &RawValue) -> Result<(), Refused> {
    emit_in(session_of(socket), socket, event, payload)
}

/// [`emit`] for a socket whose session the caller already holds: a fan-out to many sockets
/// looks each one's session up once, not once per event.
pub fn emit_in(
    session: Option<&Arc<Session>>,
    socket: &SocketRef,
    event: &str,
    payload: &RawValue,
) -> Result<(), Refused> {
    let bytes = event_bytes(socket, event, payload);
    queue(session, bytes, || {
        socket.emit(event, payload).map_err(refusal)
    })
}

/// Queues an acknowledgement reply (already serialized) for `socket`, within the budget: at
/// its fewest bytes, `43`, the namespace, an id of one digit or more and `[<answer>]`.
pub fn reply(
    socket: &SocketRef,
    ack: socketioxide::extract::AckSender,
    answer: &RawValue,
) -> Result<(), Refused> {
    let bytes = namespace_bytes(socket) + 2 + 1 + 2 + answer.get().len();
    queue(session_of(socket), bytes, move || {
        ack.send(answer).map_err(refusal)
    })
}

/// What socketioxide's refusal to queue a packet means here: its packet queue is full, or
/// the socket is gone (closed, or the packet could not be encoded).
fn refusal(error: SendError) -> Refused {
    match error {
        SendError::Socket(SocketError::InternalChannelFull) => Refused::Full,
        _ => Refused::Gone,
    }
}

/// Queues a packet of `bytes` with `send` if the session has room for it. Whether the socket
/// is still there is left to `send` to find out: socketioxide marks a socket connected only
/// after it has sent the connect packet, and a client may answer that packet with an event
/// whose reply is due before then.
fn queue(
    session: Option<&Arc<Session>>,
    bytes: usize,
    send: impl FnOnce() -> Result<(), Refused>,
) -> Result<(), Refused> {
    let Some(session) = session else {
        return send();
    };
    if session.outbound.is_cut_off() {
        return Err(Refused::Gone);
    }
    if !session.outbound.admit(bytes, session.sessions.queue.bytes) {
        return Err(Refused::Full);
    }
    send().inspect_err(|_| session.outbound.unadmit(bytes))
}

/// Disconnects `socket`, counting it in `devicebridge_socket_disconnects_total` under
/// `reason`.
pub fn disconnect(socket: SocketRef, reason: &str) {
    if let Some(session) = session_of(&socket) {
        session.sessions.metrics.socket_disconnects.inc(reason);
    }
    let _ = socket.disconnect();
}

/// Counts a handshake of `socket` in `devicebridge_socket_handshakes_total` under `outcome`.
pub fn count_handshake(socket: &SocketRef, outcome: &str) {
    if let Some(session) = session_of(socket) {
        session.sessions.metrics.socket_handshakes.inc(outcome);
    }
}

/// Closes the connection of `socket`'s session because it does not keep up with what it is
/// sent; every namespace it multiplexes goes with it. The client sees its transport close and
/// resumes with `lastSeq`.
pub fn cut_off(socket: &SocketRef) {
    let Some(session) = session_of(socket) else {
        let _ = socket.clone().disconnect();
        return;
    };
    if !session.outbound.cut() {
        return;
    }
    tracing::info!(
        sid = %socket.id,
        waiting = session.outbound.waiting(),
        reason = "slow_consumer",
        "closing a Socket.IO connection that does not keep up"
    );
    session
        .sessions
        .metrics
        .socket_disconnects
        .inc("slow_consumer");
    // Long-polling: no connection to close while the client does not poll. A disconnect
    // packet is sent if it fits; otherwise the Engine.IO heartbeat, which cannot queue its
    // ping either, ends the session. Nothing more is queued for it meanwhile.
    if !session.outbound.close_carrier() {
        let _ = socket.clone().disconnect();
    }
}

/// A connection's inbound rate: a token bucket holding a minute's worth of events, refilled
/// continuously, so short bursts pass and a sustained flood is refused.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    fn new(per_minute: u32) -> Self {
        let per_minute = f64::from(per_minute.max(1));
        Self {
            per_minute,
            state: Mutex::new((per_minute, Instant::now())),
        }
    }

    /// Takes one token; false when the bucket is empty.
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock().expect("rate limiter lock");
        let (tokens, since) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*since).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *since = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_queries_give_the_sid_and_the_transport() {
        let sid = Sid::new();
        let (found, websocket) = engine_query(&format!("EIO=4&transport=websocket&sid={sid}"));
        assert_eq!(found, Some(sid));
        assert!(websocket);
        assert_eq!(engine_query("EIO=4&transport=polling"), (None, false));
    }

    #[test]
    fn a_handshake_keeps_only_the_headers_read_after_it() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            ),
            ("cookie", "session=abc; theme=dark"),
            ("accept-language", "en-US,en;q=0.9"),
            ("x-api-key", "the-key"),
            ("authorization", "Bearer the-token"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        keep_session_headers(&mut headers);
        let mut kept: Vec<_> = headers.keys().map(|name| name.as_str()).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["authorization", "sec-websocket-key", "x-api-key"]);
        // The session keeps the map for its life: no room for more.
        assert_eq!(headers.capacity(), 3);
        assert_eq!(headers["x-api-key"], "the-key");
        assert_eq!(headers["authorization"], "Bearer the-token");
    }
}
