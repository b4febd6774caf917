//! Contacts as the store shows them (their number, linked id, profile, block and picture
//! address), and the pictures it keeps within their budget: on SQLite and on PostgreSQL.

use chrono::TimeDelta;

use super::{stored_device, Backend, Db};
use crate::model::upstream::{Picture, Profile};
use crate::model::DeviceId;
use crate::store::{contacts, parse_time, pictures, Store};

const ALICE: &str = "15551112222@c.us";
const ALICE_LID: &str = "207711112222333@lid";

async fn contact(store: &Store, device: &DeviceId, id: &str) -> crate::model::Contact {
    let (device, id) = (device.clone(), id.to_owned());
    store
        .read(move |conn| contacts::get_contact(conn, &device, &id))
        .await
        .unwrap()
        .expect("a stored contact")
}

async fn kept(store: &Store, device: &DeviceId, id: &str) -> Option<pictures::KeptPicture> {
    let (device, id) = (device.clone(), id.to_owned());
    store
        .read(move |conn| pictures::kept(conn, &device, &id))
        .await
        .unwrap()
}

on_both! {
async fn a_contact_shows_its_number_linked_id_profile_block_and_picture(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = stored_device(&store, "demo").await;
    let (writer, lid_device) = (device.clone(), device.clone());
    store
        .write(move |tx| {
            tx.upsert_contact(&writer, ALICE, "Alice", None)?;
            tx.upsert_contact(&writer, ALICE_LID, "Alice (linked)", None)?;
            tx.remember_numbers(&writer, &[(ALICE_LID.into(), ALICE.into())])
        })
        .await
        .unwrap();
    let alice = contact(&store, &device, ALICE).await;
    assert_eq!(
        (alice.phone.as_deref(), alice.lid.as_deref(), alice.about, alice.blocked),
        (Some("15551112222"), Some(ALICE_LID), None, false)
    );
    assert_eq!(
        alice.picture_url.as_deref(),
        Some("/api/v1/devices/demo/contacts/15551112222@c.us/picture")
    );
    let linked = contact(&store, &lid_device, ALICE_LID).await;
    assert_eq!(
        (linked.phone.as_deref(), linked.lid.as_deref()),
        (Some("15551112222"), Some(ALICE_LID))
    );

    // A profile changes what it tells, and keeps the names it does not.
    let profile = Profile { name: None, push_name: Some("Al".into()), about: Some("Hiking".into()) };
    let (writer, told) = (device.clone(), profile.clone());
    let changed = store
        .write(move |tx| tx.keep_profile(&writer, ALICE, &told))
        .await
        .unwrap()
        .expect("a change");
    assert_eq!(
        (changed.name.as_str(), changed.push_name.as_deref(), changed.about.as_deref()),
        ("Alice", Some("Al"), Some("Hiking"))
    );
    let writer = device.clone();
    let again = store
        .write(move |tx| tx.keep_profile(&writer, ALICE, &profile))
        .await
        .unwrap();
    assert_eq!(again, None, "the same profile changes nothing");
    // Someone the device did not know is added, named by their id when nothing names them.
    let writer = device.clone();
    let stranger = store
        .write(move |tx| tx.keep_profile(&writer, "15553334444@c.us", &Profile::default()))
        .await
        .unwrap()
        .expect("a new contact");
    assert_eq!(stranger.name, "15553334444@c.us");

    // Blocking changes the contact once; the simulated phone reads it.
    for (blocked, changes) in [(true, true), (true, false), (false, true)] {
        let writer = device.clone();
        let changed = store
            .write(move |tx| tx.set_blocked(&writer, ALICE, blocked))
            .await
            .unwrap();
        assert_eq!(changed.map(|contact| contact.blocked), changes.then_some(blocked));
    }
    let reader = device.clone();
    let blocked = store
        .read(move |conn| contacts::is_blocked(conn, &reader, ALICE))
        .await
        .unwrap();
    assert!(!blocked);

    // Once the upstream said there is no picture, the contact has no picture address.
    let writer = device.clone();
    store
        .write(move |tx| tx.keep_picture(&writer, ALICE, None, chrono::Utc::now(), 1024))
        .await
        .unwrap();
    assert_eq!(contact(&store, &device, ALICE).await.picture_url, None);
}

async fn pictures_are_kept_within_their_budget_the_oldest_going_first(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = DeviceId::parse("demo").unwrap();
    let start = parse_time("2026-01-02T03:04:05.000Z");
    let keep = |contact: &'static str, size: Option<usize>, seconds: i64| {
        let (store, device) = (store.clone(), device.clone());
        let picture = size.map(|size| Picture { mime: "image/jpeg".into(), bytes: vec![7; size] });
        async move {
            store
                .write(move |tx| {
                    let at = start + TimeDelta::seconds(seconds);
                    tx.keep_picture(&device, contact, picture.as_ref(), at, 1000)
                })
                .await
                .unwrap()
        }
    };
    keep("a@c.us", Some(400), 0).await;
    keep("b@c.us", Some(400), 1).await;
    keep("c@c.us", Some(400), 2).await;
    assert_eq!(kept(&store, &device, "a@c.us").await, None, "the oldest went");
    let b = kept(&store, &device, "b@c.us").await.expect("b kept");
    assert_eq!(
        (b.picture.map(|picture| picture.bytes.len()), b.fetched_at),
        (Some(400), start + TimeDelta::seconds(1))
    );
    assert_eq!(store.read(pictures::kept_bytes).await.unwrap(), 800);

    // The news that someone has none costs nothing, and stays.
    keep("d@c.us", None, 3).await;
    let d = kept(&store, &device, "d@c.us").await.expect("d kept");
    assert_eq!(d.picture, None);
    assert!(kept(&store, &device, "b@c.us").await.is_some());

    // A picture larger than the whole budget is not kept, nor what was kept before it.
    keep("b@c.us", Some(2000), 4).await;
    assert_eq!(kept(&store, &device, "b@c.us").await, None);
    // A new picture replaces a contact's older one, and the budget counts it once.
    keep("c@c.us", Some(600), 5).await;
    assert_eq!(store.read(pictures::kept_bytes).await.unwrap(), 600);
    assert!(kept(&store, &device, "d@c.us").await.is_some());
}
}
