//! The Hermes operator.
