#!/usr/bin/env bash
# The test command: set-up, the formatter as a linter, then every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/setup.sh

echo "== lint (swift format --strict)"
# Generated protobuf/gRPC code is left as protoc writes it.
find Package.swift Sources Tests Benchmarks -name "*.swift" -not -path "*/Generated/*" -print0 \
  | xargs -0 swift format lint --strict

echo "== swift test"
swift build --build-tests
swift test --skip-build

echo "== end to end (a real server on loopback, the Python client, cascade-bench)"
./scripts/e2e.sh
