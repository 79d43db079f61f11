"""`helm install|upgrade|uninstall` of charts/hermes with the real Helm v4 engine, for the
Rust tests that drive a release against the test API server
(tests/tests/chart.rs).

    python helm_release.py install --kubeconfig K --namespace NS --release R [--values JSON]

Prints the release's name, revision and status as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

import helm_python as helm

from hermes_chart import CHART_DIR


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["install", "upgrade", "uninstall"])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--release", required=True)
    parser.add_argument("--values", default="{}", help="values as JSON")
    args = parser.parse_args()
    config = helm.Config(kubeconfig_path=args.kubeconfig, namespace=args.namespace)
    values = json.loads(args.values)
    chart = helm.Chart.load(CHART_DIR)
    if args.action == "install":
        release = config.install(chart, args.release, values, namespace=args.namespace, timeout=120)
    elif args.action == "upgrade":
        release = config.upgrade(chart, args.release, values, namespace=args.namespace, timeout=120)
    else:
        release = config.uninstall(args.release, timeout=120)
    json.dump({key: release.get(key) for key in ("name", "revision", "status")}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
