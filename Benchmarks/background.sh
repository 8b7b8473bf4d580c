#!/usr/bin/env bash
# A server beside a background job started with `nice -n 19`: one caller's p50 at 100:20 on the
# bundled sample while `nice -n 19 cascade embed` encodes texts on the same cores, with a previous
# build's `cascade embed` and with this checkout's, against the same server idle, in turns.
#
# Usage: Benchmarks/background.sh PREVIOUS_CASCADE [ROUNDS]
#   PREVIOUS_CASCADE  a release `cascade` to run the background job with (e.g. one built before
#                     3bcb57b, whose model work ran at nice 0 whatever the process was given)
#   ROUNDS            turns of each (default 3)
#   env: CASCADE_BIN_DIR (this checkout's release `cascade` and `cascade-bench`; default: build),
#        TURN_SECONDS (default 10).
# Prints each turn's p50 and, per background, the median ratio to the idle turns.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 1 ] || { echo "usage: $0 PREVIOUS_CASCADE [ROUNDS]" >&2; exit 2; }
out=.cache/bench-background
rm -rf "$out"
source Benchmarks/lib/sample-server.sh
old_bin=$(previous_cascade "$1")
rounds=${2:-3}
positive_rounds "$rounds"
turn=${TURN_SECONDS:-10}
prepare_sample
start_server "$bin_dir/cascade" server --config "$out/no-cache.json"
# Texts enough to outlast a turn: the sample's passages, over and over.
python3 -c 'import json, sys; [print(json.loads(line)["text"]) for _ in range(20) for line in open(sys.argv[1])]' \
  samples/debian-desc/corpus.jsonl >"$out/texts.txt"

load() {
  "$bin_dir/cascade-bench" --target "$address" --queries "$queries" --concurrency 1 --retrieve-k 100 \
    --rerank-k 20 --json "$@" 2>>"$out/bench.log"
}
load --requests 20 >/dev/null
background_pid=""
stop_background() {
  [ -z "$background_pid" ] || { kill "$background_pid" 2>/dev/null || true; wait "$background_pid" 2>/dev/null || true; }
  background_pid=""
}
trap 'stop_background; stop_all_servers' EXIT

declare -A bins=([old]=$old_bin [new]=$bin_dir/cascade)
for round in $(seq 1 "$rounds"); do
  for side in idle old new; do
    if [ "$side" != idle ]; then
      nice -n 19 "${bins[$side]}" embed --model "$model" <"$out/texts.txt" >/dev/null 2>>"$out/embed.log" &
      background_pid=$!
      sleep 2 # past the model's load
    fi
    load --duration "$turn" --warmup 2 >"$out/$side-$round.json"
    stop_background
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f'round {sys.argv[2]} {sys.argv[3]:4s} p50 {d[\"latencyMicros\"][\"p50\"]/1000:8.1f} ms ({d[\"completed\"]} calls)')" \
      "$out/$side-$round.json" "$round" "$side"
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
p50 = lambda side, r: json.load(open(f"{out}/{side}-{r}.json"))["latencyMicros"]["p50"]
for side, what in (("old", "previous build's embed"), ("new", "this checkout's embed")):
    ratios = [p50(side, r) / p50("idle", r) for r in range(1, rounds + 1)]
    print(f"beside nice -n 19 {what}: p50 {statistics.median(ratios):.2f}x idle (rounds {', '.join(f'{x:.2f}' for x in ratios)})")
PY
