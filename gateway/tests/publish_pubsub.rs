//! The Pub/Sub publisher against Google's real Pub/Sub emulator: messages are read back
//! through real subscriptions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hermes_buffer::{Buffer, BufferConfig, BufferMetrics};
use hermes_gateway::metrics::TagLabels;
use hermes_gateway::publish::{
    BatchSettings, DurableConfig, DurablePublisher, EnqueueError, InvalidMessage, OutgoingMessage,
    PubSubConfig, PubSubPublisher, PublishMetrics, Publisher, Record,
};
use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage, SubscriptionOptions};
use hermes_tests::{free_port, wait_for};
use prometheus_client::registry::Registry;

const PROJECT: &str = "hermes-test";
const TAG: &str = "low-stock";
const DELIVERY: Duration = Duration::from_secs(60);

fn topic(id: &str) -> String {
    format!("projects/{PROJECT}/topics/{id}")
}

fn subscription(id: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{id}-sub")
}

/// An emulator with a topic and a subscription (ordered or not) named after `id`.
async fn emulator_with_topic(id: &str, ordered: bool) -> PubSubEmulator {
    hermes_runtime::install_crypto_provider();
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    create_topic_and_subscription(&emulator, id, ordered).await;
    emulator
}

async fn create_topic_and_subscription(emulator: &PubSubEmulator, id: &str, ordered: bool) {
    emulator.create_topic(&topic(id)).await.unwrap();
    let options = SubscriptionOptions {
        ordering: ordered,
        ..Default::default()
    };
    emulator
        .create_subscription(&subscription(id), &topic(id), options)
        .await
        .unwrap();
}

/// A publisher on `host_port` with quick retries, and its metrics in a registry.
fn publisher(
    host_port: String,
    tweak: impl FnOnce(&mut PubSubConfig),
) -> (PubSubPublisher, PublishMetrics, Registry) {
    hermes_runtime::install_crypto_provider();
    let mut config = PubSubConfig::emulator(host_port);
    config.initial_backoff = Duration::from_millis(100);
    config.max_backoff = Duration::from_millis(500);
    config.attempt_timeout = Duration::from_secs(2);
    config.shutdown_timeout = Duration::from_secs(30);
    tweak(&mut config);
    let mut registry = Registry::default();
    let metrics = PublishMetrics::register(&mut registry);
    (
        PubSubPublisher::start(config, metrics.clone()),
        metrics,
        registry,
    )
}

fn message(topic_id: &str, n: usize) -> OutgoingMessage {
    OutgoingMessage::new(
        TAG,
        Record::new(topic(topic_id), format!(r#"{{"n":{n}}}"#))
            .with_attribute("sku", format!("SKU-{n}"))
            .with_attribute("event_id", format!("ev-{n}")),
    )
}

fn count(
    family: &prometheus_client::metrics::family::Family<
        TagLabels,
        prometheus_client::metrics::counter::Counter,
    >,
) -> u64 {
    family.get_or_create(&TagLabels { tag: TAG.into() }).get()
}

/// The value of the first sample whose line starts with `name` in the text exposition.
fn sample(registry: &Registry, name: &str) -> f64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

async fn pull(emulator: &PubSubEmulator, id: &str, n: usize) -> Vec<ReceivedMessage> {
    let got = emulator.pull(&subscription(id), n, DELIVERY).await.unwrap();
    assert_eq!(
        got.len(),
        n,
        "messages read back; emulator log:\n{}",
        emulator.log()
    );
    got
}

/// Pull until every text in `want` arrived (at-least-once: a retried request may have
/// been delivered twice); returns everything received, in delivery order.
async fn pull_all_of(
    emulator: &PubSubEmulator,
    id: &str,
    want: &BTreeSet<String>,
) -> Vec<ReceivedMessage> {
    let mut got: Vec<ReceivedMessage> = Vec::new();
    let deadline = Instant::now() + DELIVERY;
    while Instant::now() < deadline {
        let seen: BTreeSet<String> = got.iter().map(ReceivedMessage::text).collect();
        if want.is_subset(&seen) {
            return got;
        }
        got.extend(
            emulator
                .pull(&subscription(id), 100, Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    let seen: BTreeSet<String> = got.iter().map(ReceivedMessage::text).collect();
    panic!(
        "missing {:?}; emulator log:\n{}",
        want.difference(&seen).collect::<Vec<_>>(),
        emulator.log()
    );
}

/// The texts in order of first delivery.
fn first_deliveries(messages: &[ReceivedMessage]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    messages
        .iter()
        .map(ReceivedMessage::text)
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

async fn wait_until_drained(publisher: &dyn Publisher) {
    wait_for(DELIVERY, || async {
        match publisher.queue_depth() {
            0 => Ok(()),
            depth => Err(format!("queue depth {depth}")),
        }
    })
    .await
    .unwrap();
}

/// Forwards TCP connections from a loopback port to the emulator: Pub/Sub "comes up"
/// on a port the publisher has been failing to reach.
async fn relay(from_port: u16, to: String) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", from_port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

#[tokio::test]
async fn publishes_messages_with_attributes_that_a_subscription_reads_back() {
    let emulator = emulator_with_topic("stock", false).await;
    let (publisher, metrics, registry) = publisher(emulator.host_port(), |_| {});
    for n in 0..100 {
        publisher.enqueue(message("stock", n)).unwrap();
    }
    wait_until_drained(&publisher).await;

    let got = pull(&emulator, "stock", 100).await;
    let got: BTreeSet<(String, BTreeMap<String, String>)> = got
        .into_iter()
        .inspect(|m| assert_eq!(m.ordering_key, None))
        .map(|m| (m.text(), m.attributes))
        .collect();
    let want: BTreeSet<_> = (0..100)
        .map(|n| {
            let m = message("stock", n).record;
            (String::from_utf8(m.data.to_vec()).unwrap(), m.attributes)
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(count(&metrics.published), 100);
    assert_eq!(count(&metrics.failed), 0);
    assert_eq!(
        sample(&registry, "hermes_publish_latency_seconds_count"),
        100.0
    );
    assert_eq!(sample(&registry, "hermes_publish_batch_size_sum"), 100.0);
    assert_eq!(sample(&registry, "hermes_publish_queue_depth"), 0.0);
    assert!(publisher.is_ready());
    publisher.shutdown().await;
}

#[tokio::test]
async fn ordering_keys_are_delivered_in_publish_order_on_an_ordered_subscription() {
    let emulator = emulator_with_topic("orders", true).await;
    let (publisher, _, _) = publisher(emulator.host_port(), |c| {
        // Small batches: many requests per key, so order across requests matters.
        c.batching.max_messages = 7;
    });
    let keys = ["client-a", "client-b", "client-c"];
    for n in 0..200 {
        for key in keys {
            let msg = OutgoingMessage::new(
                TAG,
                Record::new(topic("orders"), format!("{key}/{n}")).with_ordering_key(key),
            );
            publisher.enqueue(msg).unwrap();
        }
    }
    let got = pull(&emulator, "orders", 600).await;
    for key in keys {
        let seen: Vec<String> = got
            .iter()
            .filter(|m| m.ordering_key.as_deref() == Some(key))
            .map(ReceivedMessage::text)
            .collect();
        let want: Vec<String> = (0..200).map(|n| format!("{key}/{n}")).collect();
        assert_eq!(seen, want, "order of {key}");
    }
    publisher.shutdown().await;
}

#[tokio::test]
async fn messages_enqueued_while_pubsub_is_unreachable_are_delivered_once_it_answers() {
    let emulator = emulator_with_topic("outage", true).await;
    let port = free_port().unwrap();
    let (publisher, metrics, _) = publisher(format!("127.0.0.1:{port}"), |c| {
        c.attempt_timeout = Duration::from_millis(500);
    });
    for n in 0..10 {
        publisher.enqueue(message("outage", n)).unwrap();
        let ordered = OutgoingMessage::new(
            TAG,
            Record::new(topic("outage"), format!("k/{n}")).with_ordering_key("k"),
        );
        publisher.enqueue(ordered).unwrap();
    }
    // Every message must have failed once before Pub/Sub answers: the unordered batch
    // and the ordering key's are attempted separately, and one that had not been tried
    // yet would go through on its first attempt (a race the loaded CI machine lost).
    wait_for(DELIVERY, || async {
        match count(&metrics.failed) {
            n if n >= 20 => Ok(()),
            n => Err(format!("{n} of 20 messages have failed an attempt")),
        }
    })
    .await
    .unwrap();
    assert_eq!(
        publisher.queue_depth(),
        20,
        "nothing is lost while unreachable"
    );

    let _relay = relay(port, emulator.host_port()).await;
    let want: BTreeSet<String> = (0..10)
        .flat_map(|n| [format!(r#"{{"n":{n}}}"#), format!("k/{n}")])
        .collect();
    let got = pull_all_of(&emulator, "outage", &want).await;
    let ordered: Vec<ReceivedMessage> = got
        .into_iter()
        .filter(|m| m.ordering_key.is_some())
        .collect();
    // Redelivery of a key resends its later messages too; first deliveries keep order.
    assert_eq!(
        first_deliveries(&ordered),
        (0..10).map(|n| format!("k/{n}")).collect::<Vec<_>>()
    );
    wait_until_drained(&publisher).await;
    assert_eq!(count(&metrics.published), 20);
    assert!(
        count(&metrics.retried) >= 20,
        "every message was sent again"
    );
    publisher.shutdown().await;
}

#[tokio::test]
async fn messages_for_a_missing_topic_are_delivered_once_the_topic_exists() {
    hermes_runtime::install_crypto_provider();
    let emulator = PubSubEmulator::start().await.unwrap();
    // Long backoffs leave time to create the topic and its subscription between two
    // attempts, so no message is published before the subscription exists.
    let (publisher, metrics, _) = publisher(emulator.host_port(), |c| {
        c.initial_backoff = Duration::from_secs(3);
        c.max_backoff = Duration::from_secs(3);
    });
    for n in 0..10 {
        publisher.enqueue(message("late", n)).unwrap();
    }
    wait_for(DELIVERY, || async {
        match count(&metrics.failed) {
            10 => Ok(()),
            n => Err(format!("{n} failed attempts")),
        }
    })
    .await
    .unwrap();
    create_topic_and_subscription(&emulator, "late", false).await;

    pull(&emulator, "late", 10).await;
    wait_until_drained(&publisher).await;
    assert_eq!(count(&metrics.published), 10);
    assert_eq!(count(&metrics.retried), 10);
    publisher.shutdown().await;
}

#[tokio::test]
async fn shutdown_returns_after_pending_messages_are_published() {
    let emulator = emulator_with_topic("closing", false).await;
    let (publisher, metrics, _) = publisher(emulator.host_port(), |c| {
        // Messages sit in the batcher for a second unless something flushes them.
        c.batching = BatchSettings {
            max_delay: Duration::from_secs(1),
            ..BatchSettings::default()
        };
    });
    for n in 0..50 {
        publisher.enqueue(message("closing", n)).unwrap();
    }
    publisher.shutdown().await;
    assert_eq!(publisher.queue_depth(), 0);
    assert_eq!(count(&metrics.published), 50);
    assert!(matches!(
        publisher.enqueue(message("closing", 99)),
        Err(EnqueueError::Closed)
    ));
    assert!(!publisher.is_ready());
    pull(&emulator, "closing", 50).await;
    // A second shutdown returns at once.
    publisher.shutdown().await;
}

#[tokio::test]
async fn shutdown_retries_backed_off_messages_at_once() {
    hermes_runtime::install_crypto_provider();
    let emulator = PubSubEmulator::start().await.unwrap();
    let (publisher, metrics, _) = publisher(emulator.host_port(), |c| {
        c.initial_backoff = Duration::from_secs(60);
        c.max_backoff = Duration::from_secs(60);
    });
    for n in 0..5 {
        publisher.enqueue(message("backed-off", n)).unwrap();
    }
    wait_for(DELIVERY, || async {
        match count(&metrics.failed) {
            5 => Ok(()),
            n => Err(format!("{n} failed attempts")),
        }
    })
    .await
    .unwrap();
    create_topic_and_subscription(&emulator, "backed-off", false).await;

    let began = Instant::now();
    publisher.shutdown().await;
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "shutdown took {:?}; the 30-60 s backoff was not cut short",
        began.elapsed()
    );
    assert_eq!(count(&metrics.published), 5);
    pull(&emulator, "backed-off", 5).await;
}

#[tokio::test]
async fn shutdown_gives_up_after_its_timeout_and_counts_what_it_dropped() {
    let unreachable = format!("127.0.0.1:{}", free_port().unwrap());
    let (publisher, metrics, _) = publisher(unreachable, |c| {
        c.shutdown_timeout = Duration::from_secs(1);
    });
    for n in 0..3 {
        publisher.enqueue(message("nowhere", n)).unwrap();
    }
    let began = Instant::now();
    publisher.shutdown().await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(publisher.queue_depth(), 0);
    assert_eq!(count(&metrics.dropped), 3);
    assert_eq!(count(&metrics.published), 0);
}

#[tokio::test]
async fn a_full_queue_refuses_messages_at_once() {
    let unreachable = format!("127.0.0.1:{}", free_port().unwrap());
    let (publisher, _, registry) = publisher(unreachable, |c| {
        c.queue_capacity = 5;
        c.shutdown_timeout = Duration::from_millis(100);
    });
    for n in 0..5 {
        publisher.enqueue(message("full", n)).unwrap();
    }
    let began = Instant::now();
    assert!(matches!(
        publisher.enqueue(message("full", 5)),
        Err(EnqueueError::Full { capacity: 5 })
    ));
    assert!(began.elapsed() < Duration::from_millis(50));
    assert_eq!(publisher.queue_depth(), 5);
    assert_eq!(sample(&registry, "hermes_publish_queue_depth"), 5.0);
    assert!(!publisher.is_ready(), "a full publisher is not ready");
    // Invalid messages are refused before they take a slot.
    assert!(matches!(
        publisher.enqueue(OutgoingMessage::new(TAG, Record::new("not-a-topic", "x"))),
        Err(EnqueueError::Invalid(InvalidMessage::Topic { .. }))
    ));
    publisher.shutdown().await;
}

#[tokio::test]
async fn more_messages_than_one_request_holds_all_arrive() {
    let emulator = emulator_with_topic("bulk", false).await;
    let (publisher, metrics, _) = publisher(emulator.host_port(), |_| {});
    // 2,500 messages of 4 kB: beyond 1,000 messages and 10 MB in all.
    let payload = "x".repeat(4_000);
    for n in 0..2_500 {
        let msg = OutgoingMessage::new(TAG, Record::new(topic("bulk"), format!("{n}:{payload}")));
        publisher.enqueue(msg).unwrap();
    }
    wait_until_drained(&publisher).await;
    assert_eq!(count(&metrics.published), 2_500);
    let got = pull(&emulator, "bulk", 2_500).await;
    let distinct: BTreeSet<String> = got
        .iter()
        .map(|m| m.text().split(':').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(distinct.len(), 2_500);
    publisher.shutdown().await;
}

#[tokio::test]
async fn many_ordering_keys_keep_their_order_and_do_not_pile_up_client_tasks() {
    let emulator = emulator_with_topic("sessions", true).await;
    let (publisher, _, _) = publisher(emulator.host_port(), |c| {
        c.ordering_keys_per_client = 50;
    });
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = tasks();
    // 1,000 keys (say, client ids), two messages each, the second after all firsts.
    for n in 0..2 {
        for client in 0..1_000 {
            let msg = OutgoingMessage::new(
                TAG,
                Record::new(topic("sessions"), format!("c{client}/{n}"))
                    .with_ordering_key(format!("c{client}")),
            );
            publisher.enqueue(msg).unwrap();
        }
    }
    let got = pull(&emulator, "sessions", 2_000).await;
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &got {
        seen.entry(m.ordering_key.clone().unwrap_or_default())
            .or_default()
            .push(m.text());
    }
    assert_eq!(seen.len(), 1_000);
    for (key, texts) in &seen {
        assert_eq!(
            texts,
            &[format!("{key}/0"), format!("{key}/1")],
            "order of {key}"
        );
    }
    wait_until_drained(&publisher).await;
    // The client keeps a task per key it has seen; retired client publishers end theirs.
    wait_for(DELIVERY, || async {
        match tasks().saturating_sub(before) {
            n if n < 300 => Ok(()),
            n => Err(format!("{n} more tasks alive than before publishing")),
        }
    })
    .await
    .unwrap();
    publisher.shutdown().await;
}

/// A durable publisher (disk buffer in `dir`, lanes publishing to the emulator at
/// `host_port`) and its metrics in a registry.
fn durable_publisher(
    dir: &std::path::Path,
    host_port: String,
    batching: BatchSettings,
) -> (DurablePublisher, Registry) {
    hermes_runtime::install_crypto_provider();
    let mut registry = Registry::default();
    let buffer = Buffer::open_with_metrics(
        BufferConfig::new(dir.join("buffer")),
        BufferMetrics::register(&mut registry),
    )
    .unwrap();
    let mut pubsub = PubSubConfig::emulator(host_port);
    pubsub.batching = batching;
    let config = DurableConfig::new(pubsub, dir.join("dead-letter"));
    let metrics = PublishMetrics::register(&mut registry);
    (DurablePublisher::start(buffer, config, metrics), registry)
}

#[tokio::test]
async fn durable_lanes_send_at_most_1000_messages_per_request_and_count_each_request() {
    let emulator = emulator_with_topic("requests", false).await;
    let dir = tempfile::tempdir().unwrap();
    let (publisher, registry) =
        durable_publisher(dir.path(), emulator.host_port(), BatchSettings::default());
    let messages: Vec<OutgoingMessage> = (0..2_500).map(|n| message("requests", n)).collect();
    let accepted = publisher.accept(messages).await.unwrap();
    assert_eq!(accepted.queued, 2_500);
    wait_until_drained(&publisher).await;

    let requests = sample(&registry, "hermes_publish_request_messages_count");
    let sent = sample(&registry, "hermes_publish_request_messages_sum");
    assert_eq!(sent, 2_500.0, "every message went out in a counted request");
    assert!(
        requests >= 3.0,
        "2,500 messages need at least three requests, counted {requests}"
    );
    assert_eq!(
        sample(
            &registry,
            "hermes_publish_request_messages_bucket{le=\"1024.0\"}"
        ),
        requests,
        "no request above 1,024 messages"
    );
    assert!(
        sent / requests >= 100.0,
        "a backlog fills requests: {sent} messages in {requests} requests"
    );
    let got = pull(&emulator, "requests", 2_500).await;
    let distinct: BTreeSet<String> = got.iter().map(ReceivedMessage::text).collect();
    assert_eq!(distinct.len(), 2_500);
    publisher.shutdown().await;
}

#[tokio::test]
async fn durable_lanes_cut_requests_at_the_byte_limit() {
    let emulator = emulator_with_topic("large", false).await;
    let dir = tempfile::tempdir().unwrap();
    let limits = BatchSettings {
        max_bytes: 100_000,
        ..BatchSettings::default()
    };
    let (publisher, registry) = durable_publisher(dir.path(), emulator.host_port(), limits);
    // 50 messages of 10,000 bytes of data (plus a 4-byte attribute): 9 fit in 100,000
    // bytes with the topic name, the 10th would not.
    let payload = "x".repeat(9_990);
    let messages: Vec<OutgoingMessage> = (0..50)
        .map(|n| {
            OutgoingMessage::new(
                TAG,
                Record::new(topic("large"), format!("{n:09}:{payload}")).with_attribute("n", "1"),
            )
        })
        .collect();
    publisher.accept(messages).await.unwrap();
    wait_until_drained(&publisher).await;

    let requests = sample(&registry, "hermes_publish_request_messages_count");
    let bytes = sample(&registry, "hermes_publish_request_size_bytes_sum");
    assert_eq!(
        sample(&registry, "hermes_publish_request_messages_sum"),
        50.0
    );
    assert!(
        requests >= 6.0,
        "50 messages of 10 kB need six requests of 100 kB, counted {requests}"
    );
    assert!(
        bytes <= requests * 100_000.0,
        "{bytes} bytes in {requests} requests"
    );
    let got = pull(&emulator, "large", 50).await;
    let distinct: BTreeSet<String> = got.iter().map(ReceivedMessage::text).collect();
    assert_eq!(distinct.len(), 50);
    publisher.shutdown().await;
}

/// Batching whose busy-topic wait (a second) would show in any light-load message that
/// waited for it.
fn long_max_linger() -> BatchSettings {
    BatchSettings {
        max_linger: Duration::from_secs(1),
        ..BatchSettings::default()
    }
}

#[tokio::test]
async fn at_light_load_each_message_is_published_within_the_linger_not_the_max_linger() {
    let emulator = emulator_with_topic("sparse", false).await;
    let dir = tempfile::tempdir().unwrap();
    let batching = long_max_linger();
    let (publisher, registry) = durable_publisher(dir.path(), emulator.host_port(), batching);
    // The first publish also waits for the connection: not a light-load delay.
    publisher.accept(vec![message("sparse", 0)]).await.unwrap();
    wait_until_drained(&publisher).await;
    let slack = Duration::from_millis(500);
    for n in 1..=5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let accepted = Instant::now();
        publisher.accept(vec![message("sparse", n)]).await.unwrap();
        wait_until_drained(&publisher).await;
        let took = accepted.elapsed();
        assert!(
            took < batching.max_delay + slack,
            "message {n} published {took:?} after it was accepted (linger {:?}, max linger {:?})",
            batching.max_delay,
            batching.max_linger
        );
    }
    let waits = sample(&registry, "hermes_publish_batch_wait_seconds_count");
    assert_eq!(waits, 6.0, "one wait per message");
    assert_eq!(
        sample(
            &registry,
            "hermes_publish_batch_wait_seconds_bucket{le=\"0.1\"}"
        ),
        waits,
        "no message waited near the max linger"
    );
    assert_eq!(pull(&emulator, "sparse", 6).await.len(), 6);
    publisher.shutdown().await;
}

#[tokio::test]
async fn a_busy_topic_is_published_in_requests_of_at_least_100_messages() {
    let emulator = emulator_with_topic("burst", false).await;
    let dir = tempfile::tempdir().unwrap();
    let (publisher, registry) =
        durable_publisher(dir.path(), emulator.host_port(), BatchSettings::default());
    // 2,000 messages as 200 hits of 10, one every 2 ms (at most 5,000 a second): a busy
    // topic, not a backlog read at once. A 10 ms linger alone would send requests of
    // about 50.
    let mut every = tokio::time::interval(Duration::from_millis(2));
    for hit in 0..200 {
        every.tick().await;
        let messages = (0..10).map(|i| message("burst", hit * 10 + i)).collect();
        assert_eq!(publisher.accept(messages).await.unwrap().queued, 10);
    }
    wait_until_drained(&publisher).await;

    let requests = sample(&registry, "hermes_publish_request_messages_count");
    let sent = sample(&registry, "hermes_publish_request_messages_sum");
    assert_eq!(sent, 2_000.0, "every message went out in a counted request");
    assert!(
        sent / requests >= 100.0,
        "{sent} messages in {requests} requests"
    );
    assert_eq!(
        sample(
            &registry,
            "hermes_publish_request_messages_bucket{le=\"1024.0\"}"
        ),
        requests,
        "no request above 1,000 messages"
    );
    let got = pull(&emulator, "burst", 2_000).await;
    let distinct: BTreeSet<String> = got.iter().map(ReceivedMessage::text).collect();
    assert_eq!(distinct.len(), 2_000);
    publisher.shutdown().await;
}
