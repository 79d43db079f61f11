//! Hermes' API and compiler: the `hermes.io/v1alpha1` custom resources (Tag, Trigger,
//! LookupTable) and the pure compiler that turns one scope's resources into the
//! [`config::GatewayConfig`] the gateway serves. No Kubernetes client; the only I/O is
//! [`manifest`], which reads manifest files for `hermes lint` and standalone gateways.

pub mod api;
pub mod cluster;
pub mod compile;
pub mod config;
pub mod crd;
pub mod manifest;
