//! Dead letters: messages a topic could not take, kept in a JSON-lines file per topic so
//! nothing accepted disappears silently. A record is acknowledged in the buffer only after
//! its dead letter was written and synced.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use hermes_buffer::Record;
use serde::Serialize;

/// The attribute carrying why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "hermes_dead_letter_reason";

/// Why dead letters could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("cannot create the dead-letter directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot append to the dead-letter file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the dead-letter writing task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// One line of a dead-letter file.
#[derive(Debug, Serialize)]
struct DeadLetter<'a> {
    /// When it was dead-lettered, RFC 3339.
    time: String,
    topic: &'a str,
    reason: &'a str,
    error: &'a str,
    attributes: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<&'a str>,
    /// The payload, base64 (payloads are bytes).
    data: String,
}

/// The dead-letter file of one topic: `<dir>/<topic, '/' as '_'>.jsonl`.
#[derive(Debug, Clone)]
pub struct DeadLetterFile {
    dir: PathBuf,
    path: PathBuf,
}

impl DeadLetterFile {
    pub fn new(dir: &Path, topic: &str) -> Self {
        DeadLetterFile {
            dir: dir.to_owned(),
            path: dir.join(format!("{}.jsonl", topic.replace('/', "_"))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` with `reason` (also set as the [`REASON_ATTRIBUTE`]) and
    /// `error`, and syncs the file, on the blocking pool.
    pub async fn write(
        &self,
        records: Vec<Record>,
        reason: &'static str,
        error: String,
    ) -> Result<(), DeadLetterError> {
        let file = self.clone();
        tokio::task::spawn_blocking(move || file.write_blocking(&records, reason, &error))
            .await
            .map_err(DeadLetterError::Task)?
    }

    fn write_blocking(
        &self,
        records: &[Record],
        reason: &str,
        error: &str,
    ) -> Result<(), DeadLetterError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| DeadLetterError::CreateDir {
            path: self.dir.clone(),
            source,
        })?;
        let time = chrono::Utc::now().to_rfc3339();
        let mut lines = Vec::new();
        for record in records {
            let mut attributes = record.attributes.clone();
            attributes.insert(REASON_ATTRIBUTE.to_owned(), reason.to_owned());
            let letter = DeadLetter {
                time: time.clone(),
                topic: &record.topic,
                reason,
                error,
                attributes,
                ordering_key: record.ordering_key(),
                data: base64::engine::general_purpose::STANDARD.encode(&record.data),
            };
            // Serialising strings and maps cannot fail.
            if let Ok(line) = serde_json::to_vec(&letter) {
                lines.extend_from_slice(&line);
                lines.push(b'\n');
            }
        }
        let write = |source| DeadLetterError::Write {
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(write)?;
        file.write_all(&lines).map_err(write)?;
        file.sync_data().map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dead_letters_keep_the_message_its_attributes_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = DeadLetterFile::new(dir.path(), "projects/p/topics/missing");
        let record = Record::new("projects/p/topics/missing", "{\"sku\":\"BOWL-10\"}")
            .with_attribute("hermes_event_id", "e-1");
        file.write(vec![record], "TopicNotFound", "topic not found".into())
            .await
            .unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("projects_p_topics_missing.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["reason"], "TopicNotFound");
        assert_eq!(line["attributes"]["hermes_event_id"], "e-1");
        assert_eq!(line["attributes"][REASON_ATTRIBUTE], "TopicNotFound");
        let data = base64::engine::general_purpose::STANDARD
            .decode(line["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, b"{\"sku\":\"BOWL-10\"}");
    }
}
