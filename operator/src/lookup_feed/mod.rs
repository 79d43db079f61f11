//! Lookup tables the shop back end keeps current through Pub/Sub (`spec.feed`): the
//! leading replica receives each fed table's subscription and applies every message to
//! the table's rows ([`apply`]), which the reconcile pipeline then compiles into the
//! gateway config like any other change. Followers consume nothing; a new leader starts
//! receiving from where the subscription stands (unacknowledged messages are redelivered).
//!
//! Path of a message: [`message`] (parse) → [`rows`] (current rows) → [`apply`] (store
//! rows, record version) → [`consume`] (status, ack/nack). See `docs/lookup-feeds.md`.

pub mod apply;
pub mod consume;
pub mod message;
pub mod rows;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use google_cloud_pubsub::client::Subscriber;
use hermes_crds::api::LookupTable;
use kube::runtime::reflector::Store;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::events::{Emit, FeedStarted, FeedStopped, SubscriberNotBuilt};
use crate::reconcile::Context;
use consume::Feed;

/// How often the fed tables are compared with the running feeds.
const RESCAN: Duration = Duration::from_secs(1);
/// How long a stopping feed may take to finish its message and hand back the rest.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The LookupTable stores of the reconciled namespaces: the named ones at start, and
/// with `--all-namespaces` each namespace as discovery finds it. The controller adds,
/// [`run`] reads at every scan.
pub type TableStores = watch::Receiver<Vec<Store<LookupTable>>>;

/// Run the feeds of the tables in `tables` while this replica leads, until `shutdown`
/// completes; then stop them cleanly (each hands back, negatively acknowledged, what
/// it has not applied, and closes its stream) before returning, so that the next leader
/// receives those messages at once. `emulator_host` is `$PUBSUB_EMULATOR_HOST`.
pub async fn run(
    ctx: Arc<Context>,
    tables: TableStores,
    emulator_host: Option<String>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut leader = ctx.leadership.subscribe();
    let mut subscriber: Option<Subscriber> = None;
    let mut running: HashMap<(String, String), (String, oneshot::Sender<()>)> = HashMap::new();
    // Dropping the set (a crash, as in tests dropping the operator) aborts the feeds; an
    // unacknowledged message is then redelivered, and applying it again changes nothing.
    let mut feeds = JoinSet::new();
    loop {
        while feeds.try_join_next().is_some() {}
        let wanted: HashMap<(String, String), String> = if *leader.borrow_and_update() {
            fed_tables(&tables.borrow())
        } else {
            HashMap::new()
        };
        // Dropping a feed's sender stops it after its current message.
        running.retain(|key, (subscription, _)| {
            let keep = wanted.get(key) == Some(subscription);
            if !keep {
                stopped(&ctx, key, subscription);
            }
            keep
        });
        for (key, subscription) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let client = match &subscriber {
                Some(client) => client.clone(),
                None => match build_subscriber(emulator_host.as_deref()).await {
                    Ok(client) => subscriber.insert(client).clone(),
                    Err(error) => {
                        SubscriberNotBuilt { error: &error }.emit(&ctx.metrics);
                        break;
                    }
                },
            };
            FeedStarted {
                namespace: &key.0,
                table: &key.1,
                subscription: &subscription,
            }
            .emit(&ctx.metrics);
            let (stop, stopped) = oneshot::channel();
            let feed = Feed {
                namespace: key.0.clone(),
                table: key.1.clone(),
                subscription: subscription.clone(),
            };
            feeds.spawn(consume::consume(ctx.clone(), client, feed, stopped));
            running.insert(key, (subscription, stop));
        }
        tokio::select! {
            () = tokio::time::sleep(RESCAN) => {}
            () = &mut shutdown => break,
            changed = leader.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    for (key, (subscription, _)) in running.drain() {
        stopped(&ctx, &key, &subscription);
    }
    let drained = async { while feeds.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_TIMEOUT, drained).await.is_err() {
        tracing::warn!(after = ?STOP_TIMEOUT, "lookup feeds did not stop in time; aborted");
    }
}

fn stopped(ctx: &Context, (namespace, table): &(String, String), subscription: &str) {
    FeedStopped {
        namespace,
        table,
        subscription,
    }
    .emit(&ctx.metrics);
}

/// `(namespace, table)` → subscription of every table with a feed.
fn fed_tables(stores: &[Store<LookupTable>]) -> HashMap<(String, String), String> {
    stores
        .iter()
        .flat_map(Store::state)
        .filter_map(|table| {
            let feed = table.spec.feed.as_ref()?;
            let namespace = table.metadata.namespace.clone()?;
            let name = table.metadata.name.clone()?;
            Some(((namespace, name), feed.subscription.clone()))
        })
        .collect()
}

/// A subscriber client: to the emulator when `emulator_host` is set (anonymous
/// credentials), else to Pub/Sub with Application Default Credentials.
async fn build_subscriber(
    emulator_host: Option<&str>,
) -> Result<Subscriber, google_cloud_gax::client_builder::Error> {
    let mut builder = Subscriber::builder();
    if let Some(host) = emulator_host.filter(|h| !h.is_empty()) {
        builder = builder
            .with_endpoint(format!("http://{host}"))
            .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build());
    }
    builder.build().await
}
