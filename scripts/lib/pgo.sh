# Profile-guided optimisation of release builds (sourced, not run): the gateway's release
# binaries are optimised with the profile in gateway/pgo/, which scripts/pgo-profile
# records from the gateway serving bench/hits/training.tsv. See docs/performance.md,
# "Profile-guided optimisation".
#
#   source scripts/lib/pgo.sh
#   pgo_build_gateway "-C target-feature=+crt-static"   # into $CARGO_TARGET_DIR/<host>/release
#
# A profile names functions by their symbols, and a symbol's hash changes with how cargo
# builds the crate: for the host by default or for a target named with --target, and with
# the features the other packages of the same build turn on. So the gateway is always
# built alone and for the named host target, as scripts/pgo-profile records it: built
# another way, no function would match and the profile would do nothing.
#
# HERMES_PGO=0 builds without the profile. So does a toolchain whose LLVM is not the one
# the profile was recorded with (an indexed profile from another LLVM major may not load):
# the build goes on unoptimised by it, with a note on stderr.

PGO_PROFILE="${PGO_PROFILE:-gateway/pgo/hermes-gateway.profdata}"
PGO_LLVM_MAJOR_FILE="${PGO_LLVM_MAJOR_FILE:-gateway/pgo/llvm-major}"

# The LLVM major version of this rustc (e.g. 22).
pgo_rustc_llvm_major() {
  rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p'
}

# Prints the rustc flags that apply the gateway's profile, or nothing (saying why on
# stderr). The profile is passed by a path that names its content (a copy under the
# cache), so a new profile is a new flag and cargo rebuilds what it changes.
pgo_rustflags() {
  if [[ "${HERMES_PGO:-1}" == 0 ]]; then
    echo "pgo: HERMES_PGO=0: building without the profile" >&2
    return 0
  fi
  if [[ ! -s $PGO_PROFILE ]]; then
    echo "pgo: no profile at $PGO_PROFILE: building without it (scripts/pgo-profile records one)" >&2
    return 0
  fi
  local want have
  want="$(cat "$PGO_LLVM_MAJOR_FILE" 2>/dev/null || true)"
  have="$(pgo_rustc_llvm_major)"
  if [[ -z $want || $want != "$have" ]]; then
    echo "pgo: the profile is from LLVM ${want:-?}, rustc uses LLVM ${have:-?}: building without it (record a new one with scripts/pgo-profile)" >&2
    return 0
  fi
  local cache="${HERMES_PGO_CACHE:-/var/cache/hermes/pgo}" sum copy
  sum="$(sha256sum "$PGO_PROFILE" | cut -c1-16)"
  copy="$cache/hermes-gateway-$sum.profdata"
  if [[ ! -s $copy ]]; then
    mkdir -p "$cache"
    cp "$PGO_PROFILE" "$copy.tmp" && mv "$copy.tmp" "$copy"
  fi
  # Functions changed since the profile was recorded are built as without one; LLVM's
  # warning for each would only repeat that.
  printf -- '-Cprofile-use=%s -Cllvm-args=-no-pgo-warn-mismatch' "$copy"
}

# The rustc flags of the release gateway the images carry (scripts/build-images): static
# (static-pie), so it runs in an image without a libc. The load benchmark builds it the
# same way, so it measures that binary, and the two share one cache instead of each
# rebuilding the other's gateway (RUSTFLAGS are part of cargo's fingerprint).
# shellcheck disable=SC2034 # used by the scripts that source this file
RELEASE_STATIC_RUSTFLAGS='-C target-feature=+crt-static'

# The host target triple (what --target names).
pgo_host() {
  rustc -vV | sed -n 's/^host: //p'
}

# Builds the release gateway as its profile was recorded (alone, --target the host), with
# the profile's flags after EXTRA (more rustc flags, may be empty) and any further cargo
# arguments. The binary: $CARGO_TARGET_DIR/$(pgo_host)/release/hermes-gateway.
pgo_build_gateway() {
  local extra="$1" flags
  shift
  flags="$(pgo_rustflags)"
  RUSTFLAGS="$extra $flags" cargo build --release --locked --target "$(pgo_host)" -p hermes-gateway "$@"
}
