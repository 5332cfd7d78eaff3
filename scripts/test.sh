#!/usr/bin/env bash
# The test command (README, CI): system and Python packages, formatting, lints, the test suite of
# every crate, then the self-gate. Ends with one summary line, `tests: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# h5py checks that Python users' tool reads the HDF5 files pzbench writes (tests/cli).
python3 -c "import h5py" 2> /dev/null || python3 -m pip install --quiet --disable-pip-version-check h5py
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
# The Python package (docs/python.md): pytest against the binary that cargo test built.
scripts/test_python.sh
scripts/self_gate.sh
passed=$(grep -oE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
