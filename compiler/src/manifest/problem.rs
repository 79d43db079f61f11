//! A problem found while reading manifests, printed as one lint line.

use std::fmt;
use std::path::PathBuf;

/// One problem with one manifest document, located by file and document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The file, as reached from the paths given (not canonicalized).
    pub file: PathBuf,
    /// The 1-based index of the YAML document in the file.
    pub document: usize,
    /// The object, `Kind/name` (or `Kind (document N)` when it has no name); `None` when
    /// the document could not be read as an object at all.
    pub object: Option<String>,
    /// The field path, e.g. `spec.payload.fields[0].type`, when one field is at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `FILE: Kind/name: FIELD: MESSAGE`, leaving out the parts that are unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}
