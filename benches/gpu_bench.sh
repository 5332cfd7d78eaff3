#!/bin/bash
# Issue 7's proof on a CUDA machine, in one call: the fast path's device checks against the CPU,
# `pzbench bench train` (fast and stock kernels) beside the same CNN in PyTorch
# (benches/torch_cnn.py) at 127 and 64 px, and a short training on the synthetic set with the
# fast and the stock kernels (same seed) to compare validation losses.
#
# usage (repository root, CUDA binary gzipped to target/gpu/pzbench.gz as in README "GPU"):
#   benches/gpu_bench.sh OUTDIR
# Knobs: SIZES ("127 64"), KERNELS ("fast stock"), STEPS (20), N (synthetic galaxies for the
#        short training, 20000), EPOCHS (3; 0 skips the short training).
# Exits 1 if the strict f32 device check fails.
set -uo pipefail
OUT=${1:?usage: benches/gpu_bench.sh OUTDIR}
SIZES=${SIZES:-127 64} KERNELS=${KERNELS:-fast stock} STEPS=${STEPS:-20} N=${N:-20000} EPOCHS=${EPOCHS:-3}
WORK=${WORK:-/tmp/pzbench-gpu}
source "$(dirname "$0")/gpu_env.sh"

t "device checks (strict f32, then TF32 allowed)"
timeout 120 "$B" bench check || exit 1
timeout 120 "$B" bench check --tf32 --conv-tolerance 1e-1

for size in $SIZES; do
  t "throughput at ${size} px"
  for kernels in $KERNELS; do
    timeout 150 "$B" bench train --device cuda --size "$size" --steps "$STEPS" --gpu-kernels "$kernels"
  done
  timeout 150 python3 benches/torch_cnn.py --size "$size" --batch 256 --iters "$STEPS" --variants default,tuned,strict,bf16
  # torch.compile: the warm-up steps compile (about a minute a variant), hence a longer limit.
  timeout 400 python3 benches/torch_cnn.py --size "$size" --batch 256 --iters "$STEPS" --warmup 10 \
    --variants compile,compile_bf16
done

[ "$EPOCHS" = 0 ] && exit 0
t "short training, fast vs stock kernels (64 px, $N galaxies, $EPOCHS epochs, seed 1)"
D=$WORK/synth P=$WORK/synth/5x64x64
timeout 120 "$B" synth --n "$N" --size 64 --seed 1 --output "$D" --quiet || exit 1
for kernels in fast stock; do
  timeout 200 "$B" train --model cnn --train "${P}_training_with_morphology.hdf5" \
    --val "${P}_validation_with_morphology.hdf5" --output "$WORK/cnn_$kernels" --device cuda \
    --epochs "$EPOCHS" --seed 1 --gpu-kernels "$kernels" 2>&1 | grep -v '^\s*$' | tail -n "$((EPOCHS + 1))"
done
t done
