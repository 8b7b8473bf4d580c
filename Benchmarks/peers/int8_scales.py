"""Which int8 scales keep more of the exact top k on real embeddings: one scale per vector (what
VectorStore stores: code = round(x / (max|x| / 127))) or per-dimension ranges trained on the data
(faiss SQ8: code = round((x - min_j) / (max_j - min_j) * 255)); scores from codes alone, and after
rescoring the best R candidates exactly.

Run: /tmp/cascade-ref/bin/python Benchmarks/peers/int8_scales.py CORPUS.npy QUERIES.npy [--k 10,100] [--rescore 400]
     (unit-length float32 rows, e.g. debian-desc encoded with all-MiniLM-L6-v2)
"""
import argparse

import numpy as np


def per_vector(x):
    scale = np.abs(x).max(axis=1, keepdims=True) / 127
    scale[scale == 0] = 1
    return np.clip(np.rint(x / scale), -127, 127) * scale


def per_dimension(x):
    lo, hi = x.min(axis=0), x.max(axis=0)
    step = (hi - lo) / 255
    step[step == 0] = 1
    return np.clip(np.rint((x - lo) / step), 0, 255) * step + lo


def top(scores, k):
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(idx, np.argsort(-np.take_along_axis(scores, idx, axis=1), axis=1), axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("queries")
    ap.add_argument("--k", default="10,100")
    ap.add_argument("--rescore", type=int, default=400)
    args = ap.parse_args()
    x = np.load(args.corpus).astype(np.float32)
    q = np.load(args.queries).astype(np.float32)
    ks = [int(k) for k in args.k.split(",")]
    exact = q @ x.T
    truth = {k: top(exact, k) for k in ks}
    print(f"{x.shape[0]} vectors x {x.shape[1]} dims, {q.shape[0]} queries")
    for name, decode in [("per-vector", per_vector), ("per-dimension", per_dimension)]:
        approx = q @ decode(x).T
        line = [name]
        for k in ks:
            got = top(approx, k)
            recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth[k])])
            line.append(f"recall@{k} {recall:.4f}")
        cand = top(approx, args.rescore)
        rescored = np.take_along_axis(exact, cand, axis=1)
        for k in ks:
            got = np.take_along_axis(cand, np.argsort(-rescored, axis=1)[:, :k], axis=1)
            recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth[k])])
            line.append(f"rescored({args.rescore}) recall@{k} {recall:.4f}")
        err = np.abs(approx - exact)
        line.append(f"mean |score error| {err.mean():.2e}")
        print(", ".join(line))


if __name__ == "__main__":
    main()
