//! Device files: the `*.toml` definitions in `devices.dir`, read and checked.

use std::path::{Path, PathBuf};

use crate::model::{spec::DeviceSpec, DeviceId};

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
    use crate::model::spec::*;

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
            qr: DeviceQr::default(),
            filters: Default::default(),
            governor: Default::default(),
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
    fn keeping_to_offer_codes_is_read_from_the_file_and_off_by_default() {
        let spec: DeviceSpec =
            toml::from_str("name = \"Kiosk\"\n[qr]\nkeep_offering = true\n").unwrap();
        assert!(spec.qr.keep_offering);
        let spec: DeviceSpec = toml::from_str("name = \"Plain\"\n").unwrap();
        assert!(!spec.qr.keep_offering);
        assert!(toml::from_str::<DeviceSpec>("name = \"x\"\n[qr]\nkeep = true\n").is_err());
    }

    #[test]
    fn the_shipped_demo_device_parses_and_keeps_offering_codes() {
        let (devices, errors) =
            load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/devices"))).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let (_, demo) = devices
            .iter()
            .find(|(id, _)| id.as_str() == "demo")
            .expect("the demo device");
        assert!(demo.qr.keep_offering, "the demo waits for its user");
    }
}
