#!/usr/bin/env bash
# Installs everything Vigil needs on Debian 12: system packages, then llama.cpp
# (with libmtmd) built from the source that npm's node-llama-cpp carries, and
# ONNX Runtime (library from npm, headers from Debian 13). Builds are cached
# under ${VIGIL_CACHE_DIR:-~/.cache/vigil}/<name>-<version> and reused.
set -euo pipefail

CACHE_DIR="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}"
LLAMA_NPM_VERSION="3.22.1"          # node-llama-cpp release carrying llama.cpp
LLAMA_TAG="v0.5.0"                  # recorded for the cache key only
ORT_NPM_VERSION="1.30.0"            # onnxruntime-node carrying libonnxruntime.so.1
ORT_HEADERS_VERSION="1.21"          # Debian 13 libonnxruntime-dev (C API 21)
JOBS="${VIGIL_JOBS:-$(nproc)}"

log() { printf '[install-deps] %s\n' "$*" >&2; }

APT_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libopencv-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev
  nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev libspdlog-dev libfmt-dev libcli11-dev
  libeigen3-dev libsqlite3-dev libmosquitto-dev mosquitto libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgstrtspserver-1.0-dev gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  qemu-user  # tests run the build on emulated older x86-64 CPUs
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "apt: installing ${missing[*]}"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "apt: all packages present"
  fi
}

# llama.cpp build. ggml's CPU backend is built as one loadable library per
# x86-64 feature level (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, 14 of them):
# at run time ggml loads the best one the CPU can execute (AMX on Sapphire
# Rapids and later, AVX-512 VNNI/BF16 on Zen 4/5, AVX2, ..., plain x86-64),
# so one build runs on any x86-64 machine and no -march=native is needed. Vigil's patches (scripts/llama.cpp-patches/, applied in order):
#   0001 AMX: GCC 12 drops the stores of ggml's tile configuration, which made
#        the AMX kernels die with SIGILL; the config is now the asm operand.
#   0002 libmtmd: the vision encoder's matrix weights go to the CPU backend's
#        extra buffer types (AMX, repacked), as text weights already do.
# OpenMP is off: ggml's own threadpool spins briefly then sleeps, which keeps
# decode fast without the busy-waiting that starves the detector's thread.
# The cache folder is keyed by the release, the CMake flags
# and the patches, so a change to any of them builds afresh.
LLAMA_NPM_SHA256="a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f"
LLAMA_CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON
  -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_OPENMP=OFF
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON
)
PATCH_DIR="$(cd "$(dirname "$0")" && pwd)/llama.cpp-patches"

llama_build_key() {
  { echo "$LLAMA_NPM_VERSION $LLAMA_TAG ${LLAMA_CMAKE_FLAGS[*]}"
    cat "$PATCH_DIR"/*.patch; } | sha256sum | cut -c1-12
}

# The copied libraries and tools find each other through relative rpaths
# ($ORIGIN for lib/, $ORIGIN/../lib for bin/), so the prefix can move; bin/
# links the CPU variants because ggml looks for them beside the executable.
install_llama() {
  local prefix="$CACHE_DIR/llama.cpp-$LLAMA_TAG-cpu-variants-$(llama_build_key)"
  if [[ -f "$prefix/.complete" ]]; then log "llama.cpp: cached at $prefix"; echo "$prefix" >"$CACHE_DIR/llama.cpp.path"; return; fi
  local work; work="$(mktemp -d "$CACHE_DIR/llama-build.XXXXXX")"
  trap 'rm -rf "'"$work"'"' EXIT  # a failed build leaves nothing behind
  log "llama.cpp: fetching node-llama-cpp@$LLAMA_NPM_VERSION source bundle"
  (cd "$work" && npm pack --silent "node-llama-cpp@$LLAMA_NPM_VERSION" >/dev/null)
  local sum; sum="$(sha256sum "$work"/node-llama-cpp-*.tgz | cut -d' ' -f1)"
  if [[ "$sum" != "$LLAMA_NPM_SHA256" ]]; then
    log "error: node-llama-cpp@$LLAMA_NPM_VERSION has sha256 $sum, expected $LLAMA_NPM_SHA256"; exit 1
  fi
  (cd "$work" && tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle)
  git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$work/src"
  local patch
  for patch in "$PATCH_DIR"/*.patch; do
    log "llama.cpp: applying $(basename "$patch")"
    git -C "$work/src" apply --whitespace=nowarn "$patch"
  done
  log "llama.cpp: configuring"
  cmake -S "$work/src" -B "$work/build" "${LLAMA_CMAKE_FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_BUILD_RPATH='$ORIGIN;$ORIGIN/../lib' -DCMAKE_SKIP_BUILD_RPATH=OFF >"$work/configure.log" 2>&1 \
    || { cat "$work/configure.log" >&2; exit 1; }
  log "llama.cpp: building llama, mtmd, llama-server, llama-mtmd-cli and the CPU variants with $JOBS jobs"
  cmake --build "$work/build" -j "$JOBS" --target llama mtmd llama-server llama-mtmd-cli >"$work/build.log" 2>&1 \
    || { tail -50 "$work/build.log" >&2; exit 1; }
  log "llama.cpp: installing to $prefix"
  rm -rf "$prefix"
  mkdir -p "$prefix/lib" "$prefix/include" "$prefix/bin" "$prefix/share"
  find "$work/build" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$prefix/lib/" \;
  cp "$work/src/include/"*.h "$prefix/include/"
  cp "$work/src/ggml/include/"*.h "$prefix/include/"
  cp "$work/src/tools/mtmd/mtmd.h" "$work/src/tools/mtmd/mtmd-helper.h" "$prefix/include/" 2>/dev/null || true
  cp "$work/build/bin/llama-server" "$work/build/bin/llama-mtmd-cli" "$prefix/bin/"
  [[ -f "$prefix/lib/libggml-cpu-x64.so" ]] || { log "error: the baseline CPU backend libggml-cpu-x64.so was not built"; exit 1; }
  local variant
  for variant in "$prefix"/lib/libggml-cpu-*.so; do ln -sf "../lib/$(basename "$variant")" "$prefix/bin/"; done
  mkdir -p "$prefix/share/vocab" && cp "$work/src/models/"ggml-vocab-*.gguf "$prefix/share/vocab/"
  (cd "$work/src" && git describe --tags --always) >"$prefix/VERSION" 2>/dev/null || echo "$LLAMA_TAG" >"$prefix/VERSION"
  touch "$prefix/.complete"
  echo "$prefix" >"$CACHE_DIR/llama.cpp.path"
  rm -rf "$work"
  log "llama.cpp: done"
}

mkdir -p "$CACHE_DIR"
# npm fetches the llama.cpp and ONNX Runtime packages; Debian's own npm only
# where the machine has no Node.js toolchain already.
command -v npm >/dev/null || APT_PACKAGES+=(npm)
install_apt
if [[ -z "${VIGIL_LLAMA_DIR:-}" ]]; then install_llama; else log "llama.cpp: using VIGIL_LLAMA_DIR=$VIGIL_LLAMA_DIR"; fi
if [[ -z "${VIGIL_ONNXRUNTIME_DIR:-}" ]]; then
  bash "$(dirname "$0")/install-onnxruntime.sh"
else
  log "onnxruntime: using VIGIL_ONNXRUNTIME_DIR=$VIGIL_ONNXRUNTIME_DIR"
fi
