//! What a dashboard connecting without `lastSeq` is shown of a device (`journal::current_view`):
//! its state, and while it shows QR codes, its code and the pairing code someone may be typing;
//! on SQLite and on PostgreSQL.

use chrono::{Duration, Utc};

use super::{Backend, Db};
use crate::model::event::{EventData, PairingCode, StateChange};
use crate::model::{rfc3339, DeviceId};
use crate::store::{journal, Store};

fn state(state: &'static str, previous: &'static str) -> EventData {
    EventData::State(StateChange {
        state,
        previous,
        reason: None,
    })
}

/// A pairing code for a phone that expires `in_secs` from now (before now if negative).
fn code(code: &str, in_secs: i64) -> EventData {
    EventData::PairingCode(PairingCode {
        code: code.into(),
        phone: "15550000009".into(),
        expires_at: rfc3339(Utc::now() + Duration::seconds(in_secs)),
    })
}

async fn journal(store: &Store, device: &DeviceId, event: EventData) {
    let id = device.clone();
    store
        .write(move |tx| tx.journal(&id, event).map(drop))
        .await
        .unwrap();
}

/// The events of the view, as `kind seq`, and the code it shows if any.
async fn view(store: &Store, device: &DeviceId) -> (Vec<String>, Option<String>) {
    let id = device.clone();
    let events = store
        .read(move |conn| journal::current_view(conn, &id))
        .await
        .unwrap();
    let code = events
        .iter()
        .find(|event| event.kind.as_str() == "pairing:code")
        .map(|event| event.fields()["code"].as_str().unwrap().to_owned());
    let shown = events
        .iter()
        .map(|event| format!("{} {}", event.kind.as_str(), event.seq))
        .collect();
    (shown, code)
}

on_both! {
async fn a_pairing_code_is_in_view_while_it_can_be_typed_for_the_qr_codes_on_show(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();

    journal(&store, &demo, state("qr", "starting")).await;
    journal(&store, &demo, code("AAAA-AAAA", 60)).await;
    assert_eq!(
        view(&store, &demo).await,
        (vec!["state 1".into(), "pairing:code 2".into()], Some("AAAA-AAAA".into()))
    );

    // A newer code replaces it; one that has expired is shown no more.
    journal(&store, &demo, code("BBBB-BBBB", -1)).await;
    assert_eq!(view(&store, &demo).await, (vec!["state 1".into()], None));
    journal(&store, &demo, code("CCCC-CCCC", 60)).await;
    assert_eq!(view(&store, &demo).await.1.as_deref(), Some("CCCC-CCCC"));

    // Once the device leaves the QR codes, or shows them anew, a code given before is not.
    journal(&store, &demo, state("authenticated", "qr")).await;
    assert_eq!(view(&store, &demo).await, (vec!["state 5".into()], None));
    journal(&store, &demo, state("qr", "authenticated")).await;
    assert_eq!(view(&store, &demo).await, (vec!["state 6".into()], None));
}
}
