#!/usr/bin/env bash
# Builds the "before" side of bench/run_vlm_realtime.sh: Vigil as it was
# before the real-time VLM work (commit BASELINE_COMMIT) on the llama.cpp
# build of that time (one AVX-512 CPU backend, OpenMP, no patches), both
# cached under ${VIGIL_CACHE_DIR:-~/.cache/vigil}. Prints the baseline vigil
# executable's path. Needs the repository's history (a full clone).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
CACHE_DIR="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}"
BASELINE_COMMIT="${BASELINE_COMMIT:-544aec7}"
JOBS="${VIGIL_JOBS:-$(nproc)}"
log() { printf '[build-baseline] %s\n' "$*" >&2; }

llama="$CACHE_DIR/llama.cpp-v0.5.0-cpu-avx512"
if [[ ! -f "$llama/.complete" ]]; then
  log "building the baseline llama.cpp into $llama"
  work="$(mktemp -d "$CACHE_DIR/llama-baseline.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent node-llama-cpp@3.22.1 >/dev/null && tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle)
  git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$work/src"
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512=ON -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON \
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
    -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DCMAKE_BUILD_RPATH='$ORIGIN;$ORIGIN/../lib' >/dev/null
  cmake --build "$work/build" -j "$JOBS" --target llama mtmd >/dev/null
  mkdir -p "$llama/lib" "$llama/include" "$llama/share"
  find "$work/build" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$llama/lib/" \;
  cp "$work/src/include/"*.h "$work/src/ggml/include/"*.h "$work/src/tools/mtmd/mtmd.h" \
     "$work/src/tools/mtmd/mtmd-helper.h" "$llama/include/"
  mkdir -p "$llama/share/vocab" && cp "$work/src/models/"ggml-vocab-*.gguf "$llama/share/vocab/"
  touch "$llama/.complete"
fi

out="$CACHE_DIR/bench-baseline-$BASELINE_COMMIT"
if [[ ! -x "$out/build/vigil" ]]; then
  log "building vigil at $BASELINE_COMMIT into $out"
  rm -rf "$out"
  git -C "$here" worktree prune
  git -C "$here" worktree add --detach -f "$out/src" "$BASELINE_COMMIT" >/dev/null
  cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_LLAMA_DIR="$llama" \
    -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF >/dev/null
  cmake --build "$out/build" -j "$JOBS" --target vigil >/dev/null
fi
echo "$out/build/vigil"
