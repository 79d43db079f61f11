//! What the durable buffer costs on the hit path: hits accepted per second when a hit's
//! message goes to the disk buffer (`DurablePublisher`, fsync every second) beside the
//! in-memory `RecordingPublisher`, same run, 64 concurrent hits as the server would run
//! them. Pub/Sub is unreachable on purpose: this measures accepting, not publishing.
//!
//! `cargo bench -p hermes-gateway --bench accept -- --quick`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hermes_buffer::{Buffer, BufferConfig, BufferMetrics};
use hermes_gateway::publish::{
    DurableConfig, DurablePublisher, OutgoingMessage, PubSubConfig, PublishMetrics, Publisher,
    Record, RecordingPublisher,
};
use prometheus_client::registry::Registry;

const HITS: u64 = 2048;
const CONCURRENCY: u64 = 64;

fn message(n: u64) -> OutgoingMessage {
    let record = Record::new(
        "projects/hermes-local/topics/low-stock",
        format!(
            r#"{{"transaction_id":"T-{n}","item_id":"BOWL-10","item_name":"Bowl","price":12.5,"quantity":2,"currency":"EUR","threshold":"5","source":"purchase"}}"#
        ),
    )
    .with_attribute("hermes_event_id", format!("0b7c6f3e-8f1a-4c2d-9e5b-{n:012}"))
    .with_attribute("hermes_tag", "low-stock-items")
    .with_attribute("hermes_event_name", "purchase")
    .with_ordering_key("1234567890.1732880000");
    OutgoingMessage::new("low-stock-items", record)
}

/// Seconds for `HITS` hits, `CONCURRENCY` at a time, each accepting one message.
async fn accept_all(publisher: Arc<dyn Publisher>) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let publisher = Arc::clone(&publisher);
        tasks.spawn(async move {
            for i in 0..HITS / CONCURRENCY {
                let accepted = publisher.accept(vec![message(worker * 1000 + i)]).await;
                assert!(accepted.is_ok_and(|a| a.queued == 1), "hit accepted");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.is_ok(), "accepting task ran");
    }
    started.elapsed()
}

fn accept(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let durable: Arc<dyn Publisher> = runtime.block_on(async {
        let mut config = BufferConfig::new(dir.path().join("buffer"));
        config.max_bytes_per_topic = 16 * 1024 * 1024 * 1024;
        let buffer =
            Buffer::open_with_metrics(config, BufferMetrics::register(&mut Registry::default()))
                .expect("buffer opens");
        // Nothing listens on port 9: lanes back off, nothing is published.
        let config =
            DurableConfig::new(PubSubConfig::emulator("127.0.0.1:9"), dir.path().join("dl"));
        Arc::new(DurablePublisher::start(
            buffer,
            config,
            PublishMetrics::default(),
        ))
    });
    let mut group = c.benchmark_group("accept");
    group.throughput(Throughput::Elements(HITS));
    group.bench_function("in_memory", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += runtime.block_on(accept_all(Arc::new(RecordingPublisher::new())));
            }
            total
        })
    });
    group.bench_function("durable_buffer", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += runtime.block_on(accept_all(Arc::clone(&durable)));
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, accept);
criterion_main!(benches);
