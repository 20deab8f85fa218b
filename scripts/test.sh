#!/usr/bin/env bash
# Sets everything up and runs every test: dependencies, a Release build, then
# the whole ctest suite. Test data is read from ../shared (override with
# VIGIL_SHARED_DIR); tests write only to temporary folders.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${VIGIL_BUILD_DIR:-build}"
bash scripts/build.sh
export VIGIL_SHARED_DIR="${VIGIL_SHARED_DIR:-$(cd .. && pwd)/shared}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${VIGIL_TEST_JOBS:-2}" --timeout 600
