//! The live preview in a real browser: `hermes-gateway --manifests examples/` with the
//! Pub/Sub emulator, and `tests/browser/preview.mjs` driving Debian's headless Chromium
//! through playwright-core. The browser's hits must show in the preview page and still be
//! published; the page's screenshot is kept as `target/debug/artefacts/preview.png`.
//!
//! Needs `node`, `/usr/bin/chromium` and playwright-core (`tests/browser/install`, which
//! `scripts/test` runs and whose output it passes as `HERMES_NODE_MODULES`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::pubsub::PubSubEmulator;
use serde_json::Value;
use tokio::process::Command;

const PROJECT: &str = "hermes-local";
const TOPICS: [&str; 3] = ["promotions", "low-stock", "cart-activity"];
const DEBUG_TOKEN: &str = "let-me-preview";
const DELIVERY: Duration = Duration::from_secs(30);
const DEFAULT_NODE_MODULES: &str = "/var/cache/hermes/node/preview/node_modules";

fn subscription(topic: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{topic}-preview")
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the screenshot is kept: `HERMES_ARTEFACTS`, or `artefacts/` beside the binaries.
fn screenshot_path() -> PathBuf {
    let folder = std::env::var_os("HERMES_ARTEFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_hermes-gateway"))
                .parent()
                .unwrap()
                .join("artefacts")
        });
    std::fs::create_dir_all(&folder).unwrap();
    folder.join("preview.png")
}

#[tokio::test]
async fn the_preview_page_shows_a_real_browsers_hits_with_triggers_tags_and_messages() {
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    emulator
        .create_topics_with_subscriptions(PROJECT, &TOPICS, "preview")
        .await
        .expect("topics and subscriptions created");
    let mut gateway = GatewayProcess::builder()
        .examples()
        .pubsub(emulator.host_port())
        .args(["--debug-token", DEBUG_TOKEN])
        .start()
        .await
        .expect("gateway becomes ready");
    let base = gateway.url();

    let screenshot = screenshot_path();
    let _ = std::fs::remove_file(&screenshot);
    let node_modules =
        std::env::var("HERMES_NODE_MODULES").unwrap_or_else(|_| DEFAULT_NODE_MODULES.into());
    let run = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("node")
            .arg(repository().join("tests/browser/preview.mjs"))
            .env("HERMES_GATEWAY", &base)
            .env("HERMES_DEBUG_TOKEN", DEBUG_TOKEN)
            .env("HERMES_SCREENSHOT", &screenshot)
            .env("HERMES_NODE_MODULES", &node_modules)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser test ends within two minutes")
    .expect("node runs (is it installed?)");
    assert!(
        run.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&screenshot).expect("the screenshot is kept");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");

    // Previewed hits are published as usual (the session was not a dry run)…
    let promotions = emulator
        .pull(&subscription("promotions"), 1, DELIVERY)
        .await
        .unwrap();
    let promotion: Value = serde_json::from_slice(&promotions[0].data).unwrap();
    assert_eq!(promotion["promotion_id"], "SUMMER24");
    let low_stock = emulator
        .pull(&subscription("low-stock"), 1, DELIVERY)
        .await
        .unwrap();
    assert_eq!(low_stock.len(), 1);
    // …and the page's test hit never is.
    let cart = emulator
        .pull(&subscription("cart-activity"), 1, Duration::from_secs(3))
        .await
        .unwrap();
    assert!(cart.is_empty(), "the test hit was published");

    gateway.process.kill().await;
}
