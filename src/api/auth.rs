//! Who is calling and what they may do — the same rules for REST and Socket.IO.
//!
//! Two credentials exist: API keys (random, shown once, stored as SHA-256 digests and compared
//! in constant time) and HS256 access tokens (short-lived, issued from a key's own rights, so a
//! backend can hand a browser dashboard a token for one device). A credential carries scopes
//! and the devices it may see.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ApiKeySetting, Settings};
use crate::model::DeviceId;
use crate::store::{self, Store, StoreError};

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

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rights of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
pub struct Caller {
    pub grants: Vec<Grant>,
}

impl Caller {
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

    /// Whether device `device`'s journaled event `event` may reach this caller. A `qr` event
    /// carries a live pairing code, which links a phone to the device: only a credential that
    /// may control the device sees it; others follow linking through `state`.
    pub fn may_see(&self, event: &str, device: &DeviceId) -> bool {
        event != "qr" || self.authorize(Scope::Control, Some(device)).is_ok()
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

/// Credentials found in HTTP headers: `X-Api-Key` and `Authorization: Bearer`.
pub fn header_credentials(headers: &axum::http::HeaderMap) -> (Option<String>, Option<String>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let token = header("authorization").and_then(|v| bearer_token(&v).map(str::to_owned));
    (header("x-api-key"), token)
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are read too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The issuing key (see [`Grant::key`]). A token without one (signed by an earlier
    /// version) cannot be checked against revocations and is refused.
    key: String,
    devices: Vec<String>,
    scopes: Vec<Scope>,
    exp: u64,
    iat: u64,
}

/// A newly created API key: the secret is only ever available here.
pub struct NewKey {
    pub record: store::KeyRecord,
    pub secret: String,
}

impl NewKey {
    /// A new key with its secret, not stored yet.
    pub fn generate(name: String, devices: Vec<String>, scopes: Vec<Scope>) -> Self {
        let secret = format!("dbk_{}", random_secret(40));
        let record = store::KeyRecord {
            id: format!("key_{}", ulid::Ulid::new()),
            name,
            key_sha256: hex::encode(digest(&secret)),
            devices,
            scopes: scopes
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect(),
            created_at: chrono::Utc::now(),
        };
        Self { record, secret }
    }
}

#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Keys from the configuration, by digest.
    configured: Vec<([u8; 32], Grant)>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Authenticator {
    /// Builds the authenticator; the token secret comes from the settings or from
    /// `<data dir>/jwt-secret`, generated on first use.
    pub fn new(settings: &Settings, store: Store) -> std::io::Result<Self> {
        let secret = match &settings.auth.jwt_secret {
            Some(secret) => secret.clone(),
            None => read_or_create_secret(&settings.storage.data_dir.join("jwt-secret"), || {
                random_secret(64)
            })?,
        };
        let configured = settings
            .auth
            .api_keys
            .iter()
            .filter_map(configured_grant)
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                configured,
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            }),
        })
    }

    pub fn has_configured_keys(&self) -> bool {
        !self.inner.configured.is_empty()
    }

    /// Resolves the credentials presented; if both are sent, both must be valid.
    pub async fn identify(
        &self,
        api_key: Option<&str>,
        token: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let mut grants = Vec::new();
        if let Some(key) = api_key {
            grants.push(self.api_key(key).await?.ok_or(AuthError::Unauthorized)?);
        }
        if let Some(token) = token {
            grants.push(self.token(token).await?.ok_or(AuthError::Unauthorized)?);
        }
        if grants.is_empty() {
            return Err(AuthError::Unauthorized);
        }
        Ok(Caller { grants })
    }

    async fn api_key(&self, key: &str) -> Result<Option<Grant>, AuthError> {
        let presented = digest(key);
        for (known, grant) in &self.inner.configured {
            if bool::from(known.ct_eq(&presented)) {
                return Ok(Some(grant.clone()));
            }
        }
        let hex_digest = hex::encode(presented);
        let stored = self
            .inner
            .store
            .read(move |conn| store::keys::find_by_digest(conn, &hex_digest))
            .await?;
        // The lookup is by digest; compare again in constant time so timing reveals nothing.
        Ok(stored
            .filter(|record| {
                bool::from(
                    record
                        .key_sha256
                        .as_bytes()
                        .ct_eq(hex::encode(presented).as_bytes()),
                )
            })
            .map(|record| Grant {
                subject: record.name,
                key: record.id,
                devices: record.devices.into_iter().collect(),
                scopes: record
                    .scopes
                    .iter()
                    .filter_map(|s| Scope::parse(s))
                    .collect(),
                expires: None,
            }))
    }

    /// A token's grant, while it lasts: it ends at `exp`, as `expiresAt` said, without the
    /// minute of grace the JWT library allows (the daemon both signs and checks, so there is
    /// no clock skew between them to allow for).
    async fn token(&self, token: &str) -> Result<Option<Grant>, AuthError> {
        let validation = Validation::new(Algorithm::HS256);
        let Ok(decoded) = jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &validation)
        else {
            return Ok(None);
        };
        let claims = decoded.claims;
        if claims.exp <= unix_now() || !self.key_is_active(&claims.key).await? {
            return Ok(None);
        }
        Ok(Some(Grant {
            subject: claims.sub,
            key: claims.key,
            devices: claims.devices.into_iter().collect(),
            scopes: claims.scopes.into_iter().collect(),
            expires: Some(claims.exp),
        }))
    }

    /// Whether the API key `key` (see [`Grant::key`]) still grants anything.
    async fn key_is_active(&self, key: &str) -> Result<bool, AuthError> {
        if self
            .inner
            .configured
            .iter()
            .any(|(_, grant)| grant.key == key)
        {
            return Ok(true);
        }
        let id = key.to_owned();
        let stored = self
            .inner
            .store
            .read(move |conn| store::keys::get(conn, &id))
            .await?;
        Ok(stored.is_some())
    }

    /// Signs an access token for `grant`, valid for `ttl_secs`; returns it with its expiry
    /// (unix secs). `grant.key` must be the key of the credential that asked for it, and
    /// `grant.expires` that credential's end: a token asked for with a token ends no later
    /// than it, so a short-lived token cannot renew itself into a long-lived one.
    pub fn issue_token(&self, grant: &Grant, ttl_secs: u64) -> (String, u64) {
        let now = unix_now();
        let exp = grant
            .expires
            .map_or(now + ttl_secs, |end| end.min(now + ttl_secs));
        let claims = Claims {
            sub: grant.subject.clone(),
            key: grant.key.clone(),
            devices: grant.devices.iter().cloned().collect(),
            scopes: grant.scopes.iter().copied().collect(),
            iat: now,
            exp,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .expect("HS256 signing does not fail");
        (token, claims.exp)
    }

    /// Creates and stores a key; the secret is returned once and never stored.
    pub async fn create_key(
        &self,
        name: String,
        devices: Vec<String>,
        scopes: Vec<Scope>,
    ) -> Result<NewKey, StoreError> {
        let key = NewKey::generate(name, devices, scopes);
        self.store_key(&key).await?;
        Ok(key)
    }

    /// Stores a key made with [`NewKey::generate`]: from then on it is accepted.
    pub async fn store_key(&self, key: &NewKey) -> Result<(), StoreError> {
        let stored = key.record.clone();
        self.inner
            .store
            .write(move |tx| tx.insert_key(&stored))
            .await
    }
}

fn configured_grant(setting: &ApiKeySetting) -> Option<([u8; 32], Grant)> {
    let digest = match (&setting.key, &setting.key_sha256) {
        (Some(key), _) => digest(key),
        (None, Some(hex_digest)) => hex::decode(hex_digest).ok()?.try_into().ok()?,
        (None, None) => return None,
    };
    Some((
        digest,
        Grant {
            subject: setting.name.clone(),
            key: format!("cfg_{}", &hex::encode(digest)[..16]),
            devices: setting.devices.iter().cloned().collect(),
            scopes: setting
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s))
                .collect(),
            expires: None,
        },
    ))
}

/// The wall clock in unix seconds, the unit of a token's `exp`.
pub fn unix_now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

pub fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The shortest token secret accepted from a file, as from `auth.jwt_secret`.
const MIN_SECRET_BYTES: usize = 32;

/// Reads a secret file, or creates it readable by the owner only. A file too short to be a
/// secret (an empty one would let anyone sign tokens) is refused, naming it.
pub fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> String,
) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if secret.trim().len() >= MIN_SECRET_BYTES => Ok(secret.trim().to_owned()),
        Ok(secret) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds {} bytes, not a secret of at least {MIN_SECRET_BYTES}: remove it to \
                 have a new one generated (access tokens issued with the old one stop working)",
                path.display(),
                secret.trim().len()
            ),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = make();
            write_private(path, &secret)?;
            Ok(secret)
        }
        Err(error) => Err(error),
    }
}

/// Writes a file with mode 0600, whole or not at all: written beside it, synced, renamed over
/// it, and the rename synced, so a crash never leaves it empty or cut short.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = std::path::PathBuf::from(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_created_whole_and_a_short_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt-secret");
        let made = read_or_create_secret(&path, || random_secret(64)).unwrap();
        assert_eq!(made.len(), 64);
        assert_eq!(
            read_or_create_secret(&path, || unreachable!()).unwrap(),
            made
        );
        assert!(!dir.path().join("jwt-secret.part").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        for short in ["", "\n", "too-short-to-sign-with"] {
            std::fs::write(&path, short).unwrap();
            let refused = read_or_create_secret(&path, || unreachable!()).unwrap_err();
            assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
            assert!(refused.to_string().contains("jwt-secret"), "{refused}");
        }
    }

    /// A token issued with a configured key is refused once the daemon runs without that key.
    #[tokio::test]
    async fn a_token_ends_with_the_configured_key_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.storage.data_dir = dir.path().to_owned();
        std::fs::create_dir_all(dir.path()).unwrap();
        let store = Store::open(&settings.storage, crate::bus::EventBus::new()).unwrap();
        let authenticator = |keys: Vec<ApiKeySetting>| {
            let mut settings = settings.clone();
            settings.auth.api_keys = keys;
            Authenticator::new(&settings, store.clone()).unwrap()
        };
        let configured = ApiKeySetting {
            name: "ops".into(),
            key: Some("configured-secret-0123456789".into()),
            key_sha256: None,
            devices: vec!["*".into()],
            scopes: vec!["read".into()],
        };
        let with_key = authenticator(vec![configured.clone()]);
        let caller = with_key
            .identify(configured.key.as_deref(), None)
            .await
            .unwrap();
        let wanted = grant(&["demo"], &[Scope::Read]);
        let issued = Grant {
            key: caller.issuer_of(&wanted).unwrap().key.clone(),
            ..wanted
        };
        let (token, _) = with_key.issue_token(&issued, 600);
        assert!(with_key.identify(None, Some(&token)).await.is_ok());
        let without_key = authenticator(Vec::new());
        assert!(matches!(
            without_key.identify(None, Some(&token)).await,
            Err(AuthError::Unauthorized)
        ));
    }

    fn grant(devices: &[&str], scopes: &[Scope]) -> Grant {
        Grant {
            subject: "t".into(),
            key: "key_t".into(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            scopes: scopes.iter().copied().collect(),
            expires: None,
        }
    }

    #[test]
    fn admin_implies_every_scope_but_devices_still_limit() {
        let caller = Caller {
            grants: vec![grant(&["demo"], &[Scope::Admin])],
        };
        let demo = DeviceId::parse("demo").unwrap();
        let other = DeviceId::parse("other").unwrap();
        assert!(caller.authorize(Scope::Control, Some(&demo)).is_ok());
        assert!(matches!(
            caller.authorize(Scope::Read, Some(&other)),
            Err(AuthError::Forbidden(_))
        ));
    }

    #[test]
    fn either_grant_is_enough() {
        let caller = Caller {
            grants: vec![grant(&["a"], &[Scope::Read]), grant(&["b"], &[Scope::Send])],
        };
        assert!(caller
            .authorize(Scope::Send, Some(&DeviceId::parse("b").unwrap()))
            .is_ok());
        assert!(caller
            .authorize(Scope::Send, Some(&DeviceId::parse("a").unwrap()))
            .is_err());
    }

    #[test]
    fn tokens_only_narrow() {
        let all = grant(&["*"], &[Scope::Read, Scope::Send]);
        assert!(all.covers(&grant(&["demo"], &[Scope::Read])));
        assert!(!all.covers(&grant(&["demo"], &[Scope::Control])));
        let one = grant(&["demo"], &[Scope::Admin]);
        assert!(!one.covers(&grant(&["*"], &[Scope::Read])));
        assert!(one.covers(&grant(&["demo"], &[Scope::Control])));
    }
}
