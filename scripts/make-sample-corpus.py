#!/usr/bin/env python3
"""Cut the bundled sample corpus out of the full debian-desc set.

The full set comes from ../shared/datasets/debian_descriptions.py (59k passages, 2000 judged
queries). The sample keeps the relevant passages of the first 300 dev queries plus seeded random
others, 3000 passages in all, with those queries and their qrels: small enough to commit and to
index in a minute, real enough that retrieval quality means something.

Usage: make-sample-corpus.py FULL_DIR OUT_DIR   (stdlib only)
"""
import json, os, random, sys

full, out = sys.argv[1], sys.argv[2]
docs = {}
with open(os.path.join(full, "corpus.jsonl"), encoding="utf-8") as f:
    for line in f:
        d = json.loads(line)
        docs[d["id"]] = d["text"]
queries = [l.rstrip("\n").split("\t", 1) for l in open(os.path.join(full, "queries.dev.tsv"), encoding="utf-8")]
qrels = [l.split() for l in open(os.path.join(full, "qrels.dev.tsv"), encoding="utf-8")]
queries = queries[:300]
keep_q = {q for q, _ in queries}
qrels = [r for r in qrels if r[0] in keep_q]
chosen = {r[2] for r in qrels}
rng = random.Random(7)
others = sorted(set(docs) - chosen)
rng.shuffle(others)
chosen.update(others[: 3000 - len(chosen)])
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for doc_id in sorted(chosen):
        f.write(json.dumps({"id": doc_id, "text": docs[doc_id]}, ensure_ascii=False) + "\n")
with open(os.path.join(out, "queries.tsv"), "w", encoding="utf-8") as f:
    f.writelines(f"{q}\t{t}\n" for q, t in queries)
with open(os.path.join(out, "qrels.tsv"), "w", encoding="utf-8") as f:
    f.writelines(" ".join(r) + "\n" for r in qrels)
print(f"{len(chosen)} passages, {len(queries)} queries -> {out}")
