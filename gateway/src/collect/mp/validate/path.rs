//! Field paths of messages (`events[0].params.items[1].price`), written out only when a
//! message is: a valid body, nearly every one, formats none (building each parameter's
//! and item key's path up front was a tenth of a Measurement Protocol hit's handling).

use std::fmt;

/// Where a value sits in the body: a top-level key, then keys and indexes under it.
#[derive(Debug, Clone, Copy)]
pub(super) enum FieldPath<'a> {
    /// A top-level key, e.g. `events`.
    Root(&'a str),
    /// A key of the object at the parent path.
    Key(&'a FieldPath<'a>, &'a str),
    /// An index into the array at the parent path.
    Index(&'a FieldPath<'a>, usize),
}

impl<'a> FieldPath<'a> {
    /// The path of `key` under this one.
    pub(super) fn key(&'a self, key: &'a str) -> FieldPath<'a> {
        FieldPath::Key(self, key)
    }

    /// The path of element `index` under this one.
    pub(super) fn index(&'a self, index: usize) -> FieldPath<'a> {
        FieldPath::Index(self, index)
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Root(key) => f.write_str(key),
            FieldPath::Key(parent, key) => write!(f, "{parent}.{key}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

impl From<FieldPath<'_>> for String {
    fn from(path: FieldPath<'_>) -> String {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_written_as_google_writes_field_paths() {
        let events = FieldPath::Root("events");
        let event = events.index(0);
        let params = event.key("params");
        let items = params.key("items");
        let item = items.index(1);
        assert_eq!(
            String::from(item.key("price")),
            "events[0].params.items[1].price"
        );
        assert_eq!(String::from(events), "events");
    }
}
