#!/usr/bin/env bash
# Regenerates the Swift code for Proto/ into Sources/CascadeAPI/ (committed; builds and tests
# never run protoc). Needs protoc (Debian: protobuf-compiler, libprotobuf-dev for nothing but the
# well-known types) and the two Swift plugins, which this script builds once, in release mode, into
# a cache folder outside the repo (about 2-10 minutes on 2 cores):
#   protoc-gen-swift         from apple/swift-protobuf 1.39.0
#   protoc-gen-grpc-swift-2  from grpc/grpc-swift-protobuf 2.4.1
# Usage: scripts/generate-proto.sh            (CASCADE_PROTOC_PLUGINS=DIR to reuse built plugins)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GRPC_PROTOBUF_VERSION=2.4.1
SWIFT_PROTOBUF_VERSION=1.39.0
CACHE="${CASCADE_PROTOC_PLUGINS:-${XDG_CACHE_HOME:-$HOME/.cache}/cascade/protoc-plugins-$GRPC_PROTOBUF_VERSION}"
OUT="$ROOT/Sources/CascadeAPI"

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

plugin_dir="$CACHE/grpc-swift-protobuf/.build/release"
if [[ ! -x "$plugin_dir/protoc-gen-swift" || ! -x "$plugin_dir/protoc-gen-grpc-swift-2" ]]; then
    echo "building protoc plugins into $CACHE (once)" >&2
    mkdir -p "$CACHE"
    if [[ ! -d "$CACHE/grpc-swift-protobuf" ]]; then
        git clone --quiet --depth 1 --branch "$GRPC_PROTOBUF_VERSION" \
            https://github.com/grpc/grpc-swift-protobuf.git "$CACHE/grpc-swift-protobuf"
    fi
    (
        cd "$CACHE/grpc-swift-protobuf"
        swift package resolve
        # Pin swift-protobuf so the generated code matches the runtime the package depends on.
        swift package resolve swift-protobuf --version "$SWIFT_PROTOBUF_VERSION"
        swift build -c release --product protoc-gen-grpc-swift-2
        swift build -c release --product protoc-gen-swift
    )
fi

# Only the generated files: Sources/CascadeAPI also holds hand-written extensions (Timing+Stage.swift).
mkdir -p "$OUT"
rm -f "$OUT"/*.pb.swift "$OUT"/*.grpc.swift
cd "$ROOT/Proto"
protos=(cascade/v1/cascade.proto grpc/health/v1/health.proto)
protoc \
    --plugin=protoc-gen-swift="$plugin_dir/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$plugin_dir/protoc-gen-grpc-swift-2" \
    --swift_out="$OUT" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    --grpc-swift-2_out="$OUT" \
    --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores \
    "${protos[@]}"
echo "wrote $(ls "$OUT" | wc -l) files into ${OUT#"$ROOT"/}" >&2
