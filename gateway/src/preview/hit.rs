//! What the preview shows of one hit: when, from which client and path, whether it was
//! published, and every event's trace (triggers, tags, rendered messages).

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::fire::EventTrace;

/// One traced hit, as the page receives it (JSON).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewHit {
    /// The hit's place in its session, from 1.
    pub sequence: u64,
    /// When the gateway received it (RFC 3339, UTC).
    pub time: String,
    /// The endpoint that received it (`/g/collect`, `/mp/collect`, or `test hit`).
    pub path: String,
    /// Whether its messages were kept from publishing (dry run or a test hit).
    pub dry_run: bool,
    /// Messages handed to the publisher.
    pub published: usize,
    /// Each event of the hit, explained.
    pub events: Vec<EventTrace>,
}

impl PreviewHit {
    /// A hit received now.
    pub fn new(
        sequence: u64,
        path: &str,
        dry_run: bool,
        published: usize,
        events: Vec<EventTrace>,
    ) -> Self {
        PreviewHit {
            sequence,
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            path: path.to_string(),
            dry_run,
            published,
            events,
        }
    }
}
