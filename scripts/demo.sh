#!/usr/bin/env bash
# The main job on the embedded default: set-up, release build, index the bundled sample corpus
# with all-MiniLM-L6-v2, serve it over gRPC (MiniLM retriever + MiniLM under the committed seeded
# classification head as the cross-encoder: its scores mean nothing, its cost is real), query it
# at a few cutoffs with `cascade query`, then stop the server with SIGTERM and check it drained
# and exited 0.
#
# Idempotent: a second run reuses the index (resume skips every passage already stored).
# The server listens on 127.0.0.1 on a port the kernel picks (--port 0; read from its output).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/setup.sh
model=.cache/models/all-MiniLM-L6-v2
head=Tests/Fixtures/Transformer/minilm-head/model.safetensors
store=.cache/index/debian-desc-sample
logs=.cache/demo
mkdir -p "$logs"

echo "== build (release)"
swift build -c release --product cascade
bin=$(swift build -c release --show-bin-path)/cascade

echo "== index samples/debian-desc/corpus.jsonl -> $store"
"$bin" index --model "$model" --store "$store" samples/debian-desc/corpus.jsonl
"$bin" stats --store "$store"

echo "== serve (retriever $model, reranker $model + $head)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    echo "demo: killed the server after a failure; its log: $logs/server.log" >&2
  fi
}
trap stop_server EXIT
# Emptied here, not by the redirection below: that runs in the background child, after the loop
# may already have read the last demo's address.
: >"$logs/server.out"
"$bin" serve --store "$store" --retriever "$model" --reranker "$model" --reranker-head "$head" \
  --host 127.0.0.1 --port 0 --metrics-port 0 >"$logs/server.out" 2>"$logs/server.log" &
server_pid=$!

address=""
for _ in $(seq 1 300); do
  address=$(sed -n 's/^listening on //p' "$logs/server.out")
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$logs/server.log" >&2; echo "demo: the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { echo "demo: the server did not start listening within 30 s" >&2; exit 1; }
metrics=$(sed -n 's/^metrics on //p' "$logs/server.out")
echo "server pid $server_pid listening on $address (metrics: $metrics)"

"$bin" query --server "$address" --info

run() {
  echo
  echo "== query $*"
  "$bin" query --server "$address" "$@"
}
q1="spelling corrector for interactive use"
q2="fast json parser library"
q3="play chess against the computer"
for q in "$q1" "$q2" "$q3"; do
  run --retrieve-k 100 --rerank-k 0 --top-n 5 "$q"
done
for q in "$q1" "$q2"; do
  run --retrieve-k 100 --rerank-k 10 --top-n 5 "$q"
  run --retrieve-k 100 --rerank-k 50 --top-n 5 "$q"
done

echo
echo "== an invalid request (rerank_k > retrieve_k) is refused with the field named"
if "$bin" query --server "$address" --retrieve-k 10 --rerank-k 20 "$q1"; then
  echo "demo: the invalid request was accepted" >&2
  exit 1
fi

echo
echo "== stop the server (SIGTERM: drain, then exit 0)"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
echo "server exited with status $status; request log lines: $(grep -c ' rpc$' "$logs/server.log")"
tail -n 3 "$logs/server.log"
[ "$status" -eq 0 ] || { echo "demo: the server exited with status $status" >&2; exit 1; }
echo "demo: ok"
