#!/usr/bin/env bash
# Encoder throughput (batch 32 x 128 tokens) and 16-token query latency: the Swift engine
# (encoder-bench) against onnxruntime fp32 and PyTorch on the same model, inputs and thread count.
# Usage: Benchmarks/encoder.sh [THREADS] [MODEL_DIR]   (defaults: 2, .cache/models/all-MiniLM-L6-v2)
# Needs the reference venv (scripts/reference-env.sh; override with CASCADE_REF_PYTHON).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for these runs only, as on a user's machine;
# the OpenBLAS kernel that ran is printed. Run on a quiet machine: other jobs skew every number.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
model=${2:-$root/.cache/models/all-MiniLM-L6-v2}
python=${CASCADE_REF_PYTHON:-/tmp/cascade-ref/bin/python}
[ -f "$model/config.json" ] || { echo "error: no model at $model (run scripts/fetch-model.sh)" >&2; exit 1; }
[ -x "$python" ] || { echo "error: no reference python at $python (run scripts/reference-env.sh)" >&2; exit 1; }

cd "$root"
swift build -c release --product encoder-bench >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 \
  .build/release/encoder-bench --model "$model" --threads "$threads" | tee -a "$out" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  "$python" Benchmarks/peers/encoder_peers.py --model "$model" --threads "$threads" 2>/dev/null | tee -a "$out" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$python" - "$out" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
swift = next(r for r in rows if r["engine"] == "swift")
print(f"\nall-MiniLM-L6-v2-class encoder, {swift['threads']} threads, OpenBLAS kernel {swift['kernel']}")
print(f"| engine | tokens/s (32 x 128) | swift / engine | 16-token query (ms) | engine / swift |")
print(f"| --- | ---: | ---: | ---: | ---: |")
for r in rows:
    print(f"| {r['engine']} | {r['tokens_per_s']:,.0f} | {swift['tokens_per_s'] / r['tokens_per_s']:.2f}x "
          f"| {r['query_ms']:.2f} | {r['query_ms'] / swift['query_ms']:.2f}x |")
if "rerank_20x160_ms" in swift:
    print(f"\nswift cross-encoder (MiniLM + seeded head): 20 pairs x 160 tokens in {swift['rerank_20x160_ms']:.1f} ms")
PY
