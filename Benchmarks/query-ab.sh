#!/usr/bin/env bash
# 16-token query latency of two encoder-bench binaries (two commits, two settings), in alternating
# rounds: A, B, A, B... On a shared machine the speed drifts by 20% within minutes, so one run of
# each, minutes apart, compares the machine's moods; alternating rounds compare the binaries.
# Usage: Benchmarks/query-ab.sh BIN_A BIN_B [ROUNDS] [encoder-bench flags...]
#   ROUNDS defaults to 12, each 300 queries per binary. Build B from another commit with e.g.
#   git worktree add /tmp/old COMMIT && (cd /tmp/old && swift build -c release --product encoder-bench)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BIN_A BIN_B [ROUNDS] [encoder-bench flags...]" >&2; exit 2; }
a=$1
b=$2
rounds=${3:-12}
shift $(($# >= 3 ? 3 : 2))
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }; done

query_ms() {
  "$1" --no-rerank --batch 1 --length 16 --runs 1 --query-runs 300 "${@:2}" \
    | sed -n 's/.*"query_ms":\([0-9.]*\).*/\1/p'
}
times_a=()
times_b=()
for round in $(seq "$rounds"); do
  times_a+=("$(query_ms "$a" "$@")")
  times_b+=("$(query_ms "$b" "$@")")
  echo "round $round: A ${times_a[-1]} ms, B ${times_b[-1]} ms" >&2
done

python3 - "${times_a[*]}" "${times_b[*]}" <<'PY'
import statistics
import sys

a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ratios = sorted(x / y for x, y in zip(a, b))
print(f"16-token query, median of {len(a)} rounds: A {statistics.median(a):.2f} ms, B {statistics.median(b):.2f} ms")
print(f"A / B per round: median {statistics.median(ratios):.3f}, range {ratios[0]:.3f}-{ratios[-1]:.3f}")
PY
