#!/usr/bin/env bash
# Runs the benchmarks given as arguments (default: every bench/*.bench.ts), one after the other.
# Each bench's report (stdout: its tables, goals and verdict) is also written to
# bench/results/<name>[-<BENCH_WORKERS>].md, then BENCHMARKS.md's result blocks are regenerated
# from those files (scripts/benchmarks.ts): the figures there are the benches' own output.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(bench/*.bench.ts)
mkdir -p bench/results
status=0
for f in "${files[@]}"; do
  echo "## $f" >&2
  name="$(basename "$f" .bench.ts)${BENCH_WORKERS:+-$BENCH_WORKERS}"
  out="bench/results/$name.md"
  {
    echo "<!-- $f, $(date -u +%Y-%m-%d), $(node --version)${BENCH_WORKERS:+, BENCH_WORKERS=$BENCH_WORKERS} -->"
    node --expose-gc --conditions=development --import tsx "$f" || status=$?
  } | tee "$out.tmp"
  mv "$out.tmp" "$out"
done
node --import tsx scripts/benchmarks.ts
exit $status
