#!/usr/bin/env bash
# The long fuzz budget of issue 14: 3.2 million mutated inputs (at least 1,000,000 asked) across every reader (CSV/TSV/
# whitespace and Parquet tables, GalaxiesML HDF5, checkpoint weights, model.json and inputs.json,
# leaderboard JSON, gate policy TOML and baseline JSON, synth --nz tables), in a release build of
# the fuzz crate only (crates/fuzz; never a release build of the whole workspace). Every input must
# end in a checked result or a one-line pzbench error: no panic, crash, hang (TIMEOUT_S per input)
# or allocation blow-up (a child's live Rust heap capped at 1 GiB, its address space at 5 GiB).
# The short budget runs in the tests (crates/fuzz/tests/fuzz/short_budget.rs).
#
# Usage: benches/fuzz.sh [SEED]   (default 20261203)
#   JOBS=2       child processes at a time
#   SCALE=1.0    multiplies every target's number of inputs
#   TIMEOUT_S=5  longest time one input may take
# Prints the counts per target and the findings; each finding's input and a list are written to
# target/fuzz-findings/seed-SEED/ (replay one with `target/release/pzbench-fuzz replay --target
# T --seed S --index I`). Takes about 15 min on the 2-core build machine.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-20261203}
jobs=${JOBS:-2}
scale=${SCALE:-1.0}
timeout_s=${TIMEOUT_S:-5}

# Inputs per target: most on the fast in-process readers, fewer where one input costs
# milliseconds (HDF5 through the C library, a 0.5 MB checkpoint hashed and loaded per input).
budgets=(
  text=1200000
  parquet=400000
  hdf5=300000
  safetensors=50000
  model-json=100000
  inputs-json=50000
  leaderboard=200000
  policy=300000
  baseline=250000
  nz=350000
)
plan=$(for b in "${budgets[@]}"; do
  awk -v b="$b" -v s="$scale" 'BEGIN { split(b, p, "="); printf "%s=%d,", p[1], p[2] * s + 0.5 }'
done)

cargo build --release -p pzbench-fuzz
findings=target/fuzz-findings/seed-$seed
rm -rf "$findings"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB;" \
  "$(rustc --version); $(date -u +%Y-%m-%dT%H:%M:%SZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
/usr/bin/time -f "wall %e s, supervisor max RSS %M kB" target/release/pzbench-fuzz \
  --target "${plan%,}" --seed "$seed" --jobs "$jobs" --timeout-s "$timeout_s" --findings "$findings" || status=$?
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
