#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints, the Rust unit and integration tests
# (real server processes, real peers, Chromium for the UI) and the web UI's unit tests.
# Installs what the tests need first (see scripts/install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked
echo "== web unit tests"
(cd web && NO_COLOR=1 npm test --silent)
