#!/usr/bin/env bash
# Vigil's embedded VLM against llama.cpp's own llama-mtmd-cli on the same
# model pair, image, token count and thread count. Prints medians and the
# ratio Vigil / llama-mtmd-cli (encode: lower is faster; tokens/s: higher is
# faster). Both sides use n_batch 2048, n_ubatch 512, flash attention auto,
# greedy sampling, end-of-generation ignored, and one 512-px tile per image
# (llama-mtmd-cli: --image-max-tokens 64; Vigil: its default image budget).
#
# Usage: bench/vlm_vs_mtmd_cli.sh
# Environment (all optional):
#   VIGIL       vigil executable            (default: build/vigil)
#   LLAMA_BIN   folder with llama-mtmd-cli  (default: the cached llama.cpp build)
#   MODEL_DIR   text.gguf + mmproj.gguf     (default: $TMPDIR/vigil-bench/smolvlm-500m,
#               written with `vigil models synth --shape smolvlm-500m` when missing)
#   IMAGE       image to describe           (default: ../shared/media/images/bus.jpg)
#   TOKENS=64   THREADS="1 2"   RUNS=3
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL="${VIGIL:-$repo/build/vigil}"
if [[ -z "${LLAMA_BIN:-}" ]]; then
    cache="${VIGIL_CACHE_DIR:-$HOME/.cache/vigil}"
    [[ -f "$cache/llama.cpp.path" ]] && LLAMA_BIN="$(head -n1 "$cache/llama.cpp.path")/bin"
fi
MTMD_CLI="${LLAMA_BIN:-}/llama-mtmd-cli"
MODEL_DIR="${MODEL_DIR:-${TMPDIR:-/tmp}/vigil-bench/smolvlm-500m}"
IMAGE="${IMAGE:-$repo/../shared/media/images/bus.jpg}"
TOKENS="${TOKENS:-64}"
THREADS="${THREADS:-1 2}"
RUNS="${RUNS:-3}"
PROMPT="Describe this image in detail."
TILE_TOKENS=64  # one SmolVLM tile; Vigil's default budget is one tile

die() { echo "vlm_vs_mtmd_cli: $*" >&2; exit 1; }
[[ -x "$VIGIL" ]] || die "vigil executable not found at $VIGIL (build it, or set VIGIL=)"
[[ -x "$MTMD_CLI" ]] || die "llama-mtmd-cli not found (set LLAMA_BIN= to the folder that has it)"
[[ -f "$IMAGE" ]] || die "image not found: $IMAGE (set IMAGE=)"
command -v python3 >/dev/null || die "python3 is needed to parse the results"

if [[ ! -f "$MODEL_DIR/text.gguf" || ! -f "$MODEL_DIR/mmproj.gguf" ]]; then
    echo "writing the synthetic smolvlm-500m pair to $MODEL_DIR ..." >&2
    "$VIGIL" models synth --shape smolvlm-500m --out "$MODEL_DIR" >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# llama-mtmd-cli log -> "encode_ms prefill_tps decode_tps". Encode is summed
# over the image's chunks (tile and overview are encoded separately).
# libllama's "prompt eval time" runs from the first prompt decode to the first
# read of logits, so it also holds the image encodes done in between: they
# are subtracted to get the text + image-embedding prefill alone, which is
# what Vigil reports as prefill.
parse_mtmd_log() {
    python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
encode = sum(float(m) for m in re.findall(r"mtmd batch encoding done in (\d+(?:\.\d+)?) ms", text))
encode += sum(float(m) for m in re.findall(r"(?:image|slice) encoded in (\d+(?:\.\d+)?) ms", text))
prompt = re.search(r"prompt eval time\s*=\s*([\d.]+) ms /\s*(\d+) tokens", text)
decode = re.search(r"_print:\s+eval time\s*=.*?([\d.]+) tokens per second", text)
if not (prompt and decode and encode > 0):
    sys.exit("cannot find the timing lines in llama-mtmd-cli's output")
prefill_ms = float(prompt.group(1)) - encode
print(encode, int(prompt.group(2)) * 1000.0 / prefill_ms, decode.group(1))
EOF
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '\nmodel %s | image %s | %s tokens | median of %s runs\n\n' "$MODEL_DIR" "$(basename "$IMAGE")" "$TOKENS" "$RUNS"
printf '| threads | encode ms vigil | encode ms cli | ratio | prefill tok/s vigil | prefill tok/s cli | ratio | decode tok/s vigil | decode tok/s cli | ratio |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
# Vigil and llama-mtmd-cli take turns, one run each, so a change in machine
# load (shared CI runners) hits both sides alike. Each Vigil run is a fresh
# process: load, one warm-up request, one timed request.
for t in $THREADS; do
    v_encs=() v_pres=() v_decs=() c_encs=() c_pres=() c_decs=()
    for ((r = 0; r < RUNS; r++)); do
        "$VIGIL" bench vlm --model "$MODEL_DIR/text.gguf" --mmproj "$MODEL_DIR/mmproj.gguf" --image "$IMAGE" \
            --prompt "$PROMPT" --tokens "$TOKENS" --threads "$t" --runs 1 --ctx 4096 --json >"$work/vigil.json"
        read -r e p d < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["median"]; print(m["image_encode_ms"], m["prefill_tokens_per_s"], m["decode_tokens_per_s"])' "$work/vigil.json")
        v_encs+=("$e") v_pres+=("$p") v_decs+=("$d")

        "$MTMD_CLI" -m "$MODEL_DIR/text.gguf" --mmproj "$MODEL_DIR/mmproj.gguf" --image "$IMAGE" -p "$PROMPT" \
            -n "$TOKENS" --ignore-eos --temp 0 -t "$t" -c 4096 -b 2048 -ub 512 -fa auto \
            --image-max-tokens "$TILE_TOKENS" --perf -lv 4 </dev/null >"$work/cli.log" 2>&1 ||
            die "llama-mtmd-cli failed, see its log: $(tail -n 5 "$work/cli.log")"
        read -r e p d < <(parse_mtmd_log "$work/cli.log")
        c_encs+=("$e") c_pres+=("$p") c_decs+=("$d")
        printf 'threads %s run %d: encode ms %.0f / %.0f, prefill tok/s %.1f / %.1f, decode tok/s %.2f / %.2f (vigil / cli)\n' \
            "$t" $((r + 1)) "${v_encs[-1]}" "$e" "${v_pres[-1]}" "$p" "${v_decs[-1]}" "$d" >&2
    done
    python3 -c '
import sys
t, ve, vp, vd, ce, cp, cd = sys.argv[1], *map(float, sys.argv[2:])
print(f"| {t} | {ve:.0f} | {ce:.0f} | {ve/ce:.3f} | {vp:.1f} | {cp:.1f} | {vp/cp:.3f} | {vd:.2f} | {cd:.2f} | {vd/cd:.3f} |")
' "$t" "$(median "${v_encs[@]}")" "$(median "${v_pres[@]}")" "$(median "${v_decs[@]}")" \
        "$(median "${c_encs[@]}")" "$(median "${c_pres[@]}")" "$(median "${c_decs[@]}")"
done
