//! A real crash: a child process appends records (several tasks at once) while a lane
//! reads and acknowledges some of them, printing each append the buffer acknowledged; the
//! parent SIGKILLs it mid-way, reopens the buffer and checks that every acknowledged
//! append that was not acknowledged by the lane is there, in order.
//!
//! One binary, two roles (no test harness): with `HERMES_BUFFER_CRASH_CHILD=<dir>` it is
//! the child; otherwise it is the test.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hermes_buffer::{Buffer, BufferConfig, BufferMetrics, FsyncPolicy, Record};

const CHILD: &str = "HERMES_BUFFER_CRASH_CHILD";
const TOPIC: &str = "projects/p/topics/crash";
const WRITERS: u64 = 8;
/// Appends seen before the kill.
const KILL_AFTER: usize = 3000;

fn config(dir: &str) -> BufferConfig {
    let mut config = BufferConfig::new(dir);
    config.segment_bytes = 64 * 1024;
    // A crash of the process loses nothing even without fsync: that is what is tested.
    config.fsync = FsyncPolicy::Never;
    config
}

fn main() {
    match std::env::var(CHILD) {
        Ok(dir) => child(&dir),
        Err(_) => parent(),
    }
}

/// `writer`-`n`: each writer appends its `n`s in order.
fn id(writer: u64, n: u64) -> String {
    format!("{writer}-{n}")
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent reads until the pipe closes; a line is either whole or absent.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn child(dir: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let buffer =
            Buffer::open_with_metrics(config(dir), BufferMetrics::default()).expect("buffer opens");
        let mut reader = buffer.reader(TOPIC).expect("reader");
        let acker = reader.acker();
        // The lane acknowledges even records only, so some always stay unacknowledged.
        tokio::spawn(async move {
            while let Ok(Some(batch)) = reader.next_batch(64).await {
                for delivery in batch {
                    let id = String::from_utf8_lossy(&delivery.record.data()).into_owned();
                    let n: u64 = id
                        .split('-')
                        .nth(1)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1);
                    if n.is_multiple_of(2) {
                        // Said before it is done: a kill between the two must not leave
                        // an acknowledged record that the parent still expects back.
                        say(&format!("consumed {id}"));
                        acker.ack(delivery.id);
                    }
                }
            }
        });
        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let buffer = buffer.clone();
            writers.spawn(async move {
                for n in 0.. {
                    let record = Record::new(TOPIC, id(writer, n))
                        .with_attribute("hermes_event_id", id(writer, n));
                    if buffer.append(vec![record]).await.is_ok() {
                        say(&format!("appended {}", id(writer, n)));
                    }
                }
            });
        }
        while writers.join_next().await.is_some() {}
    });
}

fn parent() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir_name = dir.path().to_str().expect("utf-8 path").to_owned();
    let exe = std::env::current_exe().expect("own executable");
    let mut child = Command::new(exe)
        .env(CHILD, &dir_name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut appended = Vec::new();
    let mut consumed = HashSet::new();
    let started = Instant::now();
    let mut killed = false;
    while let Some(Ok(line)) = lines.next() {
        if let Some(id) = line.strip_prefix("appended ") {
            appended.push(id.to_owned());
        } else if let Some(id) = line.strip_prefix("consumed ") {
            consumed.insert(id.to_owned());
        }
        if !killed && (appended.len() >= KILL_AFTER || started.elapsed() > Duration::from_secs(60))
        {
            child.kill().expect("SIGKILL"); // SIGKILL on Unix
            killed = true;
        }
    }
    child.wait().expect("child reaped");
    assert!(killed, "the child ended on its own");
    assert!(
        appended.len() >= KILL_AFTER,
        "only {} appends",
        appended.len()
    );

    let expected: Vec<&String> = appended
        .iter()
        .filter(|id| !consumed.contains(*id))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let replayed: Vec<String> = runtime.block_on(async {
        let buffer =
            Buffer::open_with_metrics(config(&dir_name), BufferMetrics::default()).expect("reopen");
        let mut reader = buffer.reader(TOPIC).expect("reader");
        let mut replayed = Vec::new();
        while let Ok(Some(Ok(Some(batch)))) =
            tokio::time::timeout(Duration::from_millis(500), reader.next_batch(1024))
                .await
                .map(Some)
        {
            replayed.extend(
                batch
                    .into_iter()
                    .map(|d| String::from_utf8_lossy(&d.record.data()).into_owned()),
            );
        }
        replayed
    });
    let present: HashSet<&String> = replayed.iter().collect();
    let missing: Vec<&&String> = expected
        .iter()
        .filter(|id| !present.contains(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged appends lost after SIGKILL, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
    // Each writer's records come back in the order it appended them.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for id in &replayed {
        let (writer, n) = id.split_once('-').expect("id format");
        let n: u64 = n.parse().expect("number");
        if let Some(previous) = last.insert(writer.to_owned(), n) {
            assert!(previous < n, "writer {writer}: {n} after {previous}");
        }
    }
    println!(
        "crash test: {} appends acknowledged before SIGKILL, {} consumed, {} replayed, none lost",
        appended.len(),
        consumed.len(),
        replayed.len()
    );
}
