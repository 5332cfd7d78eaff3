#!/bin/bash
# The README's NN accuracy run on DC2 photometry: 80/20 seeded split of the committed DC2
# catalogue (validation = 15 % of the training part), train the NN, predict the held-out 20 %,
# score with `pzbench score`.
# usage: scripts/dc2_accuracy.sh [PZBENCH] [WORKDIR] [extra `pzbench train` flags...]
set -euo pipefail
B=${1:-target/release/pzbench}; W=${2:-target/dc2}; shift $(( $# < 2 ? $# : 2 ))
python3 scripts/split_catalogue.py fixtures/data/dc2/dc2_training_9816.csv "$W" --seed 1 --test 0.2 --val 0.15
rm -rf "$W/nn"
"$B" train --model nn --train "$W/train.csv" --val "$W/val.csv" --output "$W/nn" \
  --bands mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst "$@" 2>&1 | tail -1
"$B" predict --model "$W/nn" --data "$W/test.csv" --output "$W/test_preds.csv" -q
"$B" score "$W/test_preds.csv" -q | head -5
