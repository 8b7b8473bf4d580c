#!/usr/bin/env bash
# Search quality on real judged queries: MRR@10 and R@100 on the 2,000 debian-desc dev queries for
#   (a) dense retrieval alone (all-MiniLM-L6-v2, retrieve 100),
#   (b) dense + the reranker trained here (scripts/train-reranker.py) at each RERANK_KS, retrieve 100,
#   (c) each model at fp16 and int8 against fp32, when the binary has the precision flags: the
#       retriever with its store built AND searched at that precision (plus the cosine of the dev
#       queries' vectors to fp32), and the reranker at retrieve 100 / rerank 20.
# with each setting's latency per query (`cascade eval`, one query at a time, in process).
#
#   Benchmarks/quality.sh [DATA_DIR]      (default .cache/quality/debian-desc)
#   env: PARTS="dense rerank precision"   which of (a) (b) (c) to run; "precision" is both
#                                         "retriever-precision" and "reranker-precision"
#        RERANK_KS="10 20 50"             rerank_k values for (b)
#        RERANK_LIMIT=N                   run every reranked row (each rerank_k, each reranker
#                                         precision) on the first N dev queries only, with a dense
#                                         row on the same N (default: all 2,000)
#        RETRIEVER_PRECISIONS="fp16 int8" the retriever precisions of (c) given a store of their own
#                                         (the query-vector cosines are measured for both anyway)
#        RERANKER_PRECISIONS="fp32 fp16 int8"  the reranker precisions of (c)
#        RERANKER=DIR                     the cross-encoder (default DATA_DIR/reranker-minilm;
#                                         trained there first when absent, ~30 min)
#        MODEL=DIR                        the retriever (default .cache/models/all-MiniLM-L6-v2)
#        TRAIN_QUERIES=20000              training queries made with the data set
#        TRAIN_ARGS="..."                 scripts/train-reranker.py's training flags (default: 128
#                                         tokens a pair, 3 hard negatives, lr 1e-4, 1,500 wall seconds)
#        TRAIN_RUN_QUERIES=8000           training queries given hard negatives (more than 25
#                                         minutes of 2 cores get through)
#        CASCADE_REF_PYTHON=/tmp/cascade-ref/bin/python  (only needed to train the reranker)
#        CASCADE_BIN=PATH                 use this release build of the checkout instead of building
#        NICE="nice -n 19"                prefix for the heavy commands that are not timed (indexing,
#                                         training, the hard-negative run, embeddings)
#        LOCK=FILE                        run each timed `cascade eval` under `flock FILE` (and
#                                         without NICE), so timing runs of a shared machine never overlap
#
# Builds what is missing and keeps it in DATA_DIR: the data set (../shared/datasets/
# debian_descriptions.py, or DATASET_SCRIPT), the fp32 store (~20 min of 2 cores; `cascade index`
# resumes a killed build), a TREC run of the training queries for hard negatives, the reranker, and
# the stores at other precisions. Every figure is measured afresh on each run; results/*.jsonl
# keep the raw `cascade eval --json` lines. The summary goes to stdout, progress to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(mkdir -p "${1:-$root/.cache/quality/debian-desc}" && cd "${1:-$root/.cache/quality/debian-desc}" && pwd)
parts=${PARTS:-dense rerank precision}
rerank_ks=${RERANK_KS:-10 20 50}
limit=${RERANK_LIMIT:-}
reranker=${RERANKER:-$data/reranker-minilm}
model=${MODEL:-$root/.cache/models/all-MiniLM-L6-v2}
python=${CASCADE_REF_PYTHON:-/tmp/cascade-ref/bin/python}
dataset_script=${DATASET_SCRIPT:-$root/../shared/datasets/debian_descriptions.py}
train_queries=${TRAIN_QUERIES:-20000}
train_args=${TRAIN_ARGS:---max-length 128 --negatives 3 --lr 1e-4 --time-limit 1500 --clock wall}
retriever_precisions=${RETRIEVER_PRECISIONS-fp16 int8}
reranker_precisions=${RERANKER_PRECISIONS-fp32 fp16 int8}
lock=${LOCK:-}
train_run_queries=${TRAIN_RUN_QUERIES:-8000}
nice=${NICE-nice -n 19}
[ -z "$limit" ] || [[ "$limit" =~ ^[1-9][0-9]*$ ]] || { echo "error: RERANK_LIMIT must be a positive integer" >&2; exit 2; }
for k in $rerank_ks; do
  [[ "$k" =~ ^[1-9][0-9]*$ ]] && [ "$k" -le 100 ] || { echo "error: RERANK_KS values must be 1..100, not '$k'" >&2; exit 2; }
done
[ -f "$model/config.json" ] || { echo "error: no retriever at $model (run scripts/fetch-model.sh)" >&2; exit 1; }
has_part() { [[ " $parts " == *" $1 "* ]] || { [[ "$1" == *-precision ]] && [[ " $parts " == *" precision "* ]]; }; }
say() { echo "quality: $*" >&2; }

cd "$root"
if [ -n "${CASCADE_BIN:-}" ]; then
  cascade=$CASCADE_BIN # a release build of this checkout, made before (no rebuild while measuring)
  [ -x "$cascade" ] || { echo "error: CASCADE_BIN $cascade is not executable" >&2; exit 1; }
else
  $nice swift build -c release --product cascade >&2
  cascade=$(swift build -c release --show-bin-path)/cascade
fi
# Benchmarks run as on a user's machine: OpenBLAS picks its own kernel.
# OPENBLAS_VERBOSE=2 makes each run log the OpenBLAS kernel it chose (the report prints it).
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 $nice "$@"; }
# A timed run: not niced (it would yield to every build), one at a time under LOCK when given.
timed() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 ${lock:+flock "$lock"} "$@"; }

# -- the data set and the fp32 store ---------------------------------------------------------------
if [ ! -f "$data/corpus.jsonl" ] || [ ! -f "$data/queries.dev.tsv" ] || [ ! -f "$data/queries.train.tsv" ]; then
  [ -f "$dataset_script" ] || { echo "error: no data in $data and no $dataset_script to make it" >&2; exit 1; }
  say "building the data set in $data"
  python3 "$dataset_script" "$data" --train "$train_queries" >&2
fi
dev_q=$data/queries.dev.tsv
dev_r=$data/qrels.dev.tsv
dev_n=$(grep -c . "$dev_q")
passages=$(grep -c . "$data/corpus.jsonl")

# Resumable: a complete store is checked, not rebuilt; a partial one is finished.
index() { # PRECISION DIR [FLAGS...]
  local precision=$1 dir=$2; shift 2
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$passages" ]; then return; fi
  say "indexing $passages passages at $precision into $dir (log $dir.log)"
  run "$cascade" index --model "$model" --store "$dir" "$@" "$data/corpus.jsonl" 2>"$dir.log"
  tail -1 "$dir.log" >&2
  echo "$passages" >"$dir/.complete"
}
index fp32 "$data/index-fp32"

# timed runs start from DATA_DIR, not the checkout (a shared machine may renice what runs there)
cd "$data"
results=$data/results
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$results/$stamp.jsonl
: >"$out"
say "results in $out; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# One `cascade eval --json` line, tagged, with the wall time. eval ROW QUERIES_LIMIT FLAGS...
evaluate() {
  local row=$1 n=$2; shift 2
  local limit_flag=() started ended line log=$results/$stamp-$row-$n.log
  [ "$n" -ge "$dev_n" ] || limit_flag=(--limit "$n")
  say "$row: $n queries (log $log)"
  started=$(date +%s.%N)
  line=$(timed "$cascade" eval --queries "$dev_q" --qrels "$dev_r" --json "${limit_flag[@]}" "$@" 2>"$log")
  ended=$(date +%s.%N)
  # "eval: retriever NAME: int8 (int8/avx2), loaded in ..." -> "retriever int8 int8/avx2" (binaries with precisions)
  printf '{"row": "%s", "wall_s": %s, "blas": "%s", "kernels": "%s", "eval": %s}\n' "$row" \
    "$(awk "BEGIN { printf \"%.1f\", $ended - $started }")" \
    "$(sed -n 's/^Core: *//p' "$log" | head -1)" \
    "$(sed -n 's/^eval: \(retriever\|reranker\) [^:]*: \([a-z0-9]*\) (\([^)]*\)).*/\1 \2 \3/p' "$log" | paste -sd ';' -)" \
    "$line" | tee -a "$out" >&2
}

# -- (a) dense alone -------------------------------------------------------------------------------
if has_part dense; then
  evaluate dense "$dev_n" --store "$data/index-fp32" --model "$model" --retrieve-k 100
fi

# -- (b) dense + the trained reranker --------------------------------------------------------------
train_reranker() {
  [ -x "$python" ] || { say "SKIP training: no reference python at $python (scripts/reference-env.sh)"; return 1; }
  local train_run=$data/train-dense.run
  if [ ! -s "$train_run" ]; then
    say "hard negatives: dense top 50 of $train_run_queries training queries -> $train_run"
    run "$cascade" eval --store "$data/index-fp32" --model "$model" --queries "$data/queries.train.tsv" \
      --qrels "$data/qrels.train.tsv" --limit "$train_run_queries" --retrieve-k 50 --run "$train_run.part" >&2
    mv "$train_run.part" "$train_run"
  fi
  say "training $reranker (log $reranker.log)"
  rm -rf "$reranker.part"
  run "$python" "$root/scripts/train-reranker.py" --model "$model" --corpus "$data/corpus.jsonl" \
    --queries "$data/queries.train.tsv" --qrels "$data/qrels.train.tsv" --run "$train_run" \
    --out "$reranker.part" $train_args >"$reranker.log" 2>&1 || { tail -5 "$reranker.log" >&2; return 1; }
  tail -1 "$reranker.log" >&2
  mv "$reranker.part" "$reranker"
}
have_reranker=false
reranker_fp32_done=false # (b) at rerank_k 20 is (c)'s fp32 reference: not run twice
if has_part rerank || has_part reranker-precision; then
  if [ -f "$reranker/config.json" ] || train_reranker; then have_reranker=true; fi
fi
# The reranked rows run on the first rerank_n queries, with a dense row on the same ones to compare.
rerank_n=$dev_n
[ -z "$limit" ] || [ "$limit" -ge "$dev_n" ] || rerank_n=$limit
if $have_reranker && [ "$rerank_n" -lt "$dev_n" ] && { has_part rerank || has_part reranker-precision; }; then
  evaluate dense "$rerank_n" --store "$data/index-fp32" --model "$model" --retrieve-k 100
fi
if has_part rerank && $have_reranker; then
  for k in $rerank_ks; do
    [ "$k" -ne 20 ] || reranker_fp32_done=true
    evaluate "rerank-k$k" "$rerank_n" --store "$data/index-fp32" --model "$model" --reranker "$reranker" \
      --retrieve-k 100 --rerank-k "$k"
  done
fi

# -- (c) precisions --------------------------------------------------------------------------------
if has_part retriever-precision; then
  if "$cascade" index --help 2>&1 | grep -q -- '--precision' && "$cascade" eval --help 2>&1 | grep -q -- '--retriever-precision'; then
    embed_help=$("$cascade" embed --help 2>&1)
    cut -f2 "$dev_q" >"$results/$stamp-queries.txt"
    for p in $retriever_precisions; do
      index "$p" "$data/index-$p" --precision "$p"
      evaluate "retriever-$p" "$dev_n" --store "$data/index-$p" --model "$model" --retriever-precision "$p" --retrieve-k 100
    done
    if [[ "$embed_help" == *--precision* ]]; then
      for p in fp32 fp16 int8; do
        run "$cascade" embed --model "$model" --precision "$p" <"$results/$stamp-queries.txt" >"$results/$stamp-vectors-$p.jsonl"
      done
      for p in fp16 int8; do
        python3 "$root/Benchmarks/peers/quality_report.py" cosine --name "$p" \
          "$results/$stamp-vectors-fp32.jsonl" "$results/$stamp-vectors-$p.jsonl" | tee -a "$out" >&2
      done
      rm -f "$results/$stamp"-vectors-*.jsonl
    else
      say "SKIP query-vector cosine: this cascade's embed has no --precision"
    fi
    rm -f "$results/$stamp-queries.txt"
  else
    say "SKIP retriever precisions: this cascade has no 'index --precision' / 'eval --retriever-precision' yet"
  fi
fi
if has_part reranker-precision; then
  if ! $have_reranker; then
    say "SKIP reranker precisions: no reranker"
  elif "$cascade" eval --help 2>&1 | grep -q -- '--reranker-precision'; then
    for p in $reranker_precisions; do
      [ "$p" != fp32 ] || ! $reranker_fp32_done || continue
      evaluate "reranker-$p" "$rerank_n" --store "$data/index-fp32" --model "$model" --reranker "$reranker" \
        --reranker-precision "$p" --retrieve-k 100 --rerank-k 20
    done
  else
    say "SKIP reranker precisions: this cascade has no 'eval --reranker-precision' yet"
  fi
fi

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 "$root/Benchmarks/peers/quality_report.py" table "$out" --cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" \
  --isa "$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16|f16c|fma' | sort -u | xargs)"
