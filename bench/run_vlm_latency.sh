#!/usr/bin/env bash
# Event-to-alert latency with the embedded VLM on a live-like event stream:
# `vigil run` plays a traffic video at its own speed (realtime, looped) for
# DURATION seconds with the demo's congestion rule, the VLM in process.
# Prints p50/p95 of event-to-alert for alerts the VLM answered, the VLM's own
# time per request, how many events were shed to rules, and detection fps.
#
#   bench/run_vlm_latency.sh SHAPE|MODEL_DIR [DURATION_S] [VIGIL_EXE] [VIDEO]
# SHAPE is a synthetic shape (`tiny`, `smolvlm-500m`), written to a scratch
# folder with `vigil models synth`; a MODEL_DIR holds text.gguf + mmproj.gguf.
# Extra rules (e.g. every vehicle entering the road, a bursty stream) with
# ENTRIES=1. Needs python3 and VIGIL_MODELS_DIR with yolox-nano (default
# ../shared/models next to the repository).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shape="${1:?usage: run_vlm_latency.sh SHAPE|MODEL_DIR [DURATION_S] [VIGIL_EXE] [VIDEO]}"
duration="${2:-120}"
vigil="${3:-$here/build/vigil}"
video="${4:-$here/../shared/media/videos/opencv4nodejs_traffic.mp4}"
export VIGIL_MODELS_DIR="${VIGIL_MODELS_DIR:-$here/../shared/models}"
export OMP_WAIT_POLICY=passive
work="$(mktemp -d)"; [[ -n "${KEEP:-}" ]] && echo "work folder: $work" >&2
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT

if [[ -d "$shape" ]]; then
  model_dir="$shape"
else
  model_dir="$work/model"
  "$vigil" models synth --shape "$shape" --out "$model_dir" >/dev/null
fi

entries=""
[[ "${ENTRIES:-0}" == 1 ]] && entries="        - {name: road_entries, type: zone_presence, zone: road, exit: false}"
cat > "$work/latency.yaml" <<YAML
cameras:
  - name: bench
    location: Benchmark road
    source: $video
    realtime: true
    loop: true
    fps: 5
    detector: {name: yolox-nano, threshold: 0.3, threads: 1, classes: [car, bus, truck, motorbike]}
    tracker: {high_threshold: 0.4, new_track_threshold: 0.5}
    analytics:
      units: normalized
      zones: [{name: road, points: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}]
      rules:
        - {name: road_congestion, type: congestion, zone: road, min_count: 2, max_speed_px_s: 400, min_s: 2, clear_s: 2}
$entries
vlm: {model: $model_dir/text.gguf, mmproj: $model_dir/mmproj.gguf, deadline_s: 120, max_queue: 4, workers: 1}
alert: {merge_window_s: 0, cooldown_s: 0}
store: {db: $work/latency.sqlite, evidence_dir: $work/evidence}
YAML

"$vigil" run "$work/latency.yaml" --max-seconds "$duration" --no-progress --summary-json \
  --alerts-jsonl "$work/alerts.jsonl" > "$work/summary.json" 2> "$work/run.log" ||
  { cat "$work/run.log" >&2; exit 1; }

python3 - "$work" "$shape" "$duration" <<'PY'
import json, os, sys
work, shape, duration = sys.argv[1], os.path.basename(sys.argv[2].rstrip("/")), sys.argv[3]
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")
summary = json.load(open(os.path.join(work, "summary.json")))
alerts = [json.loads(line) for line in open(os.path.join(work, "alerts.jsonl")) if line.strip()]
vlm = [a for a in alerts if a["context"]["source"] == "vlm"]
e2a = [a["timings"]["event_to_alert_ms"] / 1000 for a in vlm]
wait = [a["timings"].get("queue_wait_ms", 0) / 1000 for a in vlm]
vlm_s = [a["timings"]["vlm_ms"] / 1000 for a in vlm]
rules = [a for a in alerts if a["context"]["source"] == "rules"]
cam = summary["cameras"][0]
print(f"VLM latency benchmark: shape {shape}, {duration} s of realtime video, 1 VLM worker, queue 4")
print(f"events {summary['events']}, VLM requests {summary['vlm_requests']}, answered {summary['vlm_answers']}, "
      f"shed {summary['vlm_shed']}, timeouts {summary['vlm_timeouts']}, errors {summary['vlm_errors']}; "
      f"alerts: {len(vlm)} with VLM context, {len(rules)} from rules")
print(f"event-to-alert (VLM answered): p50 {pct(e2a, 50):.1f} s, p95 {pct(e2a, 95):.1f} s, max {max(e2a, default=float('nan')):.1f} s")
print(f"  of which queue wait p50 {pct(wait, 50):.1f} s; VLM time per request p50 {pct(vlm_s, 50):.1f} s, p95 {pct(vlm_s, 95):.1f} s")
print(f"detection: {cam['frames_analysed']} frames, {cam['frames_dropped']} dropped, {cam['detection_fps']:.1f} fps of processing time")
PY
