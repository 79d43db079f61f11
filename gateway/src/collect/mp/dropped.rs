//! What a broken rule leaves out when `/mp/collect` answers as Google's does: Google's
//! collection endpoint never refuses a request; it keeps what is valid and drops the
//! rest. Each validation message names the smallest part of the request it spoils, so
//! the gateway fires the valid remainder and counts what it dropped, by code.

use std::collections::BTreeSet;

use super::messages::ValidationCode;

/// The part of a request one broken rule takes out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The whole request: it cannot be read as Google reads it (not JSON, unknown fields,
    /// no client id, a stream id problem, a bad timestamp, too many events, …).
    Request,
    /// One event, by index: its name, its timestamp or its number of parameters.
    Event(usize),
    /// One parameter of one event: its name or its value.
    Parameter {
        /// The event's index.
        event: usize,
        /// The parameter's name.
        name: String,
    },
    /// One item of one event's `items`.
    Item {
        /// The event's index.
        event: usize,
        /// The item's index.
        index: usize,
    },
    /// One user property, by name.
    UserProperty(String),
}

impl Part {
    /// The label of the part in metrics and logs: `request`, `event`, `parameter`,
    /// `item` or `user_property`.
    pub fn kind(&self) -> &'static str {
        match self {
            Part::Request => "request",
            Part::Event(_) => "event",
            Part::Parameter { .. } => "parameter",
            Part::Item { .. } => "item",
            Part::UserProperty(_) => "user_property",
        }
    }
}

/// One part left out, and the code of the rule that spoiled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// What was left out.
    pub part: Part,
    /// Google's code for the broken rule.
    pub code: ValidationCode,
}

/// The parts to leave out when building events, for quick look-ups.
#[derive(Debug, Default)]
pub(crate) struct Omissions {
    request: bool,
    parts: BTreeSet<Part>,
}

impl Omissions {
    pub(crate) fn new(dropped: &[Dropped]) -> Self {
        Omissions {
            request: dropped.iter().any(|d| d.part == Part::Request),
            parts: dropped.iter().map(|d| d.part.clone()).collect(),
        }
    }

    /// Whether nothing of the request may be fired.
    pub(crate) fn request(&self) -> bool {
        self.request
    }

    /// Whether nothing at all is left out (the common case: no look-ups needed).
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub(crate) fn event(&self, event: usize) -> bool {
        !self.is_empty() && self.parts.contains(&Part::Event(event))
    }

    pub(crate) fn parameter(&self, event: usize, name: &str) -> bool {
        !self.is_empty()
            && self.parts.contains(&Part::Parameter {
                event,
                name: name.to_string(),
            })
    }

    pub(crate) fn item(&self, event: usize, index: usize) -> bool {
        !self.is_empty() && self.parts.contains(&Part::Item { event, index })
    }

    pub(crate) fn user_property(&self, name: &str) -> bool {
        !self.is_empty() && self.parts.contains(&Part::UserProperty(name.to_string()))
    }
}
