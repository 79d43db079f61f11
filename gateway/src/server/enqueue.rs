//! Fire and enqueue: evaluate a hit's events and hand each rendered message to the
//! publisher's queue (or, in debug mode, explain the evaluation and publish nothing).

use std::sync::Arc;

use serde::Serialize;

use super::AppState;
use super::refusal::Refusal;
use crate::collect::ValidationResponse;
use crate::event::{Event, RequestInfo};
use crate::events::{
    EventEvaluated, FieldsDropped, TagFired, TagMessageNotEnqueued, TriggerMatched,
};
use crate::fire::{self, EventTrace, PreparedConfig, RenderedMessage};
use crate::preview::{PreviewHit, Session};
use crate::publish::{OutgoingMessage, Record};

/// What the gateway did with a hit it did not refuse.
#[derive(Debug)]
pub(crate) enum Handled {
    /// Its events were evaluated and these many messages queued.
    Queued { events: usize, messages: usize },
    /// Debug mode: the evaluation explained; nothing was published.
    Explained(Explanation),
    /// `/debug/mp/collect`: only validated.
    Validated(ValidationResponse),
}

/// The debug-mode answer (sGTM preview).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Explanation {
    /// The config hash the events were evaluated against.
    pub config_hash: String,
    /// Messages that would have been handed to the publisher.
    pub messages: usize,
    /// Each event explained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventTrace>,
}

/// Evaluate every event against `config` (the snapshot the hit was parsed with); queue the
/// messages, or explain them when `debug` is set. A hit of an open preview session
/// (`preview`, looked up once by the handler, before parsing: the session that decided
/// which events were parsed with their data is the one they are traced into) is also
/// traced into it (and, in dry run, not published). A message the publisher refuses as
/// unpublishable is counted for its tag and skipped; a full queue refuses the hit (503),
/// so the client sends it again.
pub(crate) async fn fire_and_enqueue(
    state: &AppState,
    config: Option<Arc<PreparedConfig>>,
    events: &[Event],
    request: &RequestInfo,
    debug: bool,
    preview: Option<Arc<Session>>,
) -> Result<Handled, Refusal> {
    let config = config.ok_or(Refusal::NoConfig)?;
    if debug {
        return Ok(Handled::Explained(explain(state, &config, events, request)));
    }
    let dry_run = preview.as_ref().is_some_and(|session| session.dry_run());
    let mut traces = Vec::new();
    let mut outgoing = Vec::new();
    for (index, event) in events.iter().enumerate() {
        EventEvaluated {
            client: event.client,
        }
        .emit(&state.metrics);
        let outcome = fire::evaluate(&config, event, request, index, preview.is_some());
        traces.extend(outcome.trace);
        for trigger in outcome.triggers_fired {
            TriggerMatched { trigger }.emit(&state.metrics);
        }
        for tag in outcome.tags_fired {
            TagFired { tag }.emit(&state.metrics);
        }
        if !dry_run {
            outgoing.extend(outcome.messages.into_iter().map(|m| to_outgoing(state, m)));
        }
    }
    let queued = accept(state, outgoing).await?;
    if let Some(session) = preview {
        let sequence = session.next_sequence();
        session.record(PreviewHit::new(
            sequence,
            &request.path,
            dry_run,
            queued,
            traces,
        ));
    }
    Ok(Handled::Queued {
        events: events.len(),
        messages: queued,
    })
}

/// Debug mode: every trigger and tag of every event explained.
fn explain(
    state: &AppState,
    config: &PreparedConfig,
    events: &[Event],
    request: &RequestInfo,
) -> Explanation {
    let mut explanation = Explanation {
        config_hash: config.hash().to_string(),
        messages: 0,
        events: Vec::new(),
    };
    for (index, event) in events.iter().enumerate() {
        EventEvaluated {
            client: event.client,
        }
        .emit(&state.metrics);
        let outcome = fire::evaluate(config, event, request, index, true);
        explanation.messages += outcome.messages.len();
        explanation.events.extend(outcome.trace);
    }
    explanation
}

/// The publisher's form of a rendered message.
fn to_outgoing(state: &AppState, message: RenderedMessage) -> OutgoingMessage {
    FieldsDropped {
        tag: &message.tag,
        fields: &message.dropped_fields,
    }
    .emit(&state.metrics);
    OutgoingMessage::new(
        message.tag,
        Record {
            topic: message.topic,
            attributes: message.attributes,
            ordering_key: message.ordering_key,
            data: message.data.into_bytes(),
        },
    )
}

/// Hand a hit's messages to the publisher: how many were kept, or `Err` when the hit
/// must be refused. Unpublishable messages are counted per tag and skipped.
async fn accept(state: &AppState, messages: Vec<OutgoingMessage>) -> Result<usize, Refusal> {
    if messages.is_empty() {
        return Ok(0);
    }
    match state.publisher.accept(messages).await {
        Ok(accepted) => {
            for skipped in &accepted.skipped {
                TagMessageNotEnqueued {
                    tag: &skipped.tag,
                    error: &skipped.error,
                }
                .emit(&state.metrics);
            }
            Ok(accepted.queued)
        }
        Err(refused) => {
            TagMessageNotEnqueued {
                tag: &refused.tag,
                error: &refused.error,
            }
            .emit(&state.metrics);
            Err(Refusal::QueueFull {
                queued: state.publisher.queue_depth(),
            })
        }
    }
}
