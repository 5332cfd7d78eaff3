#!/bin/bash
# Issues 7 and 20 on a CUDA machine, in one call: the fast path's device checks against the CPU,
# `pzbench bench train` (CUDA graphs in f32 and in bf16, then every step direct) beside the same
# CNN in PyTorch (benches/torch_cnn.py: eager variants and torch.compile) at 127 and 64 px, each
# measurement REPEAT times, and a short training on the synthetic set with CUDA graphs in f32 and
# bf16 and without graphs (same seed) to compare validation losses. `python3 benches/gpu_table.py OUTDIR/log.txt` makes the table.
#
# usage (repository root, CUDA binary gzipped to target/gpu/pzbench.gz as in README "GPU"):
#   benches/gpu_bench.sh OUTDIR
# Knobs: SIZES ("127 64"), STEPS (50 per timed run), REPEAT (3), STOCK (0; 1 adds candle's stock
#        kernels), COMPILE (1; 0 skips torch.compile), N (synthetic galaxies for the short
#        training, 20000), EPOCHS (3; 0 skips the short training).
# Exits 1 if the strict f32 device check fails.
set -uo pipefail
OUT=${1:?usage: benches/gpu_bench.sh OUTDIR}
SIZES=${SIZES:-127 64} STEPS=${STEPS:-50} REPEAT=${REPEAT:-3} STOCK=${STOCK:-0} COMPILE=${COMPILE:-1}
N=${N:-20000} EPOCHS=${EPOCHS:-3}
WORK=${WORK:-/tmp/pzbench-gpu}
source "$(dirname "$0")/gpu_env.sh"

t "device checks (strict f32, then TF32 allowed)"
timeout 120 "$B" bench check || exit 1
timeout 120 "$B" bench check --tf32 --conv-tolerance 1e-1

pzbench_runs() { # size, flags...
  local size=$1; shift
  for _ in $(seq "$REPEAT"); do
    timeout 150 "$B" bench train --device cuda --size "$size" --steps "$STEPS" --warmup 5 --json "$@"
  done
}
for size in $SIZES; do
  t "throughput at ${size} px"
  pzbench_runs "$size"
  pzbench_runs "$size" --precision bf16
  pzbench_runs "$size" --no-cuda-graphs
  [ "$STOCK" = 1 ] && pzbench_runs "$size" --gpu-kernels stock
  timeout 200 python3 benches/torch_cnn.py --size "$size" --batch 256 --iters "$STEPS" --repeat "$REPEAT" \
    --variants default,tuned,strict,bf16
  # torch.compile: the warm-up steps compile (about a minute a variant), hence a longer limit.
  [ "$COMPILE" = 1 ] && timeout 400 python3 benches/torch_cnn.py --size "$size" --batch 256 --iters "$STEPS" \
    --repeat "$REPEAT" --warmup 10 --variants compile,compile_bf16
done

[ "$EPOCHS" = 0 ] && exit 0
t "short training: CUDA graphs in f32 and bf16, every step direct (64 px, $N galaxies, $EPOCHS epochs, seed 1)"
D=$WORK/synth P=$WORK/synth/5x64x64
timeout 120 "$B" synth --n "$N" --size 64 --seed 1 --output "$D" --quiet || exit 1
for flags in "" "--precision bf16" --no-cuda-graphs; do
  echo "train ${flags:-with CUDA graphs, f32}"
  timeout 200 "$B" train --model cnn --train "${P}_training_with_morphology.hdf5" \
    --val "${P}_validation_with_morphology.hdf5" --output "$WORK/cnn${flags// /}" --device cuda \
    --epochs "$EPOCHS" --seed 1 $flags 2>&1 | grep -v '^\s*$' | tail -n "$((EPOCHS + 1))"
done
t done
