# Sourced by scheduler.sh, serve-ab.sh, solo-ab.sh and background.sh: the bundled sample
# (samples/debian-desc, 3,000 passages) served read-only by `cascade serve` with the demo's models,
# servers stopped when the script exits. The caller sets $out (created here) before sourcing, from
# the checkout's root.
model=.cache/models/all-MiniLM-L6-v2
head=Tests/Fixtures/Transformer/minilm-head/model.safetensors
store=.cache/index/debian-desc-sample
queries=samples/debian-desc/queries.tsv
mkdir -p "$out"

# prepare_sample: fetches the model; sets $bin_dir to this checkout's release `cascade` and
# `cascade-bench` (CASCADE_BIN_DIR, or built here); indexes the sample into $store (resumable: a
# later run finds it whole); writes $out/no-cache.json, a config with the rerank cache off (the
# benches cycle through 300 queries, so a cache would answer later loads from what the warm-up
# scored; the previous release has none, and the cache is judged by its own tests).
prepare_sample() {
  ./scripts/fetch-model.sh >/dev/null
  bin_dir=${CASCADE_BIN_DIR:-}
  if [ -z "$bin_dir" ]; then
    echo "== build this checkout (release)" >&2
    swift build -c release --product cascade >/dev/null
    swift build -c release --product cascade-bench >/dev/null
    bin_dir=$(swift build -c release --show-bin-path)
  fi
  echo "== index samples/debian-desc -> $store" >&2
  "$bin_dir/cascade" index --model "$model" --store "$store" samples/debian-desc/corpus.jsonl >/dev/null \
    2>"$out/index.log" || { cat "$out/index.log" >&2; exit 1; }
  echo '{"scheduler": {"rerank_cache_bytes": 0}}' >"$out/no-cache.json"
}

# previous_cascade PATH: prints PATH made absolute; exits 2 unless it is an executable.
previous_cascade() {
  [ -x "$1" ] || { echo "error: no executable at $1" >&2; exit 2; }
  echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

# positive_rounds N: exits 2 unless N is a positive integer.
positive_rounds() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, not '$1'" >&2; exit 2; }
}

servers=()
server_pid=""
address=""

# stop_server: stops the server started last (SIGTERM, then waits for it to drain).
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
stop_all_servers() {
  for pid in ${servers[@]+"${servers[@]}"}; do
    server_pid=$pid
    stop_server
  done
}
trap stop_all_servers EXIT

# start_server BIN NAME [SERVE ARGS...]: serves the sample read-only on an ephemeral port, logs in
# $out/NAME.server.{out,log}; sets $server_pid and $address. Servers started earlier keep running.
start_server() {
  local bin=$1 name=$2
  shift 2
  # Emptied here, not by the redirection below: that runs in the background child, after the
  # loop may already have read the last server's address.
  : >"$out/$name.server.out"
  "$bin" serve --store "$store" --retriever "$model" --reranker "$model" --reranker-head "$head" --read-only \
    --host 127.0.0.1 --port 0 "$@" >"$out/$name.server.out" 2>"$out/$name.server.log" &
  server_pid=$!
  servers+=("$server_pid")
  address=""
  for _ in $(seq 1 300); do
    address=$(sed -n 's/^listening on //p' "$out/$name.server.out")
    [ -n "$address" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/$name.server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$(basename "$0"): $name did not start listening" >&2
  exit 1
}
