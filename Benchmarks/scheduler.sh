#!/usr/bin/env bash
# The model scheduler under load: this checkout's `cascade serve` against a previous release's, in
# the same run, with this checkout's cascade-bench driving both over loopback.
#
# Usage: Benchmarks/scheduler.sh [PREVIOUS] [ROUNDS]
#   PREVIOUS  the release to compare with: a git revision (default 3c44176, the last one before the
#             scheduler), built once into .cache/bench-prev (a git worktree; 15+ minutes on 2
#             cores), or the path of a `cascade` binary already built from it.
#   ROUNDS        how many times each server runs every load, the two taking turns (default 1),
#                 the first to go alternating from round to round.
#   env: LOADS="idle flood floor ret1 ret16 mixed"   which loads (below) to run.
#        CONNECTIONS=1   HTTP/2 connections cascade-bench spreads its calls over (every load).
#
# Both servers serve the bundled sample (samples/debian-desc, 3,000 passages) read-only, with the
# demo's models: all-MiniLM-L6-v2 as retriever and as cross-encoder under the committed seeded head
# (its scores mean nothing, its cost is that of a real MiniLM-L6 cross-encoder). Loads, each
# `retrieve_k:rerank_k`, closed loop:
#   idle      1 caller at 100:20 (the goodput goal is set against this one's req/s)
#   flood     64 callers at 100:20, each call with a 3 s deadline: goodput, refusals and their latency
#   floor     the flood's first seconds with 100 ms deadlines, this checkout only: every call is refused
#             at admission (its own estimate alone is longer), so no model work runs at any point and
#             the refusals' latency is what 64 simultaneous calls cost the gRPC stacks of the client
#             and the server on the same cores: the floor under the flood's first-second burst
#   ret1      1 caller at 100:0;  ret16: 16 callers at 100:0: throughput
#   mixed     2 callers at 100:50 beside 2 at 100:0: the retrieval-only calls' p50 and p99
# Prints one table per round and a summary of medians; JSON reports stay in .cache/bench-scheduler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
prev_rev=${1:-3c44176}
rounds=${2:-1}
loads=" ${LOADS:-idle flood floor ret1 ret16 mixed} "
wants() { [[ "$loads" == *" $1 "* ]]; }
for name in $loads; do
  case $name in idle | flood | floor | ret1 | ret16 | mixed) ;; *) echo "error: unknown load '$name' in LOADS" >&2; exit 2 ;; esac
done
out=.cache/bench-scheduler
source Benchmarks/lib/sample-server.sh
prepare_sample
new_bin="$bin_dir/cascade"
bench="$bin_dir/cascade-bench"

if [ -x "$prev_rev" ] && [ -f "$prev_rev" ]; then
  old_bin=$(cd "$(dirname "$prev_rev")" && pwd)/$(basename "$prev_rev")
else
  echo "== build the previous release $prev_rev (release, once)"
  prev=.cache/bench-prev
  if [ ! -d "$prev" ]; then git worktree add --detach "$prev" "$prev_rev" >/dev/null; fi
  git -C "$prev" checkout --quiet --detach "$prev_rev"
  (cd "$prev" && swift build -c release --product cascade >/dev/null)
  old_bin=$(cd "$prev" && swift build -c release --show-bin-path)/cascade
fi

# load NAME FILE ARGS...: one cascade-bench run; JSON into FILE (a run with no success is kept too).
load() {
  local file=$1
  shift
  "$bench" --target "$address" --queries "$queries" --connections "${CONNECTIONS:-1}" --json "$@" >"$file" \
    2>>"$out/bench.log" || true
}

# run_server BIN NAME [SERVER ARGS...]: the loads LOADS names, on two fresh servers.
run_server() {
  local bin=$1 name=$2
  shift 2
  local dir="$out/$name"
  mkdir -p "$dir"
  if wants idle || wants flood; then
    start_server "$bin" "$name" "$@"
    load "$dir/warm.json" --concurrency 2 --requests 40 --retrieve-k 100 --rerank-k 20
    ! wants idle || load "$dir/idle.json" --concurrency 1 --duration 15 --retrieve-k 100 --rerank-k 20
    ! wants flood || load "$dir/flood.json" --concurrency 64 --duration 30 --retrieve-k 100 --rerank-k 20 \
      --deadline-ms 3000 --samples "$dir/flood.samples.jsonl"
    stop_server
  fi
  if wants floor && [[ $name == *-new ]]; then
    start_server "$bin" "$name.floor" "$@"
    load "$dir/warm.json" --concurrency 2 --requests 40 --retrieve-k 100 --rerank-k 20
    load "$dir/floor.json" --concurrency 64 --duration 2 --retrieve-k 100 --rerank-k 20 \
      --deadline-ms 100 --samples "$dir/floor.samples.jsonl"
    stop_server
  fi
  # A fresh server for the rest: the flood's refusals must not shape what follows.
  if wants ret1 || wants ret16 || wants mixed; then
    start_server "$bin" "$name" "$@"
    ! wants ret1 || load "$dir/ret1.json" --concurrency 1 --duration 20 --warmup 50 --retrieve-k 100 --rerank-k 0
    ! wants ret16 || load "$dir/ret16.json" --concurrency 16 --duration 10 --warmup 100 --retrieve-k 100 --rerank-k 0
    ! wants mixed || load "$dir/mixed.json" --mix "100:50@2,100:0@2" --duration 30
    stop_server
  fi
}

# The two servers take turns, and swap who goes first each round: the machine's speed drifts by
# 20% or more within minutes, and a fixed order would charge the drift to one side.
# Both sides run without the rerank cache, so that repeated queries measure the model, not the
# cache: the previous release too when it has one (its binary knows the key).
old_config=()
if grep -q rerank_cache_bytes "$old_bin"; then old_config=(--config "$out/no-cache.json"); fi
rm -rf "$out"/r[0-9]*
for round in $(seq 1 "$rounds"); do
  for side in $([ $((round % 2)) = 1 ] && echo "old new" || echo "new old"); do
    if [ "$side" = old ]; then
      echo "== round $round: previous release ($prev_rev)"
      run_server "$old_bin" "r$round-old" "${old_config[@]}"
    else
      echo "== round $round: this checkout ($(git rev-parse --short HEAD))"
      run_server "$new_bin" "r$round-new" --config "$out/no-cache.json"
    fi
  done
done

python3 - "$out" "$rounds" "$prev_rev" <<'PY'
import json, statistics, sys
out, rounds, prev = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def refusal_p99(path, start, end=float("inf")):
    """p99 of the refusals (RESOURCE_EXHAUSTED) sent from `start` to `end` seconds into a run (a
    call admitted and then late, DEADLINE_EXCEEDED, is not one). A flood's first second holds the
    64 callers' simultaneous first calls (and their quick retries); after it, the steady state. The
    `floor` load shows what that burst costs with no model work at all."""
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f]
    except (OSError, ValueError):
        return None
    times = sorted(s["done_ms"] - s["sent_ms"] for s in lines
                   if s["outcome"] == "RESOURCE_EXHAUSTED" and start * 1000 <= s["sent_ms"] < end * 1000)
    return times[min(len(times) - 1, int(len(times) * 0.99))] if times else None

def figures(name):
    d = f"{out}/{name}"
    idle, flood = read(f"{d}/idle.json"), read(f"{d}/flood.json")
    ret1, ret16, mixed = read(f"{d}/ret1.json"), read(f"{d}/ret16.json"), read(f"{d}/mixed.json")
    f = {}
    if idle:
        f["idle req/s"] = idle["throughput"]
        f["idle p50 ms"] = idle["latencyMicros"]["p50"] / 1000
    if flood:
        f["flood goodput"] = flood["goodput"]
        f["flood ok"] = flood["completed"]
        f["flood failed"] = flood["failed"]
        f["flood ok p99 ms"] = flood["latencyMicros"]["p99"] / 1000
        f["flood failure p99 ms"] = flood["failureMicros"]["p99"] / 1000
        f["flood late"] = flood["errors"].get("DEADLINE_EXCEEDED", 0)
        spans = (("refusal p99", (0,)), ("refusal p99 1st second", (0, 1)), ("refusal p99 after 1 s", (1,)))
        for key, span in spans:
            value = refusal_p99(f"{d}/flood.samples.jsonl", *span)
            if value is not None:
                f[key] = value
        f["flood errors"] = ",".join(f"{k} {v}" for k, v in sorted(flood["errors"].items()))
    floor = refusal_p99(f"{d}/floor.samples.jsonl", 0, 1)
    if floor is not None:
        f["floor p99 1st second"] = floor
        f["floor errors"] = ",".join(f"{k} {v}" for k, v in sorted(read(f"{d}/floor.json")["errors"].items()))
    if ret1:
        f["ret1 req/s"] = ret1["throughput"]
        f["ret1 p50 ms"] = ret1["latencyMicros"]["p50"] / 1000
    if ret16:
        f["ret16 req/s"] = ret16["throughput"]
        f["ret16 p99 ms"] = ret16["latencyMicros"]["p99"] / 1000
    if mixed:
        ret = mixed["runs"][1]
        f["mixed 100:0 p50 ms"] = ret["latencyMicros"]["p50"] / 1000
        f["mixed 100:0 p99 ms"] = ret["latencyMicros"]["p99"] / 1000
        f["mixed 100:50 req/s"] = mixed["runs"][0]["throughput"]
    return f

rows = ["idle req/s", "idle p50 ms", "flood goodput", "flood ok", "flood failed", "flood ok p99 ms",
        "flood failure p99 ms", "flood late", "refusal p99", "refusal p99 1st second", "refusal p99 after 1 s", "floor p99 1st second",
        "ret1 req/s", "ret1 p50 ms", "ret16 req/s", "ret16 p99 ms",
        "mixed 100:0 p50 ms", "mixed 100:0 p99 ms", "mixed 100:50 req/s"]
per = {side: [figures(f"r{r}-{side}") for r in range(1, rounds + 1)] for side in ("old", "new")}

def med(side, key):
    values = [f[key] for f in per[side] if key in f]
    return statistics.median(values) if values else None

def paired(key):
    """The median over rounds of this round's new / old: each round's two servers ran minutes
    apart, so their ratio is free of the machine's drift between rounds."""
    ratios = [n[key] / o[key] for o, n in zip(per["old"], per["new"]) if o.get(key) and key in n]
    return statistics.median(ratios) if ratios else None

def fmt(v):
    return "-" if v is None else (f"{v:,.1f}" if isinstance(v, float) else str(v))

print(f"\nmedians over {rounds} round(s); previous release {prev} vs this checkout "
      "(this/prev: the median of the rounds' ratios)")
print(f"{'figure':24} {'previous':>12} {'this':>12} {'this/prev':>10}")
for key in rows:
    a, b = med("old", key), med("new", key)
    r = paired(key) if a else None  # the previous release's flood serves nothing: no ratio
    ratio = f"{r:.2f}x" if r is not None else "-"
    print(f"{key:24} {fmt(a):>12} {fmt(b):>12} {ratio:>10}")
for side in ("old", "new"):
    for r, f in enumerate(per[side], 1):
        for load in ("flood", "floor"):
            if f"{load} errors" in f:
                print(f"round {r} {side} {load} errors: {f[f'{load} errors'] or 'none'}")
new = per["new"]
print("\ngoals (this checkout, medians):")
idle, good = med("new", "idle req/s"), med("new", "flood goodput")
if idle and good is not None:
    print(f"  flood goodput / idle req/s = {good / idle:.2f} (goal >= 0.8)")
all99, steady99 = med("new", "refusal p99"), med("new", "refusal p99 after 1 s")
late = [f["flood late"] for f in per["new"] if "flood late" in f]
if late:
    print(f"  admitted calls that missed their deadline (DEADLINE_EXCEEDED), per round: {late} (goal: none)")
if all99 is not None:
    after = "-" if steady99 is None else f"{steady99:.1f} ms"
    print(f"  flood refusals p99 {all99:.1f} ms over the run, {after} for those sent after its first second (goal < 10 ms)")
first, floor = med("new", "refusal p99 1st second"), med("new", "floor p99 1st second")
if first is not None and floor is not None:
    print(f"  first second: flood refusals p99 {first:.1f} ms, the same burst refused without model work {floor:.1f} ms")
r1, r16, vs_old = med("new", "ret1 req/s"), med("new", "ret16 req/s"), paired("ret16 req/s")
if r1 and r16 and vs_old:
    print(f"  16 callers 100:0: {vs_old:.2f}x the previous release (goal >= 1.6), {r16 / r1:.2f}x one caller (goal >= 1.8)")
m99, p50 = med("new", "mixed 100:0 p99 ms"), med("new", "ret1 p50 ms")
if m99 and p50:
    print(f"  mixed: retrieval-only p99 / unloaded p50 = {m99 / p50:.1f} (goal <= 10)")
for key, what in (("ret1 p50 ms", "one caller 100:0 p50"), ("idle p50 ms", "one caller 100:20 p50")):
    r = paired(key)
    if r:
        each = ", ".join(f"{n[key] / o[key]:.2f}" for o, n in zip(per["old"], per["new"]) if o.get(key) and key in n)
        print(f"  {what}: {r:.2f}x the previous release (rounds {each}; goal <= 1.05)")
PY
