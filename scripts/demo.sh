#!/usr/bin/env bash
# The main job on the embedded default: set-up, build, index the bundled sample corpus with
# all-MiniLM-L6-v2, then search it. Idempotent: a second run reuses the index (resume skips
# every passage already stored).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/setup.sh
model=.cache/models/all-MiniLM-L6-v2
store=.cache/index/debian-desc-sample

echo "== build (release)"
swift build -c release --product cascade
bin=$(swift build -c release --show-bin-path)/cascade

echo "== index samples/debian-desc/corpus.jsonl -> $store"
"$bin" index --model "$model" --store "$store" samples/debian-desc/corpus.jsonl
"$bin" stats --store "$store"

for q in "spelling corrector for interactive use" "fast json parser library" "play chess against the computer"; do
  echo "== search: $q"
  "$bin" search --model "$model" --store "$store" -k 5 "$q"
done
