#!/bin/bash
# CNN-MDN against NN-MDN on a synthetic GalaxiesML set (issue 18): `pzbench synth`, then both
# models with the mixture-density head (`--head mdn`, K = 5) trained on its training split and
# early-stopped on (or, for the CNN, its best epoch kept on) its validation split, their PDFs of
# the test split written as qp files (`predict --qp`) and scored (`pzbench score`, pzbench
# dialect), with PIT histograms and n(z) plots (`pzbench plot pit|nz`). The CNN reads scaled
# magnitudes and augmented images, as the shipped reference CNN does (baselines/models/README.md);
# the NN has the paper's settings and trains on the CPU beside the CNN.
#
# usage: benches/mdn_synth.sh PZBENCH OUTDIR
# Knobs (environment): N (5000 galaxies, 60/20/20), SIZE (64), SEED (7: the set's and the models'),
#   CNN_EPOCHS (8), CNN_BATCH (32), CNN_LR (5e-4), REDUCE_LR (0: --reduce-lr-patience), DEVICE (cpu),
#   DEADLINE (0: none; else the CNN is stopped by SIGTERM -- the epoch ends and is saved -- RESERVE
#   seconds before DEADLINE seconds after the start, and a later call with the same WORK resumes it),
#   RESERVE (120), NN_THREADS (the NN's RAYON_NUM_THREADS; unset: all cores), WORK (target/mdn_synth),
#   MODELS ("nn_mdn cnn_mdn": the models trained and scored; "cnn_mdn" leaves the NN out).
# Writes to OUTDIR: {nn,cnn}_mdn.score.json, {nn,cnn}_mdn.model.json, {nn,cnn}_mdn.train.log,
#   {nn,cnn}_mdn_pit.png, {nn,cnn}_mdn_nz.png.
set -uo pipefail
B=${1:?usage: benches/mdn_synth.sh PZBENCH OUTDIR}; OUT=${2:?usage: benches/mdn_synth.sh PZBENCH OUTDIR}
N=${N:-5000} SIZE=${SIZE:-64} SEED=${SEED:-7} CNN_EPOCHS=${CNN_EPOCHS:-8} CNN_BATCH=${CNN_BATCH:-32}
CNN_LR=${CNN_LR:-5e-4} REDUCE_LR=${REDUCE_LR:-0} DEVICE=${DEVICE:-cpu} DEADLINE=${DEADLINE:-0}
RESERVE=${RESERVE:-120} WORK=${WORK:-target/mdn_synth} MODELS=${MODELS:-nn_mdn cnn_mdn}
mkdir -p "$OUT" "$WORK"
P=$WORK/synth/5x${SIZE}x${SIZE}
TRAIN=${P}_training_with_morphology.hdf5 VAL=${P}_validation_with_morphology.hdf5 TEST=${P}_testing_with_morphology.hdf5
stamp="n=$N size=$SIZE seed=$SEED"
if [ "$(cat "$WORK/synth/made" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$WORK/synth" "$WORK/nn_mdn" "$WORK/cnn_mdn"
  "$B" synth --n "$N" --size "$SIZE" --seed "$SEED" --output "$WORK/synth" --quiet || exit 1
  echo "$stamp" > "$WORK/synth/made"
fi

nn_pid=
if [[ " $MODELS " == *" nn_mdn "* ]] && [ ! -f "$WORK/nn_mdn/model.json" ]; then
  ( [ -n "${NN_THREADS:-}" ] && export RAYON_NUM_THREADS=$NN_THREADS
    "$B" train --model nn --head mdn --train "$TRAIN" --val "$VAL" --output "$WORK/nn_mdn" --seed "$SEED" \
      > "$OUT/nn_mdn.train.log" 2>&1 ) &
  nn_pid=$!
fi

resume=(); [ -f "$WORK/cnn_mdn/model.json" ] && resume=(--resume)
cap=(); [ "$DEADLINE" -gt 0 ] && cap=(timeout -s TERM -k 120 $((DEADLINE - RESERVE - SECONDS)))
"${cap[@]}" "$B" train --model cnn --head mdn --train "$TRAIN" --val "$VAL" --output "$WORK/cnn_mdn" --device "$DEVICE" \
  --epochs "$CNN_EPOCHS" --batch-size "$CNN_BATCH" --lr "$CNN_LR" --seed "$SEED" --scale-mags --augment \
  --reduce-lr-patience "$REDUCE_LR" "${resume[@]}" >> "$OUT/cnn_mdn.train.log" 2>&1
echo "cnn train rc=$? (124: stopped at the deadline; the checkpoint holds every finished epoch)" >> "$OUT/cnn_mdn.train.log"
if [ -n "$nn_pid" ]; then wait "$nn_pid" || { tail -n 3 "$OUT/nn_mdn.train.log"; exit 1; }; fi

for m in $MODELS; do
  "$B" predict --model "$WORK/$m" --data "$TEST" --output "$WORK/$m.csv" --qp "$WORK/$m.qp.hdf5" --device "$DEVICE" -q || exit 1
  "$B" score "$WORK/$m.qp.hdf5" --format json --output "$OUT/$m.score.json" -q || exit 1
  "$B" plot pit "$WORK/$m.qp.hdf5" --output "$OUT/${m}_pit.png" || exit 1
  "$B" plot nz "$WORK/$m.qp.hdf5" --output "$OUT/${m}_nz.png" || exit 1
  cp "$WORK/$m/model.json" "$OUT/$m.model.json"
done
