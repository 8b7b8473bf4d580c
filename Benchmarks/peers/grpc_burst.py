#!/usr/bin/env python3
"""Bursts of simultaneous unary calls from grpcio's C core, to find a server's floor for a burst.

    .cache/venv-grpc/bin/python Benchmarks/peers/grpc_burst.py HOST:PORT SERVER_PID \
        health|info|search [--bursts 40] [--size 64] [--deadline-ms 50]

Each burst sends --size calls at once on one channel and waits for them all; it prints the
slowest call of each burst (median, min, max over the bursts), the status codes, and the server's
CPU time per call (from /proc/SERVER_PID/stat, so the server must run on this machine). `health`
is grpc-swift-2's own Health handler, `info` Cascade's cheapest RPC, `search` a 100:20 Search that
a --deadline-ms of 50 gets refused at admission. Requests are hand-encoded bytes, so no stubs are
needed: the venv of Tests/PythonClient/venv.sh has grpcio.
"""
import argparse
import asyncio
import os
import statistics
import time

import grpc


def varint(n):
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def search_request(query, retrieve_k, rerank_k, top_n):
    text = query.encode()
    return (b"\x0a" + varint(len(text)) + text + b"\x10" + varint(retrieve_k)
            + b"\x18" + varint(rerank_k) + b"\x20" + varint(top_n))


METHODS = {
    "health": ("/grpc.health.v1.Health/Check", b""),
    "info": ("/cascade.v1.Cascade/Info", b""),
    "search": ("/cascade.v1.Cascade/Search", search_request("spelling corrector for interactive use", 100, 20, 10)),
}


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args):
    path, payload = METHODS[args.method]
    async with grpc.aio.insecure_channel(args.target) as channel:
        call = channel.unary_unary(path, request_serializer=None, response_deserializer=None)

        async def one():
            start = time.perf_counter()
            try:
                await call(payload, timeout=args.deadline_ms / 1000)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            return time.perf_counter() - start, code

        for _ in range(5):  # the connection and the server's first-call work, before the clock
            await one()
        await asyncio.sleep(0.3)
        slowest, codes = [], {}
        cpu_before = cpu_seconds(args.server_pid)
        for _ in range(args.bursts):
            results = await asyncio.gather(*[one() for _ in range(args.size)])
            slowest.append(max(seconds for seconds, _ in results) * 1000)
            for _, code in results:
                codes[code] = codes.get(code, 0) + 1
            await asyncio.sleep(0.25)
        cpu_after = cpu_seconds(args.server_pid)
    calls = args.bursts * args.size
    print(f"{args.method}: {args.bursts} bursts of {args.size}, slowest call of a burst: median "
          f"{statistics.median(slowest):.1f} ms (min {min(slowest):.1f}, max {max(slowest):.1f}); "
          f"server CPU {1e6 * (cpu_after - cpu_before) / calls:.0f} us a call; {codes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("server_pid", type=int)
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--bursts", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--deadline-ms", type=float, default=50)
    asyncio.run(main(parser.parse_args()))
