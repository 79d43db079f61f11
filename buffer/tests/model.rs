//! Model-based property test: any sequence of appends, reads, acknowledgements (in any
//! order) and reopenings behaves like one in-memory queue per topic, where a reopening
//! hands out again every record not acknowledged, in append order. Run with the default
//! memory tail (the reader takes what this process appended from memory), none (it reads
//! everything from the files) and one smaller than a segment (it switches all the time).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use hermes_buffer::{
    Buffer, BufferConfig, BufferMetrics, FsyncPolicy, Record, RecordId, TopicReader,
};
use proptest::collection::vec;
use proptest::prelude::*;

const TOPICS: [&str; 2] = ["projects/p/topics/a", "projects/p/topics/b"];

#[derive(Debug, Clone)]
enum Op {
    /// One append call with `count` records for `topic`.
    Append {
        topic: usize,
        count: usize,
    },
    Read {
        topic: usize,
        max: usize,
    },
    /// Acknowledge one of the handed-out records, chosen by `pick`.
    Ack {
        topic: usize,
        pick: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 1..4usize).prop_map(|(topic, count)| Op::Append { topic, count }),
        3 => (0..2usize, 1..8usize).prop_map(|(topic, max)| Op::Read { topic, max }),
        4 => (0..2usize, any::<usize>()).prop_map(|(topic, pick)| Op::Ack { topic, pick }),
        1 => Just(Op::Reopen),
    ]
}

fn open(dir: &Path, tail: Option<u64>) -> Buffer {
    let mut config = BufferConfig::new(dir);
    if let Some(tail) = tail {
        config.memory_tail_bytes_per_topic = tail;
    }
    // A few records per segment: rollover and reclaiming happen all the time.
    config.segment_bytes = 256;
    config.max_record_bytes = 256;
    config.fsync = FsyncPolicy::Never;
    Buffer::open_with_metrics(config, BufferMetrics::default()).unwrap()
}

/// The model of one topic: unacknowledged ids in append order, and whether each was
/// handed out since the last reopening (those form a prefix).
#[derive(Debug, Default)]
struct Model {
    pending: Vec<(u64, bool)>,
}

struct Real {
    buffer: Buffer,
    readers: Vec<TopicReader>,
    handed: Vec<HashMap<u64, RecordId>>,
}

impl Real {
    fn open(dir: &Path, tail: Option<u64>) -> Self {
        let buffer = open(dir, tail);
        let readers = TOPICS.iter().map(|t| buffer.reader(t).unwrap()).collect();
        Real {
            buffer,
            readers,
            handed: vec![HashMap::new(), HashMap::new()],
        }
    }
}

async fn run(ops: Vec<Op>, tail: Option<u64>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut models = [Model::default(), Model::default()];
    let mut real = Real::open(dir.path(), tail);
    let mut next_id = 0u64;
    for op in ops {
        match op {
            Op::Append { topic, count } => {
                let records = (0..count)
                    .map(|i| Record::new(TOPICS[topic], (next_id + i as u64).to_string()))
                    .collect();
                real.buffer.append(records).await.unwrap();
                for _ in 0..count {
                    models[topic].pending.push((next_id, false));
                    next_id += 1;
                }
            }
            Op::Read { topic, max } => {
                let expected: Vec<u64> = models[topic]
                    .pending
                    .iter()
                    .filter(|(_, handed)| !handed)
                    .take(max)
                    .map(|(id, _)| *id)
                    .collect();
                let reader = &mut real.readers[topic];
                // Records that are there must come; when none are, nothing may come.
                let wait = if expected.is_empty() {
                    Duration::from_millis(20)
                } else {
                    Duration::from_secs(10)
                };
                let next = tokio::time::timeout(wait, reader.next_batch(max)).await;
                let got: Vec<(u64, RecordId)> = match next {
                    Err(_nothing_within_the_timeout) => Vec::new(),
                    Ok(batch) => batch
                        .unwrap()
                        .unwrap()
                        .into_iter()
                        .map(|d| {
                            let id = String::from_utf8(d.record.data().to_vec()).unwrap();
                            (id.parse().unwrap(), d.id)
                        })
                        .collect(),
                };
                let got_ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
                prop_assert_eq!(&got_ids, &expected, "read {} of topic {}", max, topic);
                for (id, record_id) in got {
                    real.handed[topic].insert(id, record_id);
                }
                for entry in &mut models[topic].pending {
                    if expected.contains(&entry.0) {
                        entry.1 = true;
                    }
                }
            }
            Op::Ack { topic, pick } => {
                let handed: Vec<usize> = (0..models[topic].pending.len())
                    .filter(|&i| models[topic].pending[i].1)
                    .collect();
                if handed.is_empty() {
                    continue;
                }
                let (id, _) = models[topic].pending.remove(handed[pick % handed.len()]);
                let record_id = real.handed[topic].remove(&id).unwrap();
                real.readers[topic].acker().ack(record_id);
            }
            Op::Reopen => {
                real.buffer.close().await;
                drop(real);
                real = Real::open(dir.path(), tail);
                for (topic, model) in models.iter_mut().enumerate() {
                    for entry in &mut model.pending {
                        entry.1 = false;
                    }
                    prop_assert_eq!(
                        real.buffer.pending(TOPICS[topic]),
                        model.pending.len() as u64
                    );
                }
            }
        }
    }
    Ok(())
}

fn check(ops: Vec<Op>, tail: Option<u64>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(ops, tail))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_buffer_behaves_like_one_queue_per_topic_across_reopens(ops in vec(op(), 1..40)) {
        check(ops, None)?;
    }

    #[test]
    fn the_same_holds_reading_everything_from_the_files(ops in vec(op(), 1..40)) {
        check(ops, Some(0))?;
    }

    #[test]
    fn the_same_holds_with_a_memory_tail_smaller_than_a_segment(ops in vec(op(), 1..40)) {
        // About two records: the reader falls behind it and catches up all the time.
        check(ops, Some(60))?;
    }
}
