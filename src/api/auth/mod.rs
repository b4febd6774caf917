//! Who is calling and what they may do — the same rules for REST and Socket.IO.
//!
//! Two credentials exist: API keys (random, shown once, stored as SHA-256 digests and compared
//! in constant time) and HS256 access tokens (short-lived, issued from a key's own rights, so a
//! backend can hand a browser dashboard a token for one device). A credential carries scopes
//! and the devices it may see.

mod credentials;
mod scope;
mod secrets;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ApiKeySetting, Settings};
use crate::store::{self, Store, StoreError};

use credentials::Claims;
pub use credentials::{
    bare_token, header_credentials, is_access_token, NewKey, CREDENTIAL_HEADERS,
};
pub use scope::{Caller, Grant, Scope};
pub use secrets::{random_secret, read_or_create_secret, unix_now, write_private};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
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
    /// Builds the authenticator, signing tokens with `secret` (the daemon finds it in
    /// `auth.jwt_secret`, the shared database or `<data dir>/jwt-secret`).
    pub fn new(settings: &Settings, store: Store, secret: &str) -> Self {
        let configured = settings
            .auth
            .api_keys
            .iter()
            .filter_map(configured_grant)
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                configured,
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            }),
        }
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
                profile: None,
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
            profile: claims.profile,
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
            profile: grant.profile.clone(),
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

pub(super) fn configured_grant(setting: &ApiKeySetting) -> Option<([u8; 32], Grant)> {
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
            profile: None,
        },
    ))
}
