//! When a lane sends what it holds: the adaptive linger.
//!
//! A publish request per message would cost a request (and Pub/Sub's 1,000-byte minimum)
//! per hit; waiting a fixed 10 ms fills requests only as far as a topic's rate allows in
//! 10 ms (20 messages at 2,000 a second). So a lane's batch is sent:
//!
//! - at once when it holds `max_batch` records (a full request; the planning of
//!   `pubsub_sink.rs` still cuts it at 1,000 messages and the byte limit);
//! - once its first record is `linger` old, if the topic is *quiet*: the batch holds
//!   fewer than `target × age / max_linger` records, i.e. at the rate seen so far it
//!   would not hold `target` by the time its first record is `max_linger` old. A lone
//!   message, or a sparse topic, therefore waits at most `linger` (the light-load bound);
//! - otherwise (a *busy* topic) it is topped up every `linger` and sent once it holds
//!   `target`, once its first record is `max_linger` old, or as soon as it falls behind
//!   that rate (a burst that ended does not wait for `max_linger`).
//!
//! So a topic below `target / max_linger` messages a second sends requests of what it
//! gets in `linger`, and one above it sends requests of about `target` messages at most
//! `max_linger` after their first was accepted.

use std::future::Future;
use std::time::{Duration, SystemTime};

use hermes_buffer::{Delivery, ReadError, TopicReader};
use tokio::time::Instant;

/// The lane's batching rule (module docs). `linger ≤ max_linger`, `1 ≤ target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Linger {
    /// Records that make a full batch (sent at once).
    pub max_batch: usize,
    /// How long any batch waits for more (the light-load bound).
    pub linger: Duration,
    /// Records a busy topic's batch waits for.
    pub target: usize,
    /// How long a busy topic's batch waits at most.
    pub max_linger: Duration,
}

/// What to do with a batch now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Send,
    /// Wait this long, then top it up and decide again.
    Wait(Duration),
}

impl Linger {
    /// What to do with a batch of `held` records whose first one is `age` old.
    pub fn step(&self, held: usize, age: Duration) -> Step {
        if held >= self.max_batch {
            return Step::Send;
        }
        if age < self.linger {
            return Step::Wait(self.linger - age);
        }
        if held >= self.target || age >= self.max_linger || self.quiet(held, age) {
            return Step::Send;
        }
        Step::Wait(self.linger.min(self.max_linger - age))
    }

    /// Whether `held` records in `age` are fewer than the rate that reaches `target` at
    /// `max_linger`: `held × max_linger < target × age`.
    fn quiet(&self, held: usize, age: Duration) -> bool {
        let held = held as u128 * self.max_linger.as_nanos();
        let needed = self.target as u128 * age.as_nanos();
        held < needed
    }
}

/// A record as the linger sees it: how long ago it was accepted.
pub(super) trait Aged {
    fn age(&self) -> Duration;
}

impl Aged for Delivery {
    fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.appended_at)
            .unwrap_or_default()
    }
}

/// Where a lane's records come from: the buffer's [`TopicReader`] (and a scripted source
/// in the tests).
pub(super) trait BatchSource {
    type Item: Aged + Send;

    /// At most `max` records, waiting until there is one; `None` once closed.
    fn next_batch(
        &mut self,
        max: usize,
    ) -> impl Future<Output = Result<Option<Vec<Self::Item>>, ReadError>> + Send;

    /// At most `max` records held now, without waiting.
    fn try_next_batch(
        &mut self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Self::Item>, ReadError>> + Send;
}

impl BatchSource for TopicReader {
    type Item = Delivery;

    fn next_batch(
        &mut self,
        max: usize,
    ) -> impl Future<Output = Result<Option<Vec<Delivery>>, ReadError>> + Send {
        TopicReader::next_batch(self, max)
    }

    fn try_next_batch(
        &mut self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, ReadError>> + Send {
        TopicReader::try_next_batch(self, max)
    }
}

/// The next batch to send: what `source` holds, topped up by the rule of [`Linger`].
/// `None` once the source is closed. A failed top-up sends what the batch holds (its
/// records were handed out: returning the error would leave them unpublished until a
/// restart); the next read reports the error.
pub(super) async fn next_batch<S: BatchSource>(
    linger: &Linger,
    source: &mut S,
) -> Result<Option<Vec<S::Item>>, ReadError> {
    let Some(mut batch) = source.next_batch(linger.max_batch).await? else {
        return Ok(None);
    };
    let received = Instant::now();
    let first_age = batch.first().map_or(Duration::ZERO, Aged::age);
    let first_at = received.checked_sub(first_age).unwrap_or(received);
    while let Step::Wait(wait) = linger.step(batch.len(), first_at.elapsed()) {
        tokio::time::sleep(wait).await;
        match source.try_next_batch(linger.max_batch - batch.len()).await {
            Ok(more) => batch.extend(more),
            Err(error) => {
                tracing::warn!(%error, held = batch.len(), "cannot top up a batch: sending it");
                break;
            }
        }
    }
    Ok(Some(batch))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn rule() -> Linger {
        Linger {
            max_batch: 1_000,
            linger: 10 * MS,
            target: 100,
            max_linger: 100 * MS,
        }
    }

    #[test]
    fn a_batch_waits_for_the_linger_then_a_quiet_one_is_sent() {
        let rule = rule();
        assert_eq!(rule.step(1, Duration::ZERO), Step::Wait(10 * MS));
        assert_eq!(rule.step(9, 4 * MS), Step::Wait(6 * MS));
        // 9 in 10 ms is below 100 in 100 ms.
        assert_eq!(rule.step(9, 10 * MS), Step::Send);
    }

    #[test]
    fn a_busy_batch_waits_for_the_target_or_the_max_linger() {
        let rule = rule();
        assert_eq!(rule.step(10, 10 * MS), Step::Wait(10 * MS));
        assert_eq!(rule.step(60, 50 * MS), Step::Wait(10 * MS));
        assert_eq!(rule.step(95, 95 * MS), Step::Wait(5 * MS));
        assert_eq!(rule.step(100, 40 * MS), Step::Send);
        assert_eq!(rule.step(99, 100 * MS), Step::Send);
    }

    #[test]
    fn a_busy_batch_whose_rate_dropped_is_sent_without_waiting_longer() {
        // 30 by 20 ms was on the way to 100 by 100 ms; still 30 at 40 ms is not.
        let rule = rule();
        assert_eq!(rule.step(30, 20 * MS), Step::Wait(10 * MS));
        assert_eq!(rule.step(30, 40 * MS), Step::Send);
    }

    #[test]
    fn the_rule_sends_a_full_batch_at_any_age() {
        assert_eq!(rule().step(1_000, Duration::ZERO), Step::Send);
    }

    /// A record that arrived at a (paused) tokio instant.
    #[derive(Debug)]
    struct Arrived(Instant);

    impl Aged for Arrived {
        fn age(&self) -> Duration {
            self.0.elapsed()
        }
    }

    /// Records arriving on a schedule: `(after the start, how many)`.
    struct Scripted {
        start: Instant,
        schedule: VecDeque<(Duration, usize)>,
        held: VecDeque<Arrived>,
        /// Top-ups fail (a read error of the buffer).
        broken: bool,
    }

    impl Scripted {
        fn new(schedule: impl IntoIterator<Item = (Duration, usize)>) -> Self {
            Scripted {
                start: Instant::now(),
                schedule: schedule.into_iter().collect(),
                held: VecDeque::new(),
                broken: false,
            }
        }

        fn arrive(&mut self) {
            let now = Instant::now();
            while let Some(&(after, count)) = self.schedule.front() {
                if self.start + after > now {
                    break;
                }
                self.schedule.pop_front();
                self.held
                    .extend((0..count).map(|_| Arrived(self.start + after)));
            }
        }

        fn take(&mut self, max: usize) -> Vec<Arrived> {
            self.arrive();
            let n = self.held.len().min(max);
            self.held.drain(..n).collect()
        }
    }

    impl BatchSource for Scripted {
        type Item = Arrived;

        async fn next_batch(&mut self, max: usize) -> Result<Option<Vec<Arrived>>, ReadError> {
            loop {
                let batch = self.take(max);
                if !batch.is_empty() {
                    return Ok(Some(batch));
                }
                let Some(&(after, _)) = self.schedule.front() else {
                    return Ok(None);
                };
                tokio::time::sleep_until(self.start + after).await;
            }
        }

        async fn try_next_batch(&mut self, max: usize) -> Result<Vec<Arrived>, ReadError> {
            if self.broken {
                return Err(ReadError::ReadSegment {
                    path: "segment".into(),
                    source: std::io::Error::other("disk gone"),
                });
            }
            Ok(self.take(max))
        }
    }

    /// The batches the lane sends: (when, after the start; how many).
    async fn sent(rule: Linger, schedule: Vec<(Duration, usize)>) -> Vec<(Duration, usize)> {
        let mut source = Scripted::new(schedule);
        let start = source.start;
        let mut sent = Vec::new();
        while let Some(batch) = next_batch(&rule, &mut source).await.unwrap() {
            sent.push((start.elapsed(), batch.len()));
        }
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_message_goes_out_at_the_linger() {
        let sent = sent(rule(), vec![(5 * MS, 1)]).await;
        assert_eq!(sent, vec![(15 * MS, 1)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_topic_sends_what_it_got_at_the_linger() {
        // One message every 2 ms: below 100 in 100 ms.
        let schedule: Vec<_> = (0..20).map(|i| (i * 2 * MS, 1)).collect();
        let sent = sent(rule(), schedule).await;
        assert_eq!(sent[0], (10 * MS, 6), "0, 2, …, 10 ms: {sent:?}");
        assert!(
            sent.iter().all(|&(_, n)| n < 10),
            "every batch is what 10 ms brought: {sent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_topic_waits_until_it_holds_the_target() {
        // 4 messages a millisecond: 100 by 25 ms, checked every 10 ms.
        let schedule: Vec<_> = (0..200).map(|i| (i * MS, 4)).collect();
        let sent = sent(rule(), schedule).await;
        assert_eq!(sent[0], (30 * MS, 124), "{sent:?}");
        let (_, all_but_the_last) = sent.split_last().unwrap();
        assert!(all_but_the_last.iter().all(|&(_, n)| n >= 100), "{sent:?}");
        assert_eq!(sent.iter().map(|&(_, n)| n).sum::<usize>(), 800);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_that_ended_goes_out_once_it_falls_behind_the_rate() {
        // 30 at once: on the way to 100 by 100 ms until 30 ms, behind it at 40 ms.
        let sent = sent(rule(), vec![(Duration::ZERO, 30)]).await;
        assert_eq!(sent, vec![(40 * MS, 30)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_top_up_sends_what_the_batch_holds() {
        let mut source = Scripted::new([(Duration::ZERO, 3), (MS, 5)]);
        source.broken = true;
        let batch = next_batch(&rule(), &mut source).await.unwrap();
        assert_eq!(batch.map(|b| b.len()), Some(3));
        assert_eq!(source.start.elapsed(), 10 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_goes_out_at_once() {
        let sent = sent(rule(), vec![(3 * MS, 1_500)]).await;
        assert_eq!(sent[0], (3 * MS, 1_000), "{sent:?}");
    }
}
