//! What a credential may do: its scopes and devices ([`Grant`]), and the caller of one
//! request or socket ([`Caller`]), with the checks every handler makes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::*;
use crate::model::{event::EventKind, DeviceId};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET requests and receiving events.
    Read,
    /// Sending, read receipts, typing, reactions.
    Send,
    /// Start/stop/logout, QR, pairing, device create/delete.
    Control,
    /// Everything, including keys.
    Admin,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Scope> {
        serde_json::from_value(serde_json::Value::String(raw.into())).ok()
    }
}

/// The rights of one credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub subject: String,
    /// The API key the credential comes from: a stored key's id, or `cfg_` and the start of a
    /// configured key's digest. A token carries the key it was issued with, and stops working
    /// when that key is revoked (or leaves the configuration).
    pub key: String,
    /// Device ids, or `*` for all.
    pub devices: BTreeSet<String>,
    pub scopes: BTreeSet<Scope>,
    /// When the grant ends (unix seconds): a token's `exp`. An API key has no end of its own.
    pub expires: Option<u64>,
    /// The protocol profile a token was issued for: its connections and REST bodies are
    /// translated by it. API keys carry none.
    pub profile: Option<String>,
}

impl Grant {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    pub fn sees(&self, device: &DeviceId) -> bool {
        self.devices.contains("*") || self.devices.contains(device.as_str())
    }

    /// Whether everything `other` grants is granted here too (tokens are issued only so).
    pub fn covers(&self, other: &Grant) -> bool {
        self.reaches(other.devices.iter())
            && other.scopes.iter().all(|scope| self.has_scope(*scope))
    }

    /// Whether every device of a selection (ids, or `*` for all) is one this grant sees:
    /// `*` only by a grant on all devices.
    fn reaches<'a>(&self, mut selection: impl Iterator<Item = &'a String>) -> bool {
        self.devices.contains("*")
            || selection.all(|device| device != "*" && self.devices.contains(device))
    }
}

/// The credentials presented with a request: one or two grants (API key and token). Either
/// alone is enough if it grants what is asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub grants: Vec<Grant>,
}

impl Caller {
    /// The protocol profile the caller's token was issued for, if any.
    pub fn profile(&self) -> Option<&str> {
        self.grants
            .iter()
            .find_map(|grant| grant.profile.as_deref())
    }

    /// Checks a scope, and a device if the action concerns one.
    pub fn authorize(&self, scope: Scope, device: Option<&DeviceId>) -> Result<(), AuthError> {
        let ok = self
            .grants
            .iter()
            .any(|grant| grant.has_scope(scope) && device.is_none_or(|device| grant.sees(device)));
        if ok {
            Ok(())
        } else {
            Err(AuthError::Forbidden(match device {
                Some(device) => {
                    format!("this credential does not grant `{scope:?}` on device `{device}`")
                        .to_lowercase()
                }
                None => {
                    format!("this credential does not grant the `{scope:?}` scope").to_lowercase()
                }
            }))
        }
    }

    pub fn sees(&self, device: &DeviceId) -> bool {
        self.grants.iter().any(|grant| grant.sees(device))
    }

    /// Whether every device `other` sees is one this caller sees (all of them, for an `other`
    /// that sees `*`): what `other` does on the fleet is within this caller's view.
    pub fn sees_all_that(&self, other: &Caller) -> bool {
        let sees_every_device = self.grants.iter().any(|grant| grant.devices.contains("*"));
        sees_every_device
            || other
                .grants
                .iter()
                .flat_map(|grant| grant.devices.iter())
                .all(|device| {
                    device != "*"
                        && self
                            .grants
                            .iter()
                            .any(|grant| grant.devices.contains(device))
                })
    }

    /// Whether device `device`'s journaled events of `kind` may reach this caller. A `qr` or
    /// `pairing:code` event carries a live code that links a phone to the device
    /// ([`EventKind::carries_linking_code`]): only a credential that may control the device
    /// sees it; others follow linking through `state`.
    pub fn may_see(&self, kind: EventKind, device: &DeviceId) -> bool {
        !kind.carries_linking_code() || self.authorize(Scope::Control, Some(device)).is_ok()
    }

    /// When the credentials stop being valid together (unix seconds): the earliest end among
    /// them, since a caller that presented two credentials needs both.
    pub fn expires(&self) -> Option<u64> {
        self.grants.iter().filter_map(|grant| grant.expires).min()
    }

    /// Whether the credentials have ended by `now` (unix seconds).
    pub fn expired_at(&self, now: u64) -> bool {
        self.expires().is_some_and(|end| end <= now)
    }

    /// A single grant that covers all of `wanted`: the one a token for `wanted` is issued with.
    pub fn issuer_of(&self, wanted: &Grant) -> Option<&Grant> {
        self.grants.iter().find(|grant| grant.covers(wanted))
    }

    /// Whether one admin grant reaches every device of `selection`, the devices an API key
    /// or a webhook subscription names. An admin limited to some devices manages only the keys
    /// and subscriptions within them: otherwise it could mint a key, or subscribe a URL, for
    /// the whole fleet.
    pub fn administers(&self, selection: &[String]) -> bool {
        self.administering(selection).next().is_some()
    }

    /// The admin grants that reach every device of `selection`.
    fn administering<'a>(&'a self, selection: &'a [String]) -> impl Iterator<Item = &'a Grant> {
        self.grants
            .iter()
            .filter(|grant| grant.has_scope(Scope::Admin) && grant.reaches(selection.iter()))
    }

    /// Whether an API key may be created for `selection`: [`Caller::authorize_selection`],
    /// by an API key's grant. A key never ends, so a token that could mint one would outlive
    /// itself; only an API key hands out a lifetime without end.
    pub fn authorize_key_creation(&self, selection: &[String]) -> Result<(), AuthError> {
        self.authorize_selection(selection)?;
        if self
            .administering(selection)
            .any(|grant| grant.expires.is_none())
        {
            Ok(())
        } else {
            Err(AuthError::Forbidden(
                "creating an API key needs an API key with the admin scope: a token ends, a key \
                 it made would not"
                    .into(),
            ))
        }
    }

    /// [`Caller::administers`] as a check: a key or subscription for devices beyond the
    /// caller's is refused.
    pub fn authorize_selection(&self, selection: &[String]) -> Result<(), AuthError> {
        if self.administers(selection) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "this credential does not administer every device of {selection:?}"
            )))
        }
    }
}
