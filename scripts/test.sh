#!/usr/bin/env bash
# Sets everything up and runs every test: dependencies, a Release build, the
# whole ctest suite, then the logic-heavy suites again under AddressSanitizer
# and UndefinedBehaviorSanitizer. Test data is read from ../shared (override
# with VIGIL_SHARED_DIR); tests write only to temporary folders.
# VIGIL_SANITIZE_SUITES="" skips the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${VIGIL_BUILD_DIR:-build}"
bash scripts/build.sh
export VIGIL_SHARED_DIR="${VIGIL_SHARED_DIR:-$(cd .. && pwd)/shared}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${VIGIL_TEST_JOBS:-2}" --timeout 600

SANITIZE_SUITES="${VIGIL_SANITIZE_SUITES-core analyze track eval}"
if [[ -n "$SANITIZE_SUITES" ]]; then
  ASAN_DIR="${BUILD_DIR}-asan"
  cmake -S . -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
  targets=(); labels=()
  for suite in $SANITIZE_SUITES; do targets+=(--target "test_$suite"); labels+=("$suite"); done
  cmake --build "$ASAN_DIR" -j "${VIGIL_JOBS:-$(nproc)}" "${targets[@]}"
  label_regex="^($(IFS='|'; echo "${labels[*]}"))\$"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$ASAN_DIR" --output-on-failure -j "${VIGIL_TEST_JOBS:-2}" --timeout 900 -L "$label_regex" -E "Cli"  # CLI tests need the Release vigil executable
fi
