#!/usr/bin/env bash
# Sets everything up and runs Vigil's main job on its embedded defaults: the
# alert pipeline (`vigil run configs/demo.yaml`) on a sample traffic video,
# writing alerts to demo-alerts.jsonl and the store.
#   Models: $VIGIL_MODELS_DIR, else ../shared/models when present, else the
#           default detector is pulled from its pinned URL (`vigil models pull`).
#   Video:  $VIGIL_SAMPLE_VIDEO, else ../shared's copy of the sample clip when
#           present, else the catalog's pinned sample (`vigil models pull
#           sample-traffic`, sha256-checked; `--from DIR` offline).
#   VLM:    the installed smolvlm-500m when present (`vigil models pull
#           smolvlm-500m`, or `--from DIR` offline); otherwise vigil says so in
#           one line and writes rule-based context.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${VIGIL_BUILD_DIR:-build}"
bash scripts/build.sh
if [[ -z "${VIGIL_MODELS_DIR:-}" && -d ../shared/models/detectors ]]; then
  export VIGIL_MODELS_DIR="$(cd ../shared/models && pwd)"
fi
"$BUILD_DIR/vigil" models path yolox-nano >/dev/null 2>&1 || "$BUILD_DIR/vigil" models pull yolox-nano
args=(run configs/demo.yaml --until-eof)
if [[ -n "${VIGIL_SAMPLE_VIDEO:-}" ]]; then
  args+=(--source "$VIGIL_SAMPLE_VIDEO")
elif [[ ! -f ../shared/media/videos/opencv4nodejs_traffic.mp4 ]]; then
  "$BUILD_DIR/vigil" models path sample-traffic >/dev/null 2>&1 || "$BUILD_DIR/vigil" models pull sample-traffic
  args+=(--source "$("$BUILD_DIR/vigil" models path sample-traffic)")
fi
"$BUILD_DIR/vigil" models path smolvlm-500m >/dev/null 2>&1 && args+=(--vlm smolvlm-500m)
exec "$BUILD_DIR/vigil" "${args[@]}"
