//! The Hermes operator: reconciles each namespace's Tags, Triggers and LookupTables into
//! the gateway config, confirms it is live on every gateway replica, and reports that on
//! each object's status.
//!
//! Resource path: watch ([`cache`]) → [`reconcile`]: compile → write config → publish
//! outcome ([`publication`]) → read liveness ([`liveness`]) → forget gone gateways →
//! check topics ([`topic_check`], then [`delivery`]) → sync statuses ([`status`], pure). One writer via [`leader`]; what happens is logged
//! and counted by [`events`] into [`metrics`]; wiring in [`controller`].
//! [`lookup_import`] backs `hermes lookup import`; [`lookup_feed`] applies the Pub/Sub
//! feeds of LookupTables (leader only) through it; [`cli`] is the command line.
//! Every API request but watches is bounded by [`api_timeout`].

pub mod api_timeout;
pub mod cache;
pub mod cli;
pub mod controller;
pub mod delivery;
pub mod discovery;
pub mod error;
pub mod events;
pub mod leader;
pub mod liveness;
pub mod lookup_feed;
pub mod lookup_import;
pub mod metrics;
pub mod publication;
pub mod reconcile;
pub mod status;
pub mod topic_check;

pub use controller::{Options, run};
pub use error::Error;
pub use leader::LeaderOptions;
