//! The Hermes operator: reconciles each scope's (namespace's) Tags, Triggers and
//! LookupTables into the gateway config, confirms it is live on every gateway replica,
//! and reports that on each object's status.
//!
//! Resource path: watch ([`cache`]) → compile and write ([`scope`]) → gateway reports
//! ([`liveness`]) → statuses ([`status`], pure) → patch ([`reconcile`]); outcomes to
//! Pub/Sub ([`publication`]); one writer via [`leader`]; wiring in [`controller`].
//! [`lookup_import`] backs `hermes lookup import`; [`cli`] is the command line.

pub mod cache;
pub mod cli;
pub mod controller;
pub mod error;
pub mod leader;
pub mod liveness;
pub mod lookup_import;
pub mod metrics;
pub mod publication;
pub mod reconcile;
pub mod scope;
pub mod status;

pub use controller::{Options, run};
pub use error::Error;
pub use leader::LeaderOptions;
