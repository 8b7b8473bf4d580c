#!/usr/bin/env bash
# Runs the independent Python client (check_server.py) against a running Cascade server:
#   Tests/PythonClient/run.sh --target 127.0.0.1:50051 [--api-key KEY]
# Makes a light venv once, at .cache/venv-grpc in the package root (grpcio, grpcio-tools, protobuf;
# no torch), so it never depends on the reference environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.cache/venv-grpc"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import grpc, grpc_tools, google.protobuf' 2>/dev/null; then
    echo "run.sh: making $venv (grpcio, grpcio-tools, protobuf)" >&2
    python3 -m venv "$venv" || { echo "run.sh: python3 -m venv failed: install python3-venv" >&2; exit 1; }
    "$venv/bin/python" -m pip install --quiet grpcio==1.85.3 grpcio-tools==1.85.1 protobuf \
        || { echo "run.sh: pip install into $venv failed (network? index?)" >&2; exit 1; }
fi
exec "$venv/bin/python" "$root/Tests/PythonClient/check_server.py" --proto "$root/Proto" "$@"
