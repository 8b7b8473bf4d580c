#!/usr/bin/env bash
# What tracing costs a search: two `cascade serve` on the same index, one without tracing and one
# sending every call's spans (sampling 1) to a local OTLP receiver (Tests/PythonClient/otlp_receiver.py),
# measured alternately with cascade-bench (closed loop, one caller) for ROUNDS rounds; prints each
# round's p50s and the median ratio traced / untraced. Uses the debug build (`swift build` first).
#   Benchmarks/tracing.sh [ROUNDS] [REQUESTS]     (defaults 3, 60; run it under /work/quiet here)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
requests=${2:-60}
bin=$(swift build --show-bin-path)
model=.cache/models/all-MiniLM-L6-v2
head=Tests/Fixtures/Transformer/minilm-head/model.safetensors
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "tracing.sh: error: $*" >&2; exit 1; }

head -300 samples/debian-desc/corpus.jsonl >"$work/corpus.jsonl"
"$bin/cascade" index --model "$model" --store "$work/store" "$work/corpus.jsonl" 2>"$work/index.log" \
  || fail "cascade index failed"
cp -r "$work/store" "$work/store-traced"

python=$(Tests/PythonClient/venv.sh)
"$python" Tests/PythonClient/otlp_receiver.py serve --spans "$work/spans.jsonl" --port-file "$work/otlp.port" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/otlp.port" ] && break; sleep 0.1; done
[ -s "$work/otlp.port" ] || fail "the OTLP receiver did not start"

# Started here, not in a $(...) subshell: a server must stay this script's child, so cleanup stops
# it and /work/quiet counts it as part of the timing run.
start_server() {  # name, store, extra flags...
  local name=$1 store=$2
  shift 2
  "$bin/cascade" serve --store "$store" --retriever "$model" --reranker "$model" --reranker-head "$head" \
    --host 127.0.0.1 --port 0 --log-level warning "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
}
address_of() {  # name
  for _ in $(seq 1 600); do
    grep -q '^listening on ' "$work/$1.out" && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$work/$1.out"
}
start_server plain "$work/store"
start_server traced "$work/store-traced" --otel-endpoint "http://127.0.0.1:$(cat "$work/otlp.port")" --otel-sampling 1
plain=$(address_of plain)
traced=$(address_of traced)
[ -n "$plain" ] && [ -n "$traced" ] || fail "a server did not start"

bench() {  # address -> JSON
  "$bin/cascade-bench" --target "$1" --queries samples/debian-desc/queries.tsv --warmup 5 --concurrency 1 \
    --requests "$requests" --retrieve-k 100 --rerank-k 20 --json 2>/dev/null
}
for round in $(seq 1 "$rounds"); do
  bench "$plain" >"$work/plain-$round.json"
  bench "$traced" >"$work/traced-$round.json"
done
sleep 2  # the last batch of spans leaves within a second
"$python" - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def p50(name, r, key):
    data = json.load(open(f"{work}/{name}-{r}.json"))
    run = data["runs"][0] if "runs" in data else data
    assert run["failed"] == 0, run
    return (run["latencyMicros"] if key == "latency" else run["stageMicros"]["total"])["p50"] / 1000
ratios = {"latency": [], "server total": []}
print("round  untraced p50 ms (client / server)  traced p50 ms (client / server)")
for r in range(1, rounds + 1):
    a = (p50("plain", r, "latency"), p50("plain", r, "total"))
    b = (p50("traced", r, "latency"), p50("traced", r, "total"))
    ratios["latency"].append(b[0] / a[0]); ratios["server total"].append(b[1] / a[1])
    print(f"{r:5}  {a[0]:8.2f} / {a[1]:8.2f}                  {b[0]:8.2f} / {b[1]:8.2f}")
for key, values in ratios.items():
    print(f"traced / untraced, {key} p50: median {statistics.median(values):.3f}x "
          f"(rounds: {', '.join(f'{v:.3f}' for v in values)})")
spans = sum(1 for _ in open(f"{work}/spans.jsonl"))
print(f"spans received from the traced server: {spans}")
PY
