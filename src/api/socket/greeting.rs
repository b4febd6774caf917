//! The `session` event a socket of `/device/<id>` is greeted with as it connects, before any
//! replay, snapshot or `sync`: who the server took it for and what it may do, so a dashboard
//! can show the signed-in user and hide what its scopes do not allow without a request of
//! its own. It is the socket's own, not an event of the device: it is not journaled and has
//! no `seq`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use socketioxide::extract::SocketRef;

use super::tell;
use crate::api::auth::{Caller, Scope};
use crate::model::{rfc3339, DeviceId};

/// `session` `{ sub, deviceId, socketId, scopes, at }`: `at`, as `sync` has it, because every
/// payload on a device's namespace says when it was sent.
#[derive(Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct Greeting<'a> {
    /// Who the socket speaks for: the token's subject, or the API key's name.
    sub: &'a str,
    #[cfg_attr(test, ts(type = "string"))]
    device_id: &'a DeviceId,
    socket_id: String,
    scopes: BTreeSet<Scope>,
    at: String,
}

impl<'a> Greeting<'a> {
    /// What `caller` is on `device`. Of two credentials (an API key and a token), the token
    /// names the subject: a backend mints it for the person at the dashboard, where the key
    /// names the backend. The scopes are those of every credential that sees the device, as
    /// either alone is enough for what it grants.
    fn new(caller: &'a Caller, device: &'a DeviceId, socket_id: String, at: String) -> Self {
        let grants = || caller.grants.iter().filter(|grant| grant.sees(device));
        let mut token_first = grants()
            .filter(|grant| grant.expires.is_some())
            .chain(grants());
        Greeting {
            sub: token_first.next().map_or("", |grant| &grant.subject),
            device_id: device,
            socket_id,
            scopes: grants()
                .flat_map(|grant| grant.scopes.iter().copied())
                .collect(),
            at,
        }
    }
}

/// Emits `session` to a socket of `device` that was just admitted; returns whether it is
/// still there to be brought up to date.
pub(super) fn greet(socket: &SocketRef, device: &DeviceId) -> bool {
    let Some(caller) = socket.extensions.get::<Arc<Caller>>() else {
        return false;
    };
    let at = rfc3339(chrono::Utc::now());
    let greeting = Greeting::new(&caller, device, socket.id.to_string(), at);
    tell(socket, "session", &greeting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::Grant;

    fn grant(subject: &str, devices: &[&str], scopes: &[Scope], expires: Option<u64>) -> Grant {
        Grant {
            subject: subject.into(),
            key: "key_1".into(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            scopes: scopes.iter().copied().collect(),
            expires,
            profile: None,
        }
    }

    #[test]
    fn the_token_names_the_subject_and_every_credential_on_the_device_adds_its_scopes() {
        let demo = DeviceId::parse("demo").unwrap();
        let key = grant("backend", &["*"], &[Scope::Read, Scope::Control], None);
        let token = grant("ana", &["demo"], &[Scope::Send], Some(2_000_000_000));
        let elsewhere = grant("ops", &["other"], &[Scope::Admin], None);
        let both = Caller {
            grants: vec![key.clone(), token],
        };
        let greeting = Greeting::new(&both, &demo, "sid".into(), "now".into());
        assert_eq!(
            serde_json::to_value(&greeting).unwrap(),
            serde_json::json!({
                "sub": "ana", "deviceId": "demo", "socketId": "sid",
                "scopes": ["read", "send", "control"], "at": "now",
            })
        );
        let key_alone = Caller {
            grants: vec![elsewhere, key],
        };
        let greeting = Greeting::new(&key_alone, &demo, "sid".into(), "now".into());
        assert_eq!(
            (
                greeting.sub,
                greeting.scopes.into_iter().collect::<Vec<_>>()
            ),
            ("backend", vec![Scope::Read, Scope::Control])
        );
    }
}
