//! One table's feed: receive from its subscription (streaming pull) one message at a time,
//! apply it, and settle it: acknowledged once applied (or skipped as stale, or rejected and
//! reported); applied again after a backoff when a transient failure may pass, the
//! messages after it waiting. Messages are applied in the order received; with ordering
//! keys on the subscription that is the order published.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::ShutdownBehavior;
use hermes_crds::api::{LookupFeedStatus, LookupTable};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::runtime::events::{Event, EventType};
use tokio::sync::oneshot;

use super::apply::{self, Applied, ApplyError, Target};
use crate::events::{
    Emit, FeedMessageApplied, FeedMessageRejected, FeedMessageRetried, FeedMessageStale,
    FeedReportFailed, FeedStreamFailed,
};
use crate::reconcile::Context;

/// How long a received message stays leased between extensions: a message a crashed
/// leader held is redelivered (to the next leader) about this long after the crash.
const LEASE_EXTENSION: Duration = Duration::from_secs(10);

/// A LookupTable with a feed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Feed {
    /// The namespace.
    pub namespace: String,
    /// The LookupTable's name.
    pub table: String,
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
}

/// Receive and apply until `stop` fires (or its sender is dropped).
///
/// A message that fails transiently is applied again after a backoff, in place: it stays
/// leased (the subscriber extends its lease) and the messages after it wait, so they are
/// never applied before it (after which the version check would refuse it). Relying on
/// a redelivery instead would not keep the order: the emulator, for one, redelivered
/// negatively acknowledged messages of one ordering key out of order.
pub async fn consume(
    ctx: Arc<Context>,
    subscriber: Subscriber,
    feed: Feed,
    mut stop: oneshot::Receiver<()>,
) {
    let mut stream_retries = backoff();
    loop {
        let mut stream = subscriber
            .subscribe(feed.subscription.as_str())
            .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
            .set_max_lease_extension(LEASE_EXTENSION)
            .build();
        let shutdown = stream.shutdown_token();
        let error = 'stream: loop {
            let next = tokio::select! {
                _ = &mut stop => break None,
                next = stream.next() => next,
            };
            let (message, handler) = match next {
                Some(Ok(received)) => received,
                Some(Err(error)) => break Some(error.to_string()),
                None => break Some("the stream ended".to_string()),
            };
            stream_retries = backoff();
            let mut retries = backoff();
            while let Settled::Retry = settle(&ctx, &feed, &message).await {
                let retry_in = retries.next().unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = &mut stop => {
                        handler.nack();
                        break 'stream None;
                    }
                    () = tokio::time::sleep(retry_in) => {}
                }
            }
            handler.ack();
        };
        // Close the stream first (nothing more arrives on it), then hand back what it
        // delivered and this feed has not settled.
        drop(stream);
        shutdown.shutdown().await;
        let Some(error) = error else {
            return;
        };
        let retry_in = stream_retries.next().unwrap_or(Duration::from_secs(30));
        FeedStreamFailed {
            namespace: &feed.namespace,
            table: &feed.table,
            subscription: &feed.subscription,
            error: &error,
            retry_in,
        }
        .emit(&ctx.metrics);
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(retry_in) => {}
        }
    }
}

/// Delays between attempts (a stream reopened, a message applied again): 0.5 s doubling
/// to 30 s, for as long as it takes.
fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .without_max_times()
        .build()
}

/// What became of a message.
enum Settled {
    /// To acknowledge: applied, stale, or rejected and reported.
    Done,
    /// A transient failure: to apply again.
    Retry,
}

/// Apply `message` and report what happened.
async fn settle(ctx: &Context, feed: &Feed, message: &Message) -> Settled {
    let target = Target {
        namespace: &feed.namespace,
        table: &feed.table,
    };
    let id = message.message_id.as_str();
    let (namespace, table) = (target.namespace, target.table);
    match apply::apply(ctx, &target, &message.data, &message.attributes).await {
        Ok((Applied::Rows(rows), before)) => {
            let version = version_attribute(message).or_else(|| previous(&before).version);
            report_applied(ctx, &target, id, version).await;
            FeedMessageApplied {
                namespace,
                table,
                message_id: id,
                rows,
            }
            .emit(&ctx.metrics);
            Settled::Done
        }
        Ok((Applied::Stale { version, applied }, stored)) => {
            // The replay of the message that set the table's version, after a crash
            // between storing its rows and writing the status: write the status now, so
            // that it names the last message applied.
            if version == applied && previous(&stored).version != Some(applied) {
                report_applied(ctx, &target, id, Some(version)).await;
            }
            FeedMessageStale {
                namespace,
                table,
                message_id: id,
                version,
                applied,
            }
            .emit(&ctx.metrics);
            Settled::Done
        }
        Err((error, table_read)) if error.is_rejection() => {
            reject(ctx, &target, id, &error, table_read.as_ref()).await;
            Settled::Done
        }
        Err((error, _)) => {
            FeedMessageRetried {
                namespace,
                table,
                message_id: id,
                error: &error,
            }
            .emit(&ctx.metrics);
            Settled::Retry
        }
    }
}

/// A rejected message: `status.feed.lastError`, a Warning Event on the table, a log line
/// and a metric, each naming the message id and the reason. The rows are unchanged.
async fn reject(
    ctx: &Context,
    target: &Target<'_>,
    id: &str,
    error: &ApplyError,
    table: Option<&LookupTable>,
) {
    FeedMessageRejected {
        namespace: target.namespace,
        table: target.table,
        message_id: id,
        error,
    }
    .emit(&ctx.metrics);
    let note = format!("message {id}: {}: {error}", error.reason());
    let Some(table) = table else {
        // Not read (malformed message) or gone: read it now for the status and Event.
        let tables: kube::Api<LookupTable> =
            kube::Api::namespaced(ctx.client.clone(), target.namespace);
        if let Ok(Some(table)) = tables.get_opt(target.table).await {
            record_rejection(ctx, target, &table, note).await;
        }
        return;
    };
    record_rejection(ctx, target, table, note).await;
}

async fn record_rejection(ctx: &Context, target: &Target<'_>, table: &LookupTable, note: String) {
    let status = LookupFeedStatus {
        last_error: Some(note.chars().take(1000).collect()),
        ..previous(table)
    };
    report_status(ctx, target, &status).await;
    let event = Event {
        type_: EventType::Warning,
        reason: "FeedMessageRejected".to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "ApplyFeedMessage".to_string(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &table.object_ref(&())).await {
        FeedReportFailed {
            namespace: target.namespace,
            table: target.table,
            error: &error,
        }
        .emit(&ctx.metrics);
    }
}

/// `status.feed` after message `id` (of `version`) was applied; clears the last error.
async fn report_applied(ctx: &Context, target: &Target<'_>, id: &str, version: Option<i64>) {
    let status = LookupFeedStatus {
        last_applied_message_id: Some(id.to_string()),
        last_applied_time: Some(Timestamp::now().to_string()),
        version,
        last_error: None,
    };
    report_status(ctx, target, &status).await;
}

async fn report_status(ctx: &Context, target: &Target<'_>, status: &LookupFeedStatus) {
    if let Err(error) = apply::patch_status(ctx, target, status).await {
        FeedReportFailed {
            namespace: target.namespace,
            table: target.table,
            error: &error,
        }
        .emit(&ctx.metrics);
    }
}

/// What the table's status says the feed last did.
fn previous(table: &LookupTable) -> LookupFeedStatus {
    table
        .status
        .as_ref()
        .and_then(|status| status.feed.clone())
        .unwrap_or_default()
}

fn version_attribute(message: &Message) -> Option<i64> {
    message
        .attributes
        .get(super::message::VERSION_ATTRIBUTE)?
        .trim()
        .parse()
        .ok()
}
