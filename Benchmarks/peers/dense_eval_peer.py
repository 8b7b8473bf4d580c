#!/usr/bin/env python3
"""The peer for `cascade eval`: the same dense retrieval done with sentence-transformers + faiss.

Encodes the corpus and the queries with sentence-transformers (the model's own max_seq_length,
normalised embeddings), searches exactly with faiss IndexFlatIP, and scores the run with
pytrec_eval: MRR@10 (recip_rank on the run cut to 10), nDCG@10, R@10, R@100, MAP. Cascade's numbers
on the same data should agree to rounding (differences come from float summation order only).

Usage: dense_eval_peer.py MODEL_DIR CORPUS.jsonl QUERIES.tsv QRELS.tsv [--k 100] [--threads 2]
Needs the reference venv (scripts/reference-env.sh).
"""
import argparse, collections, json, statistics, time

import faiss
import numpy as np
import pytrec_eval
import torch
from sentence_transformers import SentenceTransformer

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("corpus"); ap.add_argument("queries"); ap.add_argument("qrels")
ap.add_argument("--k", type=int, default=100); ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads); faiss.omp_set_num_threads(a.threads)

ids, texts = [], []
for line in open(a.corpus, encoding="utf-8"):
    d = json.loads(line); ids.append(str(d["id"])); texts.append(d["text"])
queries = [l.rstrip("\n").split("\t", 1) for l in open(a.queries, encoding="utf-8")]
qrels = collections.defaultdict(dict)
for l in open(a.qrels):
    q, _, d, r = l.split(); qrels[q][d] = int(r)

model = SentenceTransformer(a.model, device="cpu")
start = time.time()
corpus = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
encode_s = time.time() - start
index = faiss.IndexFlatIP(corpus.shape[1]); index.add(corpus.astype(np.float32))
qv = model.encode([t for _, t in queries], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
scores, rows = index.search(qv.astype(np.float32), a.k)
run = {q: {ids[j]: float(s) for s, j in zip(scores[i], rows[i])} for i, (q, _) in enumerate(queries)}
ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_10", "recall_100", "map"}).evaluate(run)
cut = {q: dict(sorted(d.items(), key=lambda x: (-x[1], x[0]))[:10]) for q, d in run.items()}
rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
mean = lambda m, res=ev: statistics.mean(r[m] for r in res.values())
print(json.dumps({
    "engine": "sentence-transformers+faiss", "passages": len(ids), "queries": len(queries),
    "MRR@10": round(mean("recip_rank", rr), 4), "nDCG@10": round(mean("ndcg_cut_10"), 4),
    "R@10": round(mean("recall_10"), 4), "R@100": round(mean("recall_100"), 4), "MAP": round(mean("map"), 4),
    "corpus_passages_per_s": round(len(ids) / encode_s, 1),
}))
