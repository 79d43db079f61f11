//! The Hermes gateway: collect → fire → publish.

pub mod event;
