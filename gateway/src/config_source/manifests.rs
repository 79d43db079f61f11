//! Standalone config: compile a folder of manifests with the shared compiler, and
//! recompile when the files change (polling, so it works on every file system and in
//! ConfigMap volume mounts, whose updates are symlink swaps).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hermes_compiler::config::GatewayConfig;
use hermes_compiler::manifest;

use super::{ConfigLoadError, ConfigSink};

/// Compile the manifests under `paths`. Problems with individual objects do not fail the
/// load (those objects are left out, as in the cluster); they are returned as lint lines.
pub fn compile_manifests(
    paths: &[PathBuf],
    scope: &str,
) -> Result<(GatewayConfig, Vec<String>), ConfigLoadError> {
    let loaded = manifest::load_paths(paths).map_err(|e| ConfigLoadError::Source(e.to_string()))?;
    let output = loaded.compile(scope);
    let problems = loaded.lint_lines(&output);
    Ok((output.config, problems))
}

/// Load once now; `Err` when the manifests cannot be read or prepared.
pub fn load_into(
    paths: &[PathBuf],
    scope: &str,
    sink: &dyn ConfigSink,
) -> Result<(), ConfigLoadError> {
    let (config, problems) = compile_manifests(paths, scope)?;
    for problem in &problems {
        tracing::warn!(problem = %problem, "manifest problem; object left out");
    }
    sink.offer(config)
}

/// Recompile whenever a file under `paths` changes, until the task is dropped.
pub async fn watch(paths: Vec<PathBuf>, scope: String, sink: Arc<dyn ConfigSink>, every: Duration) {
    let mut seen = fingerprint(&paths);
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint(&paths);
        if now == seen {
            continue;
        }
        seen = now;
        if let Err(error) = load_into(&paths, &scope, sink.as_ref()) {
            tracing::warn!(%error, "manifests changed but did not load; previous config keeps serving");
        }
    }
}

/// Paths, sizes and modification times of every manifest file.
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    manifest::files::manifest_files(paths)
        .unwrap_or_default()
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (file, len, modified)
        })
        .collect()
}
