#!/bin/bash
# The README's GPU run: on a CUDA machine, generate the synthetic GalaxiesML set, train the CNN on
# the GPU and the NN on the CPU (in parallel), predict and score the test split with both, and
# measure the same CNN's training throughput in PyTorch (benches/torch_cnn.py) on the same card.
#
# usage (repository root, CUDA binary built as in README "GPU" and gzipped to target/gpu/pzbench.gz):
#   benches/gpu_train.sh OUTDIR
# Knobs (environment): N (galaxies, default 40000), SIZE (64), EPOCHS (30), BATCH (256), LR (1e-4),
# CNN_SECONDS (wall-clock cap of CNN training; the best checkpoint so far is used), WORK (scratch).
set -uo pipefail
OUT=${1:?usage: benches/gpu_train.sh OUTDIR}
N=${N:-40000} SIZE=${SIZE:-64} EPOCHS=${EPOCHS:-30} BATCH=${BATCH:-256} LR=${LR:-1e-4}
CNN_SECONDS=${CNN_SECONDS:-300} WORK=${WORK:-/tmp/pzbench-gpu}
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
SP=$(python3 -c 'import site;print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$(find "$SP/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
B=$WORK/pzbench
gunzip -c target/gpu/pzbench.gz > "$B" && chmod +x "$B"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
t() { echo "=== t=${SECONDS}s: $*"; }

t torch reference
timeout 120 python3 benches/torch_cnn.py --size "$SIZE" --batch "$BATCH"

t synth
D=$WORK/synth P=$WORK/synth/5x${SIZE}x${SIZE}
"$B" synth --n "$N" --size "$SIZE" --seed 1 --out "$D" --quiet || exit 1
ls -la "$D"

t NN on the CPU, in the background
( RAYON_NUM_THREADS=4 "$B" train --model nn --train "${P}_training_with_morphology.hdf5" --val "${P}_validation_with_morphology.hdf5" \
    --out "$OUT/nn" --epochs 400 --patience 30 --lr 2e-4 --seed 1 > "$OUT/nn_train.log" 2>&1
  "$B" predict --model "$OUT/nn" --data "${P}_testing_with_morphology.hdf5" --out "$OUT/nn_test.csv" ) &
NN_PID=$!

t CNN on the GPU
timeout "$CNN_SECONDS" "$B" train --model cnn --train "${P}_training_with_morphology.hdf5" \
  --val "${P}_validation_with_morphology.hdf5" --out "$OUT/cnn" --device cuda --epochs "$EPOCHS" \
  --batch-size "$BATCH" --lr "$LR" --seed 1
echo "cnn train rc=$? (124 = stopped by the CNN_SECONDS cap; the best epoch's checkpoint is used)"
t CNN predict
"$B" predict --model "$OUT/cnn" --data "${P}_testing_with_morphology.hdf5" --out "$OUT/cnn_test.csv" --device cuda
wait $NN_PID
t scores
cat "$OUT/nn_train.log" | tail -3
for m in nn cnn; do echo "== $m"; "$B" score -q "$OUT/${m}_test.csv" --format json --output "$OUT/${m}_score.json"; "$B" score -q "$OUT/${m}_test.csv" | head -6; done
rm -f "$OUT"/*/last.safetensors "$OUT"/*/optimizer.safetensors "$OUT"/cnn/model.safetensors
t done
