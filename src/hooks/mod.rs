//! Hooks: independent subscribers of the event bus that act outside the daemon.
//!
//! - [`webhook`] POSTs every subscribed event to integrations, from a durable outbox.
//! - [`sinks`] publish every selected event to NATS JetStream, Redis Streams or RabbitMQ,
//!   reading the journal from cursors of their own.
//! - [`desktop`] raises desktop notifications on the daemon's host (notify-rust over D-Bus).
//! - [`sound`] plays a short sound on the host (rodio).
//!
//! None of them is on the event path. Desktop and sound hear the bus through one
//! [`Listener`], each into a small bounded queue of its own; an event that finds a queue full
//! is dropped and counted, so a missing session bus or a stuck audio device can never hold
//! back a commit or a socket.

mod check;
pub use check::HookSettingsCheck;
pub mod desktop;
pub mod sinks;
pub mod sound;
pub mod webhook;

use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use chrono::NaiveTime;
use tokio::sync::{broadcast, mpsc};

use crate::bus::EventBus;
use crate::config::HookSettings;
use crate::metrics::Counters;
use crate::model::{
    event::{EventKind, JournaledEvent},
    spec::DeviceHooks,
    DeviceId, StateName,
};
use crate::store::{self, Store, StoreError};

/// Device states that have no event of their own (their `state` event carries them); hooks may
/// name them like events: `failed`, `logged_out`, …
pub const STATE_TRIGGERS: [StateName; 4] = [
    StateName::Stopped,
    StateName::Starting,
    StateName::LoggedOut,
    StateName::Failed,
];

/// The kind of notification hooks may name by itself: an incoming call is `call` as well as
/// `notification`, so it can ring without every message doing so.
const CALL: &str = "call";

/// Events a hook's queue holds before further ones are dropped.
const QUEUE: usize = 256;

/// What a hook may be configured for (`hooks.sound.events`, `hooks.desktop.events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Every event of a kind.
    Event(EventKind),
    /// A `state` event into one of [`STATE_TRIGGERS`].
    State(StateName),
    /// A `notification` of an incoming call.
    Call,
}

impl Trigger {
    /// The trigger named `name`, as a hook's settings name it; an event's name is the event,
    /// even where a state has the same name (`qr`, `ready`).
    pub fn parse(name: &str) -> Option<Trigger> {
        if let Ok(kind) = name.parse() {
            return Some(Trigger::Event(kind));
        }
        match StateName::parse(name) {
            Some(state) if STATE_TRIGGERS.contains(&state) => Some(Trigger::State(state)),
            _ => (name == CALL).then_some(Trigger::Call),
        }
    }

    /// The name hooks' settings give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Event(kind) => kind.as_str(),
            Trigger::State(state) => state.as_str(),
            Trigger::Call => CALL,
        }
    }
}

/// The triggers this event fires, the most specific first: a `state` event into `failed` is
/// both `failed` and `state`. A `qr` event fires only for the first code of a linking
/// attempt: the rotations that follow every 20 s are no news to the person scanning (nor are
/// later rounds of codes, which `listen` leaves out).
pub fn triggers(event: &JournaledEvent) -> Vec<Trigger> {
    let mut fired = Vec::with_capacity(2);
    let specific = match event.kind {
        EventKind::State => event
            .field::<String>("state")
            .and_then(|state| StateName::parse(&state))
            .filter(|state| STATE_TRIGGERS.contains(state))
            .map(Trigger::State),
        EventKind::Notification => {
            (event.field::<String>("kind").as_deref() == Some(CALL)).then_some(Trigger::Call)
        }
        EventKind::Qr if event.field::<u64>("attempt").unwrap_or(1) > 1 => return fired,
        _ => None,
    };
    fired.extend(specific);
    fired.push(Trigger::Event(event.kind));
    fired
}

/// A message sent from this side (devicebridge or the phone itself), not received.
pub fn is_own_message(event: &JournaledEvent) -> bool {
    event.kind == EventKind::Message && event.field::<bool>("fromMe") == Some(true)
}

/// `HH:MM-HH:MM` in local time; the range may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    /// Reads `hooks.quiet_hours`: `None` for the empty string (no quiet hours).
    pub fn parse(text: &str) -> Result<Option<QuietHours>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || format!("{text:?} is not a range like \"22:00-07:00\" (HH:MM-HH:MM, 24-hour)");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let time = |part: &str| NaiveTime::parse_from_str(part.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(format!("{text:?} starts and ends at the same time"));
        }
        Ok(Some(QuietHours { start, end }))
    }

    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }
}

/// What the host's hooks share: the rules that mute them, and the store to look devices up.
#[derive(Clone)]
pub struct HookRules {
    store: Store,
    mute_own_messages: bool,
    quiet_hours: Option<QuietHours>,
}

/// What a hook needs to know about a device.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub name: String,
    pub hooks: DeviceHooks,
}

impl HookRules {
    pub fn new(store: Store, settings: &HookSettings) -> Self {
        Self {
            store,
            mute_own_messages: settings.mute_own_messages,
            // Validated with the rest of the configuration at load time.
            quiet_hours: QuietHours::parse(&settings.quiet_hours).ok().flatten(),
        }
    }

    /// Whether `event` is muted for every hook now: our own message, or quiet hours.
    fn muted(&self, event: &JournaledEvent) -> bool {
        (self.mute_own_messages && is_own_message(event))
            || self
                .quiet_hours
                .is_some_and(|quiet| quiet.contains(local_now()))
    }

    /// The device's name and hook switches; `None` if it no longer exists.
    pub async fn device(&self, id: &DeviceId) -> Result<Option<DeviceFacts>, StoreError> {
        let id = id.clone();
        let record = self
            .store
            .read(move |conn| store::devices::get(conn, &id))
            .await?;
        Ok(record.map(|record| DeviceFacts {
            hooks: record
                .settings
                .get("hooks")
                .and_then(|hooks| serde_json::from_value(hooks.clone()).ok())
                .unwrap_or_default(),
            name: record.name,
        }))
    }

    /// Whether `event` is a message of a chat muted on the device (`chat:mute`).
    pub async fn in_muted_chat(&self, event: &JournaledEvent) -> Result<bool, StoreError> {
        if event.kind != EventKind::Message {
            return Ok(false);
        }
        let Some(chat) = event.field::<String>("chatId") else {
            return Ok(false);
        };
        let device = event.device_id.clone();
        self.store
            .read(move |conn| store::chats::is_muted(conn, &device, &chat))
            .await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The local time of day, for quiet hours.
pub fn local_now() -> NaiveTime {
    chrono::Local::now().time()
}

/// The host's hooks (desktop, sound) hear the bus through one listener, on a task of its own:
/// each event is read once (whether it is news, what it triggers, whether the `rules` mute
/// it) however many hooks there are, and only then offered to each hook's bounded queue.
/// A sent message, the most frequent event, thus wakes one task, and no hook's task, for
/// nothing.
#[derive(Default)]
pub struct Listener {
    hooks: Vec<Ear>,
}

/// Whether a hook is for an event that fired these triggers.
type Wants = dyn Fn(&[Trigger]) -> bool + Send;

/// A hook as the [`Listener`] feeds it.
struct Ear {
    wanted: Box<Wants>,
    /// The hook's counters, where what it did not hear is counted.
    family: fn(&crate::metrics::Metrics) -> &Counters,
    queue: mpsc::Sender<Arc<JournaledEvent>>,
}

impl Listener {
    /// A queue of the events `wanted` selects for one hook, fed once the listener starts. An
    /// event that finds it full, or that the bus could not keep for the listener, is counted
    /// as `dropped` in `family`; one the rules mute (our own messages, quiet hours) as
    /// `muted`. The queue ends when the listener stops.
    pub fn hear(
        &mut self,
        family: fn(&crate::metrics::Metrics) -> &Counters,
        wanted: impl Fn(&[Trigger]) -> bool + Send + 'static,
    ) -> mpsc::Receiver<Arc<JournaledEvent>> {
        let (queue, receiver) = mpsc::channel(QUEUE);
        self.hooks.push(Ear {
            wanted: Box::new(wanted),
            family,
            queue,
        });
        receiver
    }

    /// Reads the bus for the hooks until `stop` fires; nothing at all without a hook. The
    /// hooks' queues then end, and with them their tasks, once they took what is left.
    pub fn start(
        self,
        bus: &EventBus,
        stop: CancellationToken,
        rules: HookRules,
        counters: Arc<crate::metrics::Metrics>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.hooks.is_empty() {
            return None;
        }
        let mut events = bus.subscribe();
        Some(tokio::spawn(async move {
            let mut rounds = CodeRounds::default();
            loop {
                let received = tokio::select! {
                    _ = stop.cancelled() => return,
                    received = events.recv() => received,
                };
                match received {
                    // Another node of the cluster journaled it, and its own hooks play it.
                    Ok(event) if event.remote => {}
                    Ok(event) if rounds.is_news(&event) => self.offer(&event, &rules, &counters),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        for hook in &self.hooks {
                            (hook.family)(&counters).add("dropped", missed);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }))
    }

    /// Hands `event` to every hook that wants it, unless the rules mute it (asked once, and
    /// only if a hook wants it).
    fn offer(
        &self,
        event: &Arc<JournaledEvent>,
        rules: &HookRules,
        counters: &crate::metrics::Metrics,
    ) {
        let fired = triggers(event);
        let mut muted = None;
        for hook in self.hooks.iter().filter(|hook| (hook.wanted)(&fired)) {
            if *muted.get_or_insert_with(|| rules.muted(event)) {
                (hook.family)(counters).inc("muted");
            } else if let Err(mpsc::error::TrySendError::Full(_)) =
                hook.queue.try_send(event.clone())
            {
                (hook.family)(counters).inc("dropped");
            }
        }
    }
}

/// Which devices are in a round of pairing codes after the first, from their `state` events.
/// A device that keeps offering codes starts a new round, from attempt 1, every few minutes
/// while nobody links it: that is no new linking attempt to tell the host about. The first
/// code of an attempt follows a `state` event into `qr` from another state; the first code of
/// a later round follows one from `qr` itself.
#[derive(Debug, Default)]
struct CodeRounds {
    later_round: std::collections::HashSet<DeviceId>,
}

impl CodeRounds {
    /// Follows `event`, and answers whether the host's hooks should hear of it: every event
    /// but a code that does not begin a linking attempt (a rotation, which [`triggers`] names
    /// nothing for either, or the first code of a later round).
    fn is_news(&mut self, event: &JournaledEvent) -> bool {
        match event.kind {
            EventKind::State => {
                let fields = event.fields();
                match fields["state"] == "qr" && fields["previous"] == "qr" {
                    true => self.later_round.insert(event.device_id.clone()),
                    false => self.later_round.remove(&event.device_id),
                };
                true
            }
            EventKind::Qr => !self.later_round.contains(&event.device_id),
            _ => true,
        }
    }
}

/// Logs a hook's failure once, and at debug level after that until the hook works again: a
/// host without a session bus or sound card gets one line, not one per event. A hook that has
/// never worked cannot run on this host (a server, a build without sound): that is how the host
/// is, not a fault, so it is told at info level with what would make the hook work. A hook that
/// worked and then fails (the session bus went away) is warned about.
#[derive(Debug, Default)]
pub struct OneReport {
    reported: bool,
    worked_once: bool,
}

impl OneReport {
    /// `hook` failed with `error`; `to_enable` says what makes it work on this host.
    pub fn failed(&mut self, hook: &str, error: &dyn std::fmt::Display, to_enable: &str) {
        if self.reported {
            tracing::debug!(hook, %error, "hook failed again");
            return;
        }
        self.reported = true;
        if self.worked_once {
            tracing::warn!(hook, %error, "hook cannot run; further failures are logged at debug level");
        } else {
            tracing::info!(hook, %error, to_enable, "hook cannot run on this host; further tries are logged at debug level");
        }
    }

    pub fn worked(&mut self) {
        self.reported = false;
        self.worked_once = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn event(name: &str, data: Value) -> JournaledEvent {
        JournaledEvent {
            device_id: DeviceId::parse("demo").unwrap(),
            seq: 1,
            at: crate::model::rfc3339(chrono::Utc::now()),
            kind: name.parse().unwrap(),
            payload: serde_json::value::to_raw_value(&data).unwrap(),
            remote: false,
        }
    }

    fn at(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    /// The next event of a hook's queue, within 10 s.
    async fn next(queue: &mut mpsc::Receiver<Arc<JournaledEvent>>) -> Arc<JournaledEvent> {
        tokio::time::timeout(std::time::Duration::from_secs(10), queue.recv())
            .await
            .expect("an event within 10 s")
            .expect("the queue is open")
    }

    /// One listener feeds each hook what it wants: an event wanted by both reaches both, one
    /// wanted by one reaches only it, and our own message, muted, is counted as muted by the
    /// hook that wanted it and handed to none.
    #[tokio::test]
    async fn one_listener_feeds_each_hook_what_it_wants_and_counts_what_it_mutes() {
        let dir = tempfile::tempdir().unwrap();
        let bus = EventBus::new();
        let storage = crate::config::StorageSettings {
            data_dir: dir.path().to_owned(),
            synchronous: crate::config::Synchronous::Normal,
            ..Default::default()
        };
        let store = Store::open(&storage, bus.clone()).unwrap();
        let settings = HookSettings {
            quiet_hours: String::new(),
            mute_own_messages: true,
            ..HookSettings::default()
        };
        let rules = HookRules::new(store, &settings);
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let mut listener = Listener::default();
        let wants = |wanted: Vec<Trigger>| {
            move |fired: &[Trigger]| fired.iter().any(|t| wanted.contains(t))
        };
        let mut desktop = listener.hear(
            |metrics| &metrics.desktop_notifications,
            wants(vec![Trigger::Event(EventKind::Qr), Trigger::Call]),
        );
        let mut sound = listener.hear(
            |metrics| &metrics.sounds,
            wants(vec![Trigger::Event(EventKind::Message), Trigger::Call]),
        );
        let stop = CancellationToken::new();
        let task = listener
            .start(&bus, stop.clone(), rules, metrics.clone())
            .unwrap();
        let message = |from_me: bool, body: &str| {
            event("message", json!({ "fromMe": from_me, "body": body }))
        };
        for published in [
            message(true, "ours"),
            event("qr", json!({ "attempt": 1 })),
            message(false, "theirs"),
            event("notification", json!({ "kind": "call" })),
            event("chat:update", json!({})),
        ] {
            bus.publish(published);
        }
        assert_eq!(next(&mut desktop).await.kind, EventKind::Qr);
        assert_eq!(next(&mut desktop).await.kind, EventKind::Notification);
        let theirs = next(&mut sound).await;
        assert_eq!(theirs.field::<String>("body").as_deref(), Some("theirs"));
        assert_eq!(next(&mut sound).await.kind, EventKind::Notification);
        assert_eq!(metrics.sounds.get("muted"), 1);
        assert_eq!(metrics.desktop_notifications.get("muted"), 0);
        stop.cancel();
        task.await.unwrap();
        // The listener gone, the queues end with nothing more in them.
        assert!(desktop.recv().await.is_none());
        assert!(sound.recv().await.is_none());
    }

    #[test]
    fn the_first_code_of_a_later_round_is_no_news_for_the_host() {
        let mut rounds = CodeRounds::default();
        let state = |from: &str, to: &str| event("state", json!({ "state": to, "previous": from }));
        let code = |attempt: u32| event("qr", json!({ "attempt": attempt }));
        let heard: Vec<bool> = [
            state("starting", "qr"),
            code(1),
            state("qr", "qr"),
            code(2),
            // The next round.
            state("qr", "qr"),
            code(1),
            state("qr", "stopped"),
            state("stopped", "starting"),
            state("starting", "qr"),
            code(1),
        ]
        .iter()
        .map(|event| rounds.is_news(event))
        .collect();
        assert_eq!(
            heard,
            [true, true, true, false, true, false, true, true, true, true]
        );
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let night = QuietHours::parse("22:00-07:00").unwrap().unwrap();
        assert!(night.contains(at("23:30")));
        assert!(night.contains(at("00:00")));
        assert!(night.contains(at("06:59")));
        assert!(!night.contains(at("07:00")));
        assert!(!night.contains(at("12:00")));
        let lunch = QuietHours::parse("12:00-13:30").unwrap().unwrap();
        assert!(lunch.contains(at("12:45")));
        assert!(!lunch.contains(at("13:30")));
        assert_eq!(QuietHours::parse("  "), Ok(None));
        for bad in ["22-07", "25:00-07:00", "22:00", "10:00-10:00"] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn triggers_name_states_and_calls_without_events_and_only_the_first_qr() {
        let named = |event: JournaledEvent| -> Vec<&str> {
            triggers(&event).into_iter().map(Trigger::as_str).collect()
        };
        let is_trigger = |name: &str| Trigger::parse(name).is_some();
        let failed = event(
            "state",
            json!({ "state": "failed", "previous": "disconnected" }),
        );
        assert_eq!(named(failed), ["failed", "state"]);
        let ready = event("state", json!({ "state": "ready" }));
        assert_eq!(named(ready), ["state"]);
        assert_eq!(named(event("qr", json!({ "attempt": 1 }))), ["qr"]);
        assert!(named(event("qr", json!({ "attempt": 2 }))).is_empty());
        assert!(is_trigger("logged_out") && is_trigger("message:ack") && !is_trigger("mesage"));
        let call = event("notification", json!({ "kind": "call", "title": "Alice" }));
        assert_eq!(named(call), ["call", "notification"]);
        let message = event("notification", json!({ "kind": "message" }));
        assert_eq!(named(message), ["notification"]);
        assert!(is_trigger("call"));
        assert_eq!(Trigger::parse("qr"), Some(Trigger::Event(EventKind::Qr)));
        assert_eq!(
            Trigger::parse("ready"),
            Some(Trigger::Event(EventKind::Ready))
        );
    }
}
