#!/usr/bin/env python3
"""Peers for Benchmarks/EncoderBench: onnxruntime fp32 and int8 and PyTorch on the same model, inputs and threads.

Needs: torch==2.15.0 transformers==5.24.0 onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6
(the venv made by scripts/reference-env.sh). Usually run through Benchmarks/encoder.sh; by hand:

    /tmp/cascade-ref/bin/python Benchmarks/peers/encoder_peers.py --model .cache/models/all-MiniLM-L6-v2 --threads 2

Inputs come from the same formula as encoder-bench (synthetic ids, full-length rows, no padding).
Times cover the model run only (the ONNX graph and the PyTorch forward output last_hidden_state;
pooling is negligible). Prints a human line per engine and one JSON line per engine.
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np


def synthetic(rows, length):
    ids = np.zeros((rows, length), dtype=np.int64)
    for r in range(rows):
        ids[r, 0] = 101
        ids[r, 1:length - 1] = [1000 + (r * 7919 + i * 104729) % 28000 for i in range(1, length - 1)]
        ids[r, length - 1] = 102
    return ids, np.ones_like(ids)


def measure(run, batch, query, runs, query_runs):
    for _ in range(2):
        run(*batch)
    batch_times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(*batch)
        batch_times.append(time.perf_counter() - t)
    for _ in range(20):
        run(*query)
    query_times = []
    for _ in range(query_runs):
        t = time.perf_counter()
        run(*query)
        query_times.append(time.perf_counter() - t)
    return statistics.median(batch_times), statistics.median(query_times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--query-length", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--query-runs", type=int, default=1000)
    parser.add_argument("--engines", default="onnxruntime,onnxruntime-int8,pytorch")
    args = parser.parse_args()

    import torch
    from transformers import AutoModel

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = AutoModel.from_pretrained(args.model).eval()
    batch = synthetic(args.batch, args.length)
    query = synthetic(1, args.query_length)
    tokens = args.batch * args.length
    results = []

    if "onnxruntime" in args.engines.split(","):
        import onnxruntime as ort

        class Wrapper(torch.nn.Module):
            """transformers 5's BertModel exports through a forward taking (ids, mask) only."""

            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        path = os.path.join(tempfile.mkdtemp(), "encoder.onnx")
        with torch.no_grad():
            torch.onnx.export(
                Wrapper(model), (torch.tensor(query[0]), torch.tensor(query[1])), path,
                input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                              "last_hidden_state": {0: "batch", 1: "sequence"}},
                opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        model.eval()  # the exporter leaves the module in training mode
        check = session.run(None, {"input_ids": query[0], "attention_mask": query[1]})[0]
        with torch.no_grad():
            expected = model(input_ids=torch.tensor(query[0]), attention_mask=torch.tensor(query[1])).last_hidden_state
        diff = np.abs(check - expected.numpy()).max()
        assert diff < 1e-3, f"onnx export disagrees with PyTorch: max abs diff {diff}, shapes {check.shape} {tuple(expected.shape)}"
        run = lambda ids, mask: session.run(None, {"input_ids": ids, "attention_mask": mask})
        results.append(("onnxruntime-fp32", *measure(run, batch, query, args.runs, args.query_runs)))

        if "onnxruntime-int8" in args.engines.split(","):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = path.replace(".onnx", "-int8.onnx")
            quantize_dynamic(path, quantized, weight_type=QuantType.QInt8)
            session8 = ort.InferenceSession(quantized, options, providers=["CPUExecutionProvider"])
            got = session8.run(None, {"input_ids": query[0], "attention_mask": query[1]})[0][0, 0]
            want = expected.numpy()[0, 0]
            similarity = float(np.dot(got, want) / (np.linalg.norm(got) * np.linalg.norm(want)))
            assert similarity > 0.95, f"onnxruntime int8 [CLS] state has cosine {similarity} to PyTorch fp32"
            run8 = lambda ids, mask: session8.run(None, {"input_ids": ids, "attention_mask": mask})
            results.append(("onnxruntime-int8", *measure(run8, batch, query, args.runs, args.query_runs)))

    if "pytorch" in args.engines.split(","):
        def run(ids, mask):
            with torch.inference_mode():
                model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))

        results.append(("pytorch", *measure(run, batch, query, args.runs, args.query_runs)))

    for engine, batch_s, query_s in results:
        print(f"{engine} {args.batch}x{args.length}, {args.threads} threads: {tokens / batch_s:.0f} tokens/s, "
              f"{args.query_length}-token query {query_s * 1000:.3f} ms")
    for engine, batch_s, query_s in results:
        print(json.dumps({"engine": engine, "threads": args.threads, "tokens_per_s": tokens / batch_s,
                          "query_ms": query_s * 1000}, sort_keys=True))


if __name__ == "__main__":
    main()
