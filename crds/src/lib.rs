//! Hermes' API: the `hermes.io/v1alpha1` custom resources (Tag, Trigger, LookupTable),
//! their status, and the CustomResourceDefinitions generated from them. The compiler that
//! turns these resources into gateway config lives in `hermes-compiler`.

pub mod api;
pub mod crd;
