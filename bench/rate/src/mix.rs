//! The hit mix file (`bench/hits/mix.tsv`), read into ready-to-send requests.
//!
//! One request a line, `METHOD<TAB>PATH[<TAB>BODY]`; `#` starts a comment line; in a body,
//! `\r` and `\n` stand for carriage return and line feed. `bench/hits/mix.lua` reads the
//! same format for wrk, so both load generators send the same hits.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Method;

/// One request of the mix.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Bytes,
}

/// Why a mix file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    #[error("reading the hit mix {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not METHOD<TAB>PATH[<TAB>BODY]")]
    Line { path: PathBuf, line: usize },
    #[error("{path}:{line}: unknown method {method:?}")]
    Method {
        path: PathBuf,
        line: usize,
        method: String,
    },
    #[error("{path}: no requests")]
    Empty { path: PathBuf },
}

/// Reads the mix at `path`.
pub fn read_mix(path: &Path) -> Result<Vec<Hit>, MixError> {
    let text = std::fs::read_to_string(path).map_err(|source| MixError::Read {
        path: path.to_owned(),
        source,
    })?;
    let hits = parse_mix(&text, path)?;
    if hits.is_empty() {
        return Err(MixError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(hits)
}

fn parse_mix(text: &str, path: &Path) -> Result<Vec<Hit>, MixError> {
    let mut hits = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line_error = || MixError::Line {
            path: path.to_owned(),
            line: index + 1,
        };
        let mut fields = line.splitn(3, '\t');
        let method = fields.next().ok_or_else(line_error)?;
        let target = fields.next().filter(|p| p.starts_with('/'));
        let target = target.ok_or_else(line_error)?;
        let body = fields.next().unwrap_or_default();
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| MixError::Method {
            path: path.to_owned(),
            line: index + 1,
            method: method.to_owned(),
        })?;
        hits.push(Hit {
            method,
            path: target.to_owned(),
            content_type: (!body.is_empty()).then(|| content_type(target)),
            body: Bytes::from(body.replace("\\r", "\r").replace("\\n", "\n")),
        });
    }
    Ok(hits)
}

/// The Content-Type a sender gives the body: JSON for Measurement Protocol, text for gtag.
fn content_type(path: &str) -> &'static str {
    if path.starts_with("/mp/") {
        "application/json"
    } else {
        "text/plain;charset=UTF-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_get_their_line_breaks_and_content_type_and_comments_are_skipped() {
        let text = "# comment\n\nGET\t/g/collect?en=page_view\n\
                    POST\t/g/collect?v=2\ten=scroll\\r\\nen=user_engagement\n\
                    POST\t/mp/collect?api_secret=s\t{\"events\":[]}\n";
        let hits = parse_mix(text, Path::new("mix.tsv")).expect("parses");
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].method, Method::GET);
        assert_eq!(hits[0].content_type, None);
        assert!(hits[0].body.is_empty());
        assert_eq!(&hits[1].body[..], b"en=scroll\r\nen=user_engagement");
        assert_eq!(hits[1].content_type, Some("text/plain;charset=UTF-8"));
        assert_eq!(hits[2].content_type, Some("application/json"));
    }

    #[test]
    fn a_line_without_a_path_names_its_line_number() {
        let error = parse_mix("GET\t/ok\nGET nothing\n", Path::new("mix.tsv")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "mix.tsv:2: not METHOD<TAB>PATH[<TAB>BODY]"
        );
    }

    #[test]
    fn the_repository_mix_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hits/mix.tsv");
        let hits = read_mix(&path).expect("bench/hits/mix.tsv parses");
        assert_eq!(hits.len(), 20);
        assert!(hits.iter().any(|h| h.path.starts_with("/mp/collect")));
    }
}
