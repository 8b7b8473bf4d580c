"""The seed corpus's shape on disk, and faiss IVF-SQ8 on it: for Benchmarks/seed-scale.sh.

  seed_scale.py generate --dir DIR --n N [--dim 768] [--centres 4000] [--queries 200] [--k 100]
                         [--dtype float32|float16]
      DIR/vectors.npy   N x dim, a Gaussian mixture on the unit sphere (as search-bench's
                        --data mixture: uniform centres, noise of norm 0.9 x the centre's, normalised),
                        written in chunks, so the file may exceed memory; float16 halves it (the
                        truth is then computed from the rounded vectors, as the store receives them)
      DIR/passages.tsv  "p<row><TAB>passage <row>", paired with the rows (cascade import --passages)
      DIR/queries.f32   queries from the same mixture, raw float32
      DIR/truth.i32     each query's exact top-k rows by dot product (chunked BLAS over the vectors)
  seed_scale.py faiss --dir DIR --partitions P --nprobe 16,32,... [--threads T] [--k 100]
      IndexIVFScalarQuantizer (SQ8, inner product) trained on 64 x P sampled rows (as `cascade import
      --partitions` trains), the rows added in chunks; one query at a time per nprobe. Prints
      "RESULT faiss ... median_ms= p99_ms= recall= build_s= peak_rss_mib=".

Needs numpy and faiss-cpu (the reference venv: scripts/reference-env.sh).
"""

import argparse
import math
import os
import resource
import time

import numpy as np

from search_peers import timed  # one query at a time, after 5 untimed: the same timing as search.sh

CHUNK = 200_000


def mixture(rng, count, centres, spread=0.9):
    """Rows around the given centres (chosen uniformly), normalised."""
    dim = centres.shape[1]
    which = rng.integers(0, len(centres), size=count)
    rows = centres[which] + rng.standard_normal((count, dim), dtype=np.float32) * np.float32(spread / math.sqrt(dim))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def generate(args):
    os.makedirs(args.dir, exist_ok=True)
    rng = np.random.default_rng(99)
    centres = rng.standard_normal((args.centres, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    queries = mixture(np.random.default_rng(7), args.queries, centres)
    queries.tofile(os.path.join(args.dir, "queries.f32"))
    path = os.path.join(args.dir, "vectors.npy")
    start = time.perf_counter()
    vectors = np.lib.format.open_memmap(path + ".part", mode="w+", dtype=args.dtype, shape=(args.n, args.dim))
    rows_rng = np.random.default_rng(1_000_003)
    # The exact top-k is kept as the rows are made: best scores and rows so far, per query.
    best_scores = np.full((args.queries, args.k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((args.queries, args.k), dtype=np.int64)
    with open(os.path.join(args.dir, "passages.tsv.part"), "w") as passages:
        for first in range(0, args.n, CHUNK):
            count = min(CHUNK, args.n - first)
            rows = mixture(rows_rng, count, centres).astype(args.dtype).astype(np.float32)
            vectors[first:first + count] = rows
            passages.write("".join(f"p{i}\tpassage {i}\n" for i in range(first, first + count)))
            scores = queries @ rows.T
            scores = np.concatenate([best_scores, scores], axis=1)
            ids = np.concatenate([best_rows, np.arange(first, first + count)[None, :].repeat(args.queries, 0)], axis=1)
            top = np.argpartition(-scores, args.k - 1, axis=1)[:, :args.k]
            best_scores = np.take_along_axis(scores, top, axis=1)
            best_rows = np.take_along_axis(ids, top, axis=1)
            print(f"generate: {first + count}/{args.n} rows, {time.perf_counter() - start:.0f} s", flush=True)
    vectors.flush()
    del vectors
    order = np.argsort(-best_scores, axis=1)
    np.take_along_axis(best_rows, order, axis=1).astype(np.int32).tofile(os.path.join(args.dir, "truth.i32"))
    os.replace(path + ".part", path)
    os.replace(os.path.join(args.dir, "passages.tsv.part"), os.path.join(args.dir, "passages.tsv"))
    print(f"generate: done in {time.perf_counter() - start:.0f} s", flush=True)


def run_faiss(args):
    import faiss

    faiss.omp_set_num_threads(args.threads)
    vectors = np.load(os.path.join(args.dir, "vectors.npy"), mmap_mode="r")
    n, dim = vectors.shape
    queries = np.fromfile(os.path.join(args.dir, "queries.f32"), dtype=np.float32).reshape(-1, dim)
    truth = np.fromfile(os.path.join(args.dir, "truth.i32"), dtype=np.int32).reshape(len(queries), -1)
    k = truth.shape[1]
    print(f"faiss {faiss.__version__}: {n} x {dim}, {len(queries)} queries, k {k}, {args.threads} threads", flush=True)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, args.partitions, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    sample = np.sort(np.random.default_rng(42).choice(n, min(n, 64 * args.partitions), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    trained = time.perf_counter() - start
    for first in range(0, n, CHUNK):
        index.add(np.ascontiguousarray(vectors[first:first + CHUNK], dtype=np.float32))
    build = time.perf_counter() - start
    print(f"faiss: trained in {trained:.1f} s, added {n} in {build - trained:.1f} s", flush=True)
    for nprobe in [int(p) for p in args.nprobe.split(",")]:
        index.nprobe = nprobe
        median, p99, answers = timed(index, queries, k)
        recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, answers)])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"RESULT faiss n={n} config=ivf{args.partitions}_sq8_nprobe_{nprobe} median_ms={median:.3f} "
              f"p99_ms={p99:.3f} recall={recall:.4f} build_s={build:.1f} peak_rss_mib={rss:.0f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--dir", required=True)
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--dim", type=int, default=768)
    g.add_argument("--centres", type=int, default=4000)
    g.add_argument("--queries", type=int, default=200)
    g.add_argument("--k", type=int, default=100)
    g.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    f = sub.add_parser("faiss")
    f.add_argument("--dir", required=True)
    f.add_argument("--partitions", type=int, required=True)
    f.add_argument("--nprobe", required=True)
    f.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    generate(args) if args.command == "generate" else run_faiss(args)


if __name__ == "__main__":
    main()
