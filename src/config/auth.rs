//! Who may use the daemon: API keys and the secret access tokens are signed with.

use serde::{Deserialize, Serialize};

/// The scopes an API key may grant.
pub(super) const KNOWN_SCOPES: [&str; 4] = ["read", "send", "control", "admin"];

/// Authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Static API keys. Empty by default: a fresh install has no way in until
    /// a key is configured (or given with `DEVICEBRIDGE_API_KEY`).
    pub api_keys: Vec<ApiKeySetting>,
    /// HS256 secret for access tokens. Unset means one is generated and kept
    /// in the data directory, so tokens survive restarts without the operator
    /// having to invent a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
}

/// One API key.
///
/// The key may be given in plain text (`key`) or as its SHA-256 digest
/// (`key_sha256`), so a config file can be shared or committed without
/// leaking the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeySetting {
    /// Label used in logs; never the secret itself.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Lowercase or uppercase hex, 64 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// Device ids this key may use; `"*"` means all.
    pub devices: Vec<String>,
    /// Subset of `read`, `send`, `control`, `admin`.
    pub scopes: Vec<String>,
}

impl Default for ApiKeySetting {
    fn default() -> Self {
        Self {
            name: String::new(),
            key: None,
            key_sha256: None,
            devices: vec!["*".to_owned()],
            scopes: vec!["admin".to_owned()],
        }
    }
}
