use super::*;

#[test]
fn renders_every_family_with_its_counts_and_what_was_read() {
    let metrics = Metrics::default();
    metrics.webhook_deliveries.inc("ok");
    metrics.webhook_deliveries.add("retrying", 2);
    metrics.sounds.inc("throttled");
    metrics.connector(ConnectorKind::Waha).sent.inc_by(3);
    metrics.committed(4, 7, Duration::from_millis(2));
    let text = metrics.render(&Snapshot {
        devices: vec![("ready".into(), 2)],
        relay_queue: vec![("simulator".into(), 5)],
        webhook_queue: 3,
        webhook_oldest_age_secs: 1.5,
        sink_lag: vec![("cfg_bus".into(), "nats", 12)],
        socket_watched_devices: 4,
        ..Snapshot::default()
    });
    for line in [
        "# TYPE devicebridge_webhook_deliveries counter",
        "devicebridge_webhook_deliveries_total{outcome=\"ok\"} 1",
        "devicebridge_webhook_deliveries_total{outcome=\"retrying\"} 2",
        "devicebridge_webhook_deliveries_total{outcome=\"failed\"} 0",
        "devicebridge_sounds_total{outcome=\"throttled\"} 1",
        "devicebridge_desktop_notifications_total{outcome=\"dropped\"} 0",
        "devicebridge_messages_sent_total{connector=\"waha\"} 3",
        "devicebridge_messages_sent_total{connector=\"simulator\"} 0",
        "devicebridge_store_commit_batch_size_sum 4.0",
        "devicebridge_journal_events_appended_total 7",
        "devicebridge_devices{state=\"ready\"} 2",
        "devicebridge_socket_watched_devices 4",
        "devicebridge_devices{state=\"logged_out\"} 0",
        "devicebridge_relay_queue_depth{connector=\"simulator\"} 5",
        "# TYPE devicebridge_webhook_queue_depth gauge",
        "devicebridge_webhook_queue_depth 3",
        "devicebridge_webhook_oldest_pending_age_seconds 1.5",
        "# TYPE devicebridge_sink_lag_events gauge",
        "devicebridge_sink_lag_events{sink=\"cfg_bus\",kind=\"nats\"} 12",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[test]
fn counts_that_a_test_may_wait_for_bump_the_changes() {
    let metrics = Metrics::default();
    let seen = metrics.changes().subscribe();
    metrics.socket_handshakes.inc("accepted");
    metrics.journal_pruned.add(0);
    assert_eq!(*seen.borrow(), 1, "a count of none is no change");
    metrics.journal_pruned.add(5);
    assert_eq!(*seen.borrow(), 2);
    assert_eq!(metrics.socket_handshakes.get("accepted"), 1);
}
