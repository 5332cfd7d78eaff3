#!/usr/bin/env bash
# pzbench is its own first user: train the reference models on the committed fixture set, predict
# its test split, and gate the predictions against the baselines in baselines/ (exit 1 on a
# regression). `scripts/self_gate.sh --bless` re-creates the baselines after an intended change.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=fixtures/synth
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build -q
pzbench=${PZBENCH:-${CARGO_TARGET_DIR:-target}/debug/pzbench}
for model in nn cnn; do
  epochs=20; [ "$model" = cnn ] && epochs=2
  "$pzbench" train --model "$model" --train "$fixtures/5x64x64_training_with_morphology.hdf5" \
    --val "$fixtures/5x64x64_validation_with_morphology.hdf5" --output "$work/$model" \
    --epochs "$epochs" --seed 0 --quiet
  "$pzbench" predict --model "$work/$model" --data "$fixtures/5x64x64_testing_with_morphology.hdf5" \
    --output "$work/$model.csv" --quiet
  baseline="baselines/fixture_$model.baseline.json"
  if [ "${1:-}" = --bless ]; then
    "$pzbench" baseline save --predictions "$work/$model.csv" --output "$baseline"
  else
    echo "gate: $model fixture predictions against $baseline"
    "$pzbench" gate --baseline "$baseline" --candidate "$work/$model.csv"
  fi
done
