#!/usr/bin/env bash
# One caller alone against the previous release's `cascade serve` and this checkout's, both up at
# once, in short turns (2 s each by default, the first to go alternating): issue 11's "no slower
# than today for one caller alone". scheduler.sh's `ret1` runs each server for 20 s minutes apart,
# and its rounds moved by 0.80-1.21x with the machine's drift; turns this short share it.
#
# Usage: Benchmarks/solo-ab.sh PREVIOUS_CASCADE [ROUNDS] [RERANK_K]
#   PREVIOUS_CASCADE  a release `cascade` of the previous release (scheduler.sh builds one into
#                     .cache/bench-prev), ROUNDS turns each (default 15), RERANK_K (default 0: 100:0).
#   env: CASCADE_BIN_DIR (this checkout's release `cascade` and `cascade-bench`; default: build),
#        TURN_SECONDS (default 2).
# Both serve the bundled sample read-only with the demo's models; this checkout's rerank cache is
# off (the previous release has none). Prints each turn's p50 and the median of new / old.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 1 ] || { echo "usage: $0 PREVIOUS_CASCADE [ROUNDS] [RERANK_K]" >&2; exit 2; }
out=.cache/bench-solo-ab
rm -rf "$out"
source Benchmarks/lib/sample-server.sh
old_bin=$(previous_cascade "$1")
rounds=${2:-15}
positive_rounds "$rounds"
rerank_k=${3:-0}
turn=${TURN_SECONDS:-2}
prepare_sample
start_server "$old_bin" old
old_address=$address
start_server "$bin_dir/cascade" new --config "$out/no-cache.json"
declare -A addr=([old]=$old_address [new]=$address)

load() {
  "$bin_dir/cascade-bench" --target "${addr[$1]}" --queries "$queries" --concurrency 1 --retrieve-k 100 \
    --rerank-k "$rerank_k" --json "${@:2}" 2>>"$out/bench.log"
}
for side in old new; do load $side --requests 100 >/dev/null; done
for round in $(seq 1 "$rounds"); do
  for side in $([ $((round % 2)) = 1 ] && echo "old new" || echo "new old"); do
    load $side --duration "$turn" --warmup 5 >"$out/$side.$round.json"
  done
done

python3 - "$out" "$rounds" "$rerank_k" <<'PY'
import json, statistics, sys
out, rounds, rerank_k = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p50 = lambda side, r: json.load(open(f"{out}/{side}.{r}.json"))["latencyMicros"]["p50"] / 1000
old = [p50("old", r) for r in range(1, rounds + 1)]
new = [p50("new", r) for r in range(1, rounds + 1)]
ratios = [n / o for o, n in zip(old, new)]
print(f"one caller at 100:{rerank_k}, {rounds} turns each")
print("p50 ms, previous release: " + ", ".join(f"{v:.2f}" for v in old))
print("p50 ms, this checkout:    " + ", ".join(f"{v:.2f}" for v in new))
q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
print(f"this / previous p50: median {statistics.median(ratios):.3f}, quartiles {q[0]:.3f}-{q[2]:.3f} (goal <= 1.05)")
PY
