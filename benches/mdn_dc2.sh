#!/bin/bash
# The NN on DC2 photometry, on RAIL's split (issue 18): train on the 7,159 rows of
# fixtures/data/dc2/dc2_training_9816.csv with index mod 10 < 7 (validation: --val-fraction 0.2 of
# them, drawn with the seed), predict the 3,066 others -- the galaxies of RAIL's KNN and FlexZBoost
# PDFs in shared/reference/pdf/ -- and score the predictions with `pzbench score` (pzbench
# dialect): with `--head mdn` the PDFs (written as CSV and, with --qp, as a qp file) and their
# modes, else the point predictions. Three training seeds. Writes, per seed, the score JSON, the
# checkpoint's model.json and the training log's last line into OUTDIR.
# usage: benches/mdn_dc2.sh PZBENCH OUTDIR [`pzbench train` flags...]
#   e.g. benches/mdn_dc2.sh target/debug/pzbench benches/results/mdn/dc2/colors --head mdn --colors
set -euo pipefail
B=$1; OUT=$2; shift 2
W=target/mdn_dc2/$(basename "$OUT")
python3 scripts/split_rail_dc2.py "$W" >/dev/null
mkdir -p "$OUT"
BANDS=mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst
for seed in 1 2 3; do
  rm -rf "$W/seed$seed"
  "$B" train --model nn --train "$W/train.csv" --val-fraction 0.2 --bands "$BANDS" \
    --seed "$seed" --out "$W/seed$seed" "$@" 2>&1 | tail -1 | tee "$OUT/seed$seed.train.log"
  qp=(); grep -q '"type": "mdn"' "$W/seed$seed/model.json" && qp=(--qp "$W/seed$seed.qp.hdf5")
  "$B" predict --model "$W/seed$seed" --data "$W/test.csv" --out "$W/seed$seed.csv" "${qp[@]}" -q
  "$B" score "$W/seed$seed.csv" --format json --output "$OUT/seed$seed.score.json" -q
  cp "$W/seed$seed/model.json" "$OUT/seed$seed.model.json"
done
