//! All-namespaces mode: which namespaces hold Hermes objects. Watches the metadata of
//! Tags, Triggers and LookupTables cluster-wide (one cheap watch per kind, no specs) and
//! yields each namespace the first time one of them appears there, so the controller
//! starts that namespace's cache and worker. A namespace stays reconciled once seen:
//! when its last object goes, its worker still has to write the emptied config.

use std::collections::HashSet;

use futures::{Stream, StreamExt, stream};
use hermes_crds::api::{LookupTable, Tag, Trigger};
use kube::api::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

/// The namespaces holding a Tag, Trigger or LookupTable, each yielded once, as they
/// appear. Watch errors are logged and retried with backoff; the stream never ends.
pub fn namespaces(client: &Client) -> impl Stream<Item = String> + Send + 'static {
    let kinds = stream::select_all([
        namespaces_of::<Tag>(client),
        namespaces_of::<Trigger>(client),
        namespaces_of::<LookupTable>(client),
    ]);
    let mut seen = HashSet::new();
    kinds.filter_map(move |namespace| {
        let new = seen.insert(namespace.clone()).then_some(namespace);
        async move { new }
    })
}

fn namespaces_of<K>(client: &Client) -> stream::BoxStream<'static, String>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    let api: Api<PartialObjectMeta<K>> = Api::all(client.clone());
    watcher(api, watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .filter_map(|object| async move {
            match object {
                Ok(object) => object.namespace(),
                Err(error) => {
                    tracing::warn!(kind = K::kind(&()).as_ref(), %error, "cluster-wide watch failed; retrying");
                    None
                }
            }
        })
        .boxed()
}
