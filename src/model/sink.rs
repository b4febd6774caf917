//! The systems an event sink publishes to (SPEC §13): their names, the URLs each takes and
//! what a sink calls the place it publishes to.

use serde::{Deserialize, Serialize};

/// What an event sink publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// NATS JetStream: a stream over `devicebridge.>`, one subject per device and event.
    Nats,
    /// A Redis Stream, one entry per event (`XADD`).
    Redis,
    /// RabbitMQ (AMQP 0-9-1): a durable topic exchange, one routing key per device and event.
    Amqp,
}

impl SinkKind {
    pub const ALL: [SinkKind; 3] = [SinkKind::Nats, SinkKind::Redis, SinkKind::Amqp];

    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Nats => "nats",
            SinkKind::Redis => "redis",
            SinkKind::Amqp => "amqp",
        }
    }

    pub fn parse(text: &str) -> Option<SinkKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The URL schemes its client connects with; the first is plain, the second over TLS.
    pub fn schemes(self) -> [&'static str; 2] {
        match self {
            SinkKind::Nats => ["nats", "tls"],
            SinkKind::Redis => ["redis", "rediss"],
            SinkKind::Amqp => ["amqp", "amqps"],
        }
    }

    /// The setting that renames where it publishes: the JetStream stream, the Redis key, the
    /// RabbitMQ exchange.
    pub fn target_setting(self) -> &'static str {
        match self {
            SinkKind::Nats => "stream",
            SinkKind::Redis => "key",
            SinkKind::Amqp => "exchange",
        }
    }

    /// Where it publishes unless renamed.
    pub fn default_target(self) -> &'static str {
        match self {
            SinkKind::Nats => "DEVICEBRIDGE",
            SinkKind::Redis => "devicebridge:events",
            SinkKind::Amqp => "devicebridge",
        }
    }

    /// Why `url` cannot be this kind's address, if it cannot.
    pub fn url_problem(self, url: &str) -> Option<String> {
        let schemes = self.schemes();
        match url::Url::parse(url) {
            Ok(parsed) if schemes.contains(&parsed.scheme()) && is_server(url) => None,
            _ => Some(format!(
                "{:?} is not a {} URL ({}://host:port or {}://…)",
                redacted_url(url),
                self.as_str(),
                schemes[0],
                schemes[1]
            )),
        }
    }
}

/// Whether the authority of `url` (what follows `scheme://`, up to the path) names a server as
/// the document's pattern for a sink's URL does (`model::constraints::sink_url`): credentials
/// of the characters a URL leaves as they are, then a host name or an IPv4 address, then a
/// port. The URL parser is more lenient with schemes it does not know, such as these: it
/// takes any text but a few delimiters for the host, `*` and `%` included.
fn is_server(url: &str) -> bool {
    let Some((_, after)) = url.split_once("://") else {
        return false;
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let (credentials, server) = authority.rsplit_once('@').unwrap_or(("", authority));
    let credential = |c: char| c.is_ascii_alphanumeric() || "._~%!$&'()*+,;=:-".contains(c);
    let (host, port) = server.split_once(':').unwrap_or((server, ""));
    credentials.chars().all(credential)
        && (host.parse::<std::net::Ipv4Addr>().is_ok() || is_host_name(host))
        && is_port(port)
}

/// A port as the pattern spells one: none, up to four digits, or five not starting with `0`
/// up to 65535.
fn is_port(port: &str) -> bool {
    port.chars().all(|c| c.is_ascii_digit())
        && (port.len() <= 4
            || port.len() == 5 && !port.starts_with('0') && port.parse::<u16>().is_ok())
}

/// A name of labels of letters, digits, `_`, `~` and `-`, the last not starting with a
/// digit (a name that ends in a number is read as an IPv4 address), maybe ending in `.`.
fn is_host_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    let label = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_~-".contains(c))
    };
    name.split('.').all(label)
        && name
            .rsplit('.')
            .next()
            .is_some_and(|last| !last.starts_with(|c: char| c.is_ascii_digit()))
}

/// Why `name` cannot be a stream, key or exchange name, if it cannot: 1 to 255 printable
/// ASCII characters but `.`, `*`, `>`, `/` and `\`, which a JetStream stream's name may
/// not hold; the other kinds take the same, so that a name is judged without its kind.
pub fn target_problem(name: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_graphic() && !".*>/\\".contains(c);
    match !name.is_empty() && name.len() <= 255 && name.chars().all(allowed) {
        true => None,
        false => Some(format!(
            "{name:?} must be 1 to 255 printable ASCII characters, without spaces, '.', '*', '>', '/' or '\\'"
        )),
    }
}

/// `url` with its password, if it has one, replaced by `***`: what the API and the logs
/// show of a sink's address, which may carry credentials.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only a URL that cannot be a base has no password to set.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        // Not a URL: it may be anything, a secret included.
        Err(_) => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown_back() {
        assert_eq!(
            redacted_url("amqp://guest:hunter2@rabbit.example:5672/%2f"),
            "amqp://guest:***@rabbit.example:5672/%2f"
        );
        assert_eq!(
            redacted_url("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redacted_url("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(redacted_url("hunter2 not a url"), "***");
    }

    /// The kind whose schemes `url` starts with.
    fn kind_of(url: &str) -> SinkKind {
        let url = url.to_lowercase();
        SinkKind::ALL
            .into_iter()
            .find(|kind| kind.schemes().iter().any(|s| url.starts_with(s)))
            .unwrap()
    }

    #[test]
    fn urls_and_targets_are_judged_by_kind() {
        assert_eq!(SinkKind::Nats.url_problem("nats://127.0.0.1:4222"), None);
        assert_eq!(SinkKind::Redis.url_problem("rediss://cache.example"), None);
        let wrong = SinkKind::Amqp.url_problem("redis://u:pw@host").unwrap();
        assert!(
            wrong.contains("u:***@host") && !wrong.contains("pw"),
            "{wrong}"
        );
        // What the document's pattern refuses is refused, though the URL parser reads it.
        for url in [
            "rediss://host.example.*",
            "redis://ho%41st",
            "nats://1.2.3",
            "nats://[::1]:4222",
            "amqp://us er@host",
            "redis://host:65536",
            "redis://host:06379",
            "redis://host:+637",
            "nats://01.2.3.4",
        ] {
            assert!(kind_of(url).url_problem(url).is_some(), "{url}");
        }
        for url in [
            "REDISS://Cache.Example.:6380/0",
            "amqp://guest:g%20st@rabbit_1:5672/vhost",
            "nats://10.0.0.1",
            "tls://nats.example:4222?x=1",
        ] {
            assert_eq!(kind_of(url).url_problem(url), None, "{url}");
        }
        assert!(target_problem("EVENTS").is_none());
        assert!(target_problem("app:events").is_none());
        for refused in ["a.b", "", "with space", "a>", "é"] {
            assert!(target_problem(refused).is_some(), "{refused}");
        }
    }
}
