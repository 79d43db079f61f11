//! One preview session: its id, dry-run switch, expiry, the bounded ring of its traced
//! hits and the live feed of new ones.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::broadcast;

use super::hit::PreviewHit;

/// How many hits a slow stream may fall behind before it skips some (and says so).
const LIVE_BACKLOG: usize = 256;

/// A preview session. Shared by the registry, the hits recorded into it and its streams.
#[derive(Debug)]
pub struct Session {
    id: String,
    expires_at: Instant,
    dry_run: AtomicBool,
    next_sequence: AtomicU64,
    capacity: usize,
    ring: Mutex<VecDeque<Arc<PreviewHit>>>,
    live: broadcast::Sender<Arc<PreviewHit>>,
}

impl Session {
    pub(crate) fn new(id: String, expires_at: Instant, dry_run: bool, capacity: usize) -> Self {
        let (live, _) = broadcast::channel(LIVE_BACKLOG);
        Session {
            id,
            expires_at,
            dry_run: AtomicBool::new(dry_run),
            next_sequence: AtomicU64::new(1),
            capacity: capacity.max(1),
            ring: Mutex::new(VecDeque::new()),
            live,
        }
    }

    /// The session id (the cookie's value).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the session has outlived its time.
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.expires_at
    }

    /// When the session ends.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Dry run: this session's hits are traced but publish nothing.
    pub fn dry_run(&self) -> bool {
        self.dry_run.load(Ordering::Relaxed)
    }

    /// Switch dry run on or off.
    pub fn set_dry_run(&self, dry_run: bool) {
        self.dry_run.store(dry_run, Ordering::Relaxed);
    }

    /// The next hit's sequence number (its place in this session, from 1).
    pub(crate) fn next_sequence(&self) -> u64 {
        self.next_sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Keep a hit (dropping the oldest beyond the ring's capacity) and show it to the
    /// session's open streams.
    pub fn record(&self, hit: PreviewHit) {
        let hit = Arc::new(hit);
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back(hit.clone());
        // Sent under the ring's lock, so a stream subscribing at the same time sees
        // the hit exactly once: in its replay or live. No stream open is not an error.
        let _ = self.live.send(hit);
    }

    /// The hits kept so far, oldest first, and a feed of the ones after them.
    pub fn subscribe(&self) -> (Vec<Arc<PreviewHit>>, broadcast::Receiver<Arc<PreviewHit>>) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        (ring.iter().cloned().collect(), self.live.subscribe())
    }
}
