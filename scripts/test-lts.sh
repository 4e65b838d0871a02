#!/usr/bin/env bash
# The supported Node.js lines besides the machine's own (Node 20, which runs `npm test`): the
# whole suite on the newest LTS, and on the other LTS lines the command-line tests (every command
# starts, answers --help and --version, refuses a bad flag), the pure unit tests and TLS (whose
# rules changed between the lines: DEP0123 warned, then an IP server name refused). The binaries
# come from the npm registry (scripts/node-lts.sh). Versions: NODE_NEWEST_LTS, NODE_OTHER_LTS.
set -euo pipefail
cd "$(dirname "$0")/.."
NEWEST="${NODE_NEWEST_LTS:-26.12.1}"
OTHERS="${NODE_OTHER_LTS:-22.23.5 24.22.3}"
SMOKE=(test/cli/commands.test.ts test/config/config.test.ts test/config/values.test.ts test/export/carrying_exporter.test.ts
  test/export/delta.test.ts test/export/process_metrics.test.ts test/aggregator/decoding.test.ts test/aggregator/canonical_reply.test.ts
  test/runtime/names.test.ts test/runtime/json_edges.test.ts test/package/install.test.ts test/runtime/tls.test.ts)
for v in $OTHERS; do
  bin=$(bash scripts/node-lts.sh "$v")
  echo "test-lts: Node $v: command-line and unit tests" >&2
  PATH="$bin:$PATH" bash scripts/test.sh "${SMOKE[@]}"
done
bin=$(bash scripts/node-lts.sh "$NEWEST")
echo "test-lts: Node $NEWEST: the whole suite" >&2
PATH="$bin:$PATH" bash scripts/test.sh
