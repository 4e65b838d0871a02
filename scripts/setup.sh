#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, only when missing:
# the npm packages (npm ci) and the Debian packages of the servers the tests and the demo start.
# Called by `npm test`, `npm run demo`, `npm run bench` and `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

# binary -> Debian package
declare -A PACKAGES=(
  [nats-server]=nats-server
  [etcd]=etcd-server
  [etcdctl]=etcd-client
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-pushgateway]=prometheus-pushgateway
  [docker-compose]=docker-compose   # validates docker-compose.yml in the tests (no engine needed)
  [chromium]=chromium               # the status page's browser tests (driven by playwright-core)
)
PATH="$PATH:/usr/sbin:/sbin"
missing=()
for bin in "${!PACKAGES[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${PACKAGES[$bin]}")
done
# Debian's Python parser of the Prometheus and OpenMetrics formats (an independent check of ours)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=(python3-prometheus-client)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# npm packages: install when node_modules is absent or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
