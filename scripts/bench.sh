#!/usr/bin/env bash
# Runs the benchmarks given as arguments (default: every bench/*.bench.ts), one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(bench/*.bench.ts)
for f in "${files[@]}"; do
  echo "## $f" >&2
  node --expose-gc --conditions=development --import tsx "$f"
done
