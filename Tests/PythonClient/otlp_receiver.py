"""A small OTLP/gRPC trace receiver for the end-to-end checks, and the check of what it received.

  otlp_receiver.py serve --spans FILE --port-file FILE
      Listens on 127.0.0.1 (an ephemeral port, written to --port-file once bound) as an
      OpenTelemetry collector's TraceService and appends every span it receives to --spans as
      one JSON object a line (ids in hex). Runs until killed.
  otlp_receiver.py check --spans FILE --traceparent TP [--wait SECONDS]
      Waits for the spans of the Search sent with traceparent TP and checks that they continue
      that trace: one server span cascade.v1.Cascade/Search whose parent is TP's span, and under
      it a span for each stage (tokenize, queue, encode, retrieve, fetch, rerank) with the
      stage's counts as attributes.
  otlp_receiver.py count --spans FILE --traceparent TP --searches N
      Waits for N Search spans in TP's trace, each a child of TP's span (cascade-bench sends one
      traceparent with every call).

Uses grpcio and the opentelemetry-proto package (the protocol's own generated code), not Cascade's.
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def Export(self, request, context):
        lines = []
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), None)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {}
                    for attribute in span.attributes:
                        value = attribute.value
                        attributes[attribute.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof(
                            "value") else None
                    lines.append(json.dumps({
                        "service": service,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "kind": span.kind,
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "status": span.status.code,
                        "attributes": attributes,
                    }))
        with self.lock, open(self.path, "a") as out:
            for line in lines:
                out.write(line + "\n")
        return trace_service_pb2.ExportTraceServiceResponse()


def serve(args):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(args.spans), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(args.port_file + ".tmp", "w") as out:
        out.write(f"{port}\n")
    os.replace(args.port_file + ".tmp", args.port_file)
    server.wait_for_termination()


STAGES = ["tokenize", "queue", "encode", "retrieve", "fetch", "rerank"]
SPAN_KIND_SERVER = 2


def check(args):
    _, trace_id, parent_id, _ = args.traceparent.split("-")
    deadline = time.monotonic() + args.wait
    while True:
        spans = read_spans(args.spans)
        ours = [s for s in spans if s["trace_id"] == trace_id]
        names = {s["name"] for s in ours}
        if "cascade.v1.Cascade/Search" in names and all(stage in names for stage in STAGES + ["rerank.batch"]):
            break
        if time.monotonic() > deadline:
            sys.exit(f"otlp: after {args.wait} s the receiver holds {len(spans)} spans, {len(ours)} of trace "
                     f"{trace_id}: {sorted(names)}; expected cascade.v1.Cascade/Search and {STAGES}")
        time.sleep(0.2)

    requests = [s for s in ours if s["name"] == "cascade.v1.Cascade/Search"]
    assert len(requests) == 1, f"one Search span expected, got {requests}"
    request = requests[0]
    assert request["service"] == "cascade", request
    assert request["parent_span_id"] == parent_id, f"the Search span's parent is not the caller's span: {request}"
    assert request["kind"] == SPAN_KIND_SERVER, request
    attributes = request["attributes"]
    assert attributes.get("cascade.retrieve_k") == args.retrieve_k, attributes
    assert attributes.get("cascade.rerank_k") == args.rerank_k, attributes
    assert attributes.get("cascade.hits", 0) > 0, attributes
    by_name = {}
    batches = [s for s in ours if s["name"] == "rerank.batch"]
    for span in ours:
        if span is request or span in batches:
            continue
        assert span["parent_span_id"] == request["span_id"], f"{span['name']} is not a child of the Search span: {span}"
        # 1 ms of slack: stage times are mapped from the monotonic clock onto the wall clock.
        assert request["start"] - 10**6 <= span["start"] <= span["end"] <= request["end"] + 10**6, (
            f"{span['name']} lies outside its parent: {span} vs {request}")
        by_name.setdefault(span["name"], []).append(span)
    assert by_name["retrieve"][0]["attributes"]["cascade.retrieve_k"] == args.retrieve_k, by_name["retrieve"]
    assert by_name["encode"][0]["attributes"]["cascade.tokens"] > 0, by_name["encode"]
    rerank = by_name["rerank"][0]["attributes"]
    assert rerank["cascade.rerank_k"] == args.rerank_k and rerank["cascade.scored"] == args.rerank_k, rerank
    assert by_name["fetch"][0]["attributes"]["cascade.passages"] >= args.rerank_k, by_name["fetch"]
    # Each model batch that held some of the pairs is a child of the rerank span.
    rerank_span = by_name["rerank"][0]
    assert all(b["parent_span_id"] == rerank_span["span_id"] for b in batches), batches
    assert sum(b["attributes"]["cascade.rows"] for b in batches) == args.rerank_k, batches
    # The stages ran one after another: encode after the queue wait, retrieve after encode.
    assert by_name["queue"][0]["end"] <= by_name["encode"][0]["start"] + 1000, by_name
    assert by_name["encode"][0]["end"] <= by_name["retrieve"][0]["start"] + 1000, by_name
    if args.only_this_trace:
        allowed = {trace_id} | {tp.split("-")[1] for tp in args.also_trace}
        others = {(s["trace_id"], s["name"]) for s in spans if s["trace_id"] not in allowed}
        assert not others, f"spans of traces the sampling ratio 0 should have dropped: {sorted(others)[:5]}"
    print(f"otlp: trace {trace_id}: Search span under the caller's {parent_id}, with "
          + ", ".join(f"{name} x{len(spans)}" for name, spans in sorted(by_name.items())))


def read_spans(path):
    try:
        with open(path) as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []


def count(args):
    _, trace_id, parent_id, _ = args.traceparent.split("-")
    deadline = time.monotonic() + args.wait
    while True:
        searches = [s for s in read_spans(args.spans)
                    if s["trace_id"] == trace_id and s["name"] == "cascade.v1.Cascade/Search"]
        if len(searches) >= args.searches or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(searches) == args.searches, f"{len(searches)} Search spans in trace {trace_id}, expected {args.searches}"
    assert all(s["parent_span_id"] == parent_id for s in searches), searches
    print(f"otlp: trace {trace_id}: {len(searches)} Search spans, each under the caller's {parent_id}")


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--spans", required=True)
    serve_parser.add_argument("--port-file", required=True)
    check_parser = commands.add_parser("check")
    check_parser.add_argument("--spans", required=True)
    check_parser.add_argument("--traceparent", required=True)
    check_parser.add_argument("--retrieve-k", type=int, required=True)
    check_parser.add_argument("--rerank-k", type=int, required=True)
    check_parser.add_argument("--wait", type=float, default=20)
    check_parser.add_argument("--only-this-trace", action="store_true",
                              help="no other trace may have arrived (the server samples new traces at 0)")
    check_parser.add_argument("--also-trace", action="append", default=[],
                              help="a traceparent whose trace may have arrived too")
    count_parser = commands.add_parser("count")
    count_parser.add_argument("--spans", required=True)
    count_parser.add_argument("--traceparent", required=True)
    count_parser.add_argument("--searches", type=int, required=True)
    count_parser.add_argument("--wait", type=float, default=20)
    args = parser.parse_args()
    {"serve": serve, "check": check, "count": count}[args.command](args)


if __name__ == "__main__":
    main()
