#!/bin/bash
# The NN on DC2 photometry, on RAIL's split (issue 18): train on the 7,159 rows of
# fixtures/data/dc2/dc2_training_9816.csv with index mod 10 < 7 (validation: --val-fraction 0.2 of
# them, drawn with the seed), predict the 3,066 others -- the galaxies of RAIL's KNN and FlexZBoost
# PDFs in shared/reference/pdf/ -- and score the predictions with `pzbench score` (pzbench
# dialect): with `--head mdn` the PDFs (written as CSV and, with --qp, as a qp file) and their
# modes, else the point predictions. Three training seeds. Writes, per seed, the score JSON, the
# checkpoint's model.json and the training log's last line into OUTDIR.
# With MEMBERS=M (> 1), each seed S is an ensemble (`pzbench ensemble`) of M models trained with
# seeds S, S+3, S+6, ... and split seed S (so its first member is the single model of seed S, bit for
# bit), its widths fitted on their shared validation galaxies; OUTDIR then also gets
# seedS.ensemble.json and the ensemble's log line.
# VAL_FRACTION (0.2) is the share of the 7,159 rows held out for validation.
# usage: [MEMBERS=M] [VAL_FRACTION=F] benches/mdn_dc2.sh PZBENCH OUTDIR [`pzbench train` flags...]
#   e.g. benches/mdn_dc2.sh target/debug/pzbench benches/results/mdn/dc2/colors --head mdn --colors
set -euo pipefail
B=$1; OUT=$2; shift 2
MEMBERS=${MEMBERS:-1} VAL_FRACTION=${VAL_FRACTION:-0.2}
W=target/mdn_dc2/$(basename "$OUT")
python3 scripts/split_rail_dc2.py "$W" >/dev/null
mkdir -p "$OUT"
BANDS=mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst
for seed in 1 2 3; do
  model=$W/seed$seed
  members=()
  for ((j = 0; j < MEMBERS; j++)); do
    member=$W/seed$seed; [ "$MEMBERS" -gt 1 ] && member=$W/seed${seed}_member$((seed + 3 * j))
    rm -rf "$member"
    "$B" train --model nn --train "$W/train.csv" --val-fraction "$VAL_FRACTION" --split-seed "$seed" --bands "$BANDS" \
      --seed $((seed + 3 * j)) --out "$member" "$@" 2>&1 | tail -1 | tee -a "$OUT/seed$seed.train.log.new"
    members+=("$member")
  done
  mv "$OUT/seed$seed.train.log.new" "$OUT/seed$seed.train.log"
  if [ "$MEMBERS" -gt 1 ]; then
    calibration=(--val "$W/train.csv")
    grep -q '"type": "mdn"' "${members[0]}/model.json" || calibration=()
    rm -rf "$model"
    "$B" ensemble "${members[@]}" "${calibration[@]}" --out "$model" 2>&1 | tee "$OUT/seed$seed.ensemble.log"
    cp "$model/ensemble.json" "$OUT/seed$seed.ensemble.json"
  fi
  meta=$model/model.json; [ "$MEMBERS" -gt 1 ] && meta=${members[0]}/model.json
  qp=(); grep -q '"type": "mdn"' "$meta" && qp=(--qp "$W/seed$seed.qp.hdf5")
  "$B" predict --model "$model" --data "$W/test.csv" --out "$W/seed$seed.csv" "${qp[@]}" -q
  "$B" score "$W/seed$seed.csv" --format json --output "$OUT/seed$seed.score.json" -q
  [ "$MEMBERS" -gt 1 ] || cp "$model/model.json" "$OUT/seed$seed.model.json"
done
