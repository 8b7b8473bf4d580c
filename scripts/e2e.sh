#!/usr/bin/env bash
# End-to-end checks from outside the Swift test process, run by scripts/test.sh after swift test:
# a real `cascade serve` on loopback (a fresh index of 300 sample passages, MiniLM retriever,
# MiniLM + the seeded head as reranker), the independent Python grpcio client against it, and a
# short real cascade-bench run (closed loop, open loop, a sweep). Uses the debug build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$(swift build --show-bin-path)
model=.cache/models/all-MiniLM-L6-v2
head=Tests/Fixtures/Transformer/minilm-head/model.safetensors
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "e2e: error: $*" >&2; [ -f "$work/server.log" ] && tail -20 "$work/server.log" >&2; exit 1; }

head -300 samples/debian-desc/corpus.jsonl >"$work/corpus.jsonl"
"$bin/cascade" index --model "$model" --store "$work/store" "$work/corpus.jsonl" 2>"$work/index.log" \
  || fail "cascade index failed: $(tail -3 "$work/index.log")"

"$bin/cascade" serve --store "$work/store" --retriever "$model" --reranker "$model" --reranker-head "$head" \
  --host 127.0.0.1 --port 0 --metrics-port 0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
address=""
for _ in $(seq 1 600); do
  address=$(sed -n 's/^listening on //p' "$work/server.out")
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
  sleep 0.1
done
[ -n "$address" ] || fail "the server did not start within 60 s"
echo "== e2e: server on $address"

echo "== e2e: Python grpcio client"
Tests/PythonClient/run.sh --target "$address" || fail "the Python client's checks failed"

echo "== e2e: cascade-bench (closed loop, open loop, sweep, a mixed load with deadlines)"
bench=("$bin/cascade-bench" --target "$address" --queries samples/debian-desc/queries.tsv --warmup 5)
"${bench[@]}" --concurrency 2 --requests 40 --retrieve-k 100 --rerank-k 0 || fail "closed-loop bench failed"
"${bench[@]}" --rate 20 --duration 2 --retrieve-k 50 --rerank-k 0 || fail "open-loop bench failed"
"${bench[@]}" --requests 6 --sweep "20:0,20:5" --json >"$work/sweep.json" || fail "sweep failed"
python3 - "$work/sweep.json" <<'PY' || fail "sweep JSON is not what cascade-bench promises"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert len(runs) == 2, runs
for run in runs:
    assert run["completed"] == 6 and run["failed"] == 0, run
print("sweep:", ", ".join(
    f"{r['settings']['retrieveK']}:{r['settings']['rerankK']} p50 {r['latencyMicros']['p50'] / 1000:.1f} ms" for r in runs))
PY
"${bench[@]}" --mix "50:5@1,50:0@2" --duration 3 --deadline-ms 5000 --json >"$work/mix.json" || fail "mixed bench failed"
python3 - "$work/mix.json" <<'PY' || fail "mixed-load JSON is not what cascade-bench promises"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert [r["settings"]["rerankK"] for r in runs] == [5, 0], runs
for run in runs:
    assert run["completed"] > 0 and run["deadlineMs"] == 5000 and 0 < run["goodput"] <= run["throughput"], run
print("mix:", ", ".join(f"{r['settings']['rerankK']}: {r['goodput']:.1f} req/s on time" for r in runs))
PY

echo "== e2e: cascade eval against the server"
"$bin/cascade" eval --server "$address" --queries samples/debian-desc/queries.tsv \
  --qrels samples/debian-desc/qrels.tsv --limit 20 --retrieve-k 50 --json >"$work/eval.json" 2>/dev/null \
  || fail "cascade eval --server failed"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["evaluated"] == 20, r; print("eval:", r["mean"])' \
  "$work/eval.json" || fail "cascade eval --server did not evaluate 20 queries"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" -eq 0 ] || fail "the server exited with $status after SIGTERM"
echo "e2e: 4 passed, 0 failed"
