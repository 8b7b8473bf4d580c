"""faiss on the vectors and queries search-bench wrote, one query at a time: IndexFlatIP (exact),
IndexScalarQuantizer SQ8 (int8 codes, per-dimension ranges trained on the data, no rescoring)
and, with --partitions, IndexIVFScalarQuantizer SQ8 with the same nlist and nprobe.

Needs: faiss-cpu 1.15.1, numpy 2.4.6 (the reference venv: scripts/reference-env.sh).
Run:   /tmp/cascade-ref/bin/python Benchmarks/peers/search_peers.py --dir DIR --sizes 100000,1000000
       (Benchmarks/search.sh runs it after search-bench, with the same --dir, dim, k and threads.)
Prints "RESULT faiss n=N config=... median_ms=... p99_ms=... recall=..." where recall is the share
of search-bench's exact fp32 top-k ids (DIR/results-N.i32) that faiss also returns.
"""

import argparse
import math
import os
import time

import faiss
import numpy as np


def timed(index, queries, k):
    for q in queries[:5]:
        index.search(q[None, :], k)
    times, answers = [], []
    for q in queries:
        start = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append((time.perf_counter() - start) * 1e3)
        answers.append(ids[0])
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)], answers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--partitions", type=int, default=0)
    ap.add_argument("--nprobe", type=int, default=0)
    ap.add_argument("--skip-flat", action="store_true")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    queries = np.fromfile(os.path.join(args.dir, "queries.f32"), dtype=np.float32).reshape(-1, args.dim)
    print(f"faiss {faiss.__version__}: {len(queries)} queries, k {args.k}, {args.threads} threads")
    ip = faiss.METRIC_INNER_PRODUCT
    for n in [int(s) for s in args.sizes.split(",")]:
        vectors = np.fromfile(os.path.join(args.dir, f"vectors-{n}.f32"), dtype=np.float32).reshape(n, args.dim)
        truth = np.fromfile(os.path.join(args.dir, f"results-{n}.i32"), dtype=np.int32).reshape(len(queries), args.k)
        configs = []
        if not args.skip_flat:
            configs.append(("flat_ip", lambda: faiss.IndexFlatIP(args.dim), None))
        configs.append(("sq8", lambda: faiss.IndexScalarQuantizer(args.dim, faiss.ScalarQuantizer.QT_8bit, ip), None))
        if args.partitions:
            nprobe = args.nprobe or min(args.partitions, max(8, (args.partitions + 7) // 8))

            def ivf():
                quantizer = faiss.IndexFlatIP(args.dim)
                index = faiss.IndexIVFScalarQuantizer(
                    quantizer, args.dim, args.partitions, faiss.ScalarQuantizer.QT_8bit, ip)
                index.nprobe = nprobe
                return index

            configs.append((f"ivf{args.partitions}_sq8_nprobe_{nprobe}", ivf, None))
        for name, make, _ in configs:
            index = make()
            start = time.perf_counter()
            if not index.is_trained:
                sample = vectors[np.random.default_rng(0).choice(n, min(n, 256 * 1024), replace=False)]
                index.train(sample)
            index.add(vectors)
            build = time.perf_counter() - start
            median, p99, answers = timed(index, queries, args.k)
            recall = np.mean([len(set(a) & set(b)) / args.k for a, b in zip(truth, answers)])
            print(f"RESULT faiss n={n} config={name} median_ms={median:.3f} p99_ms={p99:.3f} "
                  f"recall={recall:.4f} build_s={build:.1f}", flush=True)
            del index
        del vectors


if __name__ == "__main__":
    main()
