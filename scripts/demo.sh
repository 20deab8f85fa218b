#!/usr/bin/env bash
# Sets everything up and runs Vigil's main job on its embedded defaults:
# describe the sample street image with the embedded VLM. Uses the installed
# catalog VLM (vigil models pull smolvlm-500m) when present; otherwise says so
# and falls back to a synthetic random-weight model, which runs the full
# pipeline but writes nonsense.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${VIGIL_BUILD_DIR:-build}"
bash scripts/build.sh
IMAGE="${1:-assets/sample_street.jpg}"
if "$BUILD_DIR/vigil" models path smolvlm-500m >/dev/null 2>&1; then
  exec "$BUILD_DIR/vigil" describe --vlm smolvlm-500m "$IMAGE"
fi
SYNTH_DIR="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}/synth/tiny"
echo "vigil: no VLM weights installed (run '$BUILD_DIR/vigil models pull smolvlm-500m', or --from DIR offline);" \
     "describing with the synthetic tiny model, whose text is random." >&2
[[ -f "$SYNTH_DIR/text.gguf" ]] || "$BUILD_DIR/vigil" models synth --shape tiny --out "$SYNTH_DIR"
exec "$BUILD_DIR/vigil" describe --model "$SYNTH_DIR/text.gguf" --mmproj "$SYNTH_DIR/mmproj.gguf" --max-tokens 48 "$IMAGE"
