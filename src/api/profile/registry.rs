//! The profiles this daemon knows: the shipped ones, embedded in the binary, and the users'
//! own from `profiles.dir`, where a file with a shipped profile's name replaces it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{compile, Origin, Profile, NATIVE};

/// The shipped profiles, one per convention, named for it.
const SHIPPED: &[(&str, &str)] = &[
    (
        "direct-chat",
        include_str!("../../../assets/profiles/direct-chat.toml"),
    ),
    (
        "conversation-rooms",
        include_str!("../../../assets/profiles/conversation-rooms.toml"),
    ),
    (
        "chat-gateway",
        include_str!("../../../assets/profiles/chat-gateway.toml"),
    ),
    (
        "snake-case-chat",
        include_str!("../../../assets/profiles/snake-case-chat.toml"),
    ),
    (
        "message-status",
        include_str!("../../../assets/profiles/message-status.toml"),
    ),
];

/// Every profile by name; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_name: Arc<BTreeMap<String, Arc<Profile>>>,
}

/// One profile as `GET /api/v1/profiles` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ProfileSummary"))]
pub struct Summary {
    pub name: String,
    pub description: String,
    /// `shipped` or `user`.
    #[cfg_attr(test, ts(type = "\"shipped\" | \"user\""))]
    pub source: String,
    /// Client event → the native event it becomes (`a|b` when a field's value chooses).
    pub events: BTreeMap<String, String>,
    /// Native event → the client's name for it.
    pub emits: BTreeMap<String, String>,
}

impl Profiles {
    /// The shipped profiles and those in `dir` (`<name>.toml`; a missing directory has none).
    /// Every problem of every file is reported at once, each with its file.
    pub fn load(dir: &Path) -> Result<Profiles, Vec<String>> {
        let mut by_name = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, text) in SHIPPED {
            match compile(name, Origin::Shipped, text) {
                Ok(profile) => {
                    by_name.insert((*name).to_owned(), Arc::new(profile));
                }
                Err(found) => problems.extend(found.into_iter().map(|p| format!("{name}: {p}"))),
            }
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(vec![format!("{}: {error}", dir.display())]),
        };
        let mut files: Vec<_> = entries
            .into_iter()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            let at = file.display();
            if name == NATIVE || !valid_name(&name) {
                problems.push(format!(
                    "{at}: a profile's name is lowercase letters, digits and `-`, and not `{NATIVE}`"
                ));
                continue;
            }
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) => {
                    problems.push(format!("{at}: {error}"));
                    continue;
                }
            };
            match compile(&name, Origin::User, &text) {
                Ok(profile) => {
                    if by_name.contains_key(&name) {
                        tracing::info!(profile = %name, file = %at, "a user's profile replaces the shipped one");
                    }
                    by_name.insert(name, Arc::new(profile));
                }
                Err(found) => problems.extend(found.into_iter().map(|p| format!("{at}: {p}"))),
            }
        }
        if problems.is_empty() {
            Ok(Profiles {
                by_name: Arc::new(by_name),
            })
        } else {
            Err(problems)
        }
    }

    /// The profile named `name`; `None` for an unknown one. The native protocol is not a
    /// profile: callers take [`NATIVE`] before asking.
    pub fn get(&self, name: &str) -> Option<Arc<Profile>> {
        self.by_name.get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        name == NATIVE || self.by_name.contains_key(name)
    }

    pub fn list(&self) -> Vec<Summary> {
        self.by_name
            .values()
            .map(|profile| Summary {
                name: profile.name.clone(),
                description: profile.description.clone(),
                source: match profile.origin {
                    Origin::Shipped => "shipped",
                    Origin::User => "user",
                }
                .to_owned(),
                events: profile.event_names(),
                emits: profile.emit_names(),
            })
            .collect()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
