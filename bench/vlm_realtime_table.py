"""Prints bench/run_vlm_realtime.sh's table from the files it wrote in WORK."""
import json
import os
import statistics
import subprocess
import sys

work, duration = sys.argv[1], sys.argv[2]
cpu = next((line.split(":", 1)[1].strip() for line in
            subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("Model name")), "unknown CPU")


def load(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)


def med(values):
    return statistics.median(values) if values else float("nan")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


micro = {side: [load(f"{side}-{r}.json") for r in (1, 2)] for side in ("before", "after")}


def m(side, key):
    return med([run[key] for run in micro[side]])


print(f"Real-time VLM benchmark on {cpu}, 2 threads, smolvlm-500m shape (q8_0, random weights), "
      "120-token reports")
print(f"CPU backend: before {micro['before'][0]['cpu_backend']}, after {micro['after'][0]['cpu_backend']}; "
      f"prompt tokens per request: before {micro['before'][0]['prompt_tokens']}, "
      f"after {micro['after'][0]['prompt_tokens']} ({micro['after'][0]['cached_prompt_tokens']} of them reused)\n")
print("| one alert's VLM request (median of 2 x 5 runs) | before | after | after / before |")
print("| --- | ---: | ---: | ---: |")
rows = [("encoder passes per request", "encoder_passes_per_request", "{:.0f}", 1),
        ("encode s per pass (512 px)", "encode_ms_per_pass", "{:.2f}", 1e-3),
        ("prompt evaluation, cold (ms)", "prompt_eval_cold_ms", "{:.0f}", 1),
        ("prompt evaluation, prefix reused (ms)", "prompt_eval_reused_ms", "{:.0f}", 1),
        ("time to verdict (s)", "verdict_ms", "{:.2f}", 1e-3),
        ("time to the 120-token report (s)", "report_ms", "{:.2f}", 1e-3),
        ("decode tok/s (with grammar-forced tokens inserted)", "decode_tokens_per_s", "{:.1f}", 1),
        ("decode model steps/s", "decode_steps_per_s", "{:.1f}", 1),
        ("decode bound tok/s (read bandwidth / model bytes)", "decode_bound_tokens_per_s", "{:.1f}", 1)]
for label, key, fmt, scale in rows:
    before, after = m("before", key) * scale, m("after", key) * scale
    print(f"| {label} | {fmt.format(before)} | {fmt.format(after)} | {after / before:.2f} |")
for side in ("before", "after"):
    print(f"decode {side}: {100 * m(side, 'decode_steps_per_s') / m(side, 'decode_bound_tokens_per_s'):.0f}% "
          f"of the bound in model steps ({m(side, 'read_bandwidth_gb_s'):.1f} GB/s read)")


def pipeline(label):
    summary = load(f"{label}.summary.json")
    versions = {}
    with open(os.path.join(work, f"{label}.jsonl")) as f:
        for line in f:
            if line.strip():
                alert = json.loads(line)
                versions.setdefault(alert["id"], []).append(alert)
    verdict, report = [], []
    for alerts in versions.values():
        vlm = [a for a in alerts if a["context"]["source"] == "vlm"]
        if not vlm:
            continue
        timings = vlm[-1]["timings"]
        # Before this work an alert went out with the whole report: its verdict came then too.
        verdict.append(timings.get("event_to_verdict_ms", timings["event_to_alert_ms"]) / 1000)
        if "event_to_verdict_ms" not in timings:  # before this work: verdict and report came together
            report.append(timings["event_to_alert_ms"] / 1000)
            continue
        done = [a["timings"]["event_to_report_ms"] for a in vlm if "event_to_report_ms" in a["timings"]]
        if done:  # a report that hit its deadline (rules' words, VLM verdict) has none
            report.append(done[-1] / 1000)
    camera = summary["cameras"][0]
    return dict(summary=summary, verdict=verdict, report=report, frames=camera["frames_analysed"])


base = pipeline("novlm")
print(f"\n| vigil run, {duration} s of the demo clip in real time (5 fps) | VLM requests (answered / shed) | "
      "event to verdict p50 / p95 (s) | event to full report p50 / p95 (s), reports / verdicts | "
      "frames analysed vs no VLM |")
print("| --- | --- | --- | --- | --- |")
for config in ("congestion", "bursty"):
    for side in ("before", "after"):
        p = pipeline(f"{side}-{config}")
        s = p["summary"]
        print(f"| {config}, {side} | {s['vlm_requests']} ({s['vlm_answers']} / {s['vlm_shed']}) | "
              f"{pct(p['verdict'], 50):.1f} / {pct(p['verdict'], 95):.1f} | "
              f"{pct(p['report'], 50):.1f} / {pct(p['report'], 95):.1f}, {len(p['report'])} / {len(p['verdict'])} | "
              f"{p['frames'] / base['frames']:.3f} ({p['frames']} / {base['frames']}) |")
