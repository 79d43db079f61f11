//! A session's hits as server-sent events: first those kept in its ring, then each new
//! one as it is recorded. A stream that falls too far behind is told how many it skipped.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast::error::RecvError;

use super::hit::PreviewHit;
use super::session::Session;

/// The stream of `session`'s hits (`event: hit`, JSON data, id = sequence number).
pub(crate) fn hits(
    session: &Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let (kept, live) = session.subscribe();
    let kept = stream::iter(kept.into_iter().map(|hit| Ok(hit_event(&hit))));
    let live = stream::unfold(live, |mut live| async move {
        let event = match live.recv().await {
            Ok(hit) => hit_event(&hit),
            Err(RecvError::Lagged(skipped)) => {
                Event::default().event("skipped").data(skipped.to_string())
            }
            // The session ended.
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), live))
    });
    Sse::new(kept.chain(live)).keep_alive(KeepAlive::default())
}

fn hit_event(hit: &Arc<PreviewHit>) -> Event {
    match serde_json::to_string(hit.as_ref()) {
        Ok(json) => Event::default()
            .event("hit")
            .id(hit.sequence.to_string())
            .data(json),
        Err(error) => Event::default().event("error").data(error.to_string()),
    }
}
