//! The Hermes gateway: collect → fire → publish.

pub mod cli;
pub mod collect;
pub mod config_source;
pub mod event;
pub mod events;
pub mod fire;
pub mod metrics;
pub mod preview;
pub mod publish;
pub mod server;
pub mod settings;
