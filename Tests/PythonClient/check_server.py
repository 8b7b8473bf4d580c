#!/usr/bin/env python3
"""Independent client for a running Cascade server: checks the gRPC API from outside Swift.

Needs grpcio==1.85.3, grpcio-tools==1.85.1 and protobuf (no torch). Run it through run.sh, which
makes that venv once:
    Tests/PythonClient/run.sh --target 127.0.0.1:50051 [--api-key KEY]

The Python stubs are generated from Proto/ at run time into a temporary folder, so this client
speaks the proto as written, not the Swift code generated from it. Each check prints one line;
the first mismatch ends the run with exit status 1 and says what differed. Exit 2: no server.
"""
import argparse
import importlib
import math
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

QUERY = "interactive spelling checker for text files"
PASSAGES = [
    ("ispell", "Ispell is a fast screen-oriented spelling checker that shows you your errors in the context of the original file."),
    ("xtensor", "Multi-dimensional arrays with broadcasting and lazy computing, for C++ numerical analysis."),
    ("openssh", "Secure shell client: a program for logging into and executing commands on a remote machine."),
]


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def generate_stubs(proto_root, out_dir):
    """Runs protoc from grpcio-tools on cascade.proto; returns the imported pb2 and pb2_grpc modules."""
    proto = os.path.join("cascade", "v1", "cascade.proto")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    status = protoc.main([
        "grpc_tools.protoc", f"-I{proto_root}", f"-I{well_known}",
        f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto,
    ])
    if status != 0:
        sys.exit(f"check_server: protoc failed on {os.path.join(proto_root, proto)} (status {status})")
    sys.path.insert(0, out_dir)
    return importlib.import_module("cascade.v1.cascade_pb2"), importlib.import_module("cascade.v1.cascade_pb2_grpc")


def expect_status(call, code, field, what):
    """Runs `call`, which must fail with `code`, with a message naming `field` when given."""
    try:
        call()
    except grpc.RpcError as error:
        check(error.code() == code, f"{what}: expected {code.name}, got {error.code().name}: {error.details()}")
        if field:
            check(field in (error.details() or ""), f"{what}: the {code.name} message does not name '{field}': {error.details()!r}")
        return error.details()
    raise Mismatch(f"{what}: expected {code.name}, but the call succeeded")


def check_health(channel, metadata, timeout):
    # grpc.health.v1 clashes with the grpc package's own name, so call it by hand: an empty
    # HealthCheckRequest (service "") and a response whose field 1 is the status enum.
    check_call = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda _: b"", response_deserializer=lambda b: b)
    reply = check_call(None, metadata=metadata, timeout=timeout)
    check(reply == b"\x08\x01", f"Health/Check: expected SERVING (bytes 08 01), got {reply.hex() or 'empty'}")
    return "SERVING"


def check_ranked_hits(response, top_n, what):
    hits = list(response.hits)
    check(len(hits) == top_n, f"{what}: expected {top_n} hits, got {len(hits)}")
    check([h.rank for h in hits] == list(range(1, len(hits) + 1)), f"{what}: ranks are not 1..{len(hits)}: {[h.rank for h in hits]}")
    check(len({h.id for h in hits}) == len(hits), f"{what}: duplicate ids {[h.id for h in hits]}")
    reranked = [h for h in hits if h.HasField("rerank_score")]
    rest = [h for h in hits if not h.HasField("rerank_score")]
    check(hits[: len(reranked)] == reranked, f"{what}: reranked hits do not all come first")
    for h in reranked:
        check(h.score == h.rerank_score, f"{what}: hit {h.id} score {h.score} is not its rerank score {h.rerank_score}")
    for h in rest:
        check(h.score == h.retrieval_score, f"{what}: hit {h.id} score {h.score} is not its retrieval score {h.retrieval_score}")
    for group, name in ((reranked, "rerank"), (rest, "retrieval")):
        scores = [h.score for h in group]
        check(all(a >= b for a, b in zip(scores, scores[1:])), f"{what}: {name} scores not in descending order: {scores}")
    for h in hits:
        check(h.retrieval_rank >= 1, f"{what}: hit {h.id} has no retrieval_rank")
        check(math.isfinite(h.score), f"{what}: hit {h.id} score {h.score} is not finite")
    return hits


def run_checks(pb, stub, channel, metadata, timeout):
    call = dict(metadata=metadata, timeout=timeout)
    print(f"ok   Health/Check: {check_health(channel, metadata, timeout)}")

    info = stub.Info(pb.InfoRequest(), **call)
    dim = info.retriever.dimension
    check(dim > 0, f"Info: retriever dimension is {dim}")
    check(info.corpus.size > 0, "Info: the corpus is empty; index a corpus before running this check")
    has_reranker = info.HasField("reranker")
    print(f"ok   Info: retriever {info.retriever.name} ({info.retriever.architecture}, {dim}-d, {info.retriever.pooling}), "
          f"reranker {info.reranker.name if has_reranker else 'none'}, {info.corpus.size} passages, version {info.version}")

    # Search: explicit cutoffs. Rerank only when the server has a reranker.
    top_n = min(5, info.corpus.size)
    retrieve_k = min(20, info.corpus.size)
    rerank_k = min(top_n, 3) if has_reranker else 0
    request = pb.SearchRequest(query=QUERY, retrieve_k=retrieve_k, rerank_k=rerank_k, top_n=top_n, include_text=True)
    response = stub.Search(request, **call)
    hits = check_ranked_hits(response, top_n, "Search")
    check((response.retrieve_k, response.rerank_k, response.top_n) == (retrieve_k, rerank_k, top_n),
          f"Search: cutoffs used {(response.retrieve_k, response.rerank_k, response.top_n)}, asked {(retrieve_k, rerank_k, top_n)}")
    check(sum(h.HasField("rerank_score") for h in hits) == min(rerank_k, top_n),
          f"Search: {sum(h.HasField('rerank_score') for h in hits)} hits reranked, expected {min(rerank_k, top_n)}")
    t = response.timing
    check(response.HasField("timing"), "Search: no timing in the response")
    for stage in ("tokenize_us", "encode_us", "retrieve_us", "total_us"):
        check(getattr(t, stage) > 0, f"Search: timing.{stage} is 0")
    check(t.total_us >= t.encode_us + t.retrieve_us, f"Search: timing.total_us {t.total_us} < encode + retrieve")
    check((t.rerank_us > 0) == (rerank_k > 0), f"Search: timing.rerank_us {t.rerank_us} with rerank_k {rerank_k}")
    check(all(h.text for h in hits), "Search: include_text set but a hit has no text")
    print(f"ok   Search: {len(hits)} hits ranked, top '{hits[0].id}' score {hits[0].score:.4f}; "
          f"timing encode {t.encode_us} us, retrieve {t.retrieve_us} us, rerank {t.rerank_us} us, total {t.total_us} us")

    # Search with every cutoff left to the server: it must report the defaults it used.
    d = info.defaults
    response = stub.Search(pb.SearchRequest(query=QUERY), **call)
    expected = min(d.top_n, d.retrieve_k, info.corpus.size)
    check_ranked_hits(response, expected, "Search with defaults")
    check(response.retrieve_k == d.retrieve_k, f"Search with defaults: retrieve_k {response.retrieve_k}, Info says {d.retrieve_k}")
    print(f"ok   Search with defaults: {len(response.hits)} hits, cutoffs {response.retrieve_k}:{response.rerank_k} top {response.top_n}")

    # Embed: dimension as Info says, unit vectors when the retriever normalises (MiniLM does).
    texts = [QUERY, hits[0].text]
    embed = stub.Embed(pb.EmbedRequest(texts=texts), **call)
    check(len(embed.embeddings) == len(texts), f"Embed: {len(embed.embeddings)} embeddings for {len(texts)} texts")
    check(embed.dimension == dim, f"Embed: dimension {embed.dimension}, Info says {dim}")
    vectors = [list(e.values) for e in embed.embeddings]
    for i, v in enumerate(vectors):
        check(len(v) == dim, f"Embed: embedding {i} has {len(v)} values, expected {dim}")
        check(all(math.isfinite(x) for x in v), f"Embed: embedding {i} has a non-finite value")
    norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
    if "minilm" in info.retriever.name.lower():
        check(info.retriever.normalize, f"Info: {info.retriever.name} should report normalize (mean pooling + L2 norm)")
    if info.retriever.normalize:
        check(all(abs(n - 1) < 1e-4 for n in norms), f"Embed: vectors not L2-normalised, norms {norms}")
    # The stored vector of the top hit is what Embed gives for its text, so their inner product
    # with the query's embedding is the hit's retrieval score.
    dot = sum(a * b for a, b in zip(vectors[0], vectors[1]))
    check(abs(dot - hits[0].retrieval_score) < 1e-3,
          f"Embed: query . top passage = {dot:.6f}, but Search's retrieval_score is {hits[0].retrieval_score:.6f}")
    print(f"ok   Embed: {len(vectors)} x {dim}, norms {', '.join(f'{n:.6f}' for n in norms)}; "
          f"query . top passage {dot:.6f} = retrieval_score {hits[0].retrieval_score:.6f}")

    # Rerank: scores best first when there is a reranker, FAILED_PRECONDITION when there is not.
    rerank_request = pb.RerankRequest(query=QUERY, passages=[pb.Passage(id=i, text=t) for i, t in PASSAGES])
    if has_reranker:
        reply = stub.Rerank(rerank_request, **call)
        check(len(reply.hits) == len(PASSAGES), f"Rerank: {len(reply.hits)} hits for {len(PASSAGES)} passages")
        check(sorted(h.index for h in reply.hits) == list(range(len(PASSAGES))), "Rerank: indices are not a permutation of the request")
        check([h.rank for h in reply.hits] == list(range(1, len(PASSAGES) + 1)), "Rerank: ranks are not 1..n")
        scores = [h.score for h in reply.hits]
        check(all(a >= b for a, b in zip(scores, scores[1:])), f"Rerank: scores not best first: {scores}")
        check(all(h.id == PASSAGES[h.index][0] for h in reply.hits), "Rerank: an id does not match its index")
        print(f"ok   Rerank: order {[h.id for h in reply.hits]}, scores {[round(s, 4) for s in scores]}")
    else:
        details = expect_status(lambda: stub.Rerank(rerank_request, **call), grpc.StatusCode.FAILED_PRECONDITION, None, "Rerank without a reranker")
        print(f"ok   Rerank: no reranker, FAILED_PRECONDITION: {details}")

    # Invalid requests: refused with INVALID_ARGUMENT naming the field.
    details = expect_status(lambda: stub.Search(pb.SearchRequest(query=""), **call), grpc.StatusCode.INVALID_ARGUMENT, "query", "Search with an empty query")
    print(f"ok   Search with an empty query: INVALID_ARGUMENT: {details}")
    details = expect_status(lambda: stub.Search(pb.SearchRequest(query=QUERY, retrieve_k=2, rerank_k=3), **call),
                            grpc.StatusCode.INVALID_ARGUMENT, "rerank_k", "Search with rerank_k > retrieve_k")
    print(f"ok   Search with rerank_k > retrieve_k: INVALID_ARGUMENT: {details}")
    too_big = info.limits.max_retrieve_k + 1 if info.limits.max_retrieve_k else 2**31
    details = expect_status(lambda: stub.Search(pb.SearchRequest(query=QUERY, retrieve_k=too_big, rerank_k=0), **call),
                            grpc.StatusCode.INVALID_ARGUMENT, "retrieve_k", "Search with retrieve_k above the limit")
    print(f"ok   Search with retrieve_k {too_big}: INVALID_ARGUMENT: {details}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", required=True, help="host:port of a running Cascade server")
    parser.add_argument("--api-key", help="sent as 'authorization: Bearer <key>'")
    parser.add_argument("--proto", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Proto"),
                        help="the repository's Proto/ folder")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    args = parser.parse_args()

    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
    with tempfile.TemporaryDirectory(prefix="cascade-stubs-") as out:
        pb, pb_grpc = generate_stubs(os.path.abspath(args.proto), out)
        channel = grpc.insecure_channel(args.target)
        try:
            grpc.channel_ready_future(channel).result(timeout=args.timeout)
        except grpc.FutureTimeoutError:
            print(f"check_server: no server answers at {args.target} within {args.timeout:g} s", file=sys.stderr)
            return 2
        stub = pb_grpc.CascadeStub(channel)
        try:
            run_checks(pb, stub, channel, metadata, args.timeout)
        except Mismatch as mismatch:
            print(f"FAIL {mismatch}", file=sys.stderr)
            return 1
        except grpc.RpcError as error:
            print(f"FAIL unexpected {error.code().name} from {args.target}: {error.details()}", file=sys.stderr)
            return 1
        finally:
            channel.close()
    print("check_server: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
