#!/usr/bin/env bash
# Builds the release bundle (make release) unless --binary is given, then runs bench.py.
# Usage: experiments/bench/run.sh [--duration S] [--repeat N] [--connections N] [--class] [--binary PATH] [--out FILE]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if ! printf '%s\n' "$@" | grep -q -- '--binary'; then
    make release >/dev/null || { echo "bench: make release failed" >&2; exit 1; }
fi
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || { echo "bench: cannot install wrk" >&2; exit 1; }; }
python3 -c "import requests" 2>/dev/null || python3 -m pip install -q requests
exec python3 experiments/bench/bench.py "$@"
