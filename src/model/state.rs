//! The names of a device's states: what is stored, reported and matched on.

use std::fmt;

/// The name of a state, without the data it carries.
///
/// This is what is persisted, reported over the API and used in error messages, so its string
/// form ([`StateName::as_str`]) is part of the external contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(
    rename_all = "snake_case",
    description = "Where a device is in its lifecycle."
)]
pub enum StateName {
    Stopped,
    Starting,
    Qr,
    Authenticated,
    Ready,
    Disconnected,
    LoggedOut,
    Failed,
}

impl StateName {
    /// Every state name, in lifecycle order.
    pub const ALL: [StateName; 8] = [
        StateName::Stopped,
        StateName::Starting,
        StateName::Qr,
        StateName::Authenticated,
        StateName::Ready,
        StateName::Disconnected,
        StateName::LoggedOut,
        StateName::Failed,
    ];

    /// The wire and storage form of the name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Stopped => "stopped",
            StateName::Starting => "starting",
            StateName::Qr => "qr",
            StateName::Authenticated => "authenticated",
            StateName::Ready => "ready",
            StateName::Disconnected => "disconnected",
            StateName::LoggedOut => "logged_out",
            StateName::Failed => "failed",
        }
    }

    /// The inverse of [`StateName::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<StateName> {
        StateName::ALL.into_iter().find(|name| name.as_str() == s)
    }

    /// Whether the device has (or is trying to have) an upstream session.
    ///
    /// Running states are the ones that `stop`, `logout` and fatal errors apply to, and the
    /// ones in which `start` is refused.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            StateName::Starting
                | StateName::Qr
                | StateName::Authenticated
                | StateName::Ready
                | StateName::Disconnected
        )
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
