//! The phone's plans, and how one is played from where it stopped.

use super::*;

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";
const CAROL: &str = "15550000004@c.us";

fn contact(id: &str, name: &str, behaviour: Behaviour) -> SimulatedContact {
    SimulatedContact {
        id: id.into(),
        name: name.into(),
        lid: None,
        behaviour,
        about: None,
        picture: true,
    }
}

/// A phone with Alice (echo), Bob (slow reader) and, if `silent_carol`, Carol (silent).
fn spec(silent_carol: bool) -> SimulatorSpec {
    let mut contacts = vec![
        contact(ALICE, "Alice", Behaviour::Echo),
        contact(BOB, "Bob", Behaviour::SlowReader),
    ];
    if silent_carol {
        contacts.push(contact(CAROL, "Carol", Behaviour::Silent));
    }
    SimulatorSpec {
        server_ack_ms: 10,
        delivered_ms: 20,
        read_ms: 100,
        typing_ms: 50,
        contacts,
        ..SimulatorSpec::default()
    }
}

fn message(chat_id: &str) -> Message {
    Message::sample(chat_id, "hello")
}

/// A plan's steps as (time, act), the reply's random upstream id left out.
fn timeline(plan: &Plan) -> Vec<(u64, String)> {
    plan.steps
        .iter()
        .map(|step| {
            let act = match &step.act {
                Act::Server => "server".to_owned(),
                Act::Delivered => "delivered".to_owned(),
                Act::ReadBy { reader } => format!("read by {reader}"),
                Act::Read { reader } => format!("read, last by {reader}"),
                Act::Presence { contact, online } => format!("{contact} online {online}"),
                Act::Typing { contact, typing } => format!("{contact} typing {typing}"),
                Act::Reply(reply) => format!("{} replies {:?}", reply.from, reply.body),
            };
            (step.after_ms, act)
        })
        .collect()
}

fn expected(steps: &[(u64, &str)]) -> Vec<(u64, String)> {
    steps
        .iter()
        .map(|(at, act)| (*at, act.to_string()))
        .collect()
}

#[test]
fn an_echoing_contact_reads_types_replies_and_goes_offline_on_the_device_files_clock() {
    let plan = Plan::new(&spec(false), &message(ALICE));
    assert_eq!(
        timeline(&plan),
        expected(&[
            (10, "server"),
            (20, "delivered"),
            (100, "15550000002@c.us online true"),
            (100, "read, last by 15550000002@c.us"),
            (100, "15550000002@c.us typing true"),
            (150, "15550000002@c.us typing false"),
            (150, "15550000002@c.us replies \"hello\""),
            (5150, "15550000002@c.us online false"),
        ])
    );
    assert!(!plan.group);
}

#[test]
fn in_a_group_the_last_reader_makes_the_message_read_and_only_echoing_members_reply() {
    let plan = Plan::new(&spec(false), &message(&group_id(&spec(false))));
    assert_eq!(
        timeline(&plan),
        expected(&[
            (10, "server"),
            (20, "delivered"),
            (100, "15550000002@c.us online true"),
            (100, "read by 15550000002@c.us"),
            (100, "15550000002@c.us typing true"),
            (150, "15550000002@c.us typing false"),
            (150, "15550000002@c.us replies \"hello\""),
            (1000, "15550000003@c.us online true"),
            (1000, "read, last by 15550000003@c.us"),
            (5150, "15550000002@c.us online false"),
            (6000, "15550000003@c.us online false"),
        ])
    );
    assert!(plan.group);
}

#[test]
fn a_group_with_a_silent_member_gets_every_receipt_but_is_never_read() {
    let spec = spec(true);
    let plan = Plan::new(&spec, &message(&group_id(&spec)));
    let acts: Vec<String> = timeline(&plan).into_iter().map(|(_, act)| act).collect();
    assert!(acts.contains(&"read by 15550000003@c.us".to_owned()));
    assert!(acts.contains(&"read by 15550000002@c.us".to_owned()));
    assert!(
        !acts.iter().any(|act| act.starts_with("read, last")),
        "{acts:?}"
    );
    assert!(!acts.iter().any(|act| act.contains(CAROL)), "{acts:?}");
}

#[test]
fn a_message_to_someone_not_in_the_address_book_gets_the_servers_tick_alone() {
    let plan = Plan::new(&spec(false), &message("15559999999@c.us"));
    assert_eq!(timeline(&plan), expected(&[(10, "server")]));
}

#[test]
fn a_plan_reads_back_as_it_was_stored() {
    let device = DeviceId::parse("demo").unwrap();
    let duties = Duties {
        row: 7,
        upstream_id: "true_15550000002@c.us_abc".into(),
        received_at: Utc::now(),
        plan: Plan::new(&spec(false), &message(ALICE)),
        done: 3,
    };
    let stored = PhoneDuties {
        row: duties.row,
        upstream_id: duties.upstream_id.clone(),
        received_at: duties.received_at,
        plan: serde_json::to_string(&duties.plan).unwrap(),
        done: duties.done,
    };
    assert_eq!(Duties::read(&device, stored), Some(duties));
    let unreadable = PhoneDuties {
        row: 8,
        upstream_id: "true_x".into(),
        received_at: Utc::now(),
        plan: "{\"steps\": 7}".into(),
        done: 0,
    };
    assert_eq!(Duties::read(&device, unreadable), None);
}

/// The reports `play` makes, in order, until it ends, each with whether it is owed (marked
/// done in the write that stores it).
async fn played(duties: Duties) -> Vec<(Inbound, bool)> {
    let (events, mut reports) = mpsc::channel(64);
    play(DeviceId::parse("demo").unwrap(), duties, events).await;
    let mut made = Vec::new();
    while let Ok(event) = reports.try_recv() {
        match event {
            UpstreamEvent::Owed { report, .. } => made.push((*report, true)),
            UpstreamEvent::Inbound(report) => made.push((*report, false)),
            other => panic!("not a report: {other:?}"),
        }
    }
    made
}

/// Everything of a plan fell due an hour ago: a test would wait for its last step otherwise.
fn overdue(plan: Plan, done: u32) -> Duties {
    Duties {
        row: 1,
        upstream_id: "true_15550000002@c.us_abc".to_owned(),
        received_at: Utc::now() - TimeDelta::hours(1),
        plan,
        done,
    }
}

#[tokio::test]
async fn acks_are_reported_unmarked_and_every_other_step_and_the_last_owed() {
    let reports = tokio::time::timeout(
        Duration::from_secs(1),
        played(overdue(Plan::new(&spec(false), &message(ALICE)), 0)),
    )
    .await
    .expect("overdue steps are played at once");
    let owed: Vec<_> = reports.iter().map(|(_, owed)| *owed).collect();
    // Server, delivered, online, read, typing, not typing, the reply, offline.
    assert_eq!(owed, [false, false, true, false, true, true, true, true]);
    let silent = spec(true).contacts.into_iter().filter(|c| c.id == CAROL);
    let carol_only = SimulatorSpec {
        contacts: silent.collect(),
        ..spec(false)
    };
    let reports = played(overdue(Plan::new(&carol_only, &message(CAROL)), 0)).await;
    let acks: Vec<_> = reports
        .iter()
        .map(|(report, owed)| match report {
            Inbound::Ack { ack, .. } => (*ack, *owed),
            other => panic!("a silent contact only acks: {other:?}"),
        })
        .collect();
    assert_eq!(
        acks,
        [(Ack::Server, false), (Ack::Device, true)],
        "the last step is owed, ack or not, so that the plan ends with its write"
    );
}

#[tokio::test]
async fn an_overdue_plan_is_played_at_once_from_its_first_step_not_done() {
    let plan = Plan::new(&spec(false), &message(ALICE));
    let reply_id = match &plan.steps[6].act {
        Act::Reply(reply) => reply.upstream_id.clone(),
        other => panic!("step 6 is {other:?}"),
    };
    let duties = overdue(plan, 5);
    let upstream_id = duties.upstream_id.clone();
    let reports = tokio::time::timeout(Duration::from_secs(1), played(duties))
        .await
        .expect("overdue steps are played at once");
    let reports: Vec<_> = reports.into_iter().map(|(report, _)| report).collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(
        reports[0],
        Inbound::Typing {
            chat_id: ALICE.into(),
            contact_id: ALICE.into(),
            typing: false
        }
    );
    match &reports[1] {
        Inbound::Message(reply) => {
            assert_eq!(reply.upstream_id, reply_id);
            assert_eq!(reply.reply_to.as_deref(), Some(upstream_id.as_str()));
            assert_eq!((reply.from.as_str(), reply.body.as_str()), (ALICE, "hello"));
            assert!(!reply.from_me && !reply.group);
        }
        other => panic!("not the reply: {other:?}"),
    }
    assert_eq!(
        reports[2],
        Inbound::Presence {
            contact_id: ALICE.into(),
            online: false
        }
    );
}
