#!/usr/bin/env bash
# The seed corpus's scale through the user's path: 8.8M x 768 vectors (times FRACTION) generated
# to a .npy on disk, brought in with `cascade import --codes int8 --partitions P`, then searched one
# query at a time at each nprobe, beside faiss IndexIVFScalarQuantizer (SQ8) with the same nlist and
# nprobe on the same vectors, queries and exact truth.
#
# Usage: Benchmarks/seed-scale.sh [FRACTION] DIR     (default FRACTION 1: 8,800,000 vectors)
#   DIR keeps the vectors, truth and store between runs: at full size the .npy is 27 GB (13.5 GB
#   with NPY_DTYPE=float16) and the store 41 GB (7 GB of it the int8 codes, which the partitioning
#   writes anew in one transaction).
#   env: PARTITIONS=(below) NPROBES=8,16,32,64 RESCORE_K=400 THREADS=$(nproc) CENTRES=(4000 x F)
#        NPY_DTYPE=float32|float16 (the generated .npy; cascade import reads either)
#        CASCADE_BIN_DIR=DIR (release cascade and search-bench of this checkout; default: build them)
#        PYTHON=/tmp/cascade-ref/bin/python   SKIP_FAISS=1
#
# The data: a Gaussian mixture of 4,000 centres on the unit sphere (about 2,200 vectors a centre, so
# a query's top 100 is mostly its own cluster; real embeddings are far less clustered, see
# Benchmarks/README.md on debian-desc), queries from the same mixture; truth is the exact top 100 by
# dot product, computed while the vectors are written.
set -euo pipefail
cd "$(dirname "$0")/.."
fraction=1
[[ $# -ge 2 ]] && { fraction=$1; shift; }
dir=${1:?usage: Benchmarks/seed-scale.sh [FRACTION] DIR}
n=$(awk -v f="$fraction" 'BEGIN { printf "%d", 8800000 * f }')
centres=${CENTRES:-$(awk -v f="$fraction" 'BEGIN { c = int(4000 * f); print (c < 1 ? 1 : c) }')}
# About 1.4 sqrt(n) partitions, rounded to a power of two (4,096 at full size, about 2,150 vectors
# each): assigning 8.8M vectors to 4 sqrt(n) = 11,866 centroids would take Cascade and faiss half an
# hour each on 2 cores (it is 8.8M x nlist x 768 multiply-adds), and the latency goal holds at 4,096.
partitions=${PARTITIONS:-$(awk -v n="$n" 'BEGIN { p = 1; while (p * 2 <= 1.4 * sqrt(n) * 1.41) p *= 2; print p }')}
nprobes=${NPROBES:-8,16,32,64}
rescore=${RESCORE_K:-400}
threads=${THREADS:-$(nproc)}
python=${PYTHON:-/tmp/cascade-ref/bin/python}
[ -x "$python" ] || { echo "error: no reference python at $python (run scripts/reference-env.sh)" >&2; exit 1; }
if [[ -n "${CASCADE_BIN_DIR:-}" ]]; then
    bin=$CASCADE_BIN_DIR
else
    swift build -c release --product cascade >&2
    swift build -c release --product search-bench >&2
    bin=$(swift build -c release --show-bin-path)
fi
mkdir -p "$dir"
log=$dir/seed-scale.txt
echo "n $n, dim 768, $centres centres, $partitions partitions, nprobe $nprobes, rescore $rescore, $threads threads;" \
    "CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" | tee "$log" >&2

if [[ ! -f "$dir/truth.i32" ]]; then
    "$python" Benchmarks/peers/seed_scale.py generate --dir "$dir" --n "$n" --centres "$centres" \
        --dtype "${NPY_DTYPE:-float32}" >&2
fi

# As on a user's machine: OpenBLAS picks its kernel from the CPU.
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }
store=$dir/store-int8-ivf$partitions
if [[ ! -f "$store/imported" ]]; then
    # /usr/bin/time -v: wall time and peak resident memory of the whole import.
    run /usr/bin/time -v -o "$dir/import.time" "$bin/cascade" import --store "$store" \
        --vectors "$dir/vectors.npy" --passages "$dir/passages.tsv" --fingerprint "mixture-768" --pooling none \
        --similarity dot --codes int8 --partitions "$partitions" --batch-size 5000 2>&1 |
        grep -v '^import: [0-9]*/' | tee -a "$log" >&2
    touch "$store/imported"
fi
grep -E 'Elapsed|Maximum resident' "$dir/import.time" | sed 's/^\s*/import: /' | tee -a "$log" >&2

run "$bin/search-bench" --store "$store" --query-file "$dir/queries.f32" --truth-file "$dir/truth.i32" \
    --nprobe "$nprobes" --rescore-k "$rescore" --threads "$threads" | tee -a "$log" >&2
if [[ -z "${SKIP_FAISS:-}" ]]; then
    run "$python" Benchmarks/peers/seed_scale.py faiss --dir "$dir" --partitions "$partitions" --nprobe "$nprobes" \
        --threads "$threads" | tee -a "$log" >&2
fi

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
printf '\n%s x 768, %s partitions, k 100, %s threads\n' "$n" "$partitions" "$threads"
printf '%-8s %-40s %-9s %-9s %-10s %-10s\n' engine config "p50 ms" "p99 ms" "recall@100" "peak RSS MiB"
grep -h "^RESULT " "$log" | while read -r line; do
    printf '%-8s %-40s %-9s %-9s %-10s %-10s\n' "$(awk '{print $2}' <<<"$line")" "$(field config <<<"$line")" \
        "$(field median_ms <<<"$line")" "$(field p99_ms <<<"$line")" "$(field recall <<<"$line")" \
        "$(field peak_rss_mib <<<"$line")"
done
