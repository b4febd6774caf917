//! The handshake: who a socket is and what it may read, decided in a connect middleware
//! before the socket joins anything. Kept apart from the hub because it is the one gate every
//! namespace shares, and its rules (where credentials and `lastSeq` may come from, and what is
//! refused) are read on their own.

use std::collections::HashMap;

use serde_json::Value;
use socketioxide::extract::SocketRef;

use super::{session, SocketHub};
use crate::api::auth::{header_credentials, Authenticator, Caller, Scope};
use crate::model::DeviceId;

/// Why a handshake was refused; its text is the client's `connect_error` message.
#[derive(Debug)]
pub(super) enum Refusal {
    Unauthorized,
    Forbidden,
    /// A `lastSeq` that is not a seq: resuming from a guess could skip events unnoticed.
    BadLastSeq,
}

impl Refusal {
    /// The refusal's `outcome` in `devicebridge_socket_handshakes_total`.
    fn outcome(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::BadLastSeq => "bad_request",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::BadLastSeq => "bad_request: lastSeq must be a whole number, 0 or more",
        })
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
        let caller = authenticate(&self.inner.auth, socket, data).await?;
        caller
            .authorize(Scope::Read, device)
            .map_err(|_| Refusal::Forbidden)?;
        if device.is_some() {
            socket.extensions.insert(LastSeq(last_seq(socket, data)?));
        }
        self.inner.expiries.watch(socket, &caller);
        socket.extensions.insert(caller);
        Ok(())
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
    let token = from_auth("token")
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

/// Decoded `key=value` pairs of a query string.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
