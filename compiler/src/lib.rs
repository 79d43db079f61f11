//! Hermes' compiler and the contract it produces: the pure [`compile`] step that turns
//! one namespace's Tags, Triggers and LookupTables (the `hermes-crds` API types) into the
//! [`config::GatewayConfig`] the gateway serves; [`manifest`] loading and lint for
//! `hermes lint` and standalone gateways; and the in-cluster [`contract`] (ConfigMap and
//! Lease names, config encoding) between operator and gateways; [`synthetic`] scopes of
//! many Tags for benchmarks and scale tests. No Kubernetes client; the
//! only I/O is [`manifest`], which reads manifest files.

pub mod compile;
pub mod config;
pub mod contract;
pub mod failing_topics;
pub mod manifest;
pub mod synthetic;
pub mod text;
