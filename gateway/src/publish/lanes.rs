//! Ordering and retry bookkeeping, free of I/O.
//!
//! Messages without an ordering key are independent: a failed one is retried on its own.
//! Messages with a key form a lane per (topic, key) that must reach Pub/Sub in enqueue
//! order. When one fails, the client pauses the key and fails every later message of it;
//! the lane then holds the failed messages and any new ones, and once nothing of the
//! lane is in flight asks for one lane retry. [`Lanes::release`] hands the held messages
//! back in enqueue order, to be sent after the client's key is resumed.
//!
//! Each lane also remembers the generation of the topic's client publisher it started
//! on, so that its messages keep going through that client while any are in flight (see
//! the worker's rotation of client publishers).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use super::OutgoingMessage;

/// A message on its way: accepted, and not yet acknowledged or given up.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub msg: OutgoingMessage,
    /// Enqueue order, assigned by the worker.
    pub seq: u64,
    pub enqueued: Instant,
    /// Times handed to the client.
    pub attempts: u32,
    /// Attempts that failed on their own account (not paused behind another message).
    pub failures: u32,
}

impl Pending {
    pub fn new(msg: OutgoingMessage, seq: u64, enqueued: Instant) -> Self {
        Pending {
            msg,
            seq,
            enqueued,
            attempts: 0,
            failures: 0,
        }
    }
}

/// One ordered stream: a topic and an ordering key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct LaneId {
    pub topic: String,
    pub key: String,
}

impl LaneId {
    fn of(msg: &OutgoingMessage) -> Option<LaneId> {
        msg.record.ordering_key().map(|key| LaneId {
            topic: msg.record.topic.clone(),
            key: key.to_owned(),
        })
    }
}

/// What the worker must arrange after a result.
#[derive(Debug)]
pub(super) enum Next {
    Nothing,
    /// Send this unordered message again after a backoff for its failures.
    RetryMessage(Pending),
    /// Call [`Lanes::release`] for the lane after a backoff for `failures` lane failures.
    RetryLane {
        lane: LaneId,
        failures: u32,
    },
}

#[derive(Debug, Default)]
struct Lane {
    in_flight: usize,
    blocked: bool,
    retry_scheduled: bool,
    /// Consecutive lane failures, for the backoff.
    failures: u32,
    held: BTreeMap<u64, Pending>,
    /// The client publisher generation the lane sends through.
    generation: u64,
}

/// All lanes with something in flight or held.
#[derive(Debug, Default)]
pub(super) struct Lanes {
    lanes: HashMap<LaneId, Lane>,
}

impl Lanes {
    /// A new message: returned when it may be sent now, kept when its lane is blocked.
    /// A lane created now sends through client `generation`.
    pub fn admit(&mut self, pending: Pending, generation: u64) -> Option<Pending> {
        let Some(id) = LaneId::of(&pending.msg) else {
            return Some(pending);
        };
        let lane = self.lanes.entry(id).or_insert_with(|| Lane {
            generation,
            ..Lane::default()
        });
        if lane.blocked {
            lane.held.insert(pending.seq, pending);
            None
        } else {
            lane.in_flight += 1;
            Some(pending)
        }
    }

    /// Pub/Sub acknowledged `msg`.
    pub fn succeeded(&mut self, msg: &OutgoingMessage) -> Next {
        let Some(id) = LaneId::of(msg) else {
            return Next::Nothing;
        };
        let Some(lane) = self.lanes.get_mut(&id) else {
            return Next::Nothing;
        };
        lane.in_flight = lane.in_flight.saturating_sub(1);
        if !lane.blocked {
            lane.failures = 0;
        }
        self.settle(id)
    }

    /// Publishing `pending` failed. With `keep` it is retried (alone, or with its lane);
    /// without, it is given up and only the lane's bookkeeping changes.
    pub fn failed(&mut self, pending: Pending, keep: bool) -> Next {
        let Some(id) = LaneId::of(&pending.msg) else {
            return if keep {
                Next::RetryMessage(pending)
            } else {
                Next::Nothing
            };
        };
        let lane = self.lanes.entry(id.clone()).or_default();
        lane.in_flight = lane.in_flight.saturating_sub(1);
        lane.blocked = true;
        if keep {
            lane.held.insert(pending.seq, pending);
        }
        self.settle(id)
    }

    /// The lane's retry is due: unblock it and return its held messages in enqueue
    /// order, now counted in flight.
    pub fn release(&mut self, id: &LaneId) -> Vec<Pending> {
        let Some(lane) = self.lanes.get_mut(id) else {
            return Vec::new();
        };
        lane.retry_scheduled = false;
        lane.blocked = false;
        let held: Vec<Pending> = std::mem::take(&mut lane.held).into_values().collect();
        lane.in_flight += held.len();
        if lane.in_flight == 0 {
            self.lanes.remove(id);
        }
        held
    }

    /// Whether `msg` has an ordering key whose lane is not tracked yet (a new key).
    pub fn is_new_lane(&self, msg: &OutgoingMessage) -> bool {
        LaneId::of(msg).is_some_and(|id| !self.lanes.contains_key(&id))
    }

    /// The client generation of the lane of `msg`, `None` without a tracked lane.
    pub fn generation_of(&self, msg: &OutgoingMessage) -> Option<u64> {
        self.generation(&LaneId::of(msg)?)
    }

    /// The client generation of a tracked lane.
    pub fn generation(&self, id: &LaneId) -> Option<u64> {
        self.lanes.get(id).map(|lane| lane.generation)
    }

    /// The (topic, generation) pairs some tracked lane still sends through.
    pub fn generations_in_use(&self) -> HashSet<(&str, u64)> {
        self.lanes
            .iter()
            .map(|(id, lane)| (id.topic.as_str(), lane.generation))
            .collect()
    }

    /// Take every held message out (the publisher is stopping).
    pub fn drain_held(&mut self) -> Vec<Pending> {
        let held = self
            .lanes
            .values_mut()
            .flat_map(|lane| std::mem::take(&mut lane.held).into_values())
            .collect();
        self.lanes.clear();
        held
    }

    /// Messages held in blocked lanes.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.lanes.values().map(|l| l.held.len()).sum()
    }

    /// Lanes being tracked (idle ones are forgotten).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    fn settle(&mut self, id: LaneId) -> Next {
        let Some(lane) = self.lanes.get_mut(&id) else {
            return Next::Nothing;
        };
        if lane.blocked {
            if lane.in_flight == 0 && !lane.retry_scheduled {
                lane.retry_scheduled = true;
                lane.failures += 1;
                let failures = lane.failures;
                return Next::RetryLane { lane: id, failures };
            }
        } else if lane.in_flight == 0 && lane.held.is_empty() {
            self.lanes.remove(&id);
        }
        Next::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::Record;

    const TOPIC: &str = "projects/p/topics/orders";

    fn pending(seq: u64, key: Option<&str>) -> Pending {
        let mut msg = OutgoingMessage::new("tag", Record::new(TOPIC, format!("m{seq}")));
        msg.record.ordering_key = key.map(str::to_owned);
        Pending::new(msg, seq, Instant::now())
    }

    impl Lanes {
        fn admit_now(&mut self, pending: Pending) -> Option<Pending> {
            self.admit(pending, 0)
        }
    }

    fn seqs(v: &[Pending]) -> Vec<u64> {
        v.iter().map(|p| p.seq).collect()
    }

    fn lane(key: &str) -> LaneId {
        LaneId {
            topic: TOPIC.into(),
            key: key.into(),
        }
    }

    #[test]
    fn unordered_messages_are_sent_at_once_and_retried_alone() {
        let mut lanes = Lanes::default();
        let p = lanes.admit_now(pending(1, None)).expect("sent at once");
        assert!(matches!(lanes.failed(p, true), Next::RetryMessage(p) if p.seq == 1));
        assert_eq!(lanes.len(), 0);
        let p = lanes.admit_now(pending(2, None)).unwrap();
        assert!(matches!(lanes.failed(p, false), Next::Nothing));
    }

    #[test]
    fn a_failure_blocks_the_lane_until_all_in_flight_settle_then_retries_in_order() {
        let mut lanes = Lanes::default();
        let sent: Vec<Pending> = (1..=3)
            .map(|i| lanes.admit_now(pending(i, Some("k"))).unwrap())
            .collect();
        let mut sent = sent.into_iter();
        let (p1, p2, p3) = (
            sent.next().unwrap(),
            sent.next().unwrap(),
            sent.next().unwrap(),
        );

        // 2 fails first (its batch), then 3 is paused, then 1 — out of order on purpose.
        assert!(matches!(lanes.failed(p2, true), Next::Nothing));
        // New messages of the blocked lane are held, not sent.
        assert!(lanes.admit_now(pending(4, Some("k"))).is_none());
        // Another key is not affected.
        assert!(lanes.admit_now(pending(5, Some("other"))).is_some());
        assert!(matches!(lanes.failed(p3, true), Next::Nothing));
        let next = lanes.failed(p1, true);
        let Next::RetryLane { lane: id, failures } = next else {
            panic!("expected a lane retry, got {next:?}");
        };
        assert_eq!((id.clone(), failures), (lane("k"), 1));
        assert_eq!(lanes.held(), 4);

        let again = lanes.release(&id);
        assert_eq!(seqs(&again), vec![1, 2, 3, 4]);
        // Still failing: the backoff grows.
        let mut again = again.into_iter();
        assert!(matches!(
            lanes.failed(again.next().unwrap(), true),
            Next::Nothing
        ));
        for p in again.by_ref().take(2) {
            assert!(matches!(lanes.failed(p, true), Next::Nothing));
        }
        let last = again.next().unwrap();
        assert!(matches!(
            lanes.failed(last, true),
            Next::RetryLane { failures: 2, .. }
        ));
        // Now it works: the lane is forgotten once everything is acknowledged.
        let released = lanes.release(&lane("k"));
        for p in &released {
            assert!(matches!(lanes.succeeded(&p.msg), Next::Nothing));
        }
        assert_eq!(lanes.len(), 1, "only the 'other' lane is left");
    }

    #[test]
    fn a_given_up_message_still_blocks_and_releases_its_lane() {
        let mut lanes = Lanes::default();
        let p1 = lanes.admit_now(pending(1, Some("k"))).unwrap();
        let p2 = lanes.admit_now(pending(2, Some("k"))).unwrap();
        assert!(matches!(lanes.failed(p1, false), Next::Nothing));
        assert!(matches!(lanes.failed(p2, true), Next::RetryLane { .. }));
        assert_eq!(seqs(&lanes.release(&lane("k"))), vec![2]);
    }

    #[test]
    fn only_one_lane_retry_is_scheduled_at_a_time() {
        let mut lanes = Lanes::default();
        let p1 = lanes.admit_now(pending(1, Some("k"))).unwrap();
        assert!(matches!(lanes.failed(p1, true), Next::RetryLane { .. }));
        // A stray result for the lane while the retry is pending asks for nothing more.
        let stray = pending(9, Some("k"));
        assert!(matches!(lanes.failed(stray, true), Next::Nothing));
        assert_eq!(seqs(&lanes.release(&lane("k"))), vec![1, 9]);
    }

    #[test]
    fn a_lane_keeps_its_generation_until_it_is_idle() {
        let mut lanes = Lanes::default();
        let first = lanes.admit(pending(1, Some("k")), 1).unwrap();
        assert!(!lanes.is_new_lane(&first.msg));
        // Later messages of the busy lane stay on generation 1 whatever is current.
        let second = lanes.admit(pending(2, Some("k")), 2).unwrap();
        assert_eq!(lanes.generation_of(&second.msg), Some(1));
        assert!(lanes.is_new_lane(&pending(3, Some("other")).msg));
        assert!(!lanes.is_new_lane(&pending(3, None).msg));
        assert_eq!(lanes.generations_in_use(), HashSet::from([(TOPIC, 1)]));
        lanes.succeeded(&first.msg);
        lanes.succeeded(&second.msg);
        assert!(lanes.generations_in_use().is_empty());
        // Once idle, the key starts over on the current generation.
        let third = lanes.admit(pending(3, Some("k")), 2).unwrap();
        assert_eq!(lanes.generation_of(&third.msg), Some(2));
    }

    #[test]
    fn idle_lanes_are_forgotten() {
        let mut lanes = Lanes::default();
        for i in 0..100 {
            let key = format!("client-{i}");
            let p = lanes.admit_now(pending(i, Some(&key))).unwrap();
            lanes.succeeded(&p.msg);
        }
        assert_eq!(lanes.len(), 0);
    }
}
