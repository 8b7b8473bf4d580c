#!/usr/bin/env bash
# End-to-end checks from outside the Swift test process, run by scripts/test.sh after swift test:
# a real `cascade serve` on loopback (a fresh index of 300 sample passages, MiniLM retriever,
# MiniLM + the seeded head as reranker), the independent Python grpcio client against it, a
# short real cascade-bench run (closed loop, open loop, a sweep), and the spans of a traced Search
# arriving at a small OTLP receiver (Python grpcio + opentelemetry-proto). Uses the debug build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$(swift build --show-bin-path)
model=.cache/models/all-MiniLM-L6-v2
head=Tests/Fixtures/Transformer/minilm-head/model.safetensors
work=$(mktemp -d)
server_pid=""
receiver_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [ -n "$receiver_pid" ] && kill -0 "$receiver_pid" 2>/dev/null; then kill -TERM "$receiver_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "e2e: error: $*" >&2; [ -f "$work/server.log" ] && tail -20 "$work/server.log" >&2; exit 1; }

head -300 samples/debian-desc/corpus.jsonl >"$work/corpus.jsonl"
"$bin/cascade" index --model "$model" --store "$work/store" "$work/corpus.jsonl" 2>"$work/index.log" \
  || fail "cascade index failed: $(tail -3 "$work/index.log")"

# The OTLP receiver the server sends spans to. The server samples new traces at 0, so only calls
# whose caller sampled its trace (traceparent flags 01) arrive: the bench's calls do not.
python=$(Tests/PythonClient/venv.sh) || fail "cannot make the light Python venv"
"$python" Tests/PythonClient/otlp_receiver.py serve --spans "$work/spans.jsonl" --port-file "$work/otlp.port" \
  2>"$work/otlp.log" &
receiver_pid=$!
for _ in $(seq 1 100); do [ -s "$work/otlp.port" ] && break; sleep 0.1; done
[ -s "$work/otlp.port" ] || fail "the OTLP receiver did not start: $(tail -3 "$work/otlp.log")"
otlp="http://127.0.0.1:$(cat "$work/otlp.port")"

"$bin/cascade" serve --store "$work/store" --retriever "$model" --reranker "$model" --reranker-head "$head" \
  --host 127.0.0.1 --port 0 --metrics-port 0 --otel-endpoint "$otlp" --otel-sampling 0 \
  >"$work/server.out" 2>"$work/server.log" &
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
"${bench[@]}" --concurrency 4 --connections 3 --requests 40 --retrieve-k 100 --rerank-k 0 --json >"$work/closed.json" \
  || fail "closed-loop bench over 3 connections failed"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["completed"] == 40 and r["failed"] == 0, r' \
  "$work/closed.json" || fail "closed-loop bench over 3 connections: not 40 calls answered"
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
"${bench[@]}" --mix "50:5@1,50:0@2" --duration 3 --deadline-ms 5000 --json --samples "$work/mix.samples.jsonl" \
  >"$work/mix.json" || fail "mixed bench failed"
python3 - "$work/mix.json" "$work/mix.samples.jsonl" <<'PY' || fail "mixed-load JSON is not what cascade-bench promises"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert [r["settings"]["rerankK"] for r in runs] == [5, 0], runs
for run in runs:
    assert run["completed"] > 0 and run["deadlineMs"] == 5000 and 0 < run["goodput"] <= run["throughput"], run
samples = [json.loads(line) for line in open(sys.argv[2])]
for label, run in zip(["50:5@1", "50:0@2"], runs):
    mine = [s for s in samples if s["run"] == label]
    assert len(mine) == run["completed"] + run["failed"], (label, len(mine), run)
    assert all(0 <= s["sent_ms"] <= s["done_ms"] for s in mine), mine[:3]
print("mix:", ", ".join(f"{r['settings']['rerankK']}: {r['goodput']:.1f} req/s on time" for r in runs))
PY

"${bench[@]}" --requests 1 --samples /nonexistent/dir/samples.jsonl >/dev/null 2>"$work/samples.err" \
  && fail "cascade-bench --samples into a missing folder succeeded"
grep -q -- "--samples: cannot create /nonexistent/dir/samples.jsonl" "$work/samples.err" \
  || fail "cascade-bench --samples: no clear error for a bad path: $(cat "$work/samples.err")"
"${bench[@]}" --requests 1 --connections 0 >/dev/null 2>"$work/connections.err" \
  && fail "cascade-bench --connections 0 succeeded"
grep -q -- "--connections must be in 1...256, got 0" "$work/connections.err" \
  || fail "cascade-bench --connections 0: no clear error: $(cat "$work/connections.err")"

echo "== e2e: cascade eval against the server"
"$bin/cascade" eval --server "$address" --queries samples/debian-desc/queries.tsv \
  --qrels samples/debian-desc/qrels.tsv --limit 20 --retrieve-k 50 --json >"$work/eval.json" 2>/dev/null \
  || fail "cascade eval --server failed"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["evaluated"] == 20, r; print("eval:", r["mean"])' \
  "$work/eval.json" || fail "cascade eval --server did not evaluate 20 queries"

echo "== e2e: a Search sent with a traceparent continues that trace (spans at the OTLP receiver)"
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
trace_id=$(random_hex 16)
traceparent="00-$trace_id-$(random_hex 8)-01"
bench_traceparent="00-$(random_hex 16)-$(random_hex 8)-01"
"${bench[@]}" --requests 3 --traceparent "$bench_traceparent" --json >/dev/null || fail "traced bench failed"
"$python" Tests/PythonClient/otlp_receiver.py count --spans "$work/spans.jsonl" --traceparent "$bench_traceparent" \
  --searches 8 || fail "cascade-bench --traceparent: its calls are not in its trace"  # 5 warm-up + 3
"$bin/cascade" query --server "$address" --traceparent "$traceparent" --retrieve-k 30 --rerank-k 5 --top-n 3 \
  "tool to check ABI changes of a C++ library" >/dev/null || fail "the traced query failed"
"$python" Tests/PythonClient/otlp_receiver.py check --spans "$work/spans.jsonl" --traceparent "$traceparent" \
  --retrieve-k 30 --rerank-k 5 --only-this-trace --also-trace "$bench_traceparent" \
  || fail "the spans of the traced Search are not right"
grep -q "trace_id=$trace_id" "$work/server.log" || fail "the Search's log line does not carry its trace id"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" -eq 0 ] || fail "the server exited with $status after SIGTERM"
echo "e2e: 5 passed, 0 failed"
