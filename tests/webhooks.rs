//! Webhooks (SPEC §7.1) against a receiver on 127.0.0.1: signatures checked independently,
//! retries, per-device order, replay, `410 Gone`, the private-address guard, subscriptions from
//! the configuration, and the metrics they leave.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::receiver::{assert_signed, Received, Receiver};
use common::TestDaemon;
use devicebridge::config::{Settings, WebhookSubscriptionSetting};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A daemon that may call receivers on 127.0.0.1, retrying within milliseconds.
async fn daemon(adjust: impl FnOnce(&mut Settings)) -> TestDaemon {
    TestDaemon::start_with(|settings, _| {
        settings.webhooks.allow_private = true;
        settings.webhooks.retry_initial_ms = 20;
        settings.webhooks.retry_max_ms = 200;
        adjust(settings);
    })
    .await
}

/// A subscription as created.
struct Subscription {
    id: String,
    secret: String,
    created: Value,
}

/// Subscribes `url` to `events`.
async fn subscribe(daemon: &TestDaemon, url: &str, events: &[&str]) -> Subscription {
    let (status, created) = daemon
        .post("/api/v1/webhooks", json!({ "url": url, "events": events }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Subscription {
        id: created["id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
        created,
    }
}

/// Waits until the delivery `id` of `webhook` has `status` in the log; returns its entry. The
/// log is written just after the receiver answers, and no event announces it: it is looked at
/// again after each commit.
async fn wait_delivery(daemon: &TestDaemon, webhook: &str, id: &str, status: &str) -> Value {
    daemon
        .wait_until(&format!("delivery {id} to be {status}"), || async {
            let (code, log) = daemon
                .get(&format!("/api/v1/webhooks/{webhook}/deliveries?limit=200"))
                .await;
            assert_eq!(code, StatusCode::OK, "{log}");
            log["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["id"] == id && entry["status"] == status)
                .cloned()
        })
        .await
}

#[tokio::test]
async fn deliveries_carry_the_journaled_event_and_a_valid_signature() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::start().await;
    let Subscription {
        id,
        secret,
        created,
    } = &subscribe(&daemon, &receiver.url, &["state"]).await;
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(
        (&created["enabled"], &created["source"], &created["devices"]),
        (&json!(true), &json!("api"), &json!(["*"]))
    );
    // The secret is shown once: never in a list or a read.
    let (_, list) = daemon.get("/api/v1/webhooks").await;
    let (_, one) = daemon.get(&format!("/api/v1/webhooks/{id}")).await;
    for shown in [&list["items"][0], &one] {
        assert_eq!(shown["id"], **id);
        assert!(shown.get("secret").is_none(), "{shown}");
        assert!(!shown.to_string().contains(secret));
    }

    daemon.create_device("demo").await;
    let first = receiver.next().await;
    assert_signed(&first, secret);
    assert_eq!(first.json["type"], "state");
    assert_eq!(first.json["deviceId"], "demo");
    assert_eq!(first.json["data"]["state"], "starting");
    let second = receiver.next().await;
    assert_signed(&second, secret);
    assert_ne!(first.webhook_id(), second.webhook_id());
    // Exactly the journal's events of that type, in order, with the same bodies.
    let states = daemon.journaled("demo", "state").await;
    assert_eq!(first.json, states[0]);
    assert_eq!(second.json, states[1]);

    let entry = wait_delivery(&daemon, id, first.webhook_id(), "delivered").await;
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["lastStatusCode"], 200);
    assert_eq!(entry["type"], "state");
    assert_eq!(entry["seq"], first.json["seq"]);
    assert_eq!(entry["deviceId"], "demo");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_delivery_after_retries_and_metrics_count_them() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::failing_first(2, 500).await;
    let Subscription { id, secret, .. } = &subscribe(&daemon, &receiver.url, &["state"]).await;
    daemon.create_device("demo").await;

    let tries = receiver.until(|request| request.answered == 200).await;
    let answers: Vec<u16> = tries.iter().map(|request| request.answered).collect();
    assert_eq!(answers, [500, 500, 200]);
    // The same delivery each time: same id, same body, each attempt signed afresh.
    for request in &tries {
        assert_eq!(request.webhook_id(), tries[0].webhook_id());
        assert_eq!(request.body, tries[0].body);
        assert_signed(request, secret);
    }
    let entry = wait_delivery(&daemon, id, tries[0].webhook_id(), "delivered").await;
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["lastStatusCode"], 200);

    // The rest of the line follows; then nothing waits.
    receiver.next().await;
    let text = daemon.metrics().await;
    for line in [
        "devicebridge_webhook_deliveries_total{outcome=\"retrying\"} 2",
        "devicebridge_webhook_deliveries_total{outcome=\"failed\"} 0",
        "# TYPE devicebridge_webhook_queue_depth gauge",
        "# TYPE devicebridge_webhook_oldest_pending_age_seconds gauge",
        "devicebridge_sounds_total{outcome=\"played\"} 0",
        "devicebridge_desktop_notifications_total{outcome=\"shown\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(text.contains("devicebridge_webhook_deliveries_total{outcome=\"ok\"} "));
}

#[tokio::test]
async fn order_holds_per_device_and_a_retrying_delivery_holds_back_only_its_device() {
    let daemon = daemon(|_| {}).await;
    // Alpha's deliveries fail until beta has had three delivered: if alpha's retries held beta
    // back, this would never end.
    let beta_delivered = Arc::new(AtomicUsize::new(0));
    let seen = beta_delivered.clone();
    let mut receiver = Receiver::answering(Arc::new(move |body: &Value| {
        if body["deviceId"] == "beta" {
            seen.fetch_add(1, Ordering::SeqCst);
            200
        } else if seen.load(Ordering::SeqCst) < 3 {
            503
        } else {
            200
        }
    }))
    .await;
    subscribe(&daemon, &receiver.url, &["state"]).await;
    daemon.create_device("alpha").await;
    daemon.create_device("beta").await;
    for device in ["alpha", "beta"] {
        let (status, body) = daemon
            .post(&format!("/api/v1/devices/{device}/stop"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let mut delivered: HashMap<String, Vec<Received>> = HashMap::new();
    let mut requests = Vec::new();
    while delivered.get("alpha").map_or(0, Vec::len) < 3
        || delivered.get("beta").map_or(0, Vec::len) < 3
    {
        let request = receiver.next().await;
        if request.answered == 200 {
            let device = request.json["deviceId"].as_str().unwrap().to_owned();
            delivered.entry(device).or_default().push(request.clone());
        }
        requests.push(request);
    }
    for device in ["alpha", "beta"] {
        let states = daemon.journaled(device, "state").await;
        let bodies: Vec<&Value> = delivered[device].iter().map(|r| &r.json).collect();
        assert_eq!(
            bodies,
            states.iter().collect::<Vec<_>>(),
            "{device} out of order"
        );
    }
    // Every failed attempt was alpha's first delivery, retried before anything after it.
    let first_alpha = delivered["alpha"][0].webhook_id().to_owned();
    let failed: Vec<&Received> = requests.iter().filter(|r| r.answered != 200).collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|r| r.webhook_id() == first_alpha));
    let first_alpha_ok = requests
        .iter()
        .position(|r| r.answered == 200 && r.webhook_id() == first_alpha)
        .unwrap();
    let last_beta = requests
        .iter()
        .rposition(|r| r.json["deviceId"] == "beta")
        .unwrap();
    assert!(last_beta < first_alpha_ok, "beta waited for alpha");
}

#[tokio::test]
async fn an_admin_limited_to_some_devices_manages_only_their_subscriptions() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::start().await;
    daemon.create_device("mine").await;
    let admin = daemon.key_for(&["mine"], &["admin"]).await;
    let as_admin = |method: Method, path: String, body: Option<Value>| {
        let (daemon, admin) = (&daemon, &admin);
        async move { daemon.call_as(admin, method, &path, body).await }
    };
    let (status, theirs) = daemon
        .post(
            "/api/v1/webhooks",
            json!({ "url": receiver.url, "events": ["state"], "devices": ["theirs"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    daemon.create_device("theirs").await;
    let delivery = receiver.next().await;
    wait_delivery(&daemon, &theirs, delivery.webhook_id(), "delivered").await;

    for devices in [json!(["*"]), json!(["theirs"])] {
        let body = json!({ "url": receiver.url, "devices": devices });
        let (status, refused) = as_admin(Method::POST, "/api/v1/webhooks".into(), Some(body)).await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (StatusCode::FORBIDDEN, &json!("forbidden")),
            "a subscription to {devices}"
        );
    }
    let body = json!({ "url": receiver.url, "devices": ["mine"] });
    let (status, mine) = as_admin(Method::POST, "/api/v1/webhooks".into(), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let mine = mine["id"].as_str().unwrap().to_owned();

    let (_, list) = as_admin(Method::GET, "/api/v1/webhooks".into(), None).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|webhook| webhook["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()], "{list}");
    let widen = json!({ "devices": ["*"] });
    let (status, _) = as_admin(
        Method::PATCH,
        format!("/api/v1/webhooks/{mine}"),
        Some(widen),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let hidden = [
        (Method::GET, format!("/api/v1/webhooks/{theirs}"), None),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{theirs}"),
            Some(json!({ "enabled": false })),
        ),
        (Method::DELETE, format!("/api/v1/webhooks/{theirs}"), None),
        (
            Method::GET,
            format!("/api/v1/webhooks/{theirs}/deliveries"),
            None,
        ),
    ];
    for (method, path, body) in hidden {
        let (status, refused) = as_admin(method.clone(), path.clone(), body).await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("webhook_not_found")),
            "{method} {path}"
        );
    }
    let replay = format!(
        "/api/v1/webhooks/deliveries/{}/replay",
        delivery.webhook_id()
    );
    let (status, refused) = as_admin(Method::POST, replay, Some(json!({}))).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("delivery_not_found"))
    );
    let (_, kept) = daemon.get(&format!("/api/v1/webhooks/{theirs}")).await;
    assert_eq!(
        kept["enabled"], true,
        "the subscription it cannot see is unchanged"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn replay_sends_the_same_delivery_again() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::start().await;
    let Subscription { id, secret, .. } = &subscribe(&daemon, &receiver.url, &["state"]).await;
    daemon.create_device("demo").await;
    let first = receiver.next().await;
    wait_delivery(&daemon, id, first.webhook_id(), "delivered").await;

    let (status, replayed) = daemon
        .post(
            &format!("/api/v1/webhooks/deliveries/{}/replay", first.webhook_id()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(
        (&replayed["id"], &replayed["status"]),
        (&json!(first.webhook_id()), &json!("pending"))
    );
    let again = receiver
        .until(|request| request.webhook_id() == first.webhook_id())
        .await
        .pop()
        .unwrap();
    assert_eq!(again.body, first.body);
    assert_signed(&again, secret);
    let entry = wait_delivery(&daemon, id, first.webhook_id(), "delivered").await;
    assert_eq!(entry["attempts"], 2);

    let (status, body) = daemon
        .post("/api/v1/webhooks/deliveries/whd_nope/replay", json!({}))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("delivery_not_found"))
    );
}

#[tokio::test]
async fn gone_disables_the_subscription_until_it_is_enabled_again() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::answering(Arc::new(|_| 410)).await;
    let Subscription { id, .. } = &subscribe(&daemon, &receiver.url, &["state"]).await;
    daemon.create_device("demo").await;
    let gone = receiver.next().await;
    let entry = wait_delivery(&daemon, id, gone.webhook_id(), "failed").await;
    assert_eq!(entry["lastStatusCode"], 410);
    assert_eq!(entry["attempts"], 1);
    let (_, webhook) = daemon.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert!(webhook["disabledReason"].as_str().unwrap().contains("410"));

    // A disabled subscription gets no new deliveries: the event is journaled, its delivery not.
    let log_size = |log: &Value| log["items"].as_array().unwrap().len();
    let (_, before) = daemon
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    let (status, _) = daemon.post("/api/v1/devices/demo/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let stopped = daemon.journaled("demo", "state").await;
    assert_eq!(stopped.last().unwrap()["data"]["state"], "stopped");
    let (_, after) = daemon
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(log_size(&after), log_size(&before));
    assert!(!receiver.has_pending());

    // Enabled again, deliveries resume.
    let (status, enabled) = daemon
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(
        (&enabled["enabled"], &enabled["disabledReason"]),
        (&json!(true), &Value::Null)
    );
    // Whatever it held (if the device's next event was queued before the 410) comes first,
    // then new events.
    let (status, _) = daemon.post("/api/v1/devices/demo/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let resumed = receiver.next().await;
    assert_ne!(resumed.webhook_id(), gone.webhook_id());
    assert!(resumed.json["seq"].as_u64() > gone.json["seq"].as_u64());
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let mut receiver = Receiver::start().await;
    let local_url = receiver.url.clone();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.webhooks.retry_initial_ms = 20;
        settings.webhooks.retry_max_ms = 200;
        settings.webhooks.subscriptions = vec![WebhookSubscriptionSetting {
            name: "local".into(),
            url: local_url,
            events: vec!["state".into()],
            devices: vec!["*".into()],
            secret: secret.into(),
        }];
    })
    .await;
    let refused = |body: &Value| body["error"]["code"] == "bad_request";
    for url in [
        receiver.url.as_str(),
        "http://localhost:9/hooks",
        "http://[::1]:9/hooks",
        "http://10.0.0.7/hooks",
    ] {
        let (status, body) = daemon.post("/api/v1/webhooks", json!({ "url": url })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(refused(&body));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must resolve to public addresses only"),
            "{body}"
        );
    }
    // Whether a name resolves, and to what, is not told: no answer can map the host's
    // network. A name that does not resolve and one that resolves to loopback read alike.
    let mut refusals = Vec::new();
    for host in ["nothing.invalid", "localhost"] {
        let url = format!("http://{host}:9/hooks");
        let (status, body) = daemon.post("/api/v1/webhooks", json!({ "url": url })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("127.0.0.1") && !message.contains("::1"),
            "{message}"
        );
        refusals.push(message.replace(host, "HOST"));
    }
    assert_eq!(refusals[0], refusals[1]);
    // A public IPv6 address is taken, as the document's pattern takes it (for a device that
    // does not exist: nothing is sent to it).
    let public =
        json!({ "url": "https://[2606:4700:4700::1111]:8443/hooks", "devices": ["nobody"] });
    let (status, taken) = daemon.post("/api/v1/webhooks", public).await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let path = format!("/api/v1/webhooks/{}", taken["id"].as_str().unwrap());
    let (status, _) = daemon.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (bad, field) in [
        (json!({ "url": "ftp://example.com/" }), "url"),
        (
            json!({ "url": "https://example.com/", "events": ["mesage"] }),
            "mesage",
        ),
        (
            json!({ "url": "https://example.com/", "devices": ["Bad Id"] }),
            "Bad Id",
        ),
        (
            json!({ "url": "https://example.com/", "secret": "hunter2" }),
            "whsec_",
        ),
    ] {
        let (status, body) = daemon.post("/api/v1/webhooks", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    let (_, list) = daemon.get("/api/v1/webhooks").await;
    assert_eq!(common::ids(&list), ["cfg_local"]);

    // The configured subscription to a private address is refused when delivering.
    daemon.create_device("demo").await;
    let entry = daemon
        .wait_until("an attempt recorded in the log", || async {
            let (_, log) = daemon.get("/api/v1/webhooks/cfg_local/deliveries").await;
            log["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["attempts"].as_u64() > Some(0))
                .cloned()
        })
        .await;
    assert_eq!(entry["status"], "retrying", "{entry}");
    assert_eq!(entry["lastStatusCode"], Value::Null);
    assert!(
        entry["lastError"]
            .as_str()
            .unwrap()
            .contains("must resolve to public addresses only"),
        "{entry}"
    );
    assert!(!receiver.has_pending(), "the private receiver was called");
}

#[tokio::test]
async fn configured_subscriptions_keep_their_id_and_belong_to_the_configuration() {
    let mut receiver = Receiver::start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let url = receiver.url.clone();
    let daemon = daemon(move |settings| {
        settings.webhooks.subscriptions = vec![WebhookSubscriptionSetting {
            name: "crm".into(),
            url,
            events: vec!["state".into()],
            devices: vec!["demo".into()],
            secret: secret.into(),
        }];
    })
    .await;
    let (_, webhook) = daemon.get("/api/v1/webhooks/cfg_crm").await;
    assert_eq!(
        (&webhook["source"], &webhook["devices"], &webhook["enabled"]),
        (&json!("config"), &json!(["demo"]), &json!(true))
    );
    assert!(webhook.get("secret").is_none());
    daemon.create_device("other").await;
    daemon.create_device("demo").await;
    let delivered = receiver.next().await;
    assert_eq!(
        delivered.json["deviceId"], "demo",
        "only the subscribed device"
    );
    assert_signed(&delivered, secret);

    let path = "/api/v1/webhooks/cfg_crm";
    let (status, body) = daemon
        .call(
            Method::PATCH,
            path,
            Some(json!({ "url": "https://example.com/" })),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("invalid_state"))
    );
    let (status, _) = daemon.call(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = daemon
        .call(Method::PATCH, path, Some(json!({ "enabled": false })))
        .await;
    assert_eq!((status, &body["enabled"]), (StatusCode::OK, &json!(false)));

    // After a restart: the same id, still disabled, its log kept.
    let daemon = daemon.restart().await;
    let (_, list) = daemon.get("/api/v1/webhooks").await;
    assert_eq!(common::ids(&list), ["cfg_crm"]);
    assert_eq!(list["items"][0]["enabled"], false);
    let (_, log) = daemon.get(&format!("{path}/deliveries")).await;
    assert!(log["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["id"] == delivered.webhook_id()));
    let (status, _) = daemon
        .call(Method::DELETE, "/api/v1/webhooks/nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Every kind of message and the events about them reach a webhook as they are journaled: a
/// place, a poll and its votes, an edit, and a story kept by the device's filters.
#[tokio::test]
async fn new_kinds_and_their_events_reach_webhooks_as_journaled() {
    let daemon = daemon(|_| {}).await;
    let mut receiver = Receiver::start().await;
    let alice = "15550000002@c.us";
    let kinds = subscribe(
        &daemon,
        &receiver.url,
        &["message", "poll:vote", "message:edited", "status:new"],
    )
    .await;
    let (status, created) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "kinds", "name": "Kinds", "filters": { "statuses": "event" },
                "simulator": { "contacts": [{ "id": alice, "name": "Alice", "behaviour": "silent" }] } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut watcher = daemon.socket("kinds", json!({})).await;
    common::wait_state(&mut watcher, "qr").await;
    daemon.link("kinds").await;
    common::wait_state(&mut watcher, "ready").await;
    let act = |body: Value| {
        let daemon = &daemon;
        async move {
            let (status, acted) = daemon
                .post("/api/v1/devices/kinds/simulator/act", body)
                .await;
            assert_eq!(status, StatusCode::OK, "{acted}");
            acted
        }
    };
    let place = json!({ "latitude": 52.37, "longitude": 4.89, "name": "Dam" });
    act(json!({ "do": "message", "from": alice, "location": place })).await;
    let poll = act(json!({ "do": "message", "from": alice,
        "poll": { "question": "Tea?", "options": ["Yes", "No"] } }))
    .await;
    let said = act(json!({ "do": "message", "from": alice, "text": "helo" })).await;
    act(json!({ "do": "status", "from": alice, "text": "At the beach" })).await;
    let got = receiver.until(|r| r.json["type"] == "status:new").await;
    // The acts on messages need the messages stored: they are, once their webhooks arrived.
    act(json!({ "do": "vote", "from": alice, "messageId": poll["upstreamId"], "options": ["No"] }))
        .await;
    act(json!({ "do": "edit", "from": alice, "messageId": said["upstreamId"], "text": "hello" }))
        .await;
    let mut got = got;
    got.extend(receiver.until(|r| r.json["type"] == "message:edited").await);
    for delivery in &got {
        assert_signed(delivery, &kinds.secret);
    }
    let of = |kind: &str| -> Vec<&Value> {
        got.iter()
            .filter(|delivery| delivery.json["type"] == kind)
            .map(|delivery| &delivery.json["data"])
            .collect()
    };
    let messages = of("message");
    assert_eq!(messages[0]["location"], place);
    assert_eq!(messages[1]["poll"]["question"], "Tea?");
    assert_eq!(of("status:new")[0]["message"]["body"], "At the beach");
    assert_eq!(of("poll:vote")[0]["options"], json!(["No"]));
    assert_eq!(of("message:edited")[0]["body"], "hello");
    // Each is the journal's own event.
    let journaled = daemon.journaled("kinds", "poll:vote").await;
    let vote = got.iter().find(|d| d.json["type"] == "poll:vote").unwrap();
    assert_eq!(vote.json, journaled[0]);
}
