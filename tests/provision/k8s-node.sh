#!/usr/bin/env bash
# Provision what the single test node runs, on top of k8s-binaries.sh:
#   - kubelet, kube-scheduler, kube-controller-manager, built once from the same
#     Debian kubernetes source package as the API server (so versions match),
#     cached in the same folder;
#   - containerd, runc and the CNI plugins, from Debian's packages;
#   - the pod sandbox ("pause") image: nothing can be pulled here, so a tiny
#     static C program in a FROM scratch image, saved as an archive that the
#     node imports into containerd.
#
# Idempotent and cached like k8s-binaries.sh (HERMES_CACHE_DIR, default
# /var/cache/hermes/k8s); concurrent runs wait on the same lock.
#
# Output: progress on stderr; the binaries folder, alone, on stdout (the pause
# image archive is "$CACHE_DIR/images/pause.tar", next to it).
#   export HERMES_NODE_ASSETS="$(tests/provision/k8s-node.sh)"
set -euo pipefail

log() { printf '[k8s-node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

readonly PAUSE_IMAGE="localhost/hermes/pause:3.2"
readonly NODE_COMMANDS=(kubelet kube-scheduler kube-controller-manager)

CACHE_DIR="${HERMES_CACHE_DIR:-/var/cache/hermes/k8s}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_DIR="$CACHE_DIR/build"
IMAGE_DIR="$CACHE_DIR/images"
mkdir -p "$BIN_DIR" "$IMAGE_DIR"

# shellcheck source=lib/k8s-source.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-source.sh"

exec 9>"$CACHE_DIR/.lock"
flock 9

missing_commands() {
  local name
  for name in "${NODE_COMMANDS[@]}"; do
    [[ -x "$BIN_DIR/$name" ]] || printf 'cmd/%s\n' "$name"
  done
}

provision_runtime() {
  apt_install containerd runc containernetworking-plugins iproute2 gcc libc6-dev podman
}

build_node_commands() {
  local missing
  mapfile -t missing < <(missing_commands)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  build_k8s_commands "${missing[@]}"
}

# The sandbox image: sleeps until SIGTERM/SIGINT, then exits 0.
build_pause_image() {
  [[ -s "$IMAGE_DIR/pause.tar" ]] && return 0
  local work
  work=$(mktemp -d)
  cat >"$work/pause.c" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void done(int sig) { (void)sig; exit(0); }
int main(void) {
  signal(SIGTERM, done);
  signal(SIGINT, done);
  for (;;) pause();
}
C
  gcc -static -Os -o "$work/pause" "$work/pause.c"
  cat >"$work/Containerfile" <<'F'
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
F
  log "building $PAUSE_IMAGE"
  podman --runtime runc --cgroup-manager cgroupfs build -q -t "$PAUSE_IMAGE" "$work" >&2
  podman save --format docker-archive -o "$IMAGE_DIR/pause.tar.tmp" "$PAUSE_IMAGE" >&2
  mv "$IMAGE_DIR/pause.tar.tmp" "$IMAGE_DIR/pause.tar"
  rm -rf "$work"
}

provision_runtime
build_pause_image
build_node_commands

[[ -z "$(missing_commands)" ]] || die "provisioning incomplete in $BIN_DIR"
log "node binaries ready in $BIN_DIR"
printf '%s\n' "$BIN_DIR"
