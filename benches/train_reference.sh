#!/bin/bash
# Trains the reference models shipped in baselines/models/ (issue 16) on a CUDA machine: the CNN at
# 64 px ("cnn-64") on the GPU with the settings that won in benches/results/gpu/run12 (scaled
# magnitudes, augmentation, learning rate halved after 10 epochs without progress), and the paper's
# NN ("nn", default settings) on the CPU in parallel, on `pzbench synth --n 150000 --size 64 --seed 1`
# (60/20/20: 90,000 training, 30,000 validation, 30,000 test galaxies); then predicts the test split
# with each model and scores it (`pzbench score --bootstrap 1000 --seed 1`).
#
# usage (repository root, CUDA binary built as in README "GPU" and gzipped to target/gpu/pzbench.gz):
#   benches/train_reference.sh OUTDIR
# A device call is capped at 10 minutes, so the CNN is trained over several calls of this same
# script: each one continues the run with `pzbench train --resume` and stops it (SIGTERM: the
# trainer finishes the epoch and writes its checkpoint) in time to predict, score and pack.
#   1. a checkpoint already in $WORK (a second call on the same, still warm machine): resumed as is,
#      with its optimizer state — the normal way (call again within ~30 s of the previous call's end);
#   2. else a checkpoint carried in $STATE (model.json, inputs.json, last.safetensors[.gz] that an
#      earlier call returned; carry it): the run goes on from those latest weights with a fresh
#      Adam (zero moments, step 0: the 47 MB of moments do not fit in a device call's 64 MiB of
#      carried files); the files' checksums in model.json are updated to match, and the best epoch's
#      weights are replaced by the latest ones until a better epoch comes (the record keeps the
#      best validation loss, so the first improvement rewrites them);
#   3. else a fresh run.
# Knobs (environment): N (150000), SIZE (64), SEED (1: the synthetic set's and the models'),
# EPOCHS (200), BATCH (256), LR (1e-4), REDUCE_LR (10: --reduce-lr-patience), DEVICE (cuda),
# NN (1: train the NN too; 0 when an earlier call did), DEADLINE (580: seconds after the start by
# which everything is packed), RESERVE (50: seconds kept after the CNN's stop for the last epoch,
# prediction, scoring and packing), BOOT (1000: bootstrap resamples of the scores), WORK
# (/tmp/pzbench-ref), STATE (target/ref-state), RETURN_LAST (1: also return last.safetensors when it
# differs from the best weights, for route 2), PZBENCH_GZ (as benches/gpu_env.sh).
# Writes to OUTDIR (at most 8 files, each <= 15 MiB, as a device call returns them):
#   log.txt          everything printed, with t= stamps (benches/gpu_env.sh)
#   small.tar.gz     cnn-64/{model.json,inputs.json}, nn/{model.json,inputs.json,model.safetensors}
#                    (when NN=1), {cnn-64,nn}_train.log, {cnn-64,nn}_test.csv (predictions on the
#                    test split), {cnn-64,nn}_score.{json,txt}
#   model.safetensors.part-N   the CNN's best weights, split into 15 MiB parts (cat them back)
#   last.safetensors.part-N    the CNN's latest weights (RETURN_LAST=1 and different from the best)
set -uo pipefail
OUT=${1:?usage: benches/train_reference.sh OUTDIR}
N=${N:-150000} SIZE=${SIZE:-64} SEED=${SEED:-1} EPOCHS=${EPOCHS:-200} BATCH=${BATCH:-256} LR=${LR:-1e-4}
REDUCE_LR=${REDUCE_LR:-10} DEVICE=${DEVICE:-cuda} NN=${NN:-1} DEADLINE=${DEADLINE:-580} RESERVE=${RESERVE:-50}
BOOT=${BOOT:-1000} WORK=${WORK:-/tmp/pzbench-ref} STATE=${STATE:-target/ref-state} RETURN_LAST=${RETURN_LAST:-1}
STATE=$(realpath -m "$STATE")
source "$(dirname "$0")/gpu_env.sh"
git log -1 --format='commit %H (%cd)' 2>/dev/null || true
"$B" --version
P=$WORK/synth/5x${SIZE}x${SIZE}
TRAIN=${P}_training_with_morphology.hdf5 VAL=${P}_validation_with_morphology.hdf5 TEST=${P}_testing_with_morphology.hdf5
CNN=$WORK/cnn-$SIZE
PACK=$WORK/pack; rm -rf "$PACK"; mkdir -p "$PACK/cnn-$SIZE"

t "synth (n=$N size=$SIZE seed=$SEED)"
stamp="n=$N size=$SIZE seed=$SEED"
if [ "$(cat "$WORK/synth/made" 2>/dev/null)" = "$stamp" ]; then echo "reusing the set made earlier on this machine ($stamp)"
else rm -rf "$WORK/synth"; "$B" synth --n "$N" --size "$SIZE" --seed "$SEED" --output "$WORK/synth" --quiet || exit 1; echo "$stamp" > "$WORK/synth/made"; fi
ls -la "$WORK/synth"

nn_pid=
if [ "$NN" = 1 ]; then
  t "NN on the CPU, in the background (RAYON_NUM_THREADS=4)"
  rm -rf "$WORK/nn"
  ( RAYON_NUM_THREADS=4 timeout $((DEADLINE - RESERVE - SECONDS)) "$B" train --model nn --train "$TRAIN" --val "$VAL" \
      --output "$WORK/nn" --seed "$SEED" > "$PACK/nn_train.log" 2>&1
    echo "nn train rc=$?" >> "$PACK/nn_train.log"
    RAYON_NUM_THREADS=4 "$B" predict --model "$WORK/nn" --data "$TEST" --output "$PACK/nn_test.csv" >> "$PACK/nn_train.log" 2>&1 ) &
  nn_pid=$!
fi

resume=()
if [ -f "$CNN/model.json" ]; then
  t "CNN: resuming the checkpoint left in $CNN on this machine (route 1)"; resume=(--resume)
elif [ -f "$STATE/model.json" ]; then
  t "CNN: resuming from the carried latest weights in $STATE with a fresh Adam (route 2)"
  mkdir -p "$CNN" && cp "$STATE/model.json" "$STATE/inputs.json" "$CNN/" || exit 1
  if [ -f "$STATE/last.safetensors.gz" ]; then gunzip -c "$STATE/last.safetensors.gz" > "$CNN/last.safetensors"
  else cat "$STATE"/last.safetensors* > "$CNN/last.safetensors"; fi
  python3 - "$CNN" <<'EOF' || exit 1
# Zero Adam moments shaped like the weights, step 0; best weights := latest; checksums updated.
import hashlib, json, math, os, shutil, struct, sys
d = sys.argv[1]
def header(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        return json.loads(f.read(n))
h = {k: v for k, v in header(os.path.join(d, 'last.safetensors')).items() if k != '__metadata__'}
entries, off = {}, 0
for name in sorted(h):
    for p in 'mv':
        nbytes = 4 * math.prod(h[name]['shape'])
        entries[f'{p}.{name}'] = {'dtype': 'F32', 'shape': h[name]['shape'], 'data_offsets': [off, off + nbytes]}
        off += nbytes
hj = json.dumps(entries, separators=(',', ':')).encode()
hj += b' ' * (-len(hj) % 8)
with open(os.path.join(d, 'optimizer.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(hj))); f.write(hj)
    f.truncate(8 + len(hj) + off)
shutil.copyfile(os.path.join(d, 'last.safetensors'), os.path.join(d, 'model.safetensors'))
meta_path = os.path.join(d, 'model.json')
meta = json.load(open(meta_path))
for name in ('model.safetensors', 'last.safetensors', 'optimizer.safetensors'):
    digest = hashlib.sha256(open(os.path.join(d, name), 'rb').read()).hexdigest()
    meta['files'][name] = 'sha256:' + digest
meta['adam_steps'] = 0
json.dump(meta, open(meta_path, 'w'), indent=2)
rec = meta['training']
print(f"restored: {len(rec['history'])} epochs, best epoch {rec['best_epoch']} (val loss {rec['best_val_loss']:.5f}); "
      f"{len(entries)} zero moments; best weights := latest until a better epoch")
EOF
  resume=(--resume)
else
  t "CNN: a fresh run"; rm -rf "$CNN"
fi

cnn_s=$((DEADLINE - RESERVE - SECONDS))
t "CNN on $DEVICE for at most ${cnn_s}s (then SIGTERM: the epoch ends and is saved)"
timeout -s TERM -k 60 "$cnn_s" "$B" train --model cnn --train "$TRAIN" --val "$VAL" --output "$CNN" --device "$DEVICE" \
  --epochs "$EPOCHS" --batch-size "$BATCH" --lr "$LR" --seed "$SEED" --scale-mags --augment \
  --reduce-lr-patience "$REDUCE_LR" "${resume[@]}" 2>&1 | tee "$PACK/cnn-${SIZE}_train.log"
echo "cnn train rc=${PIPESTATUS[0]} (124 = stopped at the time cap; the checkpoint holds every finished epoch)" | tee -a "$PACK/cnn-${SIZE}_train.log"

t "CNN: predict the test split"
"$B" predict --model "$CNN" --data "$TEST" --output "$PACK/cnn-${SIZE}_test.csv" --device "$DEVICE"
if [ -n "$nn_pid" ]; then t "waiting for the NN"; wait "$nn_pid"; cat "$PACK/nn_train.log"; mkdir -p "$PACK/nn" && cp "$WORK"/nn/{model.json,inputs.json,model.safetensors} "$PACK/nn/"; fi

t "scores (bootstrap $BOOT, seed 1)"
for m in cnn-$SIZE nn; do
  [ -f "$PACK/${m}_test.csv" ] || continue
  echo "== $m"
  "$B" score -q "$PACK/${m}_test.csv" --bootstrap "$BOOT" --seed 1 --format json --output "$PACK/${m}_score.json"
  "$B" score -q "$PACK/${m}_test.csv" --bootstrap "$BOOT" --seed 1 | tee "$PACK/${m}_score.txt" | head -8
done

t pack
cp "$CNN"/model.json "$CNN"/inputs.json "$PACK/cnn-$SIZE/"
python3 - "$CNN/model.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))['training']
print(f"CNN checkpoint: {len(r['history'])} epochs, best epoch {r['best_epoch']} (val loss {r['best_val_loss']:.5f}), "
      f"last lr {r['history'][-1].get('lr')}")
EOF
sha256sum "$CNN"/*.safetensors
tar -C "$PACK" -czf "$OUT/small.tar.gz" . && ls -la "$OUT/small.tar.gz"
split -b 15M -d -a 1 "$CNN/model.safetensors" "$OUT/model.safetensors.part-"
if [ "$RETURN_LAST" = 1 ] && ! cmp -s "$CNN/model.safetensors" "$CNN/last.safetensors"; then
  split -b 15M -d -a 1 "$CNN/last.safetensors" "$OUT/last.safetensors.part-"
fi
ls -la "$OUT"
t done
