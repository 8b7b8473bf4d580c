#!/usr/bin/env bash
# Search latency and recall@K of VectorStore's configurations against its own fp32 exact scan
# (queries taking turns between them in one process) and against faiss on the same vectors and
# queries (IndexFlatIP, IndexScalarQuantizer SQ8, and with partitions IndexIVFScalarQuantizer with
# the same nlist and nprobe), one query at a time, same thread count. Recall is against Cascade's
# exact fp32 top K.
#
#   Benchmarks/search.sh [DIR]                      1M x 384 uniform unit vectors: fp32 exact vs int8 + rescoring
#   Benchmarks/search.sh --seed-scale 0.05 [DIR]    the seed corpus's shape at 5% of 8.8M: 768 dims, a Gaussian
#                                                    mixture of 4,000 x 0.05 centres, int8 + IVF vs faiss IVF-SQ8
#   (DIR keeps the stores and vectors between runs; default a temp dir)
#   env: SIZES=1000000 DIM=384 THREADS=$(nproc) QUERIES=200 K=100 CODES=fp32,int8 RESCORE_K=(4K)
#        PARTITIONS=0 NPROBE=(default) DATA=gaussian|mixture CENTRES=4000 PYTHON=/tmp/cascade-ref/bin/python
#        SEARCH_BENCH=PATH (a release search-bench of this checkout built before; default: build it)
#
# This machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for safety; a user's machine does not,
# so both are unset for the benchmark commands (the kernels in use are printed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--seed-scale" ]]; then
    FRACTION=$2
    shift 2
    SIZES=${SIZES:-$(awk -v f="$FRACTION" 'BEGIN { printf "%d", 8800000 * f }')}
    DIM=${DIM:-768}
    DATA=${DATA:-mixture}
    # 4,000 centres at 8.8M: a smaller run keeps the points per centre (about 2,200), else a
    # query's top 100 would be mostly other clusters' noise, which no partitioning can find.
    CENTRES=${CENTRES:-$(awk -v f="$FRACTION" 'BEGIN { c = int(4000 * f); print (c < 1 ? 1 : c) }')}
    # About 4 sqrt(n) partitions, as faiss's guidelines suggest.
    PARTITIONS=${PARTITIONS:-$(awk -v n="$SIZES" 'BEGIN { printf "%d", 4 * sqrt(n) }')}
fi
DIR=${1:-$(mktemp -d -t search-bench.XXXXXX)}
SIZES=${SIZES:-1000000}
DIM=${DIM:-384}
THREADS=${THREADS:-$(nproc)}
QUERIES=${QUERIES:-200}
K=${K:-100}
CODES=${CODES:-fp32,int8}
PARTITIONS=${PARTITIONS:-0}
DATA=${DATA:-gaussian}
CENTRES=${CENTRES:-4000}
PYTHON=${PYTHON:-/tmp/cascade-ref/bin/python}
extra=()
[[ -n "${RESCORE_K:-}" ]] && extra+=(--rescore-k "$RESCORE_K")
[[ -n "${NPROBE:-}" ]] && extra+=(--nprobe "$NPROBE")

if [[ -n "${SEARCH_BENCH:-}" ]]; then
    BIN=$SEARCH_BENCH
else
    swift build -c release --product search-bench >&2
    BIN=$(swift build -c release --show-bin-path)/search-bench
fi
mkdir -p "$DIR"
echo "data in $DIR; CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BIN" --dir "$DIR" --sizes "$SIZES" --dim "$DIM" --threads "$THREADS" \
    --queries "$QUERIES" --k "$K" --codes "$CODES" --partitions "$PARTITIONS" --data "$DATA" --centres "$CENTRES" \
    ${extra[@]+"${extra[@]}"} | tee "$DIR/swift.txt" >&2
peer=()
[[ "$PARTITIONS" != 0 ]] && peer+=(--partitions "$PARTITIONS" --nprobe "$(sed -n 's/.*config=[a-z0-9]*_ivf[0-9]*_nprobe_\([0-9]*\).*/\1/p' "$DIR/swift.txt" | head -1)")
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" Benchmarks/peers/search_peers.py --dir "$DIR" \
    --sizes "$SIZES" --dim "$DIM" --threads "$THREADS" --k "$K" ${peer[@]+"${peer[@]}"} | tee "$DIR/faiss.txt" >&2

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
for n in ${SIZES//,/ }; do
    base=$(grep "RESULT swift n=$n config=fp32_exact " "$DIR/swift.txt" | field median_ms)
    printf '\n%s vectors x %s dims, k %s, %s threads\n' "$n" "$DIM" "$K" "$THREADS"
    printf '%-8s %-42s %-10s %-10s %-10s %-8s\n' engine config "p50 ms" "p99 ms" "recall@$K" "vs fp32"
    grep -h "RESULT [a-z]* n=$n " "$DIR/swift.txt" "$DIR/faiss.txt" | while read -r line; do
        engine=$(awk '{print $2}' <<<"$line")
        median=$(field median_ms <<<"$line")
        ratio=$(awk -v a="$base" -v b="$median" 'BEGIN { printf "%.2fx", a / b }')
        printf '%-8s %-42s %-10s %-10s %-10s %-8s\n' "$engine" "$(field config <<<"$line")" "$median" \
            "$(field p99_ms <<<"$line")" "$(field recall <<<"$line")" "$ratio"
    done
done
echo "(vs fp32 = Cascade fp32 exact median / this median; above 1 is faster)"
