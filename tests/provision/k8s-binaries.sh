#!/usr/bin/env bash
# Provision the envtest-style binaries (etcd, kube-apiserver, kubectl) the test
# environment runs, and print the folder that holds them (use it as
# KUBEBUILDER_ASSETS).
#
# Idempotent: if KUBEBUILDER_ASSETS already holds the three binaries it is used
# as is; otherwise the cache folder (HERMES_CACHE_DIR, default
# /var/cache/hermes/k8s) is filled once and reused by every later run.
# No prebuilt kube-apiserver can be downloaded here, so it is built from
# Debian's kubernetes source package (about 5 minutes on 2 cores, once).
#
# Output: progress on stderr; the binaries folder, alone, on stdout.
#   export KUBEBUILDER_ASSETS="$(tests/provision/k8s-binaries.sh)"
set -euo pipefail

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

has_assets() {
  local dir="$1"
  [[ -x "$dir/etcd" && -x "$dir/kube-apiserver" && -x "$dir/kubectl" ]]
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && has_assets "$KUBEBUILDER_ASSETS"; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  printf '%s\n' "$KUBEBUILDER_ASSETS"
  exit 0
fi

CACHE_DIR="${HERMES_CACHE_DIR:-/var/cache/hermes/k8s}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_DIR="$CACHE_DIR/build"
mkdir -p "$BIN_DIR"

# shellcheck source=lib/k8s-source.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-source.sh"

# One provisioner at a time: concurrent runs wait here, then see the result.
exec 9>"$CACHE_DIR/.lock"
flock 9

if has_assets "$BIN_DIR"; then
  log "already provisioned in $BIN_DIR"
  printf '%s\n' "$BIN_DIR"
  exit 0
fi

provision_etcd() {
  [[ -x "$BIN_DIR/etcd" ]] && return 0
  apt_install etcd-server
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$BIN_DIR/etcd"
}

provision_kubectl() {
  [[ -x "$BIN_DIR/kubectl" ]] && return 0
  if ! command -v kubectl >/dev/null 2>&1; then
    apt_install kubernetes-client
  fi
  ln -sf "$(command -v kubectl)" "$BIN_DIR/kubectl"
}

build_kube_apiserver() {
  [[ -x "$BIN_DIR/kube-apiserver" ]] && return 0
  build_k8s_commands cmd/kube-apiserver
}

provision_etcd
provision_kubectl
build_kube_apiserver

has_assets "$BIN_DIR" || die "provisioning incomplete in $BIN_DIR"
log "binaries ready in $BIN_DIR"
printf '%s\n' "$BIN_DIR"
