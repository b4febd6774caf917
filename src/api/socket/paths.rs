//! The socket paths of `server.profiles`: a client written for another server keeps its own
//! Socket.IO path (`/api/socket`), and its connections speak that path's profile. There is one
//! Socket.IO endpoint; a request on a profile's path is routed to it, its path rewritten and
//! the profile recorded on the request, where the handshake reads it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Uri;

use crate::config::Settings;

/// The profile named by the socket path a connection came in on.
#[derive(Clone, Debug)]
pub struct PathProfile(pub Arc<str>);

/// Each profile path (without its trailing `/`) and its profile.
pub struct ProfilePaths {
    socket_path: String,
    paths: Vec<(String, Arc<str>)>,
}

impl ProfilePaths {
    pub fn new(settings: &Settings) -> Arc<Self> {
        let mut paths: Vec<(String, Arc<str>)> = settings
            .server
            .profiles
            .iter()
            .map(|(path, name)| {
                (
                    path.trim_end_matches('/').to_owned(),
                    Arc::from(name.as_str()),
                )
            })
            .collect();
        // The longest path first, so `/a/b` is not taken for `/a`.
        paths.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        Arc::new(ProfilePaths {
            socket_path: settings.server.socket_path.trim_end_matches('/').to_owned(),
            paths,
        })
    }

    /// The request's path on the Socket.IO endpoint, with its profile, if it came in on a
    /// profile's path.
    fn route(&self, uri: &Uri) -> Option<(Uri, Arc<str>)> {
        let path = uri.path();
        let (prefix, profile) = self.paths.iter().find(|(prefix, _)| {
            path.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })?;
        let rest = &path[prefix.len()..];
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let routed = format!("{}{rest}{query}", self.socket_path).parse().ok()?;
        Some((routed, profile.clone()))
    }
}

/// Routes a request on a profile's path to the Socket.IO endpoint.
pub async fn route_profile_paths(
    State(paths): State<Arc<ProfilePaths>>,
    mut request: Request,
) -> Request {
    if let Some((uri, profile)) = paths.route(request.uri()) {
        *request.uri_mut() = uri;
        request.extensions_mut().insert(PathProfile(profile));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_path_leads_to_the_socket_endpoint() {
        let mut settings = Settings::default();
        settings.server.profiles = [
            ("/api/socket".to_owned(), "snake-case-chat".to_owned()),
            ("/api/socket/deep/".to_owned(), "chat-gateway".to_owned()),
        ]
        .into();
        let paths = ProfilePaths::new(&settings);
        let route = |uri: &str| {
            paths
                .route(&uri.parse().unwrap())
                .map(|(uri, profile)| (uri.to_string(), profile.to_string()))
        };
        assert_eq!(
            route("/api/socket/?EIO=4&transport=polling"),
            Some((
                "/ws/?EIO=4&transport=polling".into(),
                "snake-case-chat".into()
            ))
        );
        assert_eq!(
            route("/api/socket/deep/?EIO=4"),
            Some(("/ws/?EIO=4".into(), "chat-gateway".into()))
        );
        assert_eq!(route("/api/sockets/?EIO=4"), None);
        assert_eq!(route("/ws/?EIO=4"), None);
    }
}
