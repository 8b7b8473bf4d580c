#!/usr/bin/env bash
# Makes the light venv the end-to-end checks use, once, at .cache/venv-grpc in the package root
# (grpcio, grpcio-tools, protobuf, opentelemetry-proto; no torch), so they never depend on the
# reference environment. Prints its python.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.cache/venv-grpc"
packages=(grpcio==1.85.3 grpcio-tools==1.85.1 protobuf opentelemetry-proto==1.45.2)

if [[ ! -x "$venv/bin/python" ]] \
    || ! "$venv/bin/python" -c 'import grpc, grpc_tools, google.protobuf, opentelemetry.proto' 2>/dev/null; then
    echo "venv.sh: making $venv (${packages[*]})" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" \
        || { echo "venv.sh: python3 -m venv failed: install python3-venv" >&2; exit 1; }
    "$venv/bin/python" -m pip install --quiet "${packages[@]}" >&2 \
        || { echo "venv.sh: pip install into $venv failed (network? index?)" >&2; exit 1; }
fi
echo "$venv/bin/python"
