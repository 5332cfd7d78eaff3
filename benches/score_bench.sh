#!/usr/bin/env bash
# Benchmark `pzbench score` against the Python evaluation a user runs today
# (benches/score_python.py: pandas + numpy/scipy/astropy; and benches/score_python_authors.py,
# the authors' get_point_metrics procedure), on the same files in the same run.
# Reports wall time and peak memory (max RSS) of each, median of RUNS runs.
#
# Usage: benches/score_bench.sh [ROWS]   (default 10,000,000; needs a release build and
#        python3 with numpy, scipy, astropy, pandas, pyarrow)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
runs=${RUNS:-3}
data=bench-data
bin=target/release/pzbench
mkdir -p "$data"
[ -x "$bin" ] || cargo build --release
prefix="$data/score_$rows"
[ -f "$prefix.csv" ] || python3 benches/make_score_data.py "$rows" "$prefix"
[ -f "$data/score_40914.csv" ] || python3 benches/make_score_data.py 40914 "$data/score_40914"
cat "$prefix.csv" "$prefix.parquet" > /dev/null   # warm the page cache

# measure LABEL CMD...: median wall seconds and max RSS (MB) over $runs runs
measure() {
  local label=$1; shift
  local walls=() rss=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$data/time.txt" "$@" > /dev/null 2>&1
    read -r wall kb < "$data/time.txt"
    walls+=("$wall"); rss+=("$((kb / 1024))")
  done
  local mid=$(((runs - 1) / 2))
  local wall=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$((mid + 1))p")
  local mem=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$((mid + 1))p")
  printf '| %s | %s | %s |\n' "$label" "$wall" "$mem"
  echo "$wall" > "$data/last_wall.txt"
}

echo "rows: $rows; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| run | wall s (median of $runs) | peak RSS MB |"
echo "|---|---:|---:|"
measure "Python: pandas read_csv + numpy/scipy/astropy, CSV" python3 benches/score_python.py "$prefix.csv"
py_csv=$(cat "$data/last_wall.txt")
measure "Python: the authors' procedure (get_point_metrics steps), CSV" python3 benches/score_python_authors.py "$prefix.csv"
py_authors=$(cat "$data/last_wall.txt")
measure "pzbench score, CSV" "$bin" score -q --format json "$prefix.csv"
rs_csv=$(cat "$data/last_wall.txt")
measure "Python: pandas read_parquet + numpy/scipy/astropy, Parquet" python3 benches/score_python.py "$prefix.parquet"
py_pq=$(cat "$data/last_wall.txt")
measure "pzbench score, Parquet" "$bin" score -q --format json "$prefix.parquet"
rs_pq=$(cat "$data/last_wall.txt")
measure "pzbench score --bootstrap 1000, 40,914 galaxies" "$bin" score -q --format json --bootstrap 1000 "$data/score_40914.csv"
echo
echo "speed-up CSV: $(python3 -c "print(f'{$py_csv/$rs_csv:.1f}x')") (authors' procedure: $(python3 -c "print(f'{$py_authors/$rs_csv:.1f}x')"))  Parquet: $(python3 -c "print(f'{$py_pq/$rs_pq:.1f}x')")"
