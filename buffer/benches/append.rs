//! What the buffer costs on the hit path: appends of realistic records (~500 B: a JSON
//! payload and the `hermes_*` attributes) from 64 concurrent callers, as hit handlers
//! call it, under each fsync policy, beside the in-memory queue push the gateway does
//! today (`baseline/vec_push`: the same callers pushing the same records into a shared
//! `Vec`), measured in the same run so results read as ratios on any machine.
//!
//! Only appending is timed; between iterations a lane reads and acknowledges what was
//! appended, so segments are reclaimed and the disk use stays flat.
//!
//! `cargo bench -p hermes-buffer --bench append` (`-- --quick` for a short run)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hermes_buffer::{Buffer, BufferConfig, BufferMetrics, FsyncPolicy, Record, TopicReader};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const TOPIC: &str = "projects/bench/topics/purchases";
/// Concurrent callers (hit handlers).
const CALLERS: usize = 64;
/// Records appended per measured iteration.
const RECORDS: usize = 2048;

fn record(i: usize) -> Record {
    let payload = format!(
        r#"{{"transaction_id":"T-{i:08}","value":42.5,"currency":"EUR","client_id":"1234567890.1732880000","session_id":"1732889000","items":[{{"item_id":"BOWL-10","item_name":"Bowl","price":12.5,"quantity":2}},{{"item_id":"SPOON-3","item_name":"Spoon","price":17.5,"quantity":1,"promotion_id":"SUMMER24"}}],"page_location":"https://shop.example/checkout"}}"#
    );
    Record::new(TOPIC, payload)
        .with_attribute(
            "hermes_event_id",
            format!("8d6c2a4e-0f3b-5c1d-9e7a-{i:012}"),
        )
        .with_attribute("hermes_tag", "purchases")
        .with_attribute("hermes_event_name", "purchase")
}

fn runtime() -> Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("tokio runtime: {error}"),
    }
}

/// `RECORDS` records pushed by `CALLERS` tasks through `push`.
async fn from_callers<F, Fut>(records: &Arc<Vec<Record>>, push: F)
where
    F: Fn(Record) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut callers = JoinSet::new();
    for caller in 0..CALLERS {
        let records = Arc::clone(records);
        let push = push.clone();
        callers.spawn(async move {
            for record in records.iter().skip(caller).step_by(CALLERS) {
                push(record.clone()).await;
            }
        });
    }
    while callers.join_next().await.is_some() {}
}

/// Reads and acknowledges `count` records.
async fn drain(reader: &mut TopicReader, count: usize) {
    let acker = reader.acker();
    let mut read = 0;
    while read < count {
        match reader.next_batch(count - read).await {
            Ok(Some(batch)) => {
                read += batch.len();
                batch.into_iter().for_each(|d| acker.ack(d.id));
            }
            other => panic!("drain: {other:?}"),
        }
    }
}

fn append(c: &mut Criterion) {
    let runtime = runtime();
    let records = Arc::new((0..RECORDS).map(record).collect::<Vec<_>>());
    let mut group = c.benchmark_group("append_500B");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("baseline/vec_push", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let queue = Arc::new(Mutex::new(Vec::with_capacity(RECORDS)));
                let start = Instant::now();
                runtime.block_on(from_callers(&records, move |record| {
                    let queue = Arc::clone(&queue);
                    async move {
                        if let Ok(mut queue) = queue.lock() {
                            queue.push(record);
                        }
                    }
                }));
                total += start.elapsed();
            }
            total
        })
    });

    for (name, fsync) in [
        ("never", FsyncPolicy::Never),
        ("interval_1s", FsyncPolicy::Interval(Duration::from_secs(1))),
        ("always", FsyncPolicy::Always),
    ] {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("temporary directory: {error}"),
        };
        let mut config = BufferConfig::new(dir.path());
        config.fsync = fsync;
        let buffer = match Buffer::open_with_metrics(config, BufferMetrics::default()) {
            Ok(buffer) => buffer,
            Err(error) => panic!("buffer: {error}"),
        };
        let mut reader = match buffer.reader(TOPIC) {
            Ok(reader) => reader,
            Err(error) => panic!("reader: {error}"),
        };
        group.bench_function(format!("buffer/fsync_{name}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let buffer = buffer.clone();
                    let start = Instant::now();
                    runtime.block_on(from_callers(&records, move |record| {
                        let buffer = buffer.clone();
                        async move {
                            if let Err(error) = buffer.append(vec![record]).await {
                                panic!("append: {error}");
                            }
                        }
                    }));
                    total += start.elapsed();
                    runtime.block_on(drain(&mut reader, RECORDS));
                }
                total
            })
        });
        runtime.block_on(buffer.close());
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
