#!/usr/bin/env bash
# Installs ONNX Runtime (not packaged in Debian 12) into the dependency cache:
# the CPU library from npm's onnxruntime-node and the C/C++ headers from
# Debian 13's libonnxruntime-dev (C API 21, which the newer runtime still
# serves). The system's apt sources are never touched and no .deb is
# installed: the headers package is fetched through a private apt state.
#
#   scripts/install-onnxruntime.sh          # prefix: ${VIGIL_CACHE_DIR:-~/.cache/vigil}/onnxruntime-1.30.0
#
# Prints the prefix on stdout when done; cmake/VigilOnnxRuntime.cmake finds it.
set -euo pipefail

ORT_NPM_VERSION="${ORT_NPM_VERSION:-1.30.0}"
CACHE_DIR="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}"
PREFIX="$CACHE_DIR/onnxruntime-$ORT_NPM_VERSION"

log() { printf '[install-onnxruntime] %s\n' "$*" >&2; }

if [[ -f "$PREFIX/.complete" ]]; then
  log "cached at $PREFIX"
  echo "$PREFIX"
  exit 0
fi

for tool in npm tar apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { log "error: '$tool' is required"; exit 1; }
done

mkdir -p "$CACHE_DIR"
work="$(mktemp -d "$CACHE_DIR/onnxruntime-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 1. Library: onnxruntime-node ships libonnxruntime.so.1.x per platform.
log "fetching onnxruntime-node@$ORT_NPM_VERSION from npm"
(cd "$work" && npm pack --silent "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null)
tar xzf "$work"/onnxruntime-node-*.tgz -C "$work"
mapfile -t libs < <(find "$work/package/bin" -path '*/linux/x64/*' -name 'libonnxruntime.so.1*' -type f)
if ((${#libs[@]} == 0)); then
  log "error: no bin/napi-v*/linux/x64/libonnxruntime.so.1* in onnxruntime-node@$ORT_NPM_VERSION"
  exit 1
fi
stage="$work/prefix"
mkdir -p "$stage/lib" "$stage/include"
lib="${libs[0]}"
libname="$(basename "$lib")"
log "library: $libname"
cp "$lib" "$stage/lib/"
# The soname is libonnxruntime.so.1; the linker looks for libonnxruntime.so.
[[ "$libname" != "libonnxruntime.so.1" ]] && ln -sf "$libname" "$stage/lib/libonnxruntime.so.1"
ln -sf "libonnxruntime.so.1" "$stage/lib/libonnxruntime.so"

# 2. Headers: Debian 13 (trixie) libonnxruntime-dev, downloaded through a
# private sources list on the same mirror host this machine already uses.
mirror="http://deb.debian.org/debian"
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
  [[ -f "$f" ]] || continue
  uri="$(grep -Ev '^[[:space:]]*#' "$f" | grep -Eo 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)"
  if [[ -n "$uri" ]]; then mirror="${uri%/}"; break; fi
done
apt_dir="$work/apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
: >"$apt_dir/status"
echo "deb $mirror trixie main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State=$apt_dir/state" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::State::Status=$apt_dir/status")
# As root apt drops to the _apt user, which cannot write into our mktemp dir.
[[ $(id -u) -eq 0 ]] && apt_opts+=(-o "APT::Sandbox::User=root")
log "fetching libonnxruntime-dev headers from '$mirror trixie main' (private apt state in $apt_dir)"
apt-get -qq "${apt_opts[@]}" update >&2
(cd "$work" && apt-get -qq "${apt_opts[@]}" download libonnxruntime-dev >&2)
deb="$(ls "$work"/libonnxruntime-dev_*.deb | head -1)"
log "headers: $(basename "$deb")"
dpkg-deb -x "$deb" "$work/deb"
header_dir="$(dirname "$(find "$work/deb" -name onnxruntime_cxx_api.h | head -1)")"
if [[ ! -f "$header_dir/onnxruntime_cxx_api.h" ]]; then
  log "error: onnxruntime_cxx_api.h not found in $(basename "$deb")"
  exit 1
fi
cp "$header_dir"/*.h "$stage/include/"
basename "$deb" >"$stage/HEADERS"
echo "$ORT_NPM_VERSION" >"$stage/VERSION"

rm -rf "$PREFIX"
mv "$stage" "$PREFIX"
touch "$PREFIX/.complete"
log "installed to $PREFIX"
echo "$PREFIX"
