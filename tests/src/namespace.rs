//! One namespace per test, so tests sharing a cluster never see each other's objects.

use std::collections::BTreeMap;
use std::process::Output;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, Resource};
use serde::Serialize;

use crate::cluster::TestCluster;
use crate::error::ClusterError;
use crate::kubectl;

/// Label on every test namespace.
pub const TEST_NAMESPACE_LABEL: &str = "hermes.io/test";

/// A namespace with a unique name, deleted when dropped. When the test is panicking, the
/// drop first prints the cluster's log tails and keeps its folder.
///
/// The 1.20 apiserver runs no namespace controller, so a deleted namespace stays
/// `Terminating` with its objects; the cluster itself is thrown away after the run.
pub struct TestNamespace {
    name: String,
    client: Client,
    cluster: TestCluster,
}

impl TestNamespace {
    pub(crate) async fn create(cluster: &TestCluster, prefix: &str) -> Result<Self, ClusterError> {
        let name = unique_name(prefix, cluster.next_namespace_number());
        let client = cluster.client().await?;
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(Self {
            name,
            client,
            cluster: cluster.clone(),
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An admin client (made in this test's runtime).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An admin API for namespaced kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// The cluster this namespace is in.
    pub fn cluster(&self) -> &TestCluster {
        &self.cluster
    }

    /// `kubectl --namespace NAME ARGS…` as admin; stdout, or an error with stderr.
    pub async fn kubectl(&self, args: &[&str]) -> Result<String, ClusterError> {
        let mut full = vec!["--namespace", &self.name];
        full.extend_from_slice(args);
        self.cluster.kubectl(&full).await
    }

    /// `kubectl apply` of `objects` in this namespace, as a person applying a manifest
    /// would, in one call (a `v1` `List`) so that the operator sees them together; kubectl's
    /// output. Build objects with [`crate::fixtures`].
    pub async fn apply(&self, objects: &[&dyn Manifest]) -> Result<String, ClusterError> {
        let items = objects
            .iter()
            .map(|object| object.to_json())
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClusterError::Manifest)?;
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        let args = ["apply", "-f", "-"];
        let output = self.kubectl_output(&args, Some(&list.to_string())).await?;
        kubectl::success(&args, output)
    }

    /// Like [`TestNamespace::kubectl`], with `stdin` and the raw output whatever the exit status.
    pub async fn kubectl_output(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Output, ClusterError> {
        let mut full = vec!["--namespace", &self.name];
        full.extend_from_slice(args);
        self.cluster.kubectl_output(&full, stdin).await
    }
}

impl TestNamespace {
    /// What a person debugging a failed test on a real node would look at first: the pods
    /// and their states, every Hermes resource with its conditions, the namespace's events,
    /// and the last lines of every container's log (the previous instance's too, when it
    /// restarted). Best effort: a kubectl call that fails is reported in place.
    pub async fn failure_report(&self) -> String {
        let mut report = String::new();
        let conditions = "custom-columns=KIND:.kind,NAME:.metadata.name,\
            CONDITIONS:.status.conditions[*].type,STATUS:.status.conditions[*].status,\
            REASONS:.status.conditions[*].reason,MESSAGE:.status.conditions[*].message";
        let sections: [(&str, Vec<&str>); 3] = [
            ("pods", vec!["get", "pods", "-o", "wide"]),
            (
                "Hermes resources",
                vec!["get", "tags,triggers,lookuptables", "-o", conditions],
            ),
            ("events", vec!["get", "events", "--sort-by=.lastTimestamp"]),
        ];
        for (title, args) in sections {
            report.push_str(&format!("--- {title} in {}\n", self.name));
            report.push_str(&self.kubectl_text(&args).await);
        }
        let pods = self
            .kubectl_text(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"])
            .await;
        for pod in pods.split_whitespace() {
            for previous in ["--previous=false", "--previous=true"] {
                let args = ["logs", pod, "--all-containers", "--tail=60", previous];
                report.push_str(&format!("--- logs {pod} {previous}\n"));
                report.push_str(&self.kubectl_text(&args).await);
            }
        }
        report
    }

    /// `kubectl ARGS…`'s stdout and stderr as text, whatever happened.
    async fn kubectl_text(&self, args: &[&str]) -> String {
        match self.kubectl_output(args, None).await {
            Ok(output) => format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => format!("kubectl {args:?}: {error}\n"),
        }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.cluster.keep_artifacts();
            eprintln!(
                "test failed in namespace {}; cluster logs:\n{}",
                self.name,
                self.cluster.failure_report()
            );
        }
        // Synchronous on purpose: the test's runtime may be shutting down.
        let kubectl = &self.cluster.binaries().kubectl;
        let _ = std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(self.cluster.kubeconfig_path())
            .arg("--cache-dir")
            .arg(self.cluster.kubectl_cache_dir())
            .args([
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A namespace of the shared cluster with the Hermes CRDs installed: where most tests
/// start.
pub async fn namespace_with_crds(prefix: &str) -> Result<TestNamespace, ClusterError> {
    let cluster = TestCluster::shared().await?;
    cluster.apply_crds().await?;
    cluster.namespace(prefix).await
}

/// An object [`TestNamespace::apply`] takes: a Hermes or Kubernetes object, or JSON.
pub trait Manifest {
    /// The object as kubectl reads it.
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

impl<T: Serialize> Manifest for T {
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// `PREFIX-N`, with the prefix reduced to a DNS label (lowercase alphanumerics and `-`).
fn unique_name(prefix: &str, number: u32) -> String {
    let mut label: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    label = label.trim_matches('-').to_owned();
    if label.is_empty() {
        label.push_str("test");
    }
    format!("{label}-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_name_is_a_dns_label_even_for_odd_prefixes() {
        assert_eq!(unique_name("Tag_Status", 3), "tag-status-3");
        assert_eq!(unique_name("--", 1), "test-1");
        assert!(unique_name(&"x".repeat(100), 12345).len() <= 63);
    }
}
