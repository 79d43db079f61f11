//! The hit mix file (`bench/hits/mix.tsv`), read into ready-to-send requests.
//!
//! One request a line, `METHOD<TAB>PATH[<TAB>BODY]`; `#` starts a comment line; in a body,
//! `\r` and `\n` stand for carriage return and line feed. A `HEADER<TAB>NAME<TAB>VALUE`
//! line is a header a browser sends: every `/g/` request (gtag.js hits come from
//! browsers) carries all of them, wherever in the file they are; other requests (the
//! Measurement Protocol, from a shop's back end) carry none. `bench/hits/mix.lua` reads the
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
    /// Headers besides `Host`, `Content-Type` and `Content-Length`, in order.
    pub headers: Vec<(String, String)>,
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
    #[error("{path}:{line}: not METHOD<TAB>PATH[<TAB>BODY] or HEADER<TAB>NAME<TAB>VALUE")]
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
    let mut browser_headers = Vec::new();
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
        if method == "HEADER" {
            let name = fields.next().filter(|name| !name.is_empty());
            let (name, value) = name.zip(fields.next()).ok_or_else(line_error)?;
            browser_headers.push((name.to_owned(), value.to_owned()));
            continue;
        }
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
            headers: Vec::new(),
            body: Bytes::from(body.replace("\\r", "\r").replace("\\n", "\n")),
        });
    }
    for hit in hits.iter_mut().filter(|hit| hit.path.starts_with("/g/")) {
        hit.headers.clone_from(&browser_headers);
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
    fn browser_headers_go_with_every_gtag_request_and_not_with_measurement_protocol() {
        let text = "GET\t/g/collect?en=page_view\n\
                    HEADER\tUser-Agent\tMozilla/5.0 (X11)\n\
                    POST\t/mp/collect?api_secret=s\t{}\n\
                    HEADER\tCookie\t_ga=GA1.1.1.2; theme=dark\n";
        let hits = parse_mix(text, Path::new("mix.tsv")).expect("parses");
        assert_eq!(hits.len(), 2);
        let browser = vec![
            ("User-Agent".to_owned(), "Mozilla/5.0 (X11)".to_owned()),
            ("Cookie".to_owned(), "_ga=GA1.1.1.2; theme=dark".to_owned()),
        ];
        assert_eq!(hits[0].headers, browser, "all of them, wherever they are");
        assert!(hits[1].headers.is_empty());
        let error = parse_mix("HEADER\tX-Only-A-Name\n", Path::new("mix.tsv")).unwrap_err();
        assert!(error.to_string().starts_with("mix.tsv:1: not "), "{error}");
    }

    #[test]
    fn a_line_without_a_path_names_its_line_number() {
        let error = parse_mix("GET\t/ok\nGET nothing\n", Path::new("mix.tsv")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "mix.tsv:2: not METHOD<TAB>PATH[<TAB>BODY] or HEADER<TAB>NAME<TAB>VALUE"
        );
    }

    #[test]
    fn the_repository_mix_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hits/mix.tsv");
        let hits = read_mix(&path).expect("bench/hits/mix.tsv parses");
        assert_eq!(hits.len(), 20);
        assert!(hits.iter().any(|h| h.path.starts_with("/mp/collect")));
        assert!(
            hits.iter()
                .filter(|h| h.path.starts_with("/g/"))
                .all(|h| h.headers.iter().any(|(name, _)| name == "User-Agent")),
            "gtag hits carry a browser's headers"
        );
    }
}
