"""The chart rendered by the real Helm v4 engine, with defaults and with every knob set
(values-full.yaml): hardened pods, probes on the real endpoints, labels, Secret
references, the optional objects."""

from pathlib import Path

import helm_python as helm
import pytest
import yaml

from hermes_chart import CHART_DIR, find, notes, of_kind, render

FULL = yaml.safe_load((Path(__file__).parent / "values-full.yaml").read_text())
NS = "tagging"


@pytest.fixture(scope="module")
def default():
    return render(namespace=NS)


@pytest.fixture(scope="module")
def full():
    return render(FULL, namespace=NS)


def container(deployment):
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def test_helm_lint_passes_strict_with_defaults_and_full_values():
    for values in (None, FULL):
        report = helm.lint(CHART_DIR, values, strict=True, namespace=NS)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == [] and problems == [], report


def test_default_install_has_exactly_the_expected_objects(default):
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in default)
    assert kinds == [
        ("ClusterRole", "hermes-operator-crds"),
        ("ClusterRoleBinding", "hermes-operator-crds"),
        ("Deployment", "hermes-gateway"),
        ("Deployment", "hermes-operator"),
        ("PodDisruptionBudget", "hermes-gateway"),
        ("PodDisruptionBudget", "hermes-operator"),
        ("Role", "hermes-gateway"),
        ("Role", "hermes-operator"),
        ("RoleBinding", "hermes-gateway"),
        ("RoleBinding", "hermes-operator"),
        ("Service", "hermes-gateway"),
        ("Service", "hermes-operator-metrics"),
        ("ServiceAccount", "hermes-gateway"),
        ("ServiceAccount", "hermes-operator"),
    ]


@pytest.mark.parametrize("values", [None, FULL], ids=["default", "full"])
def test_every_object_carries_the_standard_labels(values):
    for obj in render(values, namespace=NS):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "hermes", obj["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == "hermes"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "hermes"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        if obj["kind"] in ("Role", "RoleBinding"):
            assert obj["metadata"]["namespace"] in [NS, "shop", "blog"]
        elif not obj["kind"].startswith("Cluster"):
            assert obj["metadata"]["namespace"] == NS, obj["metadata"]["name"]
        if values is FULL:
            assert labels["team"] == "analytics"


@pytest.mark.parametrize("values", [None, FULL], ids=["default", "full"])
def test_pods_are_hardened(values):
    for deployment in of_kind(render(values, namespace=NS), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        c = container(deployment)
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert set(c["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(c["resources"]["limits"])
        # Pods select on stable labels only (a chart upgrade must not orphan them).
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert set(selector) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_probes_hit_the_real_endpoints(default):
    gateway = container(find(default, "Deployment", "hermes-gateway"))
    assert gateway["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    operator = container(find(default, "Deployment", "hermes-operator"))
    assert operator["ports"] == [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert operator[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_default_deployments_run_two_replicas_with_leader_election_and_time_to_flush(default):
    operator = find(default, "Deployment", "hermes-operator")
    assert operator["spec"]["replicas"] == 2
    args = container(operator)["args"]
    assert "--namespace=tagging" in args
    assert "--leader-lease-seconds=15" in args
    assert "--no-leader-election" not in args
    assert env_of(container(operator))["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    gateway = find(default, "Deployment", "hermes-gateway")
    assert gateway["spec"]["replicas"] == 2
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60
    assert container(gateway)["args"] == [
        "--cluster",
        "--namespace=tagging",
        "--config-map=hermes-gateway-config",
        "--log-format=json",
        "--buffer-dir=/var/lib/hermes/buffer",
        "--buffer-max-bytes-per-topic=268435456",
        "--buffer-fsync=interval",
        "--buffer-full-policy=reject",
    ]
    env = env_of(container(gateway))
    assert env["HERMES_LISTEN"]["value"] == "0.0.0.0:8080"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert "HERMES_MP_SECRETS" not in env and "PUBSUB_EMULATOR_HOST" not in env
    for deployment in (operator, gateway):
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert [s["topologyKey"] for s in spread] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    assert container(gateway)["image"] == "hermes-gateway:0.1.0"
    assert container(operator)["image"] == "hermes-operator:0.1.0"


def test_the_gateway_buffers_hits_on_an_empty_dir_by_default(default):
    gateway = find(default, "Deployment", "hermes-gateway")
    c = container(gateway)
    assert "--buffer-dir=/var/lib/hermes/buffer" in c["args"]
    assert "--buffer-fsync=interval" in c["args"]
    assert "--buffer-full-policy=reject" in c["args"]
    assert c["volumeMounts"] == [{"name": "buffer", "mountPath": "/var/lib/hermes/buffer"}]
    assert gateway["spec"]["template"]["spec"]["volumes"] == [{"name": "buffer", "emptyDir": {}}]


PERSISTENT = {
    "gateway": {
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
        "buffer": {"persistence": {"enabled": True, "storageClassName": "fast-ssd", "size": "8Gi"}},
    }
}


def test_buffer_persistence_gives_each_gateway_pod_its_own_claim():
    objects = render(PERSISTENT, namespace=NS)
    assert not [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "hermes-gateway"]
    gateway = find(objects, "StatefulSet", "hermes-gateway")
    spec = gateway["spec"]
    assert spec["serviceName"] == "hermes-gateway"
    assert spec["podManagementPolicy"] == "Parallel"
    assert "strategy" not in spec, "a StatefulSet has updateStrategy, not strategy"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "buffer"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "8Gi"}},
    }
    pod = spec["template"]["spec"]
    assert not [v for v in pod.get("volumes", []) if v["name"] == "buffer"], "the claim, not an emptyDir"
    assert {"name": "buffer", "mountPath": "/var/lib/hermes/buffer"} in container(gateway)["volumeMounts"]
    hpa = find(objects, "HorizontalPodAutoscaler", "hermes-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "hermes-gateway"}
    pdb = find(objects, "PodDisruptionBudget", "hermes-gateway")
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_buffer_persistence_without_a_storage_class_uses_the_cluster_default():
    objects = render({"gateway": {"buffer": {"persistence": {"enabled": True}}}}, namespace=NS)
    (claim,) = find(objects, "StatefulSet", "hermes-gateway")["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
def test_the_gateway_turns_unready_serves_on_and_flushes_within_its_grace_period(default):
    gateway = find(default, "Deployment", "hermes-gateway")
    pod = gateway["spec"]["template"]["spec"]
    c = container(gateway)
    env = env_of(c)
    delay = int(env["HERMES_SHUTDOWN_DELAY"]["value"])
    flush = int(env["HERMES_SHUTDOWN_FLUSH_TIMEOUT"]["value"])
    assert (delay, flush) == (5, 20)
    # The delay, at most 10 s of draining, the flush, and closing the buffer fit.
    assert pod["terminationGracePeriodSeconds"] >= delay + 10 + flush + 5
    # The gateway delays itself (the image has no shell for a preStop sleep); readiness
    # is what turns off at SIGTERM.
    assert "lifecycle" not in c
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "HERMES_DEAD_LETTER_TOPIC" not in env


def test_a_grace_period_shorter_than_the_gateway_shutdown_is_refused():
    values = {"gateway": {"terminationGracePeriodSeconds": 30, "shutdown": {"delaySeconds": 5, "flushTimeoutSeconds": 20}}}
    with pytest.raises(helm.HelmError, match="gateway.terminationGracePeriodSeconds is 30, the gateway's shutdown needs 40"):
        render(values)
    values["gateway"]["shutdown"]["flushTimeoutSeconds"] = 10
    render(values)


def test_service_accounts_are_the_pods_own(default):
    for component in ("operator", "gateway"):
        pod = find(default, "Deployment", f"hermes-{component}")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"hermes-{component}"
        find(default, "ServiceAccount", f"hermes-{component}", NS)


def test_full_values_reference_secrets_and_set_every_flag(full):
    gateway = find(full, "Deployment", "tagging-gateway")
    c = container(gateway)
    env = env_of(c)
    assert env["HERMES_MP_SECRETS"]["valueFrom"] == {"secretKeyRef": {"name": "hermes-mp", "key": "secrets"}}
    assert env["HERMES_DEBUG_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hermes-debug", "key": "token"}}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/var/run/secrets/google/sa.json"
    assert env["HERMES_LISTEN"]["value"] == "0.0.0.0:8081"
    assert env["HERMES_SHUTDOWN_DELAY"]["value"] == "10"
    assert env["HERMES_SHUTDOWN_FLUSH_TIMEOUT"]["value"] == "30"
    assert env["HERMES_DEAD_LETTER_TOPIC"]["value"] == "projects/acme/topics/hermes-dead-letters"
    assert c["args"] == [
        "--cluster",
        "--namespace=shop",
        "--config-map=hermes-gateway-config",
        "--log-format=json",
        "--buffer-dir=/var/lib/hermes/buffer",
        "--buffer-max-bytes-per-topic=1073741824",
        "--buffer-fsync=always",
        "--buffer-full-policy=drop",
        "--trusted-proxy=10.0.0.0/8,192.168.0.0/16",
        "--allowed-origin=https://shop.example.com,https://www.example.com",
        "--max-body-bytes=65536",
        "--max-events=20",
        "--max-params=50",
    ]
    assert c["image"] == "registry.example.com/hermes/gateway:1.2.3"
    assert c["imagePullPolicy"] == "Always"
    pod = gateway["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert pod["volumes"] == [
        {"name": "buffer", "emptyDir": {"sizeLimit": "4Gi"}},
        {"name": "google-credentials", "secret": {"secretName": "pubsub-key", "items": [{"key": "sa.json", "path": "sa.json"}]}},
    ]
    assert c["volumeMounts"] == [
        {"name": "buffer", "mountPath": "/var/lib/hermes/buffer"},
        {"name": "google-credentials", "mountPath": "/var/run/secrets/google", "readOnly": True},
    ]
    assert pod["topologySpreadConstraints"] == FULL["gateway"]["topologySpreadConstraints"]
    assert "replicas" not in gateway["spec"], "the HPA owns the replica count"

    operator = find(full, "Deployment", "tagging-operator")
    oc = container(operator)
    assert operator["spec"]["replicas"] == 3
    assert oc["image"] == (
        "registry.example.com/hermes/operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert oc["args"] == [
        "--namespace=shop",
        "--namespace=blog",
        "--config-map=hermes-gateway-config",
        "--metrics-addr=0.0.0.0:9090",
        "--debounce-ms=100",
        "--api-request-timeout-seconds=30",
        "--log-format=text",
        "--leader-lease-seconds=20",
        "--publication-topic=projects/acme/topics/hermes-config",
        "--check-topics=false",
    ]
    assert env_of(oc)["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/var/run/secrets/google/sa.json"
    assert operator["spec"]["template"]["spec"]["priorityClassName"] == "system-cluster-critical"


def test_full_values_render_ingress_hpa_network_policy_service_monitor_and_dashboard(full):
    ingress = find(full, "Ingress", "tagging-gateway")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["collect.example.com"], "secretName": "collect-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "collect.example.com"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/g/collect", "/mp/collect", "/debug/mp/collect"]
    assert all(p["backend"]["service"] == {"name": "tagging-gateway", "port": {"name": "http"}} for p in rule["http"]["paths"])

    hpa = find(full, "HorizontalPodAutoscaler", "tagging-gateway")
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 12
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "tagging-gateway"}

    gateway_policy = find(full, "NetworkPolicy", "tagging-gateway")
    (allowed,) = gateway_policy["spec"]["ingress"]
    assert allowed["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert allowed["from"] == FULL["networkPolicy"]["hitsFrom"] + FULL["networkPolicy"]["metricsFrom"]
    operator_policy = find(full, "NetworkPolicy", "tagging-operator")
    assert operator_policy["spec"]["ingress"][0]["from"] == FULL["networkPolicy"]["metricsFrom"]

    monitors = {m["metadata"]["name"]: m for m in of_kind(full, "ServiceMonitor")}
    assert set(monitors) == {"tagging-gateway", "tagging-operator"}
    assert monitors["tagging-gateway"]["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert monitors["tagging-operator"]["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitors["tagging-gateway"]["metadata"]["labels"]["release"] == "prometheus"

    dashboard = find(full, "ConfigMap", "tagging-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["hermes.json"].strip() == (CHART_DIR / "dashboards" / "hermes.json").read_text().strip()


def test_workload_identity_annotates_both_service_accounts():
    objects = render({"pubsub": {"workloadIdentityServiceAccount": "hermes@acme.iam.gserviceaccount.com"}})
    for sa in of_kind(objects, "ServiceAccount"):
        assert sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": "hermes@acme.iam.gserviceaccount.com"}
    for deployment in of_kind(objects, "Deployment"):
        env = env_of(container(deployment))
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in env and "PUBSUB_EMULATOR_HOST" not in env


def test_emulator_host_is_passed_to_both_components():
    objects = render({"pubsub": {"emulatorHost": "10.244.7.1:8085"}})
    for deployment in of_kind(objects, "Deployment"):
        assert env_of(container(deployment))["PUBSUB_EMULATOR_HOST"]["value"] == "10.244.7.1:8085"


def test_two_pubsub_credentials_at_once_are_refused():
    with pytest.raises(helm.HelmError, match="set at most one of"):
        render({"pubsub": {"emulatorHost": "localhost:8085", "credentialsSecret": {"name": "key"}}})


def test_an_enabled_ingress_without_a_host_is_refused():
    with pytest.raises(helm.HelmError, match="gateway.ingress.host is required"):
        render({"gateway": {"ingress": {"enabled": True}}})


def test_a_single_operator_replica_runs_without_leader_election():
    objects = render({"operator": {"leaderElection": {"enabled": False}}})
    operator = find(objects, "Deployment", "hermes-operator")
    assert operator["spec"]["replicas"] == 1
    assert "--no-leader-election" in container(operator)["args"]


def test_notes_say_how_to_send_a_first_hit_and_wait_for_ready():
    text = notes()
    assert "kubectl -n tagging wait --for=condition=Ready tags,triggers,lookuptables --all" in text
    assert "port-forward service/hermes-gateway 8080:80" in text
    assert "/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10" in text
    full_text = notes(FULL)
    assert "https://collect.example.com/g/collect?v=2" in full_text
    assert "shop, blog" in full_text
    assert "The gateway serves the config of namespace shop." in full_text
    assert "kubectl -n shop apply -f examples/" in full_text


def test_a_gateway_scope_the_operator_does_not_reconcile_is_refused():
    with pytest.raises(helm.HelmError, match='gateway.scope "blog" is not reconciled by the operator'):
        render({"gateway": {"scope": "blog"}})
    with pytest.raises(helm.HelmError, match='gateway.scope "tagging" is not reconciled'):
        render({"operator": {"watchNamespaces": ["shop"]}})


def test_the_network_policy_leaves_hits_open_unless_their_senders_are_listed():
    objects = render({"networkPolicy": {"enabled": True, "metricsFrom": [{"podSelector": {}}]}})
    (allowed,) = find(objects, "NetworkPolicy", "hermes-gateway")["spec"]["ingress"]
    assert "from" not in allowed
    operator = find(objects, "NetworkPolicy", "hermes-operator")["spec"]["ingress"][0]
    assert operator["from"] == [{"podSelector": {}}]


def test_notes_say_the_all_namespaces_mode_reconciles_every_namespace():
    text = notes({"operator": {"allNamespaces": True}})
    assert "The operator reconciles Tags, Triggers and LookupTables in: every namespace" in text
