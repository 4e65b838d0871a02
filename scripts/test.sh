#!/usr/bin/env bash
# Runs every test file with node:test through tsx. Node 20's --test does not expand quoted globs
# nor find .ts files in a folder, so the shell lists the files; zero files is an error. Each test
# is bounded at 10 minutes: the scale tests take about one on a quiet 2-core machine and several
# when another CPU-heavy process runs alongside.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/**/*.test.ts)
if [ ${#files[@]} -eq 0 ]; then
  echo "test: no test files found" >&2
  exit 1
fi
exec node --expose-gc --conditions=development --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-600000}" "${files[@]}"
