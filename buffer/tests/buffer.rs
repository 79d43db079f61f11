//! The buffer through its public API: what is appended is read back in order, what is
//! acknowledged is reclaimed, bounds refuse, and reopening replays exactly what was not
//! acknowledged, whatever a crash left at the tail or damaged in the middle.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hermes_buffer::{
    AppendError, Buffer, BufferConfig, BufferMetrics, Delivery, FsyncPolicy, OpenError,
    ReaderError, Record, TopicReader,
};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

const A: &str = "projects/p/topics/a";
const B: &str = "projects/p/topics/b";

fn config(dir: &Path) -> BufferConfig {
    let mut config = BufferConfig::new(dir);
    config.segment_bytes = 1024;
    config.max_bytes_per_topic = 64 * 1024;
    config.max_record_bytes = 1024;
    config.fsync = FsyncPolicy::Never;
    config
}

fn open(config: BufferConfig) -> Buffer {
    Buffer::open_with_metrics(config, BufferMetrics::default()).unwrap()
}

fn record(topic: &str, i: usize) -> Record {
    Record::new(topic, format!("payload-{i:04}"))
        .with_attribute("hermes_event_id", format!("e-{i}"))
}

fn payload(delivery: &Delivery) -> String {
    String::from_utf8(delivery.record.data().to_vec()).unwrap()
}

fn payloads(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(payload).collect()
}

fn expected(range: impl IntoIterator<Item = usize>) -> Vec<String> {
    range
        .into_iter()
        .map(|i| format!("payload-{i:04}"))
        .collect()
}

async fn append_each(buffer: &Buffer, topic: &str, range: impl IntoIterator<Item = usize>) {
    for i in range {
        buffer.append(vec![record(topic, i)]).await.unwrap();
    }
}

/// Reads until `count` records came (failing after a few seconds).
async fn read(reader: &mut TopicReader, count: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    while out.len() < count {
        let batch =
            tokio::time::timeout(Duration::from_secs(5), reader.next_batch(count - out.len()))
                .await
                .expect("records did not come")
                .unwrap()
                .expect("buffer closed");
        out.extend(batch);
    }
    out
}

/// Asserts that nothing more comes for a moment.
async fn assert_nothing_more(reader: &mut TopicReader) {
    let next = tokio::time::timeout(Duration::from_millis(100), reader.next_batch(10)).await;
    match next {
        Err(_elapsed) => {}
        Ok(batch) => panic!(
            "expected nothing, got {:?}",
            batch.map(|b| b.map(|d| payloads(&d)))
        ),
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for topic_dir in fs::read_dir(dir).unwrap() {
        let topic_dir = topic_dir.unwrap().path();
        for file in fs::read_dir(&topic_dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "seg") {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

fn metrics_text(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).unwrap();
    text
}

#[tokio::test]
async fn records_come_back_in_append_order_with_attributes_and_ordering_key() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    append_each(&buffer, A, 0..5).await;
    buffer
        .append(vec![
            record(A, 5).with_ordering_key("client-1"),
            record(B, 6),
        ])
        .await
        .unwrap();
    let deliveries = read(&mut reader, 6).await;
    assert_eq!(payloads(&deliveries), expected(0..6));
    assert_eq!(reader.topic(), A);
    let last = &deliveries[5].record;
    assert_eq!(last.ordering_key(), Some("client-1"));
    assert_eq!(last.attribute("hermes_event_id"), Some("e-5"));
    let sequences: Vec<u64> = deliveries.iter().map(|d| d.id.sequence()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    assert_nothing_more(&mut reader).await;
    assert_eq!(buffer.pending(A), 6);
    assert_eq!(buffer.pending(B), 1);
    assert_eq!(buffer.topics(), [A, B]);
}

#[tokio::test]
async fn a_reader_waiting_at_the_end_wakes_for_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    let waiting = tokio::spawn(async move { read(&mut reader, 1).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    append_each(&buffer, A, 0..1).await;
    assert_eq!(payloads(&waiting.await.unwrap()), expected(0..1));
}

#[tokio::test]
async fn acknowledged_segments_are_deleted_and_their_bytes_released() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    let acker = reader.acker();
    append_each(&buffer, A, 0..100).await;
    let files_before = segment_files(dir.path()).len();
    assert!(files_before > 3, "small segments roll over: {files_before}");
    for delivery in read(&mut reader, 100).await {
        acker.ack(delivery.id);
    }
    // Acknowledgements apply at once (they once went through a writer thread, which this
    // append waited behind); appending goes on after them.
    append_each(&buffer, A, 100..101).await;
    assert_eq!(buffer.pending(A), 1);
    let files_after = segment_files(dir.path()).len();
    assert!(
        files_after <= 2,
        "only the active segment(s) stay: {files_after}"
    );
}

#[tokio::test]
async fn out_of_order_acknowledgements_reclaim_a_segment_only_once_all_its_records_are_acknowledged()
 {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    // Exactly two records per segment.
    config.segment_bytes = 2 * record(A, 0).encoded_len() as u64;
    let buffer = open(config);
    let mut reader = buffer.reader(A).unwrap();
    let acker = reader.acker();
    append_each(&buffer, A, 0..6).await;
    assert_eq!(segment_files(dir.path()).len(), 3);
    let mut deliveries = read(&mut reader, 6).await;
    // Acknowledge record 1 and 3 (one of each of the first two segments), then 2.
    let third = deliveries.remove(3);
    let first = deliveries.remove(1);
    acker.ack(third.id);
    acker.ack(first.id);
    append_each(&buffer, A, 6..7).await; // waits behind the acknowledgements
    assert_eq!(
        segment_files(dir.path()).len(),
        4,
        "no segment is complete yet"
    );
    let second = deliveries.remove(1); // record 2
    acker.ack(second.id);
    append_each(&buffer, A, 7..8).await;
    assert_eq!(segment_files(dir.path()).len(), 3, "segment 2-3 complete");
    assert_eq!(buffer.pending(A), 5);
}

#[tokio::test]
async fn a_full_topic_refuses_the_whole_append_while_other_topics_keep_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::default();
    let mut config = config(dir.path());
    config.max_bytes_per_topic = 4096;
    let buffer = Buffer::open(config, &mut registry).unwrap();
    let mut reader_a = buffer.reader(A).unwrap();
    let mut reader_b = buffer.reader(B).unwrap();
    let mut appended = 0;
    let refusal = loop {
        match buffer.append(vec![record(A, appended)]).await {
            Ok(()) => appended += 1,
            Err(refusal) => break refusal,
        }
        assert!(appended < 1000, "never full");
    };
    assert!(
        matches!(&refusal, AppendError::Full { topics } if topics == &[A]),
        "{refusal:?}"
    );
    // A hit for both topics is refused as a whole: nothing reaches B.
    let both = buffer.append(vec![record(B, 9000), record(A, 9001)]).await;
    assert!(
        matches!(&both, Err(AppendError::Full { topics }) if topics == &[A]),
        "{both:?}"
    );
    assert_nothing_more(&mut reader_b).await;
    buffer.append(vec![record(B, 9002)]).await.unwrap();
    assert_eq!(payloads(&read(&mut reader_b, 1).await), expected([9002]));
    // Acknowledging A's records frees its space.
    let acker = reader_a.acker();
    for delivery in read(&mut reader_a, appended).await {
        acker.ack(delivery.id);
    }
    buffer.append(vec![record(B, 9003)]).await.unwrap(); // behind the acknowledgements
    buffer.append(vec![record(A, 9004)]).await.unwrap();
    let text = metrics_text(&registry);
    assert!(
        text.contains(&format!(
            "hermes_buffer_full_refusals_total{{topic=\"{A}\"}} 2"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_record_larger_than_the_limit_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let big = Record::new(A, vec![b'x'; 2048]);
    let refused = buffer.append(vec![record(A, 0), big]).await;
    assert!(
        matches!(refused, Err(AppendError::RecordTooLarge { ref topic, max: 1024, .. }) if topic == A),
        "{refused:?}"
    );
    assert_eq!(buffer.pending(A), 0);
}

#[tokio::test]
async fn reopening_replays_only_unacknowledged_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buffer = open(config(dir.path()));
        let mut reader = buffer.reader(A).unwrap();
        let acker = reader.acker();
        append_each(&buffer, A, 0..40).await;
        append_each(&buffer, B, 100..103).await;
        let mut deliveries = read(&mut reader, 40).await;
        // Acknowledge the odd ones, newest first.
        while let Some(delivery) = deliveries.pop() {
            let odd = payload(&delivery).ends_with(['1', '3', '5', '7', '9']);
            if odd {
                acker.ack(delivery.id);
            }
        }
        buffer.close().await;
    }
    let buffer = open(config(dir.path()));
    assert_eq!(buffer.topics(), [A, B]);
    assert_eq!(buffer.pending(A), 20);
    let mut reader = buffer.reader(A).unwrap();
    let replayed = read(&mut reader, 20).await;
    assert_eq!(payloads(&replayed), expected((0..40).step_by(2)));
    assert_nothing_more(&mut reader).await;
    let mut reader_b = buffer.reader(B).unwrap();
    assert_eq!(payloads(&read(&mut reader_b, 3).await), expected(100..103));
    // New records continue after the replayed ones.
    append_each(&buffer, A, 40..41).await;
    assert_eq!(payloads(&read(&mut reader, 1).await), expected([40]));
}

#[tokio::test]
async fn a_torn_tail_is_truncated_at_reopen_and_appending_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buffer = open(config(dir.path()));
        append_each(&buffer, A, 0..3).await;
        buffer.close().await;
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let clean_len = fs::metadata(&segment).unwrap().len();
    // Half a record, as a crash in the middle of a write leaves it.
    let mut frame_start = fs::read(&segment).unwrap();
    frame_start.truncate(clean_len as usize);
    let torn: Vec<u8> = frame_start[..20].to_vec();
    let mut bytes = fs::read(&segment).unwrap();
    bytes.extend_from_slice(&torn);
    fs::write(&segment, &bytes).unwrap();

    let mut registry = Registry::default();
    {
        let buffer = Buffer::open(config(dir.path()), &mut registry).unwrap();
        assert_eq!(fs::metadata(&segment).unwrap().len(), clean_len);
        let mut reader = buffer.reader(A).unwrap();
        assert_eq!(payloads(&read(&mut reader, 3).await), expected(0..3));
        append_each(&buffer, A, 3..4).await;
        assert_eq!(payloads(&read(&mut reader, 1).await), expected([3]));
        buffer.close().await;
    }
    let text = metrics_text(&registry);
    assert!(
        text.contains(&format!(
            "hermes_buffer_corrupt_records_total{{topic=\"{A}\"}} 0"
        )),
        "a torn tail is not corruption: {text}"
    );
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    assert_eq!(payloads(&read(&mut reader, 4).await), expected(0..4));
}

#[tokio::test]
async fn a_damaged_record_is_skipped_and_counted_and_the_records_after_it_delivered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buffer = open(config(dir.path()));
        append_each(&buffer, A, 0..3).await;
        buffer.close().await;
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    let frame = record(A, 0).encoded_len();
    bytes[frame + frame - 2] ^= 0x55; // inside the second record's payload
    fs::write(&segment, &bytes).unwrap();

    let mut registry = Registry::default();
    let buffer = Buffer::open(config(dir.path()), &mut registry).unwrap();
    let mut reader = buffer.reader(A).unwrap();
    assert_eq!(payloads(&read(&mut reader, 2).await), expected([0, 2]));
    assert_nothing_more(&mut reader).await;
    let text = metrics_text(&registry);
    assert!(
        text.contains(&format!(
            "hermes_buffer_corrupt_records_total{{topic=\"{A}\"}} 1"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_show_depth_bytes_appends_and_the_oldest_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::default();
    let buffer = Buffer::open(config(dir.path()), &mut registry).unwrap();
    append_each(&buffer, A, 0..3).await;
    // The age gauge is refreshed every second by the sync thread: after 2.1 s the last refresh
    // saw the records at least a second old.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    append_each(&buffer, A, 3..4).await;
    let text = metrics_text(&registry);
    let bytes = 4 * record(A, 0).encoded_len();
    for line in [
        format!("hermes_buffer_records{{topic=\"{A}\"}} 4"),
        format!("hermes_buffer_bytes{{topic=\"{A}\"}} {bytes}"),
        format!("hermes_buffer_appends_total{{topic=\"{A}\"}} 4"),
    ] {
        assert!(text.contains(&line), "{line} missing in {text}");
    }
    let age = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "hermes_buffer_oldest_record_age_seconds{{topic=\"{A}\"}} "
            ))
        })
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no age in {text}"));
    assert!((1.0..10.0).contains(&age), "age {age}");
}

#[tokio::test]
async fn one_reader_per_topic_and_the_next_goes_on_where_the_previous_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    append_each(&buffer, A, 0..4).await;
    let mut reader = buffer.reader(A).unwrap();
    assert_eq!(
        buffer.reader(A).unwrap_err(),
        ReaderError::AlreadyTaken(A.to_owned())
    );
    assert_eq!(payloads(&read(&mut reader, 2).await), expected(0..2));
    drop(reader);
    let mut reader = buffer.reader(A).unwrap();
    assert_eq!(payloads(&read(&mut reader, 2).await), expected(2..4));
}

#[tokio::test]
async fn after_close_appends_are_refused_and_readers_end() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    append_each(&buffer, A, 0..1).await;
    buffer.close().await;
    assert!(matches!(
        buffer.append(vec![record(A, 1)]).await,
        Err(AppendError::Closed)
    ));
    assert_eq!(payloads(&read(&mut reader, 1).await), expected(0..1));
    let end = tokio::time::timeout(Duration::from_secs(5), reader.next_batch(1))
        .await
        .unwrap()
        .unwrap();
    assert!(end.is_none());
}

#[tokio::test]
async fn every_fsync_policy_keeps_what_it_acknowledged_across_a_reopen() {
    for policy in [
        FsyncPolicy::Never,
        FsyncPolicy::Interval(Duration::from_millis(5)),
        FsyncPolicy::Always,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.fsync = policy;
        {
            let buffer = open(config.clone());
            append_each(&buffer, A, 0..30).await;
            buffer.close().await;
        }
        let buffer = open(config);
        let mut reader = buffer.reader(A).unwrap();
        assert_eq!(
            payloads(&read(&mut reader, 30).await),
            expected(0..30),
            "{policy:?}"
        );
    }
}

#[test]
fn settings_that_cannot_work_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_bytes_per_topic = 100;
    let error = Buffer::open_with_metrics(config, BufferMetrics::default()).unwrap_err();
    assert!(matches!(error, OpenError::InvalidConfig(_)), "{error}");
}

/// The value of `hermes_buffer_read_records_total` for topic A and `source`.
fn reads(registry: &Registry, source: &str) -> u64 {
    let text = metrics_text(registry);
    let prefix = format!("hermes_buffer_read_records_total{{topic=\"{A}\",source=\"{source}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {source} reads in {text}"))
}

#[tokio::test]
async fn a_reader_behind_the_memory_tail_reads_the_files_up_to_it_then_takes_the_rest_from_memory()
{
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::default();
    let mut config = config(dir.path());
    // Records 100–199 encode to the same length: the tail holds exactly three of them,
    // a segment several.
    let frame = record(A, 100).encoded_len() as u64;
    config.memory_tail_bytes_per_topic = 3 * frame;
    let buffer = Buffer::open(config, &mut registry).unwrap();
    let mut reader = buffer.reader(A).unwrap();

    // 20 appended while the reader waits: the first 17 only in the files (across
    // segments), the last 3 still in memory.
    append_each(&buffer, A, 100..120).await;
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(payloads(&read(&mut reader, 20).await), expected(100..120));
    assert_eq!(
        (reads(&registry, "file"), reads(&registry, "memory")),
        (17, 3)
    );

    // A reader that keeps up takes everything from memory.
    for i in 120..125 {
        append_each(&buffer, A, i..i + 1).await;
        assert_eq!(payloads(&read(&mut reader, 1).await), expected([i]));
    }
    assert_eq!(
        (reads(&registry, "file"), reads(&registry, "memory")),
        (17, 8)
    );

    // Behind again by more than the tail: back to the files, then memory once more.
    append_each(&buffer, A, 125..135).await;
    assert_eq!(payloads(&read(&mut reader, 10).await), expected(125..135));
    assert_eq!(
        (reads(&registry, "file"), reads(&registry, "memory")),
        (24, 11)
    );
    assert_nothing_more(&mut reader).await;

    // Whatever the source, the same records come back after a reopen (none acknowledged).
    buffer.close().await;
    let buffer = open(config_with_tail(dir.path(), 3 * frame));
    let mut reader = buffer.reader(A).unwrap();
    assert_eq!(payloads(&read(&mut reader, 35).await), expected(100..135));
}

fn config_with_tail(dir: &Path, tail: u64) -> BufferConfig {
    let mut config = config(dir);
    config.memory_tail_bytes_per_topic = tail;
    config
}

#[tokio::test]
async fn a_small_batch_taken_from_memory_leaves_the_rest_for_the_next_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::default();
    let buffer = Buffer::open(config(dir.path()), &mut registry).unwrap();
    let mut reader = buffer.reader(A).unwrap();
    append_each(&buffer, A, 0..5).await;
    assert_eq!(
        payloads(&reader.try_next_batch(2).await.unwrap()),
        expected(0..2)
    );
    assert_eq!(
        payloads(&reader.try_next_batch(10).await.unwrap()),
        expected(2..5)
    );
    assert!(reader.try_next_batch(10).await.unwrap().is_empty());
    assert_eq!(
        (reads(&registry, "file"), reads(&registry, "memory")),
        (0, 5)
    );
}

#[tokio::test]
async fn acknowledgements_apply_at_once_and_reclaim_segments_without_a_later_append() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(config(dir.path()));
    let mut reader = buffer.reader(A).unwrap();
    let acker = reader.acker();
    append_each(&buffer, A, 0..100).await;
    assert!(segment_files(dir.path()).len() > 3);
    let deliveries = read(&mut reader, 100).await;
    let (first, rest): (Vec<_>, Vec<_>) = deliveries
        .into_iter()
        .partition(|d| payload(d) == "payload-0000");
    acker.ack_all(rest.into_iter().map(|d| d.id));
    assert_eq!(buffer.pending(A), 1);
    assert_eq!(
        segment_files(dir.path()).len(),
        2,
        "the first segment (record 0 unacknowledged) and the active one"
    );
    acker.ack_all(first.into_iter().map(|d| d.id));
    assert_eq!(buffer.pending(A), 0);
    assert_eq!(segment_files(dir.path()).len(), 1, "the active segment");
    // The acknowledgements were logged: nothing is delivered again after a reopen.
    buffer.close().await;
    let buffer = open(config(dir.path()));
    assert_eq!(buffer.pending(A), 0);
    let mut reader = buffer.reader(A).unwrap();
    assert_nothing_more(&mut reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_under_fsync_always_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.fsync = FsyncPolicy::Always;
    {
        let buffer = open(config.clone());
        let mut appenders = tokio::task::JoinSet::new();
        for task in 0..16 {
            let buffer = buffer.clone();
            appenders.spawn(async move {
                for i in (task..160).step_by(16) {
                    buffer.append(vec![record(A, i)]).await.unwrap();
                }
            });
        }
        while let Some(done) = appenders.join_next().await {
            done.unwrap();
        }
        buffer.close().await;
    }
    let buffer = open(config);
    let mut reader = buffer.reader(A).unwrap();
    let mut got = payloads(&read(&mut reader, 160).await);
    got.sort();
    assert_eq!(got, expected(0..160));
}
