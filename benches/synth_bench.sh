#!/usr/bin/env bash
# Benchmark `pzbench synth`: 10,000 galaxies at 64x64 (the target is <= 60 s on a 2-core
# machine), then the read speed of the `image` key through the reader
# (`pzbench inspect --time-images ROWS`) from the page cache (target >= 500 MB/s).
#
# Usage: benches/synth_bench.sh [N] [SIZE]   (defaults 10000 64; needs a release build:
#        cargo build --release; set CARGO_TARGET_DIR if the build lives elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
size=${2:-64}
bin=${CARGO_TARGET_DIR:-target}/release/pzbench
out=bench-data/synth
[ -x "$bin" ] || cargo build --release
rm -rf "$out"
mkdir -p bench-data

echo "pzbench synth --n $n --size $size --seed 1; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/time -v "$bin" synth --n "$n" --size "$size" --seed 1 --output "$out" --quiet 2> bench-data/synth_time.txt
wall=$(grep 'Elapsed (wall clock)' bench-data/synth_time.txt | awk '{print $NF}')
rss=$(grep 'Maximum resident set size' bench-data/synth_time.txt | awk '{print $NF}')
cpu=$(grep 'Percent of CPU' bench-data/synth_time.txt | awk '{print $NF}')
user=$(grep 'User time' bench-data/synth_time.txt | awk '{print $NF}')
sys=$(grep 'System time' bench-data/synth_time.txt | awk '{print $NF}')
echo "generate: wall $wall (m:ss), user $user s, sys $sys s, CPU $cpu, peak RSS $((rss / 1024)) MB"
echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the cores)"
du -sh "$out" | awk '{print "output: " $1}'

train="$out/5x${size}x${size}_training_with_morphology.hdf5"
cat "$train" > /dev/null   # into the page cache
for rows in 256 1024; do
  echo -n "read image, chunks of $rows rows: "
  "$bin" inspect --time-images "$rows" "$train"
done
