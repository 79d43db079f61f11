//! Delivery under faults, with real processes: the `hermes-gateway` binary, Google's
//! Pub/Sub emulator, hits over HTTP, messages read back through subscriptions. Every hit
//! answered 2xx must arrive (at-least-once: counted by distinct `hermes_event_id`),
//! whether the gateway is killed, Pub/Sub freezes, a topic is missing, or the gateway is
//! stopped with SIGTERM as Kubernetes stops a pod.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::low_stock::LOW_STOCK_HIT;
use hermes_tests::product::examples_dir;
use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage};
use hermes_tests::{free_port, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PROJECT: &str = "hermes-local";
/// The topic no one created, and the Tag that publishes to it.
const MISSING: &str = "does-not-exist";
const FAILING_TAG: &str = "low-stock-audit";

fn topic(name: &str) -> String {
    format!("projects/{PROJECT}/topics/{name}")
}

fn subscription(name: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{name}-faults")
}

async fn emulator_with(topics: &[&str]) -> PubSubEmulator {
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    emulator
        .create_topics_with_subscriptions(PROJECT, topics, "faults")
        .await
        .expect("topics and subscriptions created");
    emulator
}

/// A gateway on `manifests`, buffering in `buffer`, publishing to `pubsub` (`host:port`),
/// trying failing topics again every 2 s, with `flags` besides.
async fn gateway(manifests: &Path, buffer: &Path, pubsub: &str, flags: &[&str]) -> GatewayProcess {
    GatewayProcess::builder()
        .manifests(manifests)
        .buffer_dir(buffer)
        .pubsub(pubsub)
        .args(["--dead-letter-probe-seconds", "2"])
        .args(flags)
        .start()
        .await
        .expect("gateway becomes ready")
}

/// Sends `n` distinct LowStock hits (`first`, `first + 1`, … as `ep.seq`: equal hits
/// share their event id), 16 at a time; returns how many were answered 2xx and the
/// statuses of the others.
async fn send_hits(base: &str, first: usize, n: usize) -> (usize, Vec<u16>) {
    use futures::StreamExt;
    let http = reqwest::Client::new();
    let statuses: Vec<u16> = futures::stream::iter(first..first + n)
        .map(|seq| {
            let http = http.clone();
            let url = format!("{base}{LOW_STOCK_HIT}&ep.seq={seq}");
            async move {
                http.get(&url)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ok = statuses.iter().filter(|s| (200..300).contains(*s)).count();
    let others = statuses
        .into_iter()
        .filter(|s| !(200..300).contains(s))
        .collect();
    (ok, others)
}

/// Messages read from `name`'s subscription, by event id, until `n` distinct ones arrived
/// or `deadline`.
async fn messages_by_event_id(
    emulator: &PubSubEmulator,
    name: &str,
    n: usize,
    deadline: Duration,
) -> BTreeMap<String, ReceivedMessage> {
    let until = tokio::time::Instant::now() + deadline;
    let mut messages = BTreeMap::new();
    while messages.len() < n && tokio::time::Instant::now() < until {
        for message in emulator
            .pull(&subscription(name), 1000, Duration::from_millis(500))
            .await
            .unwrap()
        {
            messages.insert(message.attributes["hermes_event_id"].clone(), message);
        }
    }
    messages
}

/// Distinct event ids read from `name`'s subscription until `n` arrived or `deadline`.
async fn event_ids(
    emulator: &PubSubEmulator,
    name: &str,
    n: usize,
    deadline: Duration,
) -> BTreeSet<String> {
    messages_by_event_id(emulator, name, n, deadline)
        .await
        .into_keys()
        .collect()
}

/// A gateway (with `flags`) buffering in `buffer` and publishing where nothing listens
/// (every publish fails as unavailable), after it accepted `hits` hits.
async fn accepting_while_pubsub_is_unreachable(
    buffer: &Path,
    flags: &[&str],
    hits: usize,
) -> GatewayProcess {
    let nowhere = format!("127.0.0.1:{}", free_port().unwrap());
    let gateway = gateway(&examples_dir(), buffer, &nowhere, flags).await;
    let (accepted, refused) = send_hits(&gateway.url(), 0, hits).await;
    assert_eq!((accepted, refused), (hits, vec![]), "every hit is kept");
    gateway
}

/// Starts a gateway on `buffer` (what a stopped one left there) with a reachable Pub/Sub:
/// the `hits` hits accepted before must all arrive.
async fn all_arrive_after_a_restart(buffer: &Path, hits: usize) {
    let emulator = emulator_with(&["low-stock"]).await;
    let _second = gateway(&examples_dir(), buffer, &emulator.host_port(), &[]).await;
    let ids = event_ids(&emulator, "low-stock", hits, Duration::from_secs(60)).await;
    assert_eq!(
        ids.len(),
        hits,
        "every accepted hit arrives after the restart"
    );
}

#[tokio::test]
async fn hits_accepted_while_pubsub_is_unreachable_arrive_after_the_gateway_is_killed_and_restarted()
 {
    let buffer = tempfile::tempdir().unwrap();
    let mut first = accepting_while_pubsub_is_unreachable(buffer.path(), &[], 300).await;
    first.process.kill().await; // SIGKILL: no flush, no shutdown
    all_arrive_after_a_restart(buffer.path(), 300).await;
}

#[tokio::test]
async fn hits_sent_while_the_emulator_is_frozen_all_arrive_after_it_resumes() {
    let emulator = emulator_with(&["low-stock"]).await;
    let buffer = tempfile::tempdir().unwrap();
    let gateway = gateway(&examples_dir(), buffer.path(), &emulator.host_port(), &[]).await;
    let base = gateway.url();
    let (before, _) = send_hits(&base, 0, 100).await;
    emulator.signal("STOP").unwrap();
    let (during, refused) = send_hits(&base, 100, 400).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    emulator.signal("CONT").unwrap();
    assert_eq!(
        refused,
        Vec::<u16>::new(),
        "a frozen Pub/Sub refuses no hit"
    );
    let total = before + during;
    assert_eq!(total, 500);
    let ids = event_ids(&emulator, "low-stock", total, Duration::from_secs(90)).await;
    assert_eq!(
        ids.len(),
        total,
        "every hit's message arrives once Pub/Sub is back"
    );
}

/// The event ids in the dead-letter file of the missing topic (in `buffer`'s default
/// dead-letter folder), read until `n` are there or a minute passed; each letter must say
/// `TopicNotFound` and name the failing tag.
async fn dead_letters_in_file(buffer: &Path, n: usize) -> BTreeSet<String> {
    let file = buffer
        .join("dead-letter")
        .join(format!("{}.jsonl", topic(MISSING).replace('/', "_")));
    let mut dead = BTreeSet::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while dead.len() < n && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        dead = text
            .lines()
            .map(|line| {
                let letter: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(letter["reason"], "TopicNotFound");
                assert_eq!(letter["attributes"]["hermes_tag"], FAILING_TAG);
                letter["attributes"]["hermes_event_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    }
    dead
}

/// The gateway's `/metrics` page.
async fn metrics(gateway: &GatewayProcess) -> String {
    reqwest::get(format!("{}/metrics", gateway.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `examples/` plus a second Tag on the LowStock trigger publishing to a missing topic.
fn examples_with_a_missing_topic(dir: &Path) {
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.join("missing-topic.yaml"),
        format!(
            "apiVersion: hermes.io/v1alpha1\nkind: Tag\nmetadata:\n  name: {FAILING_TAG}\n\
             spec:\n  firingTriggers: [low-stock-signal]\n  topic: {}\n  payload:\n    fields:\n      \
             - {{key: sku, value: {{eventData: sku}}}}\n",
            topic(MISSING)
        ),
    )
    .unwrap();
}

/// A gateway serving `examples/` plus the Tag on the missing topic, started with `flags`,
/// after `hits` LowStock hits: each accepted, each healthy message arrived.
struct MissingTopicRun {
    emulator: PubSubEmulator,
    gateway: GatewayProcess,
    buffer: tempfile::TempDir,
    _manifests: tempfile::TempDir,
    /// The event ids of the hits (as the healthy tag published them).
    ids: BTreeSet<String>,
}

impl MissingTopicRun {
    /// `topics`: the topics (with subscriptions) the emulator has.
    async fn start(topics: &[&str], flags: &[&str], hits: usize) -> MissingTopicRun {
        let emulator = emulator_with(topics).await;
        let manifests = tempfile::tempdir().unwrap();
        examples_with_a_missing_topic(manifests.path());
        let buffer = tempfile::tempdir().unwrap();
        let pubsub = emulator.host_port();
        let gateway = gateway(manifests.path(), buffer.path(), &pubsub, flags).await;
        let (accepted, refused) = send_hits(&gateway.url(), 0, hits).await;
        assert_eq!(
            refused,
            Vec::<u16>::new(),
            "no hit is refused for the failing tag"
        );
        assert_eq!(accepted, hits);
        let ids = event_ids(&emulator, "low-stock", accepted, Duration::from_secs(90)).await;
        assert_eq!(ids.len(), accepted, "the healthy tag's messages all arrive");
        MissingTopicRun {
            emulator,
            gateway,
            buffer,
            _manifests: manifests,
            ids,
        }
    }
}

#[tokio::test]
async fn a_tag_on_a_missing_topic_is_dead_lettered_while_the_healthy_tag_delivers_everything() {
    let run = MissingTopicRun::start(&["low-stock"], &[], 2000).await;
    let (gateway, ids, accepted) = (&run.gateway, &run.ids, run.ids.len());

    let dead = dead_letters_in_file(run.buffer.path(), accepted).await;
    assert_eq!(
        &dead, ids,
        "every message of the failing tag is dead-lettered"
    );

    let metrics = metrics(gateway).await;
    assert!(
        metrics.contains(&format!(
            "hermes_publish_messages_dead_lettered_total{{tag=\"{FAILING_TAG}\",reason=\"TopicNotFound\"}} {accepted}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("hermes_publish_failing_topics 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn with_a_dead_letter_topic_a_missing_topics_messages_arrive_there_with_their_reason() {
    // A bare name: in the project of each message's own topic.
    let flags = ["--dead-letter-topic", "dead-letters"];
    let run = MissingTopicRun::start(&["low-stock", "dead-letters"], &flags, 300).await;
    let (ids, accepted) = (&run.ids, run.ids.len());
    let deadline = Duration::from_secs(60);
    let dead = messages_by_event_id(&run.emulator, "dead-letters", accepted, deadline).await;
    assert_eq!(
        &dead.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "every message of the failing tag is on the dead-letter topic"
    );
    for letter in dead.values() {
        assert_eq!(
            letter.attributes["hermes_dead_letter_reason"],
            "TopicNotFound"
        );
        assert_eq!(letter.attributes["hermes_original_topic"], topic(MISSING));
        assert_eq!(letter.attributes["hermes_tag"], FAILING_TAG);
        assert_eq!(
            letter.json().unwrap(),
            serde_json::json!({"sku": "BOWL-10"})
        );
    }
    let file = run.buffer.path().join("dead-letter");
    assert!(
        !file.exists(),
        "nothing fell back to the dead-letter file: {:?}",
        std::fs::read_dir(&file).map(|d| d.count())
    );
    let metrics = metrics(&run.gateway).await;
    assert!(
        metrics.contains(&format!(
            "hermes_publish_messages_dead_lettered_total{{tag=\"{FAILING_TAG}\",reason=\"TopicNotFound\"}} {accepted}"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn dead_letters_the_dead_letter_topic_refuses_go_to_the_file_and_are_counted() {
    let missing_too = topic("no-dead-letters");
    let flags = ["--dead-letter-topic", missing_too.as_str()];
    let run = MissingTopicRun::start(&["low-stock"], &flags, 200).await;
    let accepted = run.ids.len();
    let dead = dead_letters_in_file(run.buffer.path(), accepted).await;
    assert_eq!(dead, run.ids, "every dead letter is kept in the file");
    let metrics = metrics(&run.gateway).await;
    assert!(
        metrics.contains(&format!(
            "hermes_publish_dead_letter_topic_failures_total{{tag=\"{FAILING_TAG}\"}} {accepted}"
        )),
        "{metrics}"
    );
}

/// Waits until the gateway's `/readyz` answers 503; its body.
async fn unready(gateway: &GatewayProcess, within: Duration) -> String {
    let readyz = format!("{}/readyz", gateway.url());
    wait_for(within, || async {
        let response = reqwest::get(&readyz).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status == 503 {
            Ok(body)
        } else {
            Err(format!("/readyz {status}: {body}"))
        }
    })
    .await
    .expect("/readyz answers 503")
}

#[tokio::test]
async fn on_sigterm_the_gateway_turns_unready_serves_through_the_delay_and_publishes_what_it_accepted()
 {
    let emulator = emulator_with(&["low-stock"]).await;
    let buffer = tempfile::tempdir().unwrap();
    let delay = Duration::from_secs(3);
    let flags = ["--shutdown-delay", "3"];
    let mut gateway = gateway(
        &examples_dir(),
        buffer.path(),
        &emulator.host_port(),
        &flags,
    )
    .await;
    let (before, _) = send_hits(&gateway.url(), 0, 50).await;
    assert_eq!(before, 50);

    // A hit whose body is still on its way when the signal comes.
    let body = b"en=LowStock&ep.sku=IN-FLIGHT";
    let (first, rest) = body.split_at(10);
    let mut in_flight = TcpStream::connect(gateway.address()).await.unwrap();
    let head = format!(
        "POST /g/collect?v=2&tid=G-0000&cid=1.2 HTTP/1.1\r\nHost: t\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(first).await.unwrap();

    gateway.process.sigterm();
    let signalled = tokio::time::Instant::now();
    let readyz = unready(&gateway, Duration::from_secs(2)).await;
    assert!(readyz.contains("\"draining\":true"), "{readyz}");
    let (during, refused) = send_hits(&gateway.url(), 50, 50).await;
    assert_eq!(
        (during, refused),
        (50, vec![]),
        "hits are served during the delay"
    );
    in_flight.write_all(rest).await.unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 204"),
        "the request in flight is served: {answer}"
    );

    let status = gateway
        .process
        .exited(Duration::from_secs(40))
        .await
        .unwrap();
    assert!(status.success(), "exit: {status:?}");
    assert!(
        signalled.elapsed() >= delay,
        "served for the whole delay, exited after {:?}",
        signalled.elapsed()
    );
    let accepted = before + during + 1;
    let ids = event_ids(&emulator, "low-stock", accepted, Duration::from_secs(30)).await;
    assert_eq!(
        ids.len(),
        accepted,
        "every accepted hit was published before the exit"
    );
}

#[tokio::test]
async fn hits_pubsub_could_not_take_before_sigterm_stay_in_the_buffer_and_arrive_after_the_restart()
{
    let buffer = tempfile::tempdir().unwrap();
    let flags = ["--shutdown-delay", "1", "--shutdown-flush-timeout", "1"];
    let mut first = accepting_while_pubsub_is_unreachable(buffer.path(), &flags, 200).await;
    first.process.sigterm();
    let status = first.process.exited(Duration::from_secs(30)).await.unwrap();
    assert!(status.success(), "exit: {status:?}");
    all_arrive_after_a_restart(buffer.path(), 200).await;
}
