#!/usr/bin/env bash
# Runs the independent Python client (check_server.py) against a running Cascade server:
#   Tests/PythonClient/run.sh --target 127.0.0.1:50051 [--api-key KEY]
# In the light venv venv.sh makes (no torch), so it never depends on the reference environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=$("$root/Tests/PythonClient/venv.sh")
exec "$python" "$root/Tests/PythonClient/check_server.py" --proto "$root/Proto" "$@"
