//! Process plumbing every Hermes binary needs once at start and once at the end, kept in
//! one place so the gateway, the operator, the `hermes` command and the tests set up a
//! process the same way.

pub mod allocator;
mod crypto;
mod logging;
mod shutdown;

pub use crypto::install_crypto_provider;
pub use logging::{LogFormat, init_logging};
pub use shutdown::shutdown_signal;
