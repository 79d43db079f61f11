//! The container images as users run them: read-only root filesystem, user 65532, no shell,
//! a CA bundle for TLS to Google; the gateway image serves `examples/` (mounted) and
//! publishes the seed's hit to the Pub/Sub emulator on the host.
//!
//! Needs the images `scripts/build-images` makes (a static release build, ~10 min on two
//! cores), so these tests run when `HERMES_TEST_IMAGES=1`: `.ci/run` builds the images and
//! sets it. With it set, a missing image or engine fails the test rather than skipping it.
//! `CONTAINER_ENGINE` (default `podman`) and `HERMES_IMAGE_TAG` (default `dev`) match the
//! build script's.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use hermes_tests::low_stock::assert_low_stock_hit_published;
use hermes_tests::pubsub::{PubSubEmulator, SubscriptionOptions};
use hermes_tests::{free_port, wait_for};

const TOPIC: &str = "projects/hermes-local/topics/low-stock";
const SUBSCRIPTION: &str = "projects/hermes-local/subscriptions/low-stock-image";
const USER: &str = "65532:65532";

/// The images under test, or `None` when this run did not build them.
fn images() -> Option<Images> {
    if std::env::var("HERMES_TEST_IMAGES").ok().as_deref() != Some("1") {
        eprintln!("HERMES_TEST_IMAGES is not 1: the images were not built for this run");
        return None;
    }
    let tag = std::env::var("HERMES_IMAGE_TAG").unwrap_or_else(|_| "dev".to_string());
    let engine = std::env::var("CONTAINER_ENGINE").unwrap_or_else(|_| "podman".to_string());
    let images = Images {
        engine,
        gateway: format!("hermes-gateway:{tag}"),
        operator: format!("hermes-operator:{tag}"),
    };
    for image in [&images.gateway, &images.operator] {
        let inspect = images.run(&["image", "inspect", image]);
        assert!(
            inspect.status.success(),
            "image {image} is missing (run scripts/build-images): {}",
            String::from_utf8_lossy(&inspect.stderr)
        );
    }
    Some(images)
}

struct Images {
    engine: String,
    gateway: String,
    operator: String,
}

impl Images {
    /// The engine with `args`; for Podman with the settings this kind of host needs
    /// (hybrid cgroups: runc and cgroupfs; root without CAP_SYS_RESOURCE: explicit ulimits
    /// on `run`, added by [`Images::run_container`]).
    fn command(&self) -> Command {
        let mut command = Command::new(&self.engine);
        if self.engine.ends_with("podman") {
            command.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", self.engine))
    }

    /// `run ARGS` with the hardening a pod gets: read-only root, user 65532, no
    /// capabilities, no privilege escalation.
    fn run_container(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "run",
            "--read-only",
            "--user",
            USER,
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ];
        if self.engine.ends_with("podman") {
            all.extend([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ]);
        }
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// A detached container, removed (and its log shown on failure) when dropped.
struct Container<'a> {
    images: &'a Images,
    name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.images.run(&["logs", &self.name]);
            eprintln!(
                "--- {} logs ---\n{}{}",
                self.name,
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        let _ = self.images.run(&["rm", "--force", &self.name]);
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .canonicalize()
        .expect("examples/ exists")
}

#[tokio::test]
async fn gateway_image_runs_read_only_as_65532_and_publishes_the_seed_hit() {
    let Some(images) = images() else { return };
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    emulator.create_topic(TOPIC).await.unwrap();
    emulator
        .create_subscription(SUBSCRIPTION, TOPIC, SubscriptionOptions::default())
        .await
        .unwrap();

    let port = free_port().unwrap();
    let name = format!("hermes-gateway-image-test-{}", std::process::id());
    let mount = format!("{}:/examples:ro", examples_dir().display());
    let listen = format!("127.0.0.1:{port}");
    let emulator_host = format!("PUBSUB_EMULATOR_HOST={}", emulator.host_port());
    let started = images.run_container(&[
        "--detach",
        "--name",
        &name,
        "--network",
        "host",
        "--volume",
        &mount,
        // The buffer needs a writable volume beside the read-only root (an emptyDir in
        // the chart).
        "--tmpfs",
        "/var/lib/hermes/buffer:rw,size=64m,mode=1777",
        "--env",
        &emulator_host,
        &images.gateway,
        "--manifests",
        "/examples",
        "--listen",
        &listen,
    ]);
    assert!(
        started.status.success(),
        "gateway container starts: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let _container = Container {
        images: &images,
        name,
    };

    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let ready = wait_for(Duration::from_secs(60), || async {
        let response = http.get(format!("{base}/readyz")).send().await?;
        let status = response.status();
        let body = response.text().await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(anyhow::anyhow!("/readyz {status}: {body}"))
        }
    })
    .await
    .expect("/readyz answers 200");
    assert!(
        ready.contains("sha256:"),
        "readyz names the config hash: {ready}"
    );

    assert_low_stock_hit_published(&base, &emulator, SUBSCRIPTION).await;
}

#[test]
fn images_run_as_65532_with_a_ca_bundle_and_no_shell() {
    let Some(images) = images() else { return };
    for image in [&images.gateway, &images.operator] {
        let user = images.run(&["image", "inspect", "--format", "{{.Config.User}}", image]);
        assert_eq!(
            String::from_utf8_lossy(&user.stdout).trim(),
            USER,
            "{image}"
        );

        let name = format!("hermes-image-files-{}", std::process::id());
        let created = images.run(&["create", "--name", &name, image]);
        assert!(created.status.success(), "create {image}");
        let _container = Container {
            images: &images,
            name: name.clone(),
        };
        let out = tempfile::tempdir().unwrap();
        let copied = images.run(&[
            "cp",
            &format!("{name}:/etc/ssl/certs/ca-certificates.crt"),
            out.path().to_str().unwrap(),
        ]);
        assert!(
            copied.status.success(),
            "{image} has /etc/ssl/certs/ca-certificates.crt: {}",
            String::from_utf8_lossy(&copied.stderr)
        );
        let bundle = std::fs::read_to_string(out.path().join("ca-certificates.crt")).unwrap();
        assert!(
            bundle.matches("BEGIN CERTIFICATE").count() > 50,
            "{image}: a real CA bundle"
        );

        let shell = images.run_container(&["--rm", "--entrypoint", "/bin/sh", image, "-c", "true"]);
        assert!(!shell.status.success(), "{image} has no shell");

        // The binary starts on a read-only root as 65532 (its flags parse, it is static).
        let help = images.run_container(&["--rm", image, "--help"]);
        assert!(
            help.status.success(),
            "{image} --help: {}",
            String::from_utf8_lossy(&help.stderr)
        );
        assert!(String::from_utf8_lossy(&help.stdout).contains("Usage"));
    }
}
