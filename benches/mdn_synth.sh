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
#   DEADLINE (0: none; else the training runs are stopped by SIGTERM -- the epoch ends and is saved --
#   RESERVE seconds before DEADLINE seconds after the start, and a later call with the same WORK
#   resumes them), RESERVE (120), NN_THREADS (each NN's RAYON_NUM_THREADS; unset: all cores), WORK
#   (target/mdn_synth), MODELS ("nn_mdn cnn_mdn": the models trained and scored; "cnn_mdn" leaves
#   the NN out), MEMBERS (1; M > 1 also trains seeds SEED+1 .. SEED+M-1 of each model, all at once --
#   the CNNs share the GPU -- and scores their ensemble, `pzbench ensemble`, beside the seed-SEED
#   model), FROM_CNN (a finished CNN-MDN checkpoint of seed SEED on this set, taken instead of
#   training it).
# Writes to OUTDIR: {nn,cnn}_mdn.score.json, {nn,cnn}_mdn.model.json, {nn,cnn}_mdn.train.log,
#   {nn,cnn}_mdn_pit.png, {nn,cnn}_mdn_nz.png; with MEMBERS > 1 also {nn,cnn}_mdn_xM.score.json,
#   .ensemble.json, .ensemble.log, _pit.png, _nz.png, and each extra member's training log as
#   {nn,cnn}_mdn_sS.train.log.
set -uo pipefail
B=${1:?usage: benches/mdn_synth.sh PZBENCH OUTDIR}; OUT=${2:?usage: benches/mdn_synth.sh PZBENCH OUTDIR}
N=${N:-5000} SIZE=${SIZE:-64} SEED=${SEED:-7} CNN_EPOCHS=${CNN_EPOCHS:-8} CNN_BATCH=${CNN_BATCH:-32}
CNN_LR=${CNN_LR:-5e-4} REDUCE_LR=${REDUCE_LR:-0} DEVICE=${DEVICE:-cpu} DEADLINE=${DEADLINE:-0}
RESERVE=${RESERVE:-120} WORK=${WORK:-target/mdn_synth} MODELS=${MODELS:-nn_mdn cnn_mdn} MEMBERS=${MEMBERS:-1}
mkdir -p "$OUT" "$WORK"
P=$WORK/synth/5x${SIZE}x${SIZE}
TRAIN=${P}_training_with_morphology.hdf5 VAL=${P}_validation_with_morphology.hdf5 TEST=${P}_testing_with_morphology.hdf5
stamp="n=$N size=$SIZE seed=$SEED"
if [ "$(cat "$WORK/synth/made" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$WORK/synth" "$WORK"/nn_mdn* "$WORK"/cnn_mdn*
  "$B" synth --n "$N" --size "$SIZE" --seed "$SEED" --output "$WORK/synth" --quiet || exit 1
  echo "$stamp" > "$WORK/synth/made"
fi
if [ -n "${FROM_CNN:-}" ] && [ ! -d "$WORK/cnn_mdn" ]; then cp -r "$FROM_CNN" "$WORK/cnn_mdn"; fi

# Member j (0-based) of model m: seed SEED+j, checkpoint WORK/m (j = 0) or WORK/m_sSEED+j.
member_dir() { if [ "$2" -eq 0 ]; then echo "$WORK/$1"; else echo "$WORK/$1_s$((SEED + $2))"; fi; }
member_log() { if [ "$2" -eq 0 ]; then echo "$OUT/$1.train.log"; else echo "$OUT/$1_s$((SEED + $2)).train.log"; fi; }
cap=(); [ "$DEADLINE" -gt 0 ] && cap=(timeout -s TERM -k 120 $((DEADLINE - RESERVE - SECONDS)))
pids=()
for ((j = 0; j < MEMBERS; j++)); do
  seed=$((SEED + j))
  if [[ " $MODELS " == *" nn_mdn "* ]]; then
    dir=$(member_dir nn_mdn $j)
    resume=(); [ -f "$dir/model.json" ] && resume=(--resume)
    ( [ -n "${NN_THREADS:-}" ] && export RAYON_NUM_THREADS=$NN_THREADS
      "${cap[@]}" "$B" train --model nn --head mdn --train "$TRAIN" --val "$VAL" --output "$dir" --seed "$seed" \
        "${resume[@]}" >> "$(member_log nn_mdn $j)" 2>&1 ) &
    pids+=($!)
  fi
  if [[ " $MODELS " == *" cnn_mdn "* ]]; then
    dir=$(member_dir cnn_mdn $j)
    # A checkpoint without optimizer state (FROM_CNN) is finished: nothing to resume.
    if [ -f "$dir/model.json" ] && [ ! -f "$dir/optimizer.safetensors" ]; then continue; fi
    resume=(); [ -f "$dir/model.json" ] && resume=(--resume)
    log=$(member_log cnn_mdn $j)
    ( "${cap[@]}" "$B" train --model cnn --head mdn --train "$TRAIN" --val "$VAL" --output "$dir" --device "$DEVICE" \
        --epochs "$CNN_EPOCHS" --batch-size "$CNN_BATCH" --lr "$CNN_LR" --seed "$seed" --scale-mags --augment \
        --reduce-lr-patience "$REDUCE_LR" "${resume[@]}" >> "$log" 2>&1
      echo "cnn train rc=$? (124: stopped at the deadline; the checkpoint holds every finished epoch)" >> "$log" ) &
    pids+=($!)
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

score() { # score NAME MODEL_DIR
  "$B" predict --model "$2" --data "$TEST" --output "$WORK/$1.csv" --qp "$WORK/$1.qp.hdf5" --device "$DEVICE" -q || exit 1
  "$B" score "$WORK/$1.qp.hdf5" --format json --output "$OUT/$1.score.json" -q || exit 1
  "$B" plot pit "$WORK/$1.qp.hdf5" --output "$OUT/${1}_pit.png" || exit 1
  "$B" plot nz "$WORK/$1.qp.hdf5" --output "$OUT/${1}_nz.png" || exit 1
}
for m in $MODELS; do
  score "$m" "$WORK/$m"
  cp "$WORK/$m/model.json" "$OUT/$m.model.json"
  if [ "$MEMBERS" -gt 1 ]; then
    members=(); for ((j = 0; j < MEMBERS; j++)); do members+=("$(member_dir "$m" $j)"); done
    rm -rf "$WORK/${m}_x$MEMBERS"
    "$B" ensemble "${members[@]}" --val "$VAL" --device "$DEVICE" --out "$WORK/${m}_x$MEMBERS" > "$OUT/${m}_x$MEMBERS.ensemble.log" 2>&1 ||
      { cat "$OUT/${m}_x$MEMBERS.ensemble.log"; exit 1; }
    cp "$WORK/${m}_x$MEMBERS/ensemble.json" "$OUT/${m}_x$MEMBERS.ensemble.json"
    score "${m}_x$MEMBERS" "$WORK/${m}_x$MEMBERS"
  fi
done
