//! What to do about a refusal. A client subcommand that fails says so in the daemon's words
//! (`invalid_state: the device is not showing a QR code`), and then, where a command fixes it,
//! names that command (`start it with: devicebridge devices start demo`), so that nobody has to
//! work out from the daemon's state what it wants.

use reqwest::Method;

use super::client::{device_path, Client, ClientError};
use super::{Command, DevicesCommand, KeysCommand};

/// A client subcommand's error, with the command that fixes it when there is one.
#[derive(Debug)]
pub struct Refusal {
    pub error: ClientError,
    pub fix: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.fix {
            Some(fix) => write!(f, "{}; {fix}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for Refusal {}

/// The fix for `error`, which `command` ended with, if there is one to give.
pub(super) async fn fix(client: &Client, command: &Command, error: &ClientError) -> Option<String> {
    let code = match error {
        ClientError::Api { code, .. } => code.as_str(),
        ClientError::Device(_) => "invalid_device_id",
        ClientError::Unreachable { .. } | ClientError::TimedOut { .. } => {
            return Some(
                "is the daemon running? Start it with: devicebridge (or point --url at it)".into(),
            )
        }
        // Each of these says what to give instead.
        ClientError::NoKey
        | ClientError::Qr(_)
        | ClientError::File { .. }
        | ClientError::Nothing
        | ClientError::DotSegment(_) => return None,
    };
    let device = device_of(command);
    let fix = match (code, command) {
        ("unauthorized", _) => {
            "pass the daemon's key: --api-key \"$(cat data/admin-api-key)\"".to_owned()
        }
        ("forbidden", _) => "use a key with that scope; an admin key makes one with: \
             devicebridge keys create --name NAME --scope SCOPE --device ID"
            .to_owned(),
        ("device_not_found" | "invalid_device_id", _) => {
            "see the devices with: devicebridge devices list".to_owned()
        }
        ("device_exists", _) => format!("see it with: devicebridge devices show {}", device?),
        ("key_not_found", _) => "see the keys with: devicebridge keys list".to_owned(),
        ("qr_expired", _) => {
            "the code was used or rotated; get the current one with: devicebridge qr DEVICE --raw"
                .to_owned()
        }
        ("invalid_state", Command::Qr { device, .. }) => waiting_for_a_code(client, device).await?,
        ("invalid_state", Command::Devices(DevicesCommand::Start { id })) => {
            format!("it is running already; restart it with: devicebridge devices stop {id} && devicebridge devices start {id}")
        }
        (
            "invalid_state",
            Command::Devices(DevicesCommand::Stop { id } | DevicesCommand::Logout { id }),
        ) => format!("it is not running; start it with: devicebridge devices start {id}"),
        ("invalid_state", Command::Devices(DevicesCommand::Remove { id })) => {
            format!("remove it with: rm devices/{id}.toml (the daemon forgets it at its next start)")
        }
        ("chat_not_found", Command::Send { device, .. }) => format!(
            "see its chats with: curl -s {}/api/v1/devices/{device}/chats -H \"x-api-key: $(cat data/admin-api-key)\"",
            client.url().trim_end_matches('/')
        ),
        ("device_not_ready", _) => format!(
            "it is not linked and ready; see its state with: devicebridge devices show {}",
            device?
        ),
        ("rate_limited" | "over_capacity" | "storage_unavailable", _) => {
            "the daemon cannot take it now; run the same command again in a moment".to_owned()
        }
        ("bad_request", _) => format!(
            "see what it takes with: devicebridge {} --help",
            name(command)
        ),
        _ => return None,
    };
    Some(fix)
}

/// What to do when `device` shows no QR code: it depends on where it stands.
async fn waiting_for_a_code(client: &Client, device: &str) -> Option<String> {
    let path = device_path(device, "").ok()?;
    let shown = client.call(Method::GET, &path, None).await.ok()?;
    let state = shown["state"].as_str().unwrap_or_default();
    Some(match state {
        "stopped" | "failed" | "logged_out" => {
            format!("start it with: devicebridge devices start {device}")
        }
        "ready" | "authenticated" => format!(
            "it is linked already; to link it anew: devicebridge devices logout {device} && \
             devicebridge devices start {device}"
        ),
        // Starting, or reconnecting: a code follows if it needs one.
        _ => format!("it is {state}; ask again in a moment: devicebridge qr {device}"),
    })
}

/// The device a command is about, if it is about one.
fn device_of(command: &Command) -> Option<&str> {
    match command {
        Command::Devices(
            DevicesCommand::Show { id }
            | DevicesCommand::Add { id, .. }
            | DevicesCommand::Remove { id }
            | DevicesCommand::Start { id }
            | DevicesCommand::Stop { id }
            | DevicesCommand::Logout { id },
        ) => Some(id),
        Command::Qr { device, .. } | Command::Send { device, .. } => Some(device),
        _ => None,
    }
}

/// A command's words, as typed after `devicebridge`.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Serve(_) => "serve",
        Command::Migrate(_) => "migrate",
        Command::Devices(DevicesCommand::List) => "devices list",
        Command::Devices(DevicesCommand::Show { .. }) => "devices show",
        Command::Devices(DevicesCommand::Add { .. }) => "devices add",
        Command::Devices(DevicesCommand::Remove { .. }) => "devices remove",
        Command::Devices(DevicesCommand::Start { .. }) => "devices start",
        Command::Devices(DevicesCommand::Stop { .. }) => "devices stop",
        Command::Devices(DevicesCommand::Logout { .. }) => "devices logout",
        Command::Qr { .. } => "qr",
        Command::Pair { .. } => "pair",
        Command::Send { .. } => "send",
        Command::Keys(KeysCommand::Create { .. }) => "keys create",
        Command::Keys(KeysCommand::List) => "keys list",
        Command::Keys(KeysCommand::Revoke { .. }) => "keys revoke",
        Command::Token { .. } => "token",
    }
}
