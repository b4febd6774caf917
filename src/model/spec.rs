//! A device's definition: what `devices/<id>.toml` and `POST /api/v1/devices` describe, and
//! what the store keeps of it.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Object, SchemaFormat};

use super::constraints;
use super::governor::GovernorChanges;

/// The upstreams a device can be relayed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    #[default]
    Simulator,
    Waha,
    CloudApi,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Simulator => "simulator",
            ConnectorKind::Waha => "waha",
            ConnectorKind::CloudApi => "cloud_api",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    #[schema(schema_with = constraints::name)]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub connector: ConnectorKind,
    #[serde(default = "yes")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub autostart: bool,
    #[serde(default, deserialize_with = "crate::model::nested::object")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub simulator: SimulatorSpec,
    #[serde(
        default,
        deserialize_with = "crate::model::nested::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(test, ts(optional))]
    pub waha: Option<WahaSpec>,
    #[serde(
        default,
        deserialize_with = "crate::model::nested::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(test, ts(optional))]
    pub cloud_api: Option<CloudApiSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::object")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub hooks: DeviceHooks,
    #[serde(default, deserialize_with = "crate::model::nested::object")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub qr: DeviceQr,
    #[serde(default, deserialize_with = "crate::model::nested::object")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub filters: DeviceFilters,
    /// The send governor's limits for this device, over the daemon's `[governor]`.
    #[serde(default, deserialize_with = "crate::model::nested::object")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub governor: GovernorChanges,
}

fn yes() -> bool {
    true
}

/// The names of the connector tables given, of those a definition or a change may carry.
/// They hold the URLs the daemon sends requests to and the credentials it sends with them,
/// which is why only an admin may set them over the API.
pub fn connector_tables(
    waha: &Option<WahaSpec>,
    cloud_api: &Option<CloudApiSpec>,
) -> Vec<&'static str> {
    [("waha", waha.is_some()), ("cloud_api", cloud_api.is_some())]
        .into_iter()
        .filter_map(|(table, given)| given.then_some(table))
        .collect()
}

impl DeviceSpec {
    /// The connector tables this definition gives (see [`connector_tables`]).
    pub fn connector_tables(&self) -> Vec<&'static str> {
        connector_tables(&self.waha, &self.cloud_api)
    }

    /// Checks what deserializing cannot: a name to show, and the connector's table there and
    /// complete. The message names the first missing or bad key, as `waha.base_url`.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` must not be empty; it is what dashboards show".into());
        }
        self.governor.validate()?;
        match self.connector {
            ConnectorKind::Simulator => Ok(()),
            ConnectorKind::Waha => self.waha.clone().unwrap_or_default().validate(),
            ConnectorKind::CloudApi => self.cloud_api.clone().unwrap_or_default().validate(),
        }
    }
}

/// A credential from a device file. It is stored with the device, but its `Debug` form is
/// redacted so it never reaches a log line, and the API never shows device settings.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(type = "string"))]
#[serde(transparent)]
#[schema(format = Password, description = "A credential the daemon sends or checks; never shown back.")]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it upstream or checks a signature.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// A WAHA server relaying one of its sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct WahaSpec {
    /// Where WAHA's REST API is, e.g. `http://localhost:3001`.
    #[cfg_attr(test, ts(optional = nullable))]
    pub base_url: String,
    /// Sent as `X-Api-Key`; WAHA may run without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub api_key: Option<Secret>,
    /// The WAHA session this device is (WAHA Core has only `default`).
    #[cfg_attr(test, ts(optional = nullable))]
    pub session: String,
    /// The HMAC key WAHA signs its webhooks with; devicebridge sets it on the session.
    #[cfg_attr(test, ts(optional = nullable))]
    pub webhook_secret: Secret,
}

impl Default for WahaSpec {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            session: "default".into(),
            webhook_secret: Secret::default(),
        }
    }
}

/// Whether the host's hooks act on this device's events (`[hooks]` in a device file): a
/// device that chats a lot can be kept quiet without muting the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct DeviceHooks {
    #[cfg_attr(test, ts(optional = nullable))]
    pub sound: bool,
    #[cfg_attr(test, ts(optional = nullable))]
    pub desktop: bool,
}

impl Default for DeviceHooks {
    fn default() -> Self {
        Self {
            sound: true,
            desktop: true,
        }
    }
}

/// How the device offers pairing codes (`[qr]` in a device file); the daemon's `qr.*`
/// settings time them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct DeviceQr {
    /// Keep offering new codes, a round of `qr.max_attempts` after another, until the device
    /// is linked or stopped, instead of stopping with `qr_timeout` after one round: for a
    /// device someone may get to link at any time, such as the shipped demo.
    #[cfg_attr(test, ts(optional = nullable))]
    pub keep_offering: bool,
}

/// What becomes of what is posted to many at once rather than said in a chat (`[filters]` in
/// a device file): stories (`status@broadcast`) and channels' posts (`…@newsletter`). Neither
/// is ever a chat, a notification, a sound or a desktop notification; this only decides
/// whether they are journaled as `status:new` for the integrations that want them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct DeviceFilters {
    /// Contacts' stories.
    #[cfg_attr(test, ts(optional = nullable))]
    pub statuses: Filtered,
    /// Posts of the channels the account follows.
    #[cfg_attr(test, ts(optional = nullable))]
    pub channels: Filtered,
}

/// What a filter does with what it catches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Filtered {
    /// Dropped as it arrives; an upstream that can be told (WAHA's session `ignore`) does not
    /// even send it.
    #[default]
    Drop,
    /// Journaled as a `status:new` event, and nothing else.
    Event,
}

/// Where a chat id says something was posted, when it is not a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// A story: `status@broadcast`.
    Status,
    /// A channel's post: `…@newsletter`.
    Channel,
}

/// The chat id WhatsApp gives stories.
pub const STATUS_CHAT: &str = "status@broadcast";

impl Broadcast {
    /// What `chat_id` is, if it is no chat.
    pub fn of(chat_id: &str) -> Option<Broadcast> {
        if chat_id == STATUS_CHAT {
            Some(Broadcast::Status)
        } else if chat_id.ends_with("@newsletter") {
            Some(Broadcast::Channel)
        } else {
            None
        }
    }
}

impl DeviceFilters {
    /// What to do with what was posted to `broadcast`.
    pub fn of(&self, broadcast: Broadcast) -> Filtered {
        match broadcast {
            Broadcast::Status => self.statuses,
            Broadcast::Channel => self.channels,
        }
    }
}

impl WahaSpec {
    /// The table as a `waha` device needs it, which [`WahaSpec::validate`] checks: a device of
    /// another connector keeps a table it is given unread.
    pub fn required_schema() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("The WAHA server a `waha` device is relayed to."))
            .property(
                "base_url",
                constraints::http_url("Where WAHA's REST API is, e.g. `http://localhost:3001`."),
            )
            .required("base_url")
            .property(
                "api_key",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
                    .description(Some("Sent as `X-Api-Key`; WAHA may run without one.")),
            )
            .property(
                "session",
                constraints::path_segment("The WAHA session (WAHA Core has only `default`).")
                    .default(Some("default".into())),
            )
            .property(
                "webhook_secret",
                secret("The HMAC key WAHA signs its webhooks with; devicebridge sets it on the session."),
            )
            .required("webhook_secret")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    }

    fn validate(&self) -> Result<(), String> {
        required_url("waha.base_url", &self.base_url)?;
        if self.session.trim().is_empty() || self.session.contains('/') {
            return Err("`waha.session` must be a WAHA session name such as \"default\"".into());
        }
        required_secret("waha.webhook_secret", &self.webhook_secret)
    }
}

/// The public Graph API, with the version devicebridge is written against.
pub const GRAPH_URL: &str = "https://graph.facebook.com/v21.0";

/// A phone number on the WhatsApp Business Cloud API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct CloudApiSpec {
    #[cfg_attr(test, ts(optional = nullable))]
    pub phone_number_id: String,
    /// The bearer token for the Graph API.
    #[cfg_attr(test, ts(optional = nullable))]
    pub access_token: Secret,
    /// Signs Meta's webhooks (`X-Hub-Signature-256`).
    #[cfg_attr(test, ts(optional = nullable))]
    pub app_secret: Secret,
    /// What Meta must echo when it verifies the callback URL.
    #[cfg_attr(test, ts(optional = nullable))]
    pub verify_token: Secret,
    /// The Graph API base, version included.
    #[cfg_attr(test, ts(optional = nullable))]
    pub graph_url: String,
}

impl Default for CloudApiSpec {
    fn default() -> Self {
        Self {
            phone_number_id: String::new(),
            access_token: Secret::default(),
            app_secret: Secret::default(),
            verify_token: Secret::default(),
            graph_url: GRAPH_URL.into(),
        }
    }
}

impl CloudApiSpec {
    /// The table as a `cloud_api` device needs it, which [`CloudApiSpec::validate`] checks: a
    /// device of another connector keeps a table it is given unread.
    pub fn required_schema() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("The phone number a `cloud_api` device is."))
            .property(
                "phone_number_id",
                constraints::alphanumeric("The phone number's id from the WhatsApp Manager."),
            )
            .required("phone_number_id")
            .property(
                "access_token",
                secret("The bearer token for the Graph API."),
            )
            .required("access_token")
            .property(
                "app_secret",
                secret("Signs Meta's webhooks (`X-Hub-Signature-256`)."),
            )
            .required("app_secret")
            .property(
                "verify_token",
                secret("What Meta must echo when it verifies the callback URL."),
            )
            .required("verify_token")
            .property(
                "graph_url",
                constraints::http_url("The Graph API base, version included.")
                    .default(Some(GRAPH_URL.into())),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    }

    fn validate(&self) -> Result<(), String> {
        let id = self.phone_number_id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(
                "`cloud_api.phone_number_id` is required: the phone number's id from the WhatsApp Manager"
                    .into(),
            );
        }
        required_secret("cloud_api.access_token", &self.access_token)?;
        required_secret("cloud_api.app_secret", &self.app_secret)?;
        required_secret("cloud_api.verify_token", &self.verify_token)?;
        required_url("cloud_api.graph_url", &self.graph_url)
    }
}

/// A credential a connector table must give: not blank ([`Secret::is_empty`]).
fn secret(description: &str) -> ObjectBuilder {
    constraints::not_blank(description)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
}

fn required_url(key: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("`{key}` is required"));
    }
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(format!("`{key}` must be an http(s) URL, got {value:?}")),
    }
}

fn required_secret(key: &str, value: &Secret) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("`{key}` is required"));
    }
    Ok(())
}

/// The simulated phone: its number, its contacts and how fast acks come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorSpec {
    /// The simulated phone's own number. Left out, the device is given one of its own when it
    /// is created: the first from 15550000001 up that no other simulated phone holds or has as
    /// a contact. It is kept in the device's definition from then on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub phone: Option<String>,
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    pub server_ack_ms: u64,
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    pub delivered_ms: u64,
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    pub read_ms: u64,
    /// How long an echoing contact types before its reply arrives.
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    pub typing_ms: u64,
    #[serde(deserialize_with = "crate::model::nested::objects")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub contacts: Vec<SimulatedContact>,
}

impl Default for SimulatorSpec {
    fn default() -> Self {
        Self {
            phone: None,
            server_ack_ms: 30,
            delivered_ms: 150,
            read_ms: 1500,
            typing_ms: 1000,
            contacts: Vec::new(),
        }
    }
}

impl SimulatorSpec {
    /// The phone's number: its own, or, for a definition never stored (which has none yet),
    /// the first of the simulated numbers.
    pub fn number(&self) -> &str {
        self.phone.as_deref().unwrap_or(FIRST_SIMULATED_PHONE)
    }
}

/// The first number simulated phones are given (the shipped demo's); the next ones count up
/// from it.
pub const FIRST_SIMULATED_PHONE: &str = "15550000001";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SimulatedContact {
    pub id: String,
    pub name: String,
    /// The contact's linked id (`<digits>@lid`), by which WhatsApp may name them before it
    /// tells their number (`simulator/act` with `asLid`, then `reveal_lid`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "linked_id"
    )]
    #[cfg_attr(test, ts(optional = nullable))]
    pub lid: Option<String>,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub behaviour: Behaviour,
    /// What their profile says about them. Left out, WhatsApp's own default line; empty,
    /// they show it to nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub about: Option<String>,
    /// Whether they have a profile picture (a drawing of their own, the same every time).
    #[serde(default = "has_picture")]
    #[cfg_attr(test, ts(optional = nullable))]
    pub picture: bool,
}

fn has_picture() -> bool {
    true
}

/// What WhatsApp puts in a new account's "about".
pub const DEFAULT_ABOUT: &str = "Hey there! I am using WhatsApp.";

impl SimulatedContact {
    /// What their profile says about them, if they show it.
    pub fn about(&self) -> Option<&str> {
        match self.about.as_deref() {
            None => Some(DEFAULT_ABOUT),
            Some("") => None,
            Some(about) => Some(about),
        }
    }
}

/// A linked id as WhatsApp writes one: digits, then `@lid`.
fn linked_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let lid: Option<String> = Option::deserialize(deserializer)?;
    match lid {
        Some(lid)
            if !lid.strip_suffix("@lid").is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }) =>
        {
            Err(serde::de::Error::custom(format!(
                "`lid` must be digits then `@lid`, not {lid:?}"
            )))
        }
        lid => Ok(lid),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    #[default]
    Echo,
    Silent,
    SlowReader,
}
