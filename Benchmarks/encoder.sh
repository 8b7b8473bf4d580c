#!/usr/bin/env bash
# Encoder throughput (batch 32 x 128 tokens) and 16-token query latency: the Swift engine
# (encoder-bench) against onnxruntime fp32 and PyTorch on the same model, inputs and thread count.
# Usage: Benchmarks/encoder.sh [THREADS] [MODEL_DIR] [ROUNDS]
#   (defaults: 2, .cache/models/all-MiniLM-L6-v2, 3). The engines take turns round by round
#   (Swift, the peers, Swift, ...) and the summary gives each one's median and the per-round ratios:
#   on a shared machine the speed drifts within minutes, and turns expose both sides to it alike.
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
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
python=${CASCADE_REF_PYTHON:-/tmp/cascade-ref/bin/python}
[ -f "$model/config.json" ] || { echo "error: no model at $model (run scripts/fetch-model.sh)" >&2; exit 1; }
[ -x "$python" ] || { echo "error: no reference python at $python (run scripts/reference-env.sh)" >&2; exit 1; }

cd "$root"
swift build -c release --product encoder-bench >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
  [ "$rounds" -eq 1 ] || echo "== round $round of $rounds" >&2
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 \
    .build/release/encoder-bench --model "$model" --threads "$threads" | tee -a "$out" >&2
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    "$python" Benchmarks/peers/encoder_peers.py --model "$model" --threads "$threads" 2>/dev/null | tee -a "$out" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$python" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
engines = list(dict.fromkeys(r["engine"] for r in rows))
runs = {e: [r for r in rows if r["engine"] == e] for e in engines}
swift = runs["swift"]
median = lambda rs, key: statistics.median(r[key] for r in rs)
print(f"\nall-MiniLM-L6-v2-class encoder, {swift[0]['threads']} threads, OpenBLAS kernel {swift[0]['kernel']}, "
      f"{len(swift)} round(s){', medians' if len(swift) > 1 else ''}")
print("| engine | tokens/s (32 x 128) | swift / engine | 16-token query (ms) | engine / swift |")
print("| --- | ---: | ---: | ---: | ---: |")
for e in engines:
    tps, q = median(runs[e], "tokens_per_s"), median(runs[e], "query_ms")
    print(f"| {e} | {tps:,.0f} | {median(swift, 'tokens_per_s') / tps:.2f}x | {q:.2f} | {q / median(swift, 'query_ms'):.2f}x |")
if len(swift) > 1:
    print("\nper round: " + "; ".join(
        f"{i + 1}: swift {s['tokens_per_s']:,.0f} tok/s, {s['query_ms']:.2f} ms"
        + "".join(f", {e} {s['tokens_per_s'] / runs[e][i]['tokens_per_s']:.2f}x/{runs[e][i]['query_ms'] / s['query_ms']:.2f}x"
                  for e in engines[1:] if i < len(runs[e]))
        for i, s in enumerate(swift)))
    print("(per round: Swift's throughput / the peer's, the peer's query time / Swift's; above 1, Swift is ahead)")
rerank = [r["rerank_20x160_ms"] for r in swift if "rerank_20x160_ms" in r]
if rerank:
    print(f"\nswift cross-encoder (MiniLM + seeded head): 20 pairs x 160 tokens in {statistics.median(rerank):.1f} ms"
          + (" (median)" if len(rerank) > 1 else ""))
PY
