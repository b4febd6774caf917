//! A device's definition: what `devices/<id>.toml` and `POST /api/v1/devices` describe.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DeviceId;

/// The upstreams a device can be relayed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    #[default]
    Simulator,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Simulator => "simulator",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub name: String,
    #[serde(default)]
    pub connector: ConnectorKind,
    #[serde(default = "yes")]
    pub autostart: bool,
    #[serde(default)]
    pub simulator: SimulatorSpec,
    #[serde(default)]
    pub hooks: DeviceHooks,
}

fn yes() -> bool {
    true
}

/// Whether the host's hooks act on this device's events (`[hooks]` in a device file): a
/// device that chats a lot can be kept quiet without muting the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// The simulated phone: its number, its contacts and how fast acks come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorSpec {
    pub phone: String,
    pub server_ack_ms: u64,
    pub delivered_ms: u64,
    pub read_ms: u64,
    /// How long an echoing contact types before its reply arrives.
    pub typing_ms: u64,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedContact {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub behaviour: Behaviour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
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

/// Reads every `*.toml` in `dir`. Broken files are returned as errors beside the good devices,
/// so one bad file never keeps the others from starting. A missing directory means no devices.
pub fn load_dir(dir: &Path) -> (Vec<(DeviceId, DeviceSpec)>, Vec<DeviceFileError>) {
    let mut devices = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (devices, errors);
    };
    let mut paths: Vec<PathBuf> = entries
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
    (devices, errors)
}

fn load_file(path: &Path) -> Result<(DeviceId, DeviceSpec), String> {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default();
    let id = DeviceId::parse(stem).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let spec: DeviceSpec =
        toml::from_str(&text).map_err(|e| e.to_string().trim_end().replace('\n', " "))?;
    Ok((id, spec))
}

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
        let (devices, errors) = load_dir(dir.path());
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
            load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/devices")));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(devices.iter().any(|(id, _)| id.as_str() == "demo"));
    }
}
