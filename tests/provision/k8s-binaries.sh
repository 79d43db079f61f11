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

readonly K8S_SOURCE_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
readonly GO_ROOT="/usr/lib/go-1.19"
readonly DEBIAN_REFLECT2="/usr/share/gocode/src/github.com/modern-go/reflect2"
readonly DEB_SRC_LIST="/etc/apt/sources.list.d/hermes-deb-src.sources"

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

# One provisioner at a time: concurrent runs wait here, then see the result.
exec 9>"$CACHE_DIR/.lock"
flock 9

if has_assets "$BIN_DIR"; then
  log "already provisioned in $BIN_DIR"
  printf '%s\n' "$BIN_DIR"
  exit 0
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_update() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq >&2
    apt_updated=1
  fi
}

# Install the packages that are missing; refresh the package lists only when
# the first attempt fails (stale or empty lists).
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    apt_update
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

# The `deb-src` twin of the configured Debian mirror, for `apt-get source`.
ensure_deb_src() {
  if [[ ! -f "$DEB_SRC_LIST" ]]; then
    local mirror
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' \
      /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror="${mirror:-http://deb.debian.org/debian}"
    log "adding deb-src for bookworm on $mirror"
    as_root tee "$DEB_SRC_LIST" >/dev/null <<EOF
Types: deb-src
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_updated=0
  fi
  # Fetch the source index if this entry's lists are absent.
  if ! ls /var/lib/apt/lists/*_source_Sources* >/dev/null 2>&1; then
    apt_update
  fi
}

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
  apt_install golang-1.19-go rsync golang-github-modern-go-reflect2-dev
  ensure_deb_src

  local started=$SECONDS
  mkdir -p "$BUILD_DIR"
  cd "$BUILD_DIR"
  local orig
  orig=$(ls kubernetes_*.orig.tar.gz 2>/dev/null | head -n1 || true)
  if [[ -z "$orig" ]]; then
    log "downloading kubernetes=$K8S_SOURCE_VERSION source"
    if ! apt-get source --download-only "kubernetes=$K8S_SOURCE_VERSION" >&2; then
      apt_update
      apt-get source --download-only "kubernetes=$K8S_SOURCE_VERSION" >&2
    fi
    orig=$(ls kubernetes_*.orig.tar.gz | head -n1)
  fi

  log "unpacking $orig"
  rm -rf src
  mkdir src
  tar -xzf "$orig" -C src
  local tree
  tree=$(dirname "$(find src -maxdepth 2 -name Makefile -print -quit)")
  [[ -d "$tree/vendor" ]] || die "no vendor/ in $orig"

  log "replacing vendored reflect2 with Debian's (Go >= 1.18 fix)"
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r "$DEBIAN_REFLECT2" "$tree/vendor/github.com/modern-go/reflect2"

  log "building kube-apiserver (several minutes; log: $BUILD_DIR/build.log)"
  if ! (cd "$tree" && PATH="$GO_ROOT/bin:$PATH" CGO_ENABLED=0 \
    make WHAT=cmd/kube-apiserver) >"$BUILD_DIR/build.log" 2>&1; then
    tail -n 40 "$BUILD_DIR/build.log" >&2
    die "kube-apiserver build failed"
  fi
  local built
  built=$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x -print -quit)
  [[ -n "$built" ]] || die "build produced no kube-apiserver binary"
  cp "$built" "$BIN_DIR/kube-apiserver.tmp"
  mv "$BIN_DIR/kube-apiserver.tmp" "$BIN_DIR/kube-apiserver"
  rm -rf src
  log "kube-apiserver built in $((SECONDS - started)) s"
}

provision_etcd
provision_kubectl
build_kube_apiserver

has_assets "$BIN_DIR" || die "provisioning incomplete in $BIN_DIR"
log "binaries ready in $BIN_DIR"
printf '%s\n' "$BIN_DIR"
