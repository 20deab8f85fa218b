#!/usr/bin/env bash
# Installs dependencies (cached) and builds Vigil into ./build (or $VIGIL_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${VIGIL_BUILD_DIR:-build}"
bash scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${VIGIL_BUILD_TYPE:-Release}" ${VIGIL_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "${VIGIL_JOBS:-$(nproc)}"
