#!/usr/bin/env bash
# The real-time VLM benchmark: one table, before (Vigil before the real-time
# VLM work, on the llama.cpp build of that time) and after (this build), in
# the same run, at 2 threads, on the smolvlm-500m shape (random weights,
# q8_0 like the released model; 120 generated tokens stand in for a report).
#
#   bench/run_vlm_realtime.sh [DURATION_S]     (default 150 s per pipeline run)
#
# Part 1, `vigil bench vlm-alert`: one alert's request as `vigil run` builds it
# (instructions, two evidence images of the demo clip, the event's facts),
# five runs after a cold one: encode s per encoder pass, prompt evaluation
# cold and with the prefix reused, time to verdict and to the 120-token
# report, decode tok/s against the read bandwidth measured here.
# Part 2, `vigil run`: the demo clip played in real time and looped at 5 fps
# with the congestion rule, then with every vehicle entering the road as well
# (bursty): event-to-alert at the verdict and at the full report, p50/p95,
# events shed, and frames analysed against a run without a VLM.
# Run it on an otherwise idle machine. Needs python3, the demo clip and
# yolox-nano (../shared next to the repository), and the baseline built by
# bench/build_baseline.sh (done here when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
duration="${1:-150}"
vigil="${VIGIL_EXE:-$here/build/vigil}"
video="${VIGIL_SAMPLE_VIDEO:-$here/../shared/media/videos/opencv4nodejs_traffic.mp4}"
export VIGIL_MODELS_DIR="${VIGIL_MODELS_DIR:-$here/../shared/models}"
export OMP_WAIT_POLICY=passive  # the baseline's OpenMP threads must not spin against the detector
baseline_vigil="${BASELINE_VIGIL:-$(bash "$here/bench/build_baseline.sh")}"
baseline_llama="${BASELINE_LLAMA_DIR:-${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}/llama.cpp-v0.5.0-cpu-avx512}"
work="$(mktemp -d)"; [[ -n "${KEEP:-}" ]] && echo "work folder: $work" >&2
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
log() { printf '[bench] %s\n' "$*" >&2; }

"$vigil" models synth --shape smolvlm-500m --out "$work/model" >/dev/null
model=(--model "$work/model/text.gguf" --mmproj "$work/model/mmproj.gguf")
frames=(--frame "$video@4s" --frame "$video@6s" --frame "$video@8s")

# ---- part 1: one alert's request -------------------------------------------------
for round in 1 2; do
  log "request benchmark, round $round: before"
  LD_LIBRARY_PATH="$baseline_llama/lib" "$vigil" bench vlm-alert "${model[@]}" "${frames[@]}" --threads 2 \
    --tokens 120 --runs 5 --baseline --json >"$work/before-$round.json"
  log "request benchmark, round $round: after"
  "$vigil" bench vlm-alert "${model[@]}" "${frames[@]}" --threads 2 --tokens 120 --runs 5 --json >"$work/after-$round.json"
done

# ---- part 2: vigil run on the live-like stream -------------------------------------
pipeline_config() {  # NAME ENTRIES(0|1) VLM(0|1)
  local entries="" vlm=""
  [[ "$2" == 1 ]] && entries="        - {name: road_entries, type: zone_presence, zone: road, exit: false}"
  [[ "$3" == 1 ]] && vlm="vlm: {model: $work/model/text.gguf, mmproj: $work/model/mmproj.gguf, threads: 2, deadline_s: 120, max_queue: 4}"
  cat >"$work/$1.yaml" <<YAML
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
$vlm
alert: {merge_window_s: 0, cooldown_s: 0}
store: {db: $work/$1.sqlite, evidence_dir: $work/$1-evidence}
YAML
}
run_pipeline() {  # LABEL EXE CONFIG [ARGS...]
  local label="$1" exe="$2" config="$3"; shift 3
  log "vigil run: $label ($duration s)"
  "$exe" run "$work/$config.yaml" --max-seconds "$duration" --no-progress --summary-json \
    --alerts-jsonl "$work/$label.jsonl" --db "$work/$label.sqlite" --evidence-dir "$work/$label-evidence" "$@" \
    >"$work/$label.summary.json" 2>"$work/$label.log" || { tail -20 "$work/$label.log" >&2; exit 1; }
  touch "$work/$label.jsonl"
}
pipeline_config novlm 0 0
pipeline_config congestion 0 1
pipeline_config bursty 1 1
run_pipeline novlm "$vigil" novlm --no-vlm
for config in congestion bursty; do
  run_pipeline "before-$config" "$baseline_vigil" "$config"
  run_pipeline "after-$config" "$vigil" "$config"
done

# ---- the table ---------------------------------------------------------------------
python3 "$here/bench/vlm_realtime_table.py" "$work" "$duration"
