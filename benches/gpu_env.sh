# Sourced by the GPU scripts (benches/gpu_bench.sh, benches/gpu_train.sh) after they set OUT and
# WORK: logs to $OUT/log.txt as well as the terminal, the CUDA 13 libraries of the machine's
# PyTorch install on LD_LIBRARY_PATH, the CUDA build of pzbench unpacked to $B (from
# $PZBENCH_GZ, default target/gpu/pzbench.gz), the card named, and t() to stamp the log.
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
SP=$(python3 -c 'import site;print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$(find "$SP/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
B=$WORK/pzbench
gunzip -c "${PZBENCH_GZ:-target/gpu/pzbench.gz}" > "$B" && chmod +x "$B"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
t() { echo "=== t=${SECONDS}s: $*"; }
