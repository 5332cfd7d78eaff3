#!/bin/bash
# The README's GPU run: on a CUDA machine, generate the synthetic GalaxiesML set, train the CNN on
# the GPU and the NN on the CPU (in parallel), predict and score the test split with both, and
# measure the same CNN's training throughput in PyTorch (benches/torch_cnn.py) on the same card.
#
# usage (repository root, CUDA binary built as in README "GPU" and gzipped to target/gpu/pzbench.gz):
#   benches/gpu_train.sh OUTDIR
# Knobs (environment): N (galaxies, default 40000), SIZE (64), EPOCHS (30), BATCH (256), LR (1e-4),
# CNN_SECONDS (wall-clock cap of CNN training; the best checkpoint so far is used), WORK (scratch),
# CNNS (CNN variants NAME:FLAG,FLAG, e.g. "cnn cnn_scaled:--scale-mags"; empty for none), PZBENCH_GZ, TORCH_CNN,
# TORCH (1: measure the PyTorch reference first; 0: skip it), NNS (NN variants to train, default
# "nn nn_colors"; empty to train only the CNNs, e.g. when the NNs were trained on the same set),
# CHECK (1: run `pzbench bench check` first and stop if it fails).
# The synthetic set and the CNN checkpoints live in $WORK, so a second call on the same (still
# warm) machine reuses the set and continues each CNN with `pzbench train --resume` (a device call
# is capped at 10 minutes; set CNN_SECONDS to fit).
set -uo pipefail
OUT=${1:?usage: benches/gpu_train.sh OUTDIR}
N=${N:-40000} SIZE=${SIZE:-64} EPOCHS=${EPOCHS:-30} BATCH=${BATCH:-256} LR=${LR:-1e-4}
CNN_SECONDS=${CNN_SECONDS:-300} WORK=${WORK:-/tmp/pzbench-gpu} CNNS=${CNNS-cnn}
source "$(dirname "$0")/gpu_env.sh"

[ "${CHECK:-0}" = 1 ] && { t device checks; timeout 120 "$B" bench check || exit 1; }
[ "${TORCH:-1}" = 1 ] && t torch reference && timeout 120 python3 "${TORCH_CNN:-benches/torch_cnn.py}" --size "$SIZE" --batch "$BATCH"

t synth
D=$WORK/synth P=$WORK/synth/5x${SIZE}x${SIZE}
stamp="n=$N size=$SIZE seed=1"
if [ "$(cat "$D/made" 2>/dev/null)" = "$stamp" ]; then echo "reusing the set made earlier on this machine ($stamp)"
else rm -rf "$D" "$WORK/cnn"; "$B" synth --n "$N" --size "$SIZE" --seed 1 --output "$D" --quiet || exit 1; echo "$stamp" > "$D/made"; fi
ls -la "$D"

t NNs on the CPU, in the background: paper inputs and settings, and with --colors
nn_pids=()
for v in ${NNS-nn nn_colors}; do
  flags=(--seed 1); [ $v = nn_colors ] && flags+=(--colors)
  ( RAYON_NUM_THREADS=4 "$B" train --model nn --train "${P}_training_with_morphology.hdf5" \
      --val "${P}_validation_with_morphology.hdf5" --output "$OUT/$v" "${flags[@]}" > "$OUT/${v}_train.log" 2>&1
    "$B" predict --model "$OUT/$v" --data "${P}_testing_with_morphology.hdf5" --output "$OUT/${v}_test.csv" ) &
  nn_pids+=($!)
done

t "CNN(s) on the GPU: ${CNNS}"
# CNNS: space-separated NAME:FLAG,FLAG variants, trained concurrently on the one GPU (run one
# alone for a clean throughput figure).
cnn_pids=()
for variant in $CNNS; do
  name=${variant%%:*} flags=${variant#*:}; [ "$flags" = "$variant" ] && flags=
  dir=$WORK/cnn/$name resume=(); [ -f "$dir/model.json" ] && resume=(--resume) && echo "$name: resuming $dir"
  ( timeout "$CNN_SECONDS" "$B" train --model cnn --train "${P}_training_with_morphology.hdf5" \
      --val "${P}_validation_with_morphology.hdf5" --output "$dir" --device cuda --epochs "$EPOCHS" \
      --batch-size "$BATCH" --lr "$LR" --seed 1 ${flags//,/ } "${resume[@]}" > "$OUT/${name}_train.log" 2>&1
    echo "$name train rc=$? (124 = stopped by the CNN_SECONDS cap; the best epoch's checkpoint is used)" >> "$OUT/${name}_train.log"
    mkdir -p "$OUT/$name" && cp "$dir"/*.json "$OUT/$name/"
    "$B" predict --model "$dir" --data "${P}_testing_with_morphology.hdf5" --output "$OUT/${name}_test.csv" --device cuda ) &
  cnn_pids+=($!)
done
[ ${#cnn_pids[@]} -gt 0 ] && wait "${cnn_pids[@]}"
for variant in $CNNS; do cat "$OUT/${variant%%:*}_train.log"; done
# (a bare `wait` would also wait for the tee behind the log)
[ ${#nn_pids[@]} -gt 0 ] && wait "${nn_pids[@]}"
t scores
[ -n "${NNS-nn nn_colors}" ] && tail -n 1 "$OUT"/nn*_train.log
for m in ${NNS-nn nn_colors} $(for v in $CNNS; do echo ${v%%:*}; done); do echo "== $m"; "$B" score -q "$OUT/${m}_test.csv" --format json --output "$OUT/${m}_score.json"; "$B" score -q "$OUT/${m}_test.csv" | head -6; done
rm -f "$OUT"/*/*.safetensors
t done
