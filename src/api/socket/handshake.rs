//! The handshake: who a socket is and what it may read, decided in a connect middleware
//! before the socket joins anything. Kept apart from the hub because it is the one gate every
//! namespace shares, and its rules (where credentials, `lastSeq` and `chats` may come from,
//! and what is refused) are read on their own.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use socketioxide::extract::SocketRef;

use super::paths::PathProfile;
use super::rooms::Rooms;
use super::{session, SocketHub};
use crate::api::auth::{bare_token, header_credentials, Authenticator, Caller, Scope};
use crate::api::profile::{Profile, NATIVE};
use crate::model::DeviceId;

/// Why a handshake was refused; its text is the client's `connect_error` message.
#[derive(Debug)]
pub(super) enum Refusal {
    Unauthorized,
    Forbidden,
    /// A `lastSeq` that is not a seq: resuming from a guess could skip events unnoticed.
    BadLastSeq,
    /// A profile (by `auth.profile`, the token or the path) this daemon does not know.
    UnknownProfile(String),
    /// `chats` that are not a list of chat ids, or too many: taken as none, the socket would
    /// be sent every chat's events, and its replay would be all of them.
    BadChats(String),
}

impl Refusal {
    /// The refusal's `outcome` in `devicebridge_socket_handshakes_total`.
    fn outcome(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::BadLastSeq | Refusal::BadChats(_) => "bad_request",
            Refusal::UnknownProfile(_) => "unknown_profile",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unauthorized => f.write_str("unauthorized"),
            Refusal::Forbidden => f.write_str("forbidden"),
            Refusal::BadLastSeq => {
                f.write_str("bad_request: lastSeq must be a whole number, 0 or more")
            }
            Refusal::BadChats(why) => write!(f, "bad_request: chats: {why}"),
            Refusal::UnknownProfile(name) => write!(
                f,
                "unknown_profile: no profile is named `{name}`; GET /api/v1/profiles lists them"
            ),
        }
    }
}

/// The `lastSeq` a device's socket connected with, kept from its handshake to its attachment.
#[derive(Clone, Copy)]
pub(super) struct LastSeq(pub(super) Option<u64>);

impl SocketHub {
    /// Checks a handshake for device `device`'s namespace (or the root's): the credentials
    /// must grant reading it. They are kept on the socket for its events, and the socket is
    /// disconnected when they end. Each handshake is counted by its outcome.
    ///
    /// The namespaces' middlewares register a socket's event handlers right after this, not
    /// in the connect handler: socketioxide sends the connect packet before it starts that
    /// handler as a task, and an event a client emits as soon as it is connected could
    /// otherwise arrive with no handler to take it, and go unanswered.
    pub(super) async fn handshake(
        &self,
        socket: &SocketRef,
        data: Option<&Value>,
        device: Option<&DeviceId>,
    ) -> Result<(), Refusal> {
        let admitted = self.admit(socket, data, device).await;
        let outcome = admitted
            .as_ref()
            .map_or_else(Refusal::outcome, |()| "accepted");
        session::count_handshake(socket, outcome);
        admitted
    }

    async fn admit(
        &self,
        socket: &SocketRef,
        data: Option<&Value>,
        device: Option<&DeviceId>,
    ) -> Result<(), Refusal> {
        let caller = self
            .inner
            .callers
            .share(authenticate(&self.inner.auth, socket, data).await?);
        caller
            .authorize(Scope::Read, device)
            .map_err(|_| Refusal::Forbidden)?;
        if device.is_some() {
            socket.extensions.insert(LastSeq(last_seq(socket, data)?));
            if let Some(profile) = self.profile_of(socket, data, &caller)? {
                socket.extensions.insert(profile);
            }
            let budget = self.inner.clients.limits.max_bytes;
            let rooms = Rooms::new(chats(data)?, budget).map_err(Refusal::BadChats)?;
            socket.extensions.insert(rooms);
        }
        self.inner.expiries.watch(socket, &caller);
        socket.extensions.insert(caller);
        Ok(())
    }
}

impl SocketHub {
    /// The profile a device socket speaks: `auth.profile`, else its token's, else its socket
    /// path's — the most specific choice wins; `native`, or none, is the native protocol.
    fn profile_of(
        &self,
        socket: &SocketRef,
        data: Option<&Value>,
        caller: &Caller,
    ) -> Result<Option<Arc<Profile>>, Refusal> {
        let asked = data.and_then(|d| d.get("profile")).and_then(Value::as_str);
        let by_path = socket.req_parts().extensions.get::<PathProfile>();
        let Some(name) = asked
            .or(caller.profile())
            .or(by_path.map(|path| &*path.0))
            .filter(|name| *name != NATIVE)
        else {
            return Ok(None);
        };
        match self.inner.clients.profiles.get(name) {
            Some(profile) => Ok(Some(profile)),
            None => Err(Refusal::UnknownProfile(name.to_owned())),
        }
    }
}

/// Finds the credentials in the handshake: `auth`, then query, then headers.
async fn authenticate(
    auth: &Authenticator,
    socket: &SocketRef,
    data: Option<&Value>,
) -> Result<Caller, Refusal> {
    let parts = socket.req_parts();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| url_pairs(q).collect())
        .unwrap_or_default();
    let (header_key, header_token) = header_credentials(&parts.headers);
    let from_auth = |name: &str| {
        data.and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let api_key = from_auth("apiKey")
        .or_else(|| query.get("apiKey").cloned())
        .or(header_key);
    // Some clients put the header's value in `auth.token`, scheme and all.
    let token = from_auth("token")
        .map(|token| bare_token(&token).to_owned())
        .or_else(|| query.get("access-token").cloned())
        .or(header_token);
    auth.identify(api_key.as_deref(), token.as_deref())
        .await
        .map_err(|_| Refusal::Unauthorized)
}

/// The `lastSeq` of a handshake: `auth.lastSeq` (a number, or a string of digits as a client
/// may have stored it), else query `lastSeq`. Anything else is refused rather than taken as
/// absent, which would start the client from now and lose what it missed without a word.
fn last_seq(socket: &SocketRef, auth: Option<&Value>) -> Result<Option<u64>, Refusal> {
    let given = match auth.and_then(|a| a.get("lastSeq")) {
        None | Some(Value::Null) => socket.req_parts().uri.query().and_then(|query| {
            url_pairs(query)
                .find(|(k, _)| k == "lastSeq")
                .map(|(_, v)| Value::String(v))
        }),
        Some(value) => Some(value.clone()),
    };
    match given {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_u64().map(Some).ok_or(Refusal::BadLastSeq),
        Some(Value::String(text)) => text.parse().map(Some).map_err(|_| Refusal::BadLastSeq),
        Some(_) => Err(Refusal::BadLastSeq),
    }
}

/// The chats a socket starts joined to: `auth.chats`, a list of chat ids, so that its replay
/// is filtered from the start (a `chat:join` would come after it).
fn chats(auth: Option<&Value>) -> Result<Vec<String>, Refusal> {
    let not_a_list = || Refusal::BadChats("must be a list of chat ids".into());
    match auth.and_then(|a| a.get("chats")) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(not_a_list))
            .collect(),
        Some(_) => Err(not_a_list()),
    }
}

/// Decoded `key=value` pairs of a query string.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
