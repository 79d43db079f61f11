"""Renders charts/hermes with the real Helm v4 engine (helm-python-sdk) for the tests and
for scripts/render-test-rbac."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "hermes"
RELEASE = "hermes"


def load() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


def render(
    values: dict[str, Any] | None = None, namespace: str = "tagging", name: str = RELEASE
) -> list[dict[str, Any]]:
    """Every object the chart renders (CRDs excluded: Helm installs crds/ as they are)."""
    rendered = load().render(values, name=name, namespace=namespace, is_install=True)
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                objects.append(doc)
    return objects


def notes(values: dict[str, Any] | None = None, namespace: str = "tagging") -> str:
    rendered = load().render(values, name=RELEASE, namespace=namespace, is_install=True)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def find(objects: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None):
    """The one object of `kind` named `name` (in `namespace` when given)."""
    found = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"{kind}/{name}: found {len(found)}"
    return found[0]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]
