"""The chart's RBAC, rule by rule: least privilege, no wildcards, nothing cluster-wide in
the namespaced mode beyond reading Hermes' own CRDs by name; and the end-to-end tests'
fixture is exactly the chart's rendering."""

from pathlib import Path

import helm_python as helm
import pytest

from hermes_chart import REPO, find, of_kind, render
from render_test_rbac import render_test_rbac

OPERATOR_RULES = [
    {"apiGroups": ["hermes.io"], "resources": ["tags", "triggers", "lookuptables"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["hermes.io"],
        "resources": ["tags/status", "triggers/status", "lookuptables/status"],
        "verbs": ["get", "patch"],
    },
    # Config shards are deleted once stale.
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
    },
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    # Lookup feeds store rows in the table, as `hermes lookup import` does.
    {"apiGroups": ["hermes.io"], "resources": ["lookuptables"], "verbs": ["patch"]},
]
OPERATOR_CRD_RULES = [
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "resourceNames": ["tags.hermes.io", "triggers.hermes.io", "lookuptables.hermes.io"],
        "verbs": ["get", "list", "watch"],
    }
]
GATEWAY_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "patch", "delete"]},
]


def subjects(binding):
    return [(s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]]


def test_default_rbac_is_exactly_the_operator_and_gateway_rules_in_the_release_namespace():
    objects = render(namespace="tagging")
    assert find(objects, "Role", "hermes-operator", "tagging")["rules"] == OPERATOR_RULES
    assert find(objects, "Role", "hermes-gateway", "tagging")["rules"] == GATEWAY_RULES
    assert find(objects, "ClusterRole", "hermes-operator-crds")["rules"] == OPERATOR_CRD_RULES
    for name, role_kind in [
        ("hermes-operator", "Role"),
        ("hermes-gateway", "Role"),
        ("hermes-operator-crds", "ClusterRole"),
    ]:
        kind = "ClusterRoleBinding" if role_kind == "ClusterRole" else "RoleBinding"
        binding = find(objects, kind, name)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}
        account = "hermes-gateway" if "gateway" in name else "hermes-operator"
        assert subjects(binding) == [("ServiceAccount", account, "tagging")]


WATCHED = {"operator": {"watchNamespaces": ["shop", "blog"]}, "gateway": {"scope": "shop"}}


def test_watched_namespaces_each_get_the_operator_role_and_the_release_namespace_only_the_lease():
    objects = render(WATCHED, namespace="tagging")
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in of_kind(objects, "Role")}
    assert set(roles) == {
        ("shop", "hermes-operator"),
        ("blog", "hermes-operator"),
        ("tagging", "hermes-operator-leader"),
        ("shop", "hermes-gateway"),
    }
    assert roles[("shop", "hermes-gateway")]["rules"] == GATEWAY_RULES
    assert roles[("shop", "hermes-operator")]["rules"] == OPERATOR_RULES
    assert roles[("tagging", "hermes-operator-leader")]["rules"] == [OPERATOR_RULES[3]]
    bindings = {(b["metadata"]["namespace"], b["metadata"]["name"]): b for b in of_kind(objects, "RoleBinding")}
    assert set(bindings) == set(roles)
    for (namespace, name), binding in bindings.items():
        assert binding["roleRef"]["name"] == name
        account = "hermes-gateway" if "gateway" in name else "hermes-operator"
        # The service accounts live in the release namespace, wherever the Role is.
        assert subjects(binding) == [("ServiceAccount", account, "tagging")]


@pytest.mark.parametrize("values", [{}, WATCHED])
def test_no_wildcards_and_nothing_cluster_wide_but_reading_our_crds_by_name(values):
    objects = render(values)
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], rule)
    (cluster_role,) = of_kind(objects, "ClusterRole")
    assert cluster_role["rules"] == OPERATOR_CRD_RULES
    (cluster_binding,) = of_kind(objects, "ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]


ALL_NAMESPACES = {"operator": {"allNamespaces": True}, "gateway": {"scope": "shop"}}


def test_all_namespaces_mode_gives_the_operator_its_rules_in_one_cluster_role_and_no_roles():
    objects = render(ALL_NAMESPACES, namespace="tagging")
    cluster_roles = {r["metadata"]["name"]: r["rules"] for r in of_kind(objects, "ClusterRole")}
    assert cluster_roles == {"hermes-operator": OPERATOR_RULES, "hermes-operator-crds": OPERATOR_CRD_RULES}
    for name in cluster_roles:
        binding = find(objects, "ClusterRoleBinding", name)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
        assert subjects(binding) == [("ServiceAccount", "hermes-operator", "tagging")]
    # The operator has no Role left (the leader Lease is covered); the gateway keeps its
    # Role in its one namespace.
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in of_kind(objects, "Role")}
    assert roles == {("shop", "hermes-gateway")}
    operator = find(objects, "Deployment", "hermes-operator")["spec"]["template"]["spec"]["containers"][0]
    assert "--all-namespaces" in operator["args"]
    assert not [a for a in operator["args"] if a.startswith("--namespace")]


@pytest.mark.parametrize("values", [{}, WATCHED])
def test_the_namespaced_modes_run_the_operator_without_all_namespaces(values):
    operator = find(render(values), "Deployment", "hermes-operator")["spec"]["template"]["spec"]["containers"][0]
    assert "--all-namespaces" not in operator["args"]


def test_all_namespaces_with_a_namespace_list_is_refused():
    with pytest.raises(helm.HelmError, match="leave operator.watchNamespaces empty"):
        render({"operator": {"allNamespaces": True, "watchNamespaces": ["shop"]}})


def test_the_gateway_cannot_touch_tags_or_write_configmaps():
    rules = find(render(), "Role", "hermes-gateway")["rules"]
    for rule in rules:
        assert "hermes.io" not in rule["apiGroups"]
        if "configmaps" in rule["resources"]:
            assert set(rule["verbs"]) == {"get", "list", "watch"}


def test_the_end_to_end_tests_rbac_fixture_is_the_charts_rendering():
    fixture = (REPO / "tests" / "fixtures" / "rbac.yaml").read_text()
    assert fixture == render_test_rbac(), "tests/fixtures/rbac.yaml is stale: run scripts/render-test-rbac"
