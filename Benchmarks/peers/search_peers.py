"""faiss IndexFlatIP on the vectors and queries search-bench wrote, one query at a time.

Needs: faiss-cpu 1.15.1, numpy 2.4.6 (the reference venv: scripts/reference-env.sh).
Run:   /tmp/cascade-ref/bin/python Benchmarks/peers/search_peers.py --dir DIR --sizes 100000,1000000
       (Benchmarks/search.sh runs it after search-bench, with the same --dir, dim, k and threads.)
Prints "RESULT faiss n=N median_ms=... p99_ms=... agreement=..." where agreement is the share of
search-bench's top-k ids (DIR/results-N.i32) that faiss also returns.
"""

import argparse
import math
import os
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    queries = np.fromfile(os.path.join(args.dir, "queries.f32"), dtype=np.float32).reshape(-1, args.dim)
    print(f"faiss {faiss.__version__}: {len(queries)} queries, k {args.k}, {args.threads} threads")
    for n in [int(s) for s in args.sizes.split(",")]:
        vectors = np.fromfile(os.path.join(args.dir, f"vectors-{n}.f32"), dtype=np.float32).reshape(n, args.dim)
        index = faiss.IndexFlatIP(args.dim)
        index.add(vectors)
        for q in queries[:5]:
            index.search(q[None, :], args.k)
        times, answers = [], []
        for q in queries:
            start = time.perf_counter()
            _, ids = index.search(q[None, :], args.k)
            times.append((time.perf_counter() - start) * 1e3)
            answers.append(ids[0])
        times.sort()
        median = times[len(times) // 2]
        p99 = times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)]
        agreement = float("nan")
        results_path = os.path.join(args.dir, f"results-{n}.i32")
        if os.path.exists(results_path):
            ours = np.fromfile(results_path, dtype=np.int32).reshape(len(queries), args.k)
            agreement = np.mean([len(set(a) & set(b)) / args.k for a, b in zip(ours, answers)])
        print(f"RESULT faiss n={n} median_ms={median:.3f} p99_ms={p99:.3f} agreement={agreement:.4f}")
        del index, vectors


if __name__ == "__main__":
    main()
