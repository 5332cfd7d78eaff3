#!/usr/bin/env bash
# The test command (README, CI): system packages, the test suite, then the self-gate.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cargo test --locked
scripts/self_gate.sh
