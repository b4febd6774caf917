//! A device's definition: what `devices/<id>.toml` and `POST /api/v1/devices` describe.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DeviceId;

/// The upstreams a device can be relayed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
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
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub name: String,
    #[serde(default)]
    pub connector: ConnectorKind,
    #[serde(default = "yes")]
    pub autostart: bool,
    #[serde(default, deserialize_with = "crate::nested::object")]
    pub simulator: SimulatorSpec,
    #[serde(
        default,
        deserialize_with = "crate::nested::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub waha: Option<WahaSpec>,
    #[serde(
        default,
        deserialize_with = "crate::nested::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_api: Option<CloudApiSpec>,
    #[serde(default, deserialize_with = "crate::nested::object")]
    pub hooks: DeviceHooks,
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
#[serde(deny_unknown_fields, default)]
pub struct WahaSpec {
    /// Where WAHA's REST API is, e.g. `http://localhost:3001`.
    pub base_url: String,
    /// Sent as `X-Api-Key`; WAHA may run without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// The WAHA session this device is (WAHA Core has only `default`).
    pub session: String,
    /// The HMAC key WAHA signs its webhooks with; devicebridge sets it on the session.
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
#[serde(deny_unknown_fields, default)]
pub struct DeviceHooks {
    pub sound: bool,
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

impl WahaSpec {
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
#[serde(deny_unknown_fields, default)]
pub struct CloudApiSpec {
    pub phone_number_id: String,
    /// The bearer token for the Graph API.
    pub access_token: Secret,
    /// Signs Meta's webhooks (`X-Hub-Signature-256`).
    pub app_secret: Secret,
    /// What Meta must echo when it verifies the callback URL.
    pub verify_token: Secret,
    /// The Graph API base, version included.
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
#[serde(deny_unknown_fields, default)]
pub struct SimulatorSpec {
    pub phone: String,
    pub server_ack_ms: u64,
    pub delivered_ms: u64,
    pub read_ms: u64,
    /// How long an echoing contact types before its reply arrives.
    pub typing_ms: u64,
    #[serde(deserialize_with = "crate::nested::objects")]
    pub contacts: Vec<SimulatedContact>,
}

impl Default for SimulatorSpec {
    fn default() -> Self {
        Self {
            phone: "15550000001".into(),
            server_ack_ms: 30,
            delivered_ms: 150,
            read_ms: 1500,
            typing_ms: 1000,
            contacts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedContact {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub behaviour: Behaviour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    #[default]
    Echo,
    Silent,
    SlowReader,
}

/// A device file that could not be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DeviceFileError {
    pub path: PathBuf,
    pub message: String,
}

/// The devices a directory declares, and its files that could not be used.
pub type DeclaredDevices = (Vec<(DeviceId, DeviceSpec)>, Vec<DeviceFileError>);

/// Reads every `*.toml` in `dir`. Broken files are returned as errors beside the good devices,
/// so one bad file never keeps the others from starting. A directory that cannot be read
/// (missing included) is an error, not "no devices": the caller would otherwise remove every
/// device its files declared, with their messages.
pub fn load_dir(dir: &Path) -> std::io::Result<DeclaredDevices> {
    let mut devices = Vec::new();
    let mut errors = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        match load_file(&path) {
            Ok(device) => devices.push(device),
            Err(message) => errors.push(DeviceFileError { path, message }),
        }
    }
    Ok((devices, errors))
}

fn load_file(path: &Path) -> Result<(DeviceId, DeviceSpec), String> {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default();
    let id = DeviceId::parse(stem).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    Ok((id, parse(&text)?))
}

/// A device file's text as a checked definition, or the problem with it.
fn parse(text: &str) -> Result<DeviceSpec, String> {
    let spec: DeviceSpec = toml::from_str(text).map_err(|e| toml_problem(text, &e))?;
    spec.validate()?;
    Ok(spec)
}

/// A device file's syntax or type error, with its line but without the quoted source line,
/// which could be a credential.
fn toml_problem(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_file_is_reported_and_the_others_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.toml"), "name = \"Good\"\n").unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "name = \"Bad\"\nsimulator = { phnoe = \"1\" }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("Bad Id.toml"), "name = \"x\"\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let (devices, errors) = load_dir(dir.path()).unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].0.as_str(), "good");
        assert_eq!(devices[0].1.connector, ConnectorKind::Simulator);
        assert!(devices[0].1.autostart);
        assert_eq!(devices[0].1.hooks, DeviceHooks::default());
        assert_eq!(errors.len(), 2);
        let bad = errors
            .iter()
            .find(|e| e.path.ends_with("bad.toml"))
            .unwrap();
        assert!(bad.to_string().contains("phnoe"), "{bad}");
        assert!(errors.iter().any(|e| e.path.ends_with("Bad Id.toml")));
    }

    #[test]
    fn connector_tables_are_checked_and_name_the_missing_key() {
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, text: &str| {
            std::fs::write(dir.path().join(format!("{id}.toml")), text).unwrap()
        };
        write(
            "no-url",
            "name = \"W\"\nconnector = \"waha\"\n[waha]\nwebhook_secret = \"s\"\n",
        );
        write("no-table", "name = \"W\"\nconnector = \"waha\"\n");
        write("bad-url", "name = \"W\"\nconnector = \"waha\"\n[waha]\nbase_url = \"localhost:3001\"\nwebhook_secret = \"s\"\n");
        write("no-token", "name = \"C\"\nconnector = \"cloud_api\"\n[cloud_api]\nphone_number_id = \"123\"\napp_secret = \"a\"\nverify_token = \"v\"\n");
        write(
            "waha",
            "name = \"W\"\nconnector = \"waha\"\n[waha]\nbase_url = \"http://localhost:3001\"\napi_key = \"k\"\nwebhook_secret = \"s\"\n",
        );
        write(
            "cloud",
            "name = \"C\"\nconnector = \"cloud_api\"\n[cloud_api]\nphone_number_id = \"123\"\naccess_token = \"t\"\napp_secret = \"a\"\nverify_token = \"v\"\n",
        );
        let (devices, errors) = load_dir(dir.path()).unwrap();
        let error = |id: &str| {
            errors
                .iter()
                .find(|e| e.path.ends_with(format!("{id}.toml")))
                .unwrap_or_else(|| panic!("{id} should be refused"))
                .to_string()
        };
        assert!(
            error("no-url").contains("`waha.base_url` is required"),
            "{}",
            error("no-url")
        );
        assert!(error("no-table").contains("`waha.base_url` is required"));
        assert!(error("bad-url").contains("`waha.base_url` must be an http(s) URL"));
        assert!(error("no-token").contains("`cloud_api.access_token` is required"));
        assert_eq!(errors.len(), 4, "{errors:?}");

        let ids: Vec<_> = devices.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["cloud", "waha"]);
        let waha = devices[1].1.waha.as_ref().unwrap();
        assert_eq!(waha.session, "default", "WAHA's default session");
        assert_eq!(waha.api_key.as_ref().unwrap().expose(), "k");
        let cloud = devices[0].1.cloud_api.as_ref().unwrap();
        assert_eq!(cloud.graph_url, "https://graph.facebook.com/v21.0");
    }

    #[test]
    fn a_broken_line_is_named_but_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let text = "name = \"C\"\nconnector = \"cloud_api\"\n[cloud_api]\naccess_token = EAAG-secret-token\n";
        std::fs::write(dir.path().join("c.toml"), text).unwrap();
        let (_, errors) = load_dir(dir.path()).unwrap();
        let shown = errors[0].to_string();
        assert!(shown.contains("line 4"), "{shown}");
        assert!(!shown.contains("EAAG-secret-token"), "{shown}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let spec = DeviceSpec {
            name: "C".into(),
            connector: ConnectorKind::CloudApi,
            autostart: true,
            simulator: SimulatorSpec::default(),
            waha: Some(WahaSpec {
                base_url: "http://waha".into(),
                api_key: Some(Secret::new("waha-key-1")),
                session: "default".into(),
                webhook_secret: Secret::new("waha-hmac-2"),
            }),
            cloud_api: Some(CloudApiSpec {
                phone_number_id: "123".into(),
                access_token: Secret::new("token-3"),
                app_secret: Secret::new("app-4"),
                verify_token: Secret::new("verify-5"),
                graph_url: GRAPH_URL.into(),
            }),
            hooks: DeviceHooks::default(),
        };
        let shown = format!("{spec:?} {spec:#?}");
        for secret in ["waha-key-1", "waha-hmac-2", "token-3", "app-4", "verify-5"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Stored with the device, so it must survive serialization.
        let stored = serde_json::to_value(&spec).unwrap();
        assert_eq!(stored["cloud_api"]["access_token"], "token-3");
        assert_eq!(serde_json::from_value::<DeviceSpec>(stored).unwrap(), spec);
    }

    #[test]
    fn hook_switches_are_read_from_the_file() {
        let spec: DeviceSpec =
            toml::from_str("name = \"Quiet\"\n[hooks]\nsound = false\n").unwrap();
        assert_eq!(
            spec.hooks,
            DeviceHooks {
                sound: false,
                desktop: true
            }
        );
        assert!(toml::from_str::<DeviceSpec>("name = \"x\"\n[hooks]\nsond = false\n").is_err());
    }

    #[test]
    fn the_shipped_demo_device_parses() {
        let (devices, errors) =
            load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/devices"))).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(devices.iter().any(|(id, _)| id.as_str() == "demo"));
    }
}
