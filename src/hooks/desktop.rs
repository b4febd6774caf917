//! Desktop notifications on the daemon's host, through notify-rust over the D-Bus session bus.
//!
//! The hook collects the events it is configured for, waits `hooks.desktop.coalesce_ms` after
//! the first of a burst, and shows one notification per chat for the messages of the burst
//! ("5 new messages from Alice") and one per other event. The summary is the device's name, the
//! body says what happened ("Alice: see you at 5", "Scan the QR code to link Demo phone").
//! A session bus that is missing or slow costs one line in the log (at info level, with how to
//! get notifications, when it never answered) and a `failed` count per notification, never a
//! delay anywhere else.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{triggers, HookRules, Listener, OneReport, Trigger};
use crate::config::DesktopSettings;
use crate::metrics::Metrics;
use crate::model::event::{EventKind, JournaledEvent};
use crate::model::StateName;
use crate::store;

/// What makes desktop notifications show on a host where they cannot.
const TO_ENABLE: &str = "run the daemon in a desktop session (with its D-Bus session bus, \
     DBUS_SESSION_BUS_ADDRESS), or turn notifications off: hooks.desktop.enabled = false";

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub summary: String,
    pub body: String,
}

/// An event worth a notification, with the names it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    Message {
        device: String,
        chat_id: String,
        /// Who wrote it: a contact's name, or "You".
        sender: String,
        /// The chat's name (for a group, differs from the sender).
        chat: String,
        text: String,
    },
    Other {
        device: String,
        body: String,
    },
}

/// Turns a burst of alerts into notifications: messages of one chat become one.
pub fn compose(alerts: &[Alert]) -> Vec<Toast> {
    let mut toasts = Vec::new();
    let mut done_chats: HashSet<(&str, &str)> = HashSet::new();
    for alert in alerts {
        match alert {
            Alert::Other { device, body } => toasts.push(Toast {
                summary: device.clone(),
                body: body.clone(),
            }),
            Alert::Message {
                device,
                chat_id,
                sender,
                chat,
                text,
            } => {
                if !done_chats.insert((device, chat_id)) {
                    continue;
                }
                let same_chat: Vec<&Alert> = alerts
                    .iter()
                    .filter(|other| matches!(other, Alert::Message { device: d, chat_id: c, .. } if d == device && c == chat_id))
                    .collect();
                let body = if same_chat.len() == 1 {
                    format!("{sender}: {text}")
                } else {
                    let one_sender = same_chat.iter().all(
                        |other| matches!(other, Alert::Message { sender: s, .. } if s == sender),
                    );
                    let from = if one_sender {
                        format!("from {sender}")
                    } else {
                        format!("in {chat}")
                    };
                    format!("{} new messages {from}", same_chat.len())
                };
                toasts.push(Toast {
                    summary: device.clone(),
                    body,
                });
            }
        }
    }
    toasts
}

/// What a notification says about a non-message event.
fn describe(device: &str, event: &JournaledEvent) -> String {
    let fields = event.fields();
    let reason = fields["reason"]
        .as_str()
        .map(|reason| format!(" ({reason})"))
        .unwrap_or_default();
    let trigger = triggers(event).first().copied();
    match trigger.unwrap_or(Trigger::Event(event.kind)) {
        Trigger::Event(EventKind::Qr) => format!("Scan the QR code to link {device}"),
        Trigger::Event(EventKind::Authenticated) => format!("{device} is linked"),
        Trigger::Event(EventKind::Ready) => format!("{device} is ready"),
        Trigger::Event(EventKind::Disconnected) => format!("{device} disconnected{reason}"),
        Trigger::State(StateName::Failed) => format!("{device} failed{reason}"),
        Trigger::State(StateName::LoggedOut) => format!("{device} was logged out{reason}"),
        Trigger::State(StateName::Stopped) => format!("{device} stopped{reason}"),
        Trigger::State(StateName::Starting) => format!("{device} is starting"),
        Trigger::Call | Trigger::Event(EventKind::Notification) => format!(
            "{}: {}",
            fields["title"].as_str().unwrap_or_default(),
            fields["body"].as_str().unwrap_or_default()
        ),
        other => format!("{device}: {}", other.as_str()),
    }
}

/// The desktop hook's worker.
pub struct Desktop {
    rules: HookRules,
    settings: DesktopSettings,
    metrics: Arc<Metrics>,
    report: OneReport,
}

impl Desktop {
    /// Starts the hook on its own task, fed by `listener`; returns it so the daemon can stop
    /// it.
    pub fn start(
        rules: HookRules,
        settings: DesktopSettings,
        metrics: Arc<Metrics>,
        listener: &mut Listener,
    ) -> tokio::task::JoinHandle<()> {
        // Checked with the rest of the configuration at load time.
        let wanted: Vec<Trigger> = settings
            .events
            .iter()
            .filter_map(|name| Trigger::parse(name))
            .collect();
        let queue = listener.hear(
            |metrics| &metrics.desktop_notifications,
            move |fired| fired.iter().any(|trigger| wanted.contains(trigger)),
        );
        let desktop = Desktop {
            rules,
            settings,
            metrics,
            report: OneReport::default(),
        };
        tokio::spawn(desktop.run(queue))
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Arc<JournaledEvent>>) {
        let window = Duration::from_millis(self.settings.coalesce_ms);
        while let Some(first) = queue.recv().await {
            let mut burst = vec![first];
            let closes = Instant::now() + window;
            while let Ok(Some(event)) = tokio::time::timeout_at(closes, queue.recv()).await {
                burst.push(event);
            }
            let mut alerts = Vec::with_capacity(burst.len());
            for event in burst {
                match self.alert(&event).await {
                    Ok(Some(alert)) => alerts.push(alert),
                    Ok(None) => self.metrics.desktop_notifications.inc("muted"),
                    Err(error) => {
                        tracing::error!(%error, "cannot look up a device for a notification")
                    }
                }
            }
            for toast in compose(&alerts) {
                self.show(toast).await;
            }
        }
    }

    /// The alert for `event`, or `None` if it is muted (for the device, or its chat).
    async fn alert(&self, event: &JournaledEvent) -> Result<Option<Alert>, store::StoreError> {
        let Some(device) = self.rules.device(&event.device_id).await? else {
            return Ok(None);
        };
        if !device.hooks.desktop {
            return Ok(None);
        }
        if event.kind != EventKind::Message {
            return Ok(Some(Alert::Other {
                body: describe(&device.name, event),
                device: device.name,
            }));
        }
        let data = event.fields();
        let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
        let (chat_id, from) = (text("chatId"), text("from"));
        let (id, lookup_chat, lookup_from) =
            (event.device_id.clone(), chat_id.clone(), from.clone());
        let (chat, contact) = self
            .rules
            .store()
            .read(move |conn| {
                Ok((
                    store::chats::get_chat(conn, &id, &lookup_chat)?,
                    store::contacts::get_contact(conn, &id, &lookup_from)?,
                ))
            })
            .await?;
        // The chat is read here anyway: whether it is muted comes with it.
        if chat.as_ref().is_some_and(|chat| chat.muted) {
            return Ok(None);
        }
        let chat = chat
            .map(|chat| chat.name)
            .unwrap_or_else(|| chat_id.clone());
        let sender = if data["fromMe"] == true {
            "You".to_owned()
        } else {
            contact.map(|contact| contact.name).unwrap_or(from)
        };
        let body = text("body");
        let text = if body.is_empty() {
            format!(
                "sent a {} message",
                data["type"].as_str().unwrap_or("media")
            )
        } else {
            body
        };
        Ok(Some(Alert::Message {
            device: device.name,
            chat_id,
            sender,
            chat,
            text,
        }))
    }

    async fn show(&mut self, toast: Toast) {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("devicebridge")
            .summary(&toast.summary)
            .body(&toast.body);
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let outcome = match tokio::time::timeout(timeout, notification.show_async()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "the session bus did not answer within {} ms",
                self.settings.timeout_ms
            )),
        };
        match outcome {
            Ok(()) => {
                self.metrics.desktop_notifications.inc("shown");
                self.report.worked();
            }
            Err(error) => {
                self.metrics.desktop_notifications.inc("failed");
                self.report.failed("desktop", &error, TO_ENABLE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(chat_id: &str, sender: &str, text: &str) -> Alert {
        Alert::Message {
            device: "Demo phone".into(),
            chat_id: chat_id.into(),
            sender: sender.into(),
            chat: "Simulator group".into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_call_says_who_calls_and_how() {
        let call = JournaledEvent::new(
            crate::model::DeviceId::parse("demo").unwrap(),
            7,
            &crate::model::event::EventData::Notification(crate::model::event::Notification {
                id: "ntf_1".into(),
                kind: "call",
                title: "Alice".into(),
                body: "Incoming video call".into(),
                chat_id: Some("15550002222@c.us".into()),
                message_id: None,
            }),
        )
        .unwrap();
        assert_eq!(describe("Demo phone", &call), "Alice: Incoming video call");
    }

    #[test]
    fn bursts_become_one_notification_per_chat() {
        let alerts = vec![
            message("alice", "Alice", "one"),
            Alert::Other {
                device: "Demo phone".into(),
                body: "Demo phone disconnected".into(),
            },
            message("alice", "Alice", "two"),
            message("bob", "Bob", "see you at 5"),
            message("group", "Alice", "hi"),
            message("group", "Bob", "hello"),
            message("alice", "Alice", "three"),
        ];
        let bodies: Vec<String> = compose(&alerts).into_iter().map(|t| t.body).collect();
        assert_eq!(
            bodies,
            [
                "3 new messages from Alice",
                "Demo phone disconnected",
                "Bob: see you at 5",
                "2 new messages in Simulator group",
            ]
        );
    }
}
