# Sourced by scheduler.sh and serve-ab.sh: one `cascade serve` of the bundled sample at a time,
# stopped when the script exits. The caller sets $model, $head, $store and $out.
server_pid=""
address=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT

# start_server BIN NAME [SERVE ARGS...]: serves the sample read-only on an ephemeral port, logs in
# $out/NAME.server.{out,log}; sets $server_pid and $address.
start_server() {
  local bin=$1 name=$2
  shift 2
  # Emptied here, not by the redirection below: that runs in the background child, after the
  # loop may already have read the last server's address.
  : >"$out/$name.server.out"
  "$bin" serve --store "$store" --retriever "$model" --reranker "$model" --reranker-head "$head" --read-only \
    --host 127.0.0.1 --port 0 "$@" >"$out/$name.server.out" 2>"$out/$name.server.log" &
  server_pid=$!
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
