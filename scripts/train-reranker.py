#!/usr/bin/env python3
"""Fine-tune a cross-encoder reranker for `cascade serve --reranker` on judged queries.

Starts from a BERT folder (a bare `BertModel` such as all-MiniLM-L6-v2, or a cross-encoder to
continue from), puts a `BertForSequenceClassification` head with one label on it, and trains it
to put each query's relevant passage above the hard negatives that the retriever ranked high for
that query (read from a TREC run written by `cascade eval --run`). Writes a Hugging Face folder
(config.json, model.safetensors, tokenizer files) that `cascade serve --reranker DIR` and
`cascade eval --reranker DIR` load as it is.

Loss: listwise softmax cross-entropy over each query's group of 1 positive + k hard negatives
(the positive's logit against the group's). The reranker only ever has to order the retriever's
candidates for one query, which is what this loss asks of it; pointwise BCE instead spends its
steps calibrating absolute probabilities and sees k negatives per positive as class imbalance.

Runs in the reference venv (`scripts/reference-env.sh`), never in the project's test command.
Pinned there: torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6

Cost, measured on 2 cores with torch 2.15: a step of 8 queries x (1 + 3) pairs takes about 1.9 CPU
seconds per thread at 64 tokens (AMD EPYC, AVX2) and 3.1 at 128 (Intel Xeon, AVX-512), so 1,500
seconds of 2 idle cores are about 500 steps at 128 tokens: half an epoch of 8,000 queries.
--time-limit cuts the steps to fit (from the first steps' speed, so a run may end a little past
it); on a shared machine --clock cpu counts the time two idle cores would take. The defaults
(128 tokens, 3 negatives, lr 1e-4) are what made the debian-desc reranker of Benchmarks/README.md:
at 64 tokens half of the passages lost the sentence that tells near-duplicates apart, and that
reranker ranked below dense retrieval.

Example (debian-desc, as Benchmarks/quality.sh runs it):
  cascade eval --store IDX --model MODEL --queries queries.train.tsv --qrels qrels.train.tsv \
      --limit 8000 --retrieve-k 50 --run train.run
  nice -n 19 /tmp/cascade-ref/bin/python scripts/train-reranker.py --model MODEL \
      --corpus corpus.jsonl --queries queries.train.tsv --qrels qrels.train.tsv --run train.run \
      --out reranker-minilm --time-limit 1500 --clock wall
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "special_tokens_map.json", "tokenizer_config.json")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="BERT folder to start from (config.json, weights, vocab)")
    ap.add_argument("--corpus", required=True, help='passages, JSON lines {"id", "text"} or id<TAB>text')
    ap.add_argument("--queries", required=True, help="training queries, qid<TAB>text")
    ap.add_argument("--qrels", required=True, help="TREC qrels for them: qid 0 docid relevance (>0 relevant)")
    ap.add_argument("--run", required=True, help="TREC run (qid Q0 docid rank score tag), hard negatives from its top")
    ap.add_argument("--out", required=True, help="output folder (created; must be empty or absent)")
    ap.add_argument("--max-length", type=int, default=128, help="tokens per (query, passage) pair; also written "
                    "as the folder's model_max_length, so Cascade truncates as training did")
    ap.add_argument("--epochs", type=float, default=1.0, help="passes over the training queries (if no --steps)")
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (overrides --epochs)")
    ap.add_argument("--batch-size", type=int, default=8, help="queries per step; each brings 1 + --negatives pairs")
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per query")
    ap.add_argument("--depth", type=int, default=30, help="negatives are sampled from the run's top DEPTH non-relevant")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps with a linear warm-up")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds for the training loop; the step count "
                    "is cut to fit (the learning-rate schedule still decays to 0), 0 = no limit")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="what --time-limit counts: wall "
                    "seconds, or CPU seconds / --threads (the wall time the run would take on that many idle "
                    "cores: the same training on a shared machine)")
    ap.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    a = ap.parse_args(argv)
    for name in ("max_length", "batch_size", "threads", "depth", "log_every"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.negatives < 1:
        ap.error("--negatives must be at least 1 (the loss ranks the positive against them)")
    if a.negatives > a.depth:
        ap.error("--negatives must not exceed --depth")
    if a.max_length < 8:
        ap.error("--max-length must be at least 8")
    if os.path.exists(a.out) and os.listdir(a.out):
        ap.error(f"--out {a.out} exists and is not empty; nothing was written")
    if not os.path.isfile(os.path.join(a.model, "config.json")):
        ap.error(f"--model {a.model} has no config.json")
    return a


def fail(message):
    sys.exit(f"train-reranker: {message}")


def read_corpus(path):
    texts = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                try:
                    record = json.loads(line)
                    texts[str(record["id"])] = record["text"]
                except (ValueError, KeyError) as e:
                    fail(f"{path}:{number}: not a JSON line with id and text ({e})")
            else:
                doc, tab, text = line.partition("\t")
                if not tab:
                    fail(f"{path}:{number}: expected id<TAB>text")
                texts[doc] = text
    return texts


def read_queries(path):
    queries = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            qid, tab, text = line.partition("\t")
            if not tab:
                fail(f"{path}:{number}: expected qid<TAB>text")
            queries[qid] = text
    return queries


def read_qrels(path):
    relevant = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                fail(f"{path}:{number}: expected 'qid 0 docid relevance'")
            qid, _, doc, rel = parts
            try:
                if int(rel) > 0:
                    relevant.setdefault(qid, set()).add(doc)
            except ValueError:
                fail(f"{path}:{number}: relevance '{rel}' is not an integer")
    return relevant


def read_run(path):
    """qid -> docids in rank order (by score, as trec_eval orders them)."""
    rows = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                fail(f"{path}:{number}: expected 'qid Q0 docid rank score tag'")
            try:
                rows.setdefault(parts[0], []).append((-float(parts[4]), int(parts[3]), parts[2]))
            except ValueError:
                fail(f"{path}:{number}: bad rank or score")
    return {qid: [doc for _, _, doc in sorted(r)] for qid, r in rows.items()}


def training_groups(queries, relevant, run, texts, depth):
    """(query text, positive docids, hard-negative pool) for each query usable for training."""
    groups, skipped = [], {"no qrels": 0, "no run": 0, "positive not in corpus": 0, "too few negatives": 0}
    for qid, text in queries.items():
        positives = [d for d in sorted(relevant.get(qid, ())) if d in texts]
        if qid not in relevant:
            skipped["no qrels"] += 1
        elif qid not in run:
            skipped["no run"] += 1
        elif not positives:
            skipped["positive not in corpus"] += 1
        else:
            pool = [d for d in run[qid] if d not in relevant[qid] and d in texts][:depth]
            if not pool:
                skipped["too few negatives"] += 1
            else:
                groups.append((text, positives, pool))
    return groups, skipped


def copy_tokenizer(src, out, max_length):
    copied = []
    for name in TOKENIZER_FILES:
        path = os.path.join(src, name)
        if not os.path.isfile(path):
            continue
        if name == "tokenizer_config.json":
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
            config["model_max_length"] = max_length
            with open(os.path.join(out, name), "w", encoding="utf-8") as f:
                json.dump(config, f, indent=2)
        else:
            shutil.copyfile(path, os.path.join(out, name))
        copied.append(name)
    if "vocab.txt" not in copied and "tokenizer.json" not in copied:
        fail(f"{src} has neither vocab.txt nor tokenizer.json to copy")
    if "tokenizer_config.json" not in copied:
        with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"model_max_length": max_length, "do_lower_case": True}, f, indent=2)
        copied.append("tokenizer_config.json")
    return copied


def main(argv=None):
    a = parse_args(argv)
    started = time.monotonic()
    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(a.threads)
    hf_logging.disable_progress_bar()  # the log is read as a file: progress is printed per step instead
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    texts = read_corpus(a.corpus)
    queries = read_queries(a.queries)
    relevant = read_qrels(a.qrels)
    run = read_run(a.run)
    groups, skipped = training_groups(queries, relevant, run, texts, a.depth)
    print(f"data: {len(texts)} passages, {len(queries)} queries, {len(groups)} usable"
          + "".join(f", {n} skipped ({why})" for why, n in skipped.items() if n), flush=True)
    if not groups:
        fail("no query has both a relevant passage in the corpus and a non-relevant one in the run")

    tokenizer = AutoTokenizer.from_pretrained(a.model)
    hf_logging.set_verbosity_error()  # the new head's "newly initialized" warning is expected
    model = BertForSequenceClassification.from_pretrained(a.model, num_labels=1)
    hf_logging.set_verbosity_warning()
    if model.config.model_type != "bert":
        fail(f"{a.model} is a {model.config.model_type} model; this script trains BERT")
    model.train()

    steps_per_epoch = math.ceil(len(groups) / a.batch_size)
    planned = a.steps if a.steps > 0 else max(1, round(a.epochs * steps_per_epoch))
    total = planned  # may be cut by --time-limit once the step time is known
    warmup = max(1, int(a.warmup * planned))
    no_decay = ("bias", "LayerNorm.weight")
    params = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": a.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(params, lr=a.lr)
    # reads `total` at each step, so a schedule cut to fit the time limit still decays to 0
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    print(f"train: {planned} steps planned ({a.batch_size} queries x {1 + a.negatives} pairs a step, "
          f"{steps_per_epoch} steps an epoch), max length {a.max_length}, lr {a.lr}, {a.threads} threads, "
          f"loaded in {time.monotonic() - started:.1f} s", flush=True)

    def clock():
        return time.monotonic() if a.clock == "wall" else time.process_time() / a.threads

    order = []
    loop_start = clock()
    wall_start, cpu_start = time.monotonic(), time.process_time()
    step, loss_sum, hits, seen, pairs = 0, 0.0, 0, 0, 0
    while step < total:
        if not order:
            order = list(range(len(groups)))
            rng.shuffle(order)
        batch = [groups[order.pop()] for _ in range(min(a.batch_size, len(order)))]
        first, second = [], []
        for text, positives, pool in batch:
            negatives = rng.sample(pool, min(a.negatives, len(pool)))
            # a short pool is topped up by repeats so every group has the same size
            negatives += rng.choices(pool, k=a.negatives - len(negatives))
            for doc in [rng.choice(positives)] + negatives:
                first.append(text)
                second.append(texts[doc])
        encoded = tokenizer(first, second, truncation="longest_first", max_length=a.max_length,
                            padding=True, return_tensors="pt")
        logits = model(**encoded).logits.view(len(batch), 1 + a.negatives)
        # the positive is column 0 of every group
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        loss_sum += loss.item() * len(batch)
        hits += int((logits.argmax(dim=1) == 0).sum())
        seen += len(batch)
        pairs += len(first)
        elapsed = clock() - loop_start
        if a.time_limit > 0 and step == min(20, total):
            # the step time is known now: cut the plan to what fits
            fits = int(a.time_limit / (elapsed / step))
            if fits < total:
                total = max(step, fits)
                warmup = max(1, min(warmup, int(a.warmup * total)))
                print(f"train: --time-limit {a.time_limit:.0f} s fits {total} of {planned} steps "
                      f"({elapsed / step:.2f} s a step so far)", flush=True)
        if step % a.log_every == 0 or step == total:
            eta = elapsed / step * (total - step)
            print(f"step {step}/{total}  loss {loss_sum / seen:.4f}  positive first {hits / seen:.3f}  "
                  f"lr {schedule.get_last_lr()[0]:.2e}  {pairs / elapsed:.1f} pairs/s  "
                  f"elapsed {elapsed:.0f} s  eta {eta:.0f} s", flush=True)
            loss_sum, hits, seen = 0.0, 0, 0
        if a.time_limit > 0 and elapsed > a.time_limit * 1.1:
            print(f"train: stopping at step {step}: over the time limit by 10% (the machine slowed down)", flush=True)
            break
    train_seconds = clock() - loop_start
    wall_seconds, cpu_seconds = time.monotonic() - wall_start, time.process_time() - cpu_start

    os.makedirs(a.out, exist_ok=True)
    model.eval()
    model.config.architectures = ["BertForSequenceClassification"]
    model.save_pretrained(a.out, safe_serialization=True)
    copied = copy_tokenizer(a.model, a.out, a.max_length)
    with open(os.path.join(a.out, "training.json"), "w", encoding="utf-8") as f:
        json.dump({
            "base_model": os.path.abspath(a.model), "corpus": os.path.abspath(a.corpus),
            "queries": os.path.abspath(a.queries), "qrels": os.path.abspath(a.qrels), "run": os.path.abspath(a.run),
            "usable_queries": len(groups), "steps": step, "planned_steps": planned, "batch_size": a.batch_size,
            "negatives": a.negatives, "depth": a.depth, "max_length": a.max_length, "lr": a.lr, "seed": a.seed,
            "threads": a.threads, "loss": "listwise softmax cross-entropy, 1 positive + negatives",
            "clock": a.clock, "train_seconds": round(train_seconds, 1), "train_wall_seconds": round(wall_seconds, 1),
            "train_cpu_seconds": round(cpu_seconds, 1),
            "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        }, f, indent=2)
    print(f"wrote {a.out}: config.json, model.safetensors, {', '.join(copied)}, training.json", flush=True)
    print(f"done: {step} steps, {step * a.batch_size} query groups ({step / steps_per_epoch:.2f} epochs), "
          f"training {wall_seconds:.0f} s wall, {cpu_seconds:.0f} s CPU ({cpu_seconds / a.threads:.0f} s on "
          f"{a.threads} idle cores), total {time.monotonic() - started:.0f} s wall", flush=True)


if __name__ == "__main__":
    main()
