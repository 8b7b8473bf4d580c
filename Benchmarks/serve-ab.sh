#!/usr/bin/env bash
# One cascade-bench load against two configurations of this checkout's `cascade serve`, taking
# turns round by round (A, B, A, B...): on a shared machine the speed drifts within minutes, so
# only ratios within a round compare the configurations.
#
# Usage: Benchmarks/serve-ab.sh "A SERVE FLAGS" "B SERVE FLAGS" [ROUNDS] [cascade-bench flags...]
#   ROUNDS defaults to 3; the load defaults to 1 caller at 100:20 for 20 s after 20 warm-up calls.
#   Both serve the bundled sample (samples/debian-desc, 3,000 passages) read-only with the demo's
#   models (all-MiniLM-L6-v2 as retriever, and as cross-encoder under the seeded head: its scores
#   mean nothing, its cost is a real MiniLM-L6 cross-encoder's), rerank cache off (a side whose
#   flags bring their own --config should turn it off there: "rerank_cache_bytes": 0).
#   e.g. the reranker at int8 against fp32 (issue 12's end-to-end goal, p50 at most 0.6x):
#     Benchmarks/serve-ab.sh "--reranker-precision fp32" "--reranker-precision int8" 3
#   env: CASCADE_BIN_DIR  a folder with this checkout's release `cascade` and `cascade-bench`
#                         (default: build them)
# Prints each round's p50 and p99 for A and B and B/A, then the medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 2 ] || { echo "usage: $0 \"A SERVE FLAGS\" \"B SERVE FLAGS\" [ROUNDS] [cascade-bench flags...]" >&2; exit 2; }
label_a=$1
label_b=$2
read -r -a flags_a <<<"$label_a"
read -r -a flags_b <<<"$label_b"
rounds=${3:-3}
shift $(($# >= 3 ? 3 : 2))
load=("$@")
[ ${#load[@]} -gt 0 ] || load=(--concurrency 1 --duration 20 --warmup 20 --retrieve-k 100 --rerank-k 20)
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }

out=.cache/bench-serve-ab
source Benchmarks/lib/sample-server.sh
prepare_sample

# measure NAME FLAGS...: a fresh server with FLAGS, the load once; its JSON report into $out/NAME.json.
measure() {
  local name=$1
  shift
  local config=(--config "$out/no-cache.json")
  [[ " $* " != *" --config "* ]] || config=()
  start_server "$bin_dir/cascade" "$name" ${config[@]+"${config[@]}"} "$@"
  "$bin_dir/cascade-bench" --target "$address" --queries "$queries" --json "${load[@]}" \
    >"$out/$name.json" 2>>"$out/bench.log"
  stop_server
}

for round in $(seq 1 "$rounds"); do
  measure "r$round-a" "${flags_a[@]}"
  measure "r$round-b" "${flags_b[@]}"
done

python3 - "$out" "$rounds" "$label_a" "$label_b" <<'PY'
import json, statistics, sys
out, rounds, a_flags, b_flags = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def figures(name):
    d = json.load(open(f"{out}/{name}.json"))
    return d["latencyMicros"]["p50"] / 1000, d["latencyMicros"]["p99"] / 1000, d["throughput"]
print(f"A: {a_flags}\nB: {b_flags}")
ratios = []
for r in range(1, rounds + 1):
    (a50, a99, at), (b50, b99, bt) = figures(f"r{r}-a"), figures(f"r{r}-b")
    ratios.append(b50 / a50)
    print(f"round {r}: A p50 {a50:.1f} ms p99 {a99:.1f} ({at:.2f} req/s); "
          f"B p50 {b50:.1f} ms p99 {b99:.1f} ({bt:.2f} req/s); B/A p50 {b50 / a50:.2f}x")
print(f"median B/A p50 over {rounds} round(s): {statistics.median(ratios):.2f}x")
PY
