# Shared by the provisioning scripts: root escalation, apt installs, and
# Debian's kubernetes source tree, from which every Kubernetes binary the tests
# run is built (so they all come from one version).
#
# The caller sets CACHE_DIR, BIN_DIR and BUILD_DIR, defines log() and die(),
# and holds the cache lock.

readonly K8S_SOURCE_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
readonly GO_ROOT="/usr/lib/go-1.19"
readonly DEBIAN_REFLECT2="/usr/share/gocode/src/github.com/modern-go/reflect2"
readonly DEB_SRC_LIST="/etc/apt/sources.list.d/hermes-deb-src.sources"

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

# Build the Go commands named in "$@" (e.g. cmd/kube-apiserver) from the
# source package and copy each binary into BIN_DIR; the unpacked tree is
# removed afterwards (the .orig tarball stays cached in BUILD_DIR).
build_k8s_commands() {
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

  log "building $* (several minutes; log: $BUILD_DIR/build.log)"
  if ! (cd "$tree" && PATH="$GO_ROOT/bin:$PATH" CGO_ENABLED=0 \
    nice make WHAT="$*") >"$BUILD_DIR/build.log" 2>&1; then
    tail -n 40 "$BUILD_DIR/build.log" >&2
    die "build of $* failed"
  fi
  local cmd name built
  for cmd in "$@"; do
    name=$(basename "$cmd")
    built=$(find "$tree/_output" -type f -name "$name" -perm -u+x -print -quit)
    [[ -n "$built" ]] || die "build produced no $name binary"
    cp "$built" "$BIN_DIR/$name.tmp"
    mv "$BIN_DIR/$name.tmp" "$BIN_DIR/$name"
  done
  rm -rf src
  log "$* built in $((SECONDS - started)) s"
}
