#!/usr/bin/env bash
# Installs what the tests talk to, when missing: Debian's Chromium (UI tests through
# playwright-core), Prometheus and node_exporter (real peers for ingestion tests), and the
# real Loki clients winston-loki (npm, tests/clients) and python-logging-loki (PyPI).
# Needs root for apt-get; otherwise says what to install.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests need these Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d "$repo/tests/clients/node_modules/winston-loki" ]; then
  echo "== installing winston-loki (tests/clients)"
  (cd "$repo/tests/clients" && npm ci --silent --no-audit --no-fund)
fi
if ! python3 -c 'import logging_loki' 2>/dev/null; then
  echo "== installing python-logging-loki"
  python3 -m pip install --quiet --disable-pip-version-check python-logging-loki==0.3.1
fi
