//! Which files a set of command-line paths names: files as given, folders walked
//! recursively for `*.yaml` / `*.yml`, sorted and without duplicates.
//!
//! While walking, entries whose name starts with `.` are skipped (VCS folders, and the
//! `..data` links of a mounted ConfigMap, whose files are reached through their own
//! links), and a `.hermesignore` file in a folder lists paths below it to skip, one per
//! line, relative to that folder (`#` comments; `*` and `?` match within one path
//! segment). A path named on the command line is always read.

use std::fs;
use std::path::{Path, PathBuf};

use super::ManifestError;

/// The name of the per-folder ignore file.
pub const IGNORE_FILE: &str = ".hermesignore";

/// The manifest files the paths name, sorted, each once.
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            walk(path, &mut Vec::new(), &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Patterns of one `.hermesignore`, relative to the folder holding it.
struct IgnoreList {
    base: PathBuf,
    patterns: Vec<String>,
}

impl IgnoreList {
    fn read(dir: &Path) -> Result<Option<Self>, ManifestError> {
        let path = dir.join(IGNORE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ManifestError::Read { path, source }),
        };
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let line = line.strip_prefix("./").unwrap_or(line);
                line.trim_end_matches('/').to_string()
            })
            .collect();
        Ok(Some(IgnoreList {
            base: dir.to_path_buf(),
            patterns,
        }))
    }

    fn ignores(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.base) else {
            return false;
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        self.patterns
            .iter()
            .any(|pattern| glob_matches(pattern, &relative))
    }
}

fn walk(
    dir: &Path,
    ignores: &mut Vec<IgnoreList>,
    files: &mut Vec<PathBuf>,
) -> Result<(), ManifestError> {
    let pushed = match IgnoreList::read(dir)? {
        Some(list) => {
            ignores.push(list);
            true
        }
        None => false,
    };
    let read_error = |source| ManifestError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        entries.push(entry.map_err(read_error)?.path());
    }
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden || ignores.iter().any(|list| list.ignores(&path)) {
            continue;
        }
        let metadata = fs::metadata(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            walk(&path, ignores, files)?;
        } else if is_yaml(&path) {
            files.push(path);
        }
    }
    if pushed {
        ignores.pop();
    }
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}

/// `*` matches any run of characters but `/`, `?` one character but `/`.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob_from(&pattern, &text)
}

fn glob_from(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len())
            .take_while(|&skip| skip == 0 || text[skip - 1] != '/')
            .any(|skip| glob_from(rest, &text[skip..])),
        Some(('?', rest)) => text
            .split_first()
            .is_some_and(|(c, tail)| *c != '/' && glob_from(rest, tail)),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(c, tail)| c == p && glob_from(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_stays_within_one_segment() {
        assert!(glob_matches("broken", "broken"));
        assert!(glob_matches("*.values.yaml", "prod.values.yaml"));
        assert!(!glob_matches("*.yaml", "sub/x.yaml"));
        assert!(glob_matches("sub/?.yaml", "sub/x.yaml"));
        assert!(!glob_matches("broken", "broken2"));
    }

    #[test]
    fn walk_finds_yaml_sorted_skipping_hidden_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "b.yaml",
            "a.yml",
            "notes.txt",
            ".hidden.yaml",
            "sub/c.yaml",
            "skip/d.yaml",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "").unwrap();
        }
        fs::write(root.join(IGNORE_FILE), "# not manifests\nskip/\n").unwrap();
        let files = manifest_files(&[root.to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml", "sub/c.yaml"]);
    }

    #[test]
    fn a_path_named_explicitly_is_read_even_when_ignored_by_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("skip")).unwrap();
        fs::write(root.join("skip/d.yaml"), "").unwrap();
        fs::write(root.join(IGNORE_FILE), "skip\n").unwrap();
        let files = manifest_files(&[root.to_path_buf(), root.join("skip")]).unwrap();
        assert_eq!(files, [root.join("skip/d.yaml")]);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let error = manifest_files(&[PathBuf::from("/no/such/dir")]).unwrap_err();
        assert!(error.to_string().contains("/no/such/dir"), "{error}");
    }
}
