//! One feed message applied to its table: parse it, confirm leadership, skip it if an
//! equal or newer version is applied already, compute the rows, store them where the
//! gateways read them ([`lookup_import::import`]: inline rows or the ConfigMap source),
//! then record the version. The message may be acknowledged only after this returns `Ok`;
//! the reconcile that follows the stored rows writes the gateway config and publishes
//! the publication outcome, as for any other change.

use std::collections::HashMap;

use hermes_crds::api::{LookupFeedStatus, LookupTable};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use super::message::{self, Change, MessageError};
use super::rows::{self, RowsError};
use crate::leader::LeadershipError;
use crate::lookup_import::{self, ImportError};
use crate::reconcile::Context;

/// The field manager of the feed's writes besides the rows (which are the import's).
pub const FEED_MANAGER: &str = "hermes-lookup-feed";
/// Annotation on the LookupTable: the version of the last versioned message applied.
pub const VERSION_ANNOTATION: &str = "hermes.io/feed-version";

/// What applying a message did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The rows were stored; the table has this many now.
    Rows(usize),
    /// Skipped: the table has version `applied`, not older than the message's.
    Stale {
        /// The message's version.
        version: i64,
        /// The table's.
        applied: i64,
    },
}

/// Why a message was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The message is malformed or its change is refused.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// This replica does not (surely) lead.
    #[error("not applied by a non-leader: {0}")]
    Leadership(#[source] LeadershipError),
    /// The table could not be read.
    #[error("reading the LookupTable: {0}")]
    ReadTable(#[source] kube::Error),
    /// The table was deleted.
    #[error("the LookupTable no longer exists")]
    TableGone,
    /// The table's current rows could not be read.
    #[error("reading the current rows: {0}")]
    ReadRows(#[source] RowsError),
    /// The rows could not be stored.
    #[error("storing the rows: {0}")]
    StoreRows(#[source] ImportError),
    /// The applied version could not be recorded.
    #[error("recording version {version}: {source}")]
    RecordVersion {
        /// The version.
        version: i64,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

impl ApplyError {
    /// Whether retrying cannot help: the message is acknowledged and reported instead of
    /// being redelivered forever.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            ApplyError::Message(_)
                | ApplyError::TableGone
                | ApplyError::ReadRows(RowsError::Unreadable { .. })
                | ApplyError::StoreRows(
                    ImportError::TooLarge { .. }
                        | ImportError::Csv(_)
                        | ImportError::TableNotFound { .. }
                )
        )
    }

    /// A short CamelCase name for Events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Message(error) => error.reason(),
            ApplyError::Leadership(_) => "NotLeader",
            ApplyError::ReadTable(_) => "ReadTableFailed",
            ApplyError::TableGone | ApplyError::StoreRows(ImportError::TableNotFound { .. }) => {
                "TableGone"
            }
            ApplyError::ReadRows(RowsError::Unreadable { .. }) => "SourceUnreadable",
            ApplyError::ReadRows(_) => "ReadRowsFailed",
            ApplyError::StoreRows(ImportError::TooLarge { .. }) => "TooLarge",
            ApplyError::StoreRows(_) => "StoreRowsFailed",
            ApplyError::RecordVersion { .. } => "RecordVersionFailed",
        }
    }
}

/// A table's feed: where it is and what it last did.
pub struct Target<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable's name.
    pub table: &'a str,
}

/// Apply one message (`data` and `attributes`) to `target`'s rows.
pub async fn apply(
    ctx: &Context,
    target: &Target<'_>,
    data: &[u8],
    attributes: &HashMap<String, String>,
) -> Result<(Applied, LookupTable), (ApplyError, Option<LookupTable>)> {
    let message = message::parse(data, attributes).map_err(|e| (e.into(), None))?;
    ctx.leadership
        .confirm()
        .await
        .map_err(|e| (ApplyError::Leadership(e), None))?;
    let tables: Api<LookupTable> = Api::namespaced(ctx.client.clone(), target.namespace);
    let table = tables
        .get_opt(target.table)
        .await
        .map_err(|e| (ApplyError::ReadTable(e), None))?
        .ok_or((ApplyError::TableGone, None))?;
    let fail = |error: ApplyError| (error, Some(table.clone()));
    if let (Some(version), Some(applied)) = (message.version, applied_version(&table))
        && version <= applied
    {
        return Ok((Applied::Stale { version, applied }, table));
    }
    let current = match &message.change {
        Change::Snapshot(_) => Vec::new(),
        Change::Rows { .. } => rows::current(&ctx.client, &table)
            .await
            .map_err(|e| fail(ApplyError::ReadRows(e)))?,
    };
    let rows = message.change.apply(current).map_err(|e| fail(e.into()))?;
    lookup_import::import(ctx.client.clone(), target.namespace, target.table, &rows)
        .await
        .map_err(|e| fail(ApplyError::StoreRows(e)))?;
    if let Some(version) = message.version {
        let patch = json!({
            "apiVersion": LookupTable::api_version(&()),
            "kind": LookupTable::kind(&()),
            "metadata": {
                "name": target.table,
                "annotations": { VERSION_ANNOTATION: version.to_string() },
            },
        });
        tables
            .patch(
                target.table,
                &PatchParams::apply(FEED_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|source| fail(ApplyError::RecordVersion { version, source }))?;
    }
    Ok((Applied::Rows(rows.len()), table))
}

/// The version of the last versioned message applied to `table`.
pub fn applied_version(table: &LookupTable) -> Option<i64> {
    table
        .metadata
        .annotations
        .as_ref()?
        .get(VERSION_ANNOTATION)?
        .parse()
        .ok()
}

/// Write `status.feed` of `table` whole, by merge patch under the feed's field manager
/// (reconciles leave it): fields `feed` lacks are removed (a cleared `lastError`), which
/// an apply patch does not do on the status of older API servers.
pub async fn patch_status(
    ctx: &Context,
    target: &Target<'_>,
    feed: &LookupFeedStatus,
) -> Result<(), kube::Error> {
    let tables: Api<LookupTable> = Api::namespaced(ctx.client.clone(), target.namespace);
    let patch = json!({
        "status": { "feed": {
            "lastAppliedMessageId": feed.last_applied_message_id,
            "lastAppliedTime": feed.last_applied_time,
            "version": feed.version,
            "lastError": feed.last_error,
        }},
    });
    let params = PatchParams {
        field_manager: Some(FEED_MANAGER.to_string()),
        ..PatchParams::default()
    };
    tables
        .patch_status(target.table, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
}
