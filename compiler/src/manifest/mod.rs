//! Manifests on disk → [`Resources`]: what `hermes lint`, `hermes compile` and the
//! gateway's standalone mode read.
//!
//! Files and folders are read as `kubectl apply -R -f` would: multi-document YAML, folders
//! recursively (see [`files`] for which files), in sorted path order. Hermes kinds
//! (`hermes.io/v1alpha1` Tag, Trigger, LookupTable) and `v1` ConfigMaps are kept; other
//! kinds are skipped silently. Each kept object remembers where it came from, so that
//! compiler diagnostics can name the file.
//!
//! Problems the API server would reject (unknown `hermes.io` kind or version, a missing or
//! invalid name, schema types and enums, duplicates) drop the object and are reported;
//! unknown fields (which the server would silently prune) are reported and the object is
//! kept. Unreadable paths are the only hard errors.

mod document;
pub mod files;
mod problem;
pub mod unknown_fields;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use problem::Problem;

use crate::compile::{self, CompileOutput, Kind, ObjectKey, Resources};
use document::{Decoded, Object};

/// Why manifests could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A path given, or a file or folder below it, cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Where an object was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    /// The file, as reached from the paths given.
    pub file: PathBuf,
    /// The 1-based index of the YAML document in the file.
    pub document: usize,
}

/// The manifests of a set of paths.
#[derive(Debug, Clone, Default)]
pub struct LoadedManifests {
    /// The usable objects, in file order.
    pub resources: Resources,
    /// Where each Tag, Trigger and LookupTable came from.
    pub origins: BTreeMap<ObjectKey, Origin>,
    /// Everything wrong that the compiler does not see, in file order.
    pub problems: Vec<Problem>,
    /// Where each ConfigMap came from (by name).
    config_map_origins: BTreeMap<String, Origin>,
}

/// Read every manifest the paths name. Fails only when a path cannot be read; problems
/// in the manifests themselves are in [`LoadedManifests::problems`].
pub fn load_paths(paths: &[PathBuf]) -> Result<LoadedManifests, ManifestError> {
    let mut loaded = LoadedManifests::default();
    for file in files::manifest_files(paths)? {
        let bytes = std::fs::read(&file).map_err(|source| ManifestError::Read {
            path: file.clone(),
            source,
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => loaded.add_file(&file, &text),
            Err(_) => loaded.problems.push(Problem {
                file,
                document: 0,
                object: None,
                field: None,
                message: "is not UTF-8 text".into(),
            }),
        }
    }
    Ok(loaded)
}

/// Lint the manifests the paths name: one line per problem, `FILE: Kind/name: FIELD:
/// MESSAGE`, loading problems and compiler diagnostics together, ordered by file and
/// document. Empty when everything is valid.
pub fn lint(paths: &[PathBuf]) -> Result<Vec<String>, ManifestError> {
    let loaded = load_paths(paths)?;
    let output = loaded.compile("lint");
    Ok(loaded.lint_lines(&output))
}

impl LoadedManifests {
    /// Add the objects of one file's text (as if read from `file`).
    pub fn add_file(&mut self, file: &Path, text: &str) {
        let (documents, syntax_error) = document::parse_documents(text);
        for (position, value) in documents.iter().enumerate() {
            let index = position + 1;
            for decoded in document::decode(value, index) {
                self.add_decoded(file, index, decoded);
            }
        }
        if let Some((index, message)) = syntax_error {
            self.problems.push(Problem {
                file: file.to_path_buf(),
                document: index,
                object: None,
                field: None,
                message: format!("invalid YAML: {message}"),
            });
        }
    }

    /// Compile the loaded resources as one scope.
    pub fn compile(&self, scope: &str) -> CompileOutput {
        compile::compile(scope, &self.resources)
    }

    /// Lint lines for these manifests and their compiler output: every loading problem
    /// and every diagnostic (named after its object's file), ordered by file, document,
    /// then as found.
    pub fn lint_lines(&self, output: &CompileOutput) -> Vec<String> {
        let mut located: Vec<(Origin, String)> = self
            .problems
            .iter()
            .map(|problem| {
                let origin = Origin {
                    file: problem.file.clone(),
                    document: problem.document,
                };
                (origin, problem.to_string())
            })
            .collect();
        for diagnostic in &output.diagnostics {
            let origin = self
                .origins
                .get(&diagnostic.object)
                .cloned()
                .unwrap_or(Origin {
                    file: PathBuf::from("<unknown file>"),
                    document: 0,
                });
            let line = format!("{}: {diagnostic}", origin.file.display());
            located.push((origin, line));
        }
        // Stable: within one document, loading problems first, then diagnostics in the
        // compiler's order.
        located.sort_by(|a, b| a.0.cmp(&b.0));
        located.into_iter().map(|(_, line)| line).collect()
    }

    fn add_decoded(&mut self, file: &Path, index: usize, decoded: Decoded) {
        let origin = Origin {
            file: file.to_path_buf(),
            document: index,
        };
        let problem = |object: String, field: Option<String>, message: String| Problem {
            file: file.to_path_buf(),
            document: index,
            object: Some(object),
            field,
            message,
        };
        let (kind, name, object, warnings) = match decoded {
            Decoded::Problem {
                object,
                field,
                message,
            } => {
                self.problems.push(problem(object, field, message));
                return;
            }
            Decoded::Object {
                kind,
                name,
                object,
                warnings,
            } => (kind, name, object, warnings),
        };
        let label = format!("{kind}/{name}");
        if let Some(first) = self.first_origin(&object, &name) {
            let message = format!(
                "duplicate {kind} {name:?} (first defined in {} document {})",
                first.file.display(),
                first.document
            );
            self.problems
                .push(problem(label, Some("metadata.name".into()), message));
            return;
        }
        for (field, message) in warnings {
            self.problems
                .push(problem(label.clone(), Some(field), message));
        }
        let key = |kind| ObjectKey {
            kind,
            name: name.clone(),
        };
        match object {
            Object::Tag(tag) => {
                self.origins.insert(key(Kind::Tag), origin);
                self.resources.tags.push(*tag);
            }
            Object::Trigger(trigger) => {
                self.origins.insert(key(Kind::Trigger), origin);
                self.resources.triggers.push(*trigger);
            }
            Object::LookupTable(table) => {
                self.origins.insert(key(Kind::LookupTable), origin);
                self.resources.lookup_tables.push(*table);
            }
            Object::ConfigMap(data) => {
                self.config_map_origins.insert(name.clone(), origin);
                self.resources.config_maps.insert(name, data);
            }
        }
    }

    /// Where an object of the same kind and name was read before, if one was.
    fn first_origin(&self, object: &Object, name: &str) -> Option<&Origin> {
        let kind = match object {
            Object::Tag(_) => Kind::Tag,
            Object::Trigger(_) => Kind::Trigger,
            Object::LookupTable(_) => Kind::LookupTable,
            Object::ConfigMap(_) => return self.config_map_origins.get(name),
        };
        self.origins.get(&ObjectKey {
            kind,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
