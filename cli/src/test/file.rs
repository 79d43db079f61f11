//! The test-file format: `*.test.yaml` files holding hits and what must come out of them.
//!
//! Written by people in review, so every field is checked (`deny_unknown_fields`) and a
//! misspelt expectation is an error rather than a test that silently asserts nothing.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Why test files could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    /// A path given, or a folder below it, cannot be listed.
    #[error("cannot read {}: {source}", path.display())]
    List {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A test file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A test file is not valid YAML or does not have the test-file shape.
    #[error("{}: not a valid test file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A hit that is neither or both of `gtag` and `mp`.
    #[error("{}: test {test:?}: the hit needs exactly one of `gtag` and `mp`", path.display())]
    HitForm {
        /// The file.
        path: PathBuf,
        /// The test's name.
        test: String,
    },
    /// A test without any expectation, which could never fail.
    #[error("{}: test {test:?}: `expect` needs `fired`, `notFired` or `messages`", path.display())]
    EmptyExpectation {
        /// The file.
        path: PathBuf,
        /// The test's name.
        test: String,
    },
}

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The tests, run in order.
    pub tests: Vec<TestCase>,
}

/// One hit and what it must produce.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the test proves, printed with its result.
    pub name: String,
    /// The request.
    pub hit: Hit,
    /// What must (not) come out.
    pub expect: Expectation,
}

/// One request to the gateway: a gtag.js hit or a Measurement Protocol body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hit {
    /// A `/g/collect` URL (path and query, or a full URL).
    pub gtag: Option<String>,
    /// The `/g/collect` POST body: one event per line.
    pub body: Option<String>,
    /// A `/mp/collect` body: a mapping (sent as JSON) or a string sent as is.
    pub mp: Option<Value>,
    /// The `/mp/collect` query string.
    #[serde(default = "default_mp_query")]
    pub query: String,
    /// Request headers (names are case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Cookies, values decoded; when given, they stand for a `Cookie` header.
    #[serde(default)]
    pub cookies: BTreeMap<String, String>,
    /// The client's IP address, as the gateway would determine it.
    pub client_ip: Option<IpAddr>,
}

fn default_mp_query() -> String {
    "measurement_id=G-TEST&api_secret=test".to_string()
}

/// What a hit must produce. Every part is optional; an empty expectation is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectation {
    /// Tags that must fire (on at least one event of the hit).
    #[serde(default)]
    pub fired: Vec<String>,
    /// Tags that must not fire on any event of the hit.
    #[serde(default)]
    pub not_fired: Vec<String>,
    /// Every message the hit publishes, in order (events in order, tags by name, items
    /// in order); `[]` means nothing is published.
    pub messages: Option<Vec<ExpectedMessage>>,
}

/// One message as expected: only the parts written are compared.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedMessage {
    /// The tag that published it.
    pub tag: Option<String>,
    /// The topic: a short name (`promotions`) compares with the topic's last segment, a
    /// full path (`projects/P/topics/T`) with the whole path.
    pub topic: Option<String>,
    /// Attributes the message must carry (others may be present).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The ordering key.
    pub ordering_key: Option<String>,
    /// A JSON subset of the payload: objects may have more keys, arrays must have as
    /// many elements, each matching.
    pub payload: Option<Value>,
    /// Payload keys that must be absent.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// A read test file.
#[derive(Debug)]
pub struct LoadedTests {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its tests.
    pub tests: Vec<TestCase>,
}

/// The test files the paths name: files ending in `.test.yaml` / `.test.yml` given
/// directly or found below given folders (hidden entries skipped), sorted, each once.
pub fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TestFileError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|source| TestFileError::List {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            walk(path, &mut files)?;
        } else if is_test_file(path) {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), TestFileError> {
    let list_error = |source| TestFileError::List {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(list_error)? {
        let path = entry.map_err(list_error)?.path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if is_test_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|name| name.ends_with(".test.yaml") || name.ends_with(".test.yml"))
}

/// Read and check one test file.
pub fn read(path: &Path) -> Result<LoadedTests, TestFileError> {
    let text = fs::read_to_string(path).map_err(|source| TestFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: TestFile = serde_yaml_ng::from_str(&text).map_err(|source| TestFileError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    for test in &file.tests {
        let named = || (path.to_path_buf(), test.name.clone());
        if test.hit.gtag.is_some() == test.hit.mp.is_some() {
            let (path, test) = named();
            return Err(TestFileError::HitForm { path, test });
        }
        let expect = &test.expect;
        if expect.fired.is_empty() && expect.not_fired.is_empty() && expect.messages.is_none() {
            let (path, test) = named();
            return Err(TestFileError::EmptyExpectation { path, test });
        }
    }
    Ok(LoadedTests {
        path: path.to_path_buf(),
        tests: file.tests,
    })
}
