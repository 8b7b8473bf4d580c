#!/usr/bin/env bash
# Encoder throughput (batch 32 x 128 tokens) and 16-token query latency: the Swift engine
# (encoder-bench) at each precision against onnxruntime fp32 and int8 (dynamic quantization) and
# PyTorch on the same model, inputs and thread count; and Swift's 20 rerank pairs x 160 tokens.
# Usage: Benchmarks/encoder.sh [THREADS] [MODEL_DIR] [ROUNDS]
#   (defaults: 2, .cache/models/all-MiniLM-L6-v2, 3). PRECISIONS=fp32,fp16,int8 (the default) picks
#   Swift's rows; CASCADE_ISA=avx2|portable lowers Swift's kernel path. The engines take turns round by round
#   (Swift, the peers, Swift, ...), and within a round Swift's precisions take turns run by run
#   (encoder-bench loads them all first); the summary gives each one's median and the per-round
#   ratios: on a shared machine the speed drifts within minutes, and turns expose both sides to it alike.
#   Each round times 1,000 queries per engine (about 4 s of Swift's), so that one slow second of
#   the machine does not make the round's median.
# Needs the reference venv (scripts/reference-env.sh; override with CASCADE_REF_PYTHON).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for these runs only, as on a user's machine;
# the OpenBLAS kernel that ran is printed. Run on a quiet machine: other jobs skew every number.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
model=${2:-$root/.cache/models/all-MiniLM-L6-v2}
rounds=${3:-3}
precisions=${PRECISIONS:-fp32,fp16,int8}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
python=${CASCADE_REF_PYTHON:-/tmp/cascade-ref/bin/python}
[ -f "$model/config.json" ] || { echo "error: no model at $model (run scripts/fetch-model.sh)" >&2; exit 1; }
[ -x "$python" ] || { echo "error: no reference python at $python (run scripts/reference-env.sh)" >&2; exit 1; }

# Absolute paths, so the script runs from any directory (a timing run started outside the checkout
# keeps the priority it was given by whoever started it).
# ENCODER_BENCH=PATH: a release encoder-bench of this checkout built before (default: build it).
if [ -n "${ENCODER_BENCH:-}" ]; then
  bench=$ENCODER_BENCH
else
  swift build -c release --package-path "$root" --product encoder-bench >&2
  bench=$root/.build/release/encoder-bench
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
  [ "$rounds" -eq 1 ] || echo "== round $round of $rounds" >&2
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 \
    "$bench" --model "$model" --threads "$threads" --precisions "$precisions" | tee -a "$out" >&2
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    "$python" "$root/Benchmarks/peers/encoder_peers.py" --model "$model" --threads "$threads" 2>/dev/null | tee -a "$out" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$python" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
engines = list(dict.fromkeys(r["engine"] for r in rows))
runs = {e: [r for r in rows if r["engine"] == e] for e in engines}
base = "swift-fp32" if "swift-fp32" in runs else engines[0]
median = lambda rs, key: statistics.median(r[key] for r in rs if key in r)
first = runs[base][0]
print(f"\nall-MiniLM-L6-v2-class encoder, {first['threads']} threads, OpenBLAS kernel {first['kernel']}, "
      f"{len(runs[base])} round(s){', medians' if len(runs[base]) > 1 else ''}")
print(f"| engine | kernel path | tokens/s (32 x 128) | {base} / engine | 16-token query (ms) | engine / {base} "
      "| 20 pairs x 160 (ms) | engine / " + base + " |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for e in engines:
    tps, q = median(runs[e], "tokens_per_s"), median(runs[e], "query_ms")
    has_rerank = any("rerank_20x160_ms" in r for r in runs[e]) and any("rerank_20x160_ms" in r for r in runs[base])
    rr = median(runs[e], "rerank_20x160_ms") if has_rerank else None
    rerank = f"{rr:.1f} | {rr / median(runs[base], 'rerank_20x160_ms'):.2f}x" if rr else " | "
    print(f"| {e} | {runs[e][0].get('kernel_path', '')} | {tps:,.0f} | {median(runs[base], 'tokens_per_s') / tps:.2f}x "
          f"| {q:.2f} | {q / median(runs[base], 'query_ms'):.2f}x | {rerank} |")

# The issue's goals, as ratios of the same round (A and B measured minutes apart at most), then their median.
def ratios(a, b, key, invert=False):
    if a not in runs or b not in runs:
        return None
    pairs = [(x[key], y[key]) for x, y in zip(runs[a], runs[b]) if key in x and key in y]
    values = [(y / x if invert else x / y) for x, y in pairs]
    return values or None

goals = [
    ("int8 batch throughput / onnxruntime int8 (goal >= 1.0)", ratios("swift-int8", "onnxruntime-int8", "tokens_per_s")),
    ("int8 16-token query time / onnxruntime int8 (goal <= 1.0)", ratios("swift-int8", "onnxruntime-int8", "query_ms")),
    ("int8 20x160 rerank time / Cascade fp32 (goal <= 0.55)", ratios("swift-int8", "swift-fp32", "rerank_20x160_ms")),
    ("fp16 16-token query time / Cascade fp32 (goal <= 0.8)", ratios("swift-fp16", "swift-fp32", "query_ms")),
    ("int8 batch throughput / Cascade fp32", ratios("swift-int8", "swift-fp32", "tokens_per_s")),
    ("int8 16-token query time / Cascade fp32", ratios("swift-int8", "swift-fp32", "query_ms")),
]
print()
for label, values in goals:
    if values:
        print(f"{label}: median {statistics.median(values):.2f} (rounds: {', '.join(f'{v:.2f}' for v in values)})")
PY
