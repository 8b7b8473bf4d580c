#!/usr/bin/env bash
# Exact top-k search latency: VectorStore (search-bench) against faiss IndexFlatIP on the same
# random normalised vectors and queries, one query at a time, same thread count.
#
#   Benchmarks/search.sh [DIR]        (DIR keeps the stores and vectors between runs; default a temp dir)
#   env: SIZES=100000,1000000 THREADS=$(nproc) QUERIES=200 K=100 PYTHON=/tmp/cascade-ref/bin/python
#
# This machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for safety; a user's machine does not,
# so both are unset for the benchmark commands (the kernel in use is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-$(mktemp -d -t search-bench.XXXXXX)}
SIZES=${SIZES:-100000,1000000}
THREADS=${THREADS:-$(nproc)}
QUERIES=${QUERIES:-200}
K=${K:-100}
PYTHON=${PYTHON:-/tmp/cascade-ref/bin/python}

swift build -c release --product search-bench >&2
BIN=$(swift build -c release --show-bin-path)/search-bench
mkdir -p "$DIR"
echo "data in $DIR; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BIN" --dir "$DIR" --sizes "$SIZES" --threads "$THREADS" \
    --queries "$QUERIES" --k "$K" | tee "$DIR/swift.txt" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" Benchmarks/peers/search_peers.py --dir "$DIR" \
    --sizes "$SIZES" --threads "$THREADS" --k "$K" | tee "$DIR/faiss.txt" >&2

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
printf '\n%-10s %-12s %-12s %-12s %-12s %-10s %-9s\n' vectors "swift p50" "swift p99" "faiss p50" "faiss p99" "speed" agreement
for n in ${SIZES//,/ }; do
    s=$(grep "RESULT swift n=$n " "$DIR/swift.txt")
    f=$(grep "RESULT faiss n=$n " "$DIR/faiss.txt")
    sm=$(field median_ms <<<"$s"); sp=$(field p99_ms <<<"$s")
    fm=$(field median_ms <<<"$f"); fp=$(field p99_ms <<<"$f"); ag=$(field agreement <<<"$f")
    ratio=$(awk -v a="$fm" -v b="$sm" 'BEGIN { printf "%.2fx", a / b }')
    printf '%-10s %-12s %-12s %-12s %-12s %-10s %-9s\n' "$n" "${sm} ms" "${sp} ms" "${fm} ms" "${fp} ms" "$ratio" "$ag"
done
echo "(speed = faiss median / swift median; above 1 means VectorStore is faster)"
