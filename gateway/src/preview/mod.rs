//! Live preview (sGTM's preview mode) for real browsers: a page served by the gateway,
//! a first-party session cookie that marks a browser's hits as traced, a bounded ring of
//! those hits per session, and a server-sent-event stream of them.
//!
//! Nothing is traced or kept while no session is open: the hit path's only cost is
//! [`PreviewRegistry::session_for`]'s one atomic load. Sessions live in this replica's
//! memory; with several replicas, the session cookie must reach the same replica (see
//! `docs/preview.md`).

mod assets;
mod auth;
mod hit;
mod registry;
mod routes;
mod session;
mod stream;
mod test_hit;

pub use hit::PreviewHit;
pub use registry::{PreviewRegistry, PreviewSettings};
pub use routes::routes;
pub use session::Session;

/// The cookie carrying a browser's preview session id (first-party: the gateway's own
/// domain, as sGTM's preview cookie).
pub const SESSION_COOKIE: &str = "hermes_preview";

/// The header form of the session id, for back ends and `curl`.
pub const SESSION_HEADER: &str = "x-hermes-preview";

#[cfg(test)]
mod tests;
