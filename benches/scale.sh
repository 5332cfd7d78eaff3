#!/bin/bash
# Exact metrics out of core (issue 19): `pzbench score DIR` on hive-partitioned Parquet sets of
# 10^7, 10^8 and 10^9 galaxies (benches/make_scale_data.py, 64 uneven partitions, float32 columns),
# timed with /usr/bin/time (wall, CPU = user + sys, peak RSS). Where the set fits in memory
# (N <= MAX_IN_MEMORY) the same galaxies as one Parquet file are scored in memory alternately
# with the out-of-core runs, and the two reports must be equal bit for bit outside `input`.
# Data sets are made once under WORK and never committed (10^9 rows: 8 GB).
#
# usage: benches/scale.sh PZBENCH [N ...]     (default N: 10000000 100000000 1000000000)
# Knobs: WORK (target/scale), REPEATS (3; 1 for N >= 10^9), MAX_IN_MEMORY (100000000),
#   PYTHON (.venv-test/bin/python: numpy and pyarrow), KEEP (unset: delete each set after use).
# Prints one line a run and a summary (median and range of the repeats) per N and path.
set -uo pipefail
B=${1:?usage: benches/scale.sh PZBENCH [N ...]}; shift
SIZES=${*:-10000000 100000000 1000000000}
WORK=${WORK:-target/scale} PYTHON=${PYTHON:-.venv-test/bin/python} MAX_IN_MEMORY=${MAX_IN_MEMORY:-100000000}
mkdir -p "$WORK"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); pzbench $("$B" --version)"

# run LABEL N ARGS...: one timed `pzbench score`; appends "LABEL N wall cpu rss_kib" to $WORK/runs.
run() {
  local label=$1 n=$2; shift 2
  local stats
  stats=$( { /usr/bin/time -f '%e %U %S %M' "$B" score "$@" --format json -q > "$WORK/$label.json"; } 2>&1 | tail -n 1) || {
    echo "pzbench score failed: $stats"; exit 1; }
  read -r wall user sys rss <<< "$stats"
  local cpu; cpu=$(echo "$user + $sys" | bc)
  echo "$label $n $wall $cpu $rss" >> "$WORK/runs"
  printf '%-12s N=%-11s wall %7.2f s  cpu %8.2f s  %6.2f M rows/s  %6.2f M rows/s per CPU-s  peak RSS %6.0f MiB\n' \
    "$label" "$n" "$wall" "$cpu" "$(echo "$n / $wall / 1000000" | bc -l)" "$(echo "$n / $cpu / 1000000" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)"
}

: > "$WORK/runs"
for n in $SIZES; do
  set_dir=$WORK/set_$n single=$WORK/single_$n.parquet
  in_memory=$([ "$n" -le "$MAX_IN_MEMORY" ] && echo 1)
  if [ ! -d "$set_dir" ]; then
    "$PYTHON" benches/make_scale_data.py "$n" "$set_dir" --partitions 64 ${in_memory:+--single "$single"} || exit 1
  fi
  repeats=${REPEATS:-$([ "$n" -ge 1000000000 ] && echo 1 || echo 3)}
  for r in $(seq "$repeats"); do
    run out_of_core "$n" "$set_dir"
    if [ -n "$in_memory" ]; then
      run in_memory "$n" "$single"
      "$PYTHON" - "$WORK/out_of_core.json" "$WORK/in_memory.json" <<'PY' || exit 1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    d.pop("input")
sys.exit(0 if a == b else "out-of-core and in-memory reports differ")
PY
    fi
  done
  [ -z "${KEEP:-}" ] && rm -rf "$set_dir" "$single"
done

echo "summary (median [min, max] of the repeats):"
"$PYTHON" - "$WORK/runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, n, wall, cpu, rss = line.split()
    runs[(int(n), label)].append((float(wall), float(cpu), int(rss)))
for (n, label), rs in sorted(runs.items()):
    walls, cpus, rsss = zip(*rs)
    rate = sorted(n / c for c in cpus)
    print(f"N={n:>11} {label:<12} wall {statistics.median(walls):8.2f} s [{min(walls):.2f}, {max(walls):.2f}]"
          f"  {statistics.median(rate) / 1e6:6.2f} M rows per CPU-second [{rate[0] / 1e6:.2f}, {rate[-1] / 1e6:.2f}]"
          f"  peak RSS {max(rsss) / 1024:7.0f} MiB  ({len(rs)} runs)")
PY
