#!/usr/bin/env bash
# PDF metrics: pzbench vs qp/RAIL, same files, same run (docs: benches/pdf/README.md).
#
# Usage: benches/pdf/run.sh [--n 100000] [--repeats 5] [--rail-repeats R] [--tools LIST]
#
#   --n N             galaxies per file (tiles of the DC2 cases; default 100000)
#   --repeats R       timed runs of each tool on each case (default 5)
#   --rail-repeats R  timed runs of qp/RAIL (default: --repeats); the mixture case takes
#                     ~80-100 s and ~18 GB per qp/RAIL run
#   --tools LIST      comma list of rail,pz_qp,pz_csv,pz_rail (default: all four)
#   --cases LIST      comma list of knn,flexzboost (default: both)
#   --results DIR     where the .md and .json go (default: benches/results/pdf)
#
# Tools: rail    = python3 benches/pdf/rail_eval.py FILE.qp.hdf5 (qp-prob 1.1.4 / pz-rail-base 2.0.11)
#        pz_qp   = pzbench score FILE.qp.hdf5 --format json --output OUT --quiet
#        pz_csv  = pzbench score FILE.csv ... (reads FILE.grid.csv itself for grids)
#        pz_rail = pzbench score FILE.qp.hdf5 --dialect rail ...
# Each run is timed by /usr/bin/time -f '%e %M %U %S' (wall s, peak RSS KiB, user and system CPU s;
# the wall time reported is
# a nanosecond clock read around it, as %e has 10 ms resolution). Within a repeat the tools
# alternate, each repeat starting one tool later (rotation), so drift of a noisy machine is
# spread over all tools. The files are read once before timing (page cache warm for all tools).
# Writes benches/results/pdf/<date>-<host>.md and .json (every raw measurement, machine,
# versions); the data and every tool's output stay in bench-data/pdf/.
# PZBENCH=PATH times another binary (e.g. a copy, so that a rebuild during the run changes nothing).
# Needs: python3 with qp-prob==1.1.4 pz-rail-base==2.0.11 h5py; target/release/pzbench (built
# with `cargo build --release --bin pzbench` when missing). Fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=100000 repeats=5 rail_repeats="" tools="rail,pz_qp,pz_csv,pz_rail" cases="knn,flexzboost"
results=benches/results/pdf
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --rail-repeats) rail_repeats=$2; shift 2 ;;
    --tools) tools=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
rail_repeats=${rail_repeats:-$repeats}
data=bench-data/pdf
out=$data/out
bin=${PZBENCH:-target/release/pzbench}
mkdir -p "$data" "$out" "$results"
if [ $((n % 1000)) -eq 0 ]; then tag="$((n / 1000))k"; else tag=$n; fi

# 1. the files
need=0
for f in knn_$tag.qp.hdf5 knn_$tag.csv flexzboost_$tag.qp.hdf5 flexzboost_$tag.csv flexzboost_$tag.grid.csv; do
  [ -s "$data/$f" ] || need=1
done
[ $need -eq 0 ] || python3 benches/pdf/make_files.py "$data" --n "$n"

# 2. pzbench: built if missing, and only timed if it scores a PDF file
pz_note=""
if [[ ",$tools," == *",pz_"* ]]; then
  [ -x "$bin" ] || cargo build --release --bin pzbench || echo "WARNING: cargo build failed" >&2
  ready=0
  if [ -x "$bin" ]; then
    "$bin" score "$data/knn_$tag.qp.hdf5" --format json --output "$out/readiness.json" --quiet \
      2> "$out/readiness.err" && ready=1
  else
    echo "no binary $bin" > "$out/readiness.err"
  fi
  if [ $ready -eq 0 ]; then
    pz_note="pzbench could not score the PDF files: $(head -c 300 "$out/readiness.err" | tr '\n' ' ')"
    echo "WARNING: $pz_note -- timing qp/RAIL only" >&2
    tools=$(echo "$tools" | tr ',' '\n' | grep -v '^pz_' | paste -sd, -)
  fi
fi
[ -n "$tools" ] || { echo "nothing to time" >&2; exit 1; }
IFS=, read -r -a tool_list <<< "$tools"
IFS=, read -r -a case_list <<< "$cases"

# warm: the page cache (every file, every tool) and Python's imports
for c in "${case_list[@]}"; do cat "$data/${c}_$tag".* > /dev/null; done
python3 -c "import qp, rail.evaluation.metrics.cdeloss" 2> /dev/null

# the binary's own footprint, for reading RSS / file size: peak RSS of `pzbench --version`
base_rss=null
if [[ ",$tools," == *",pz_"* ]]; then
  /usr/bin/time -f '%M' -o "$out/time.txt" "$bin" --version > /dev/null 2>&1 && base_rss=$(tail -n 1 "$out/time.txt")
fi

git_state="$(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
[ -z "$(git status --porcelain --untracked-files=no 2> /dev/null)" ] || git_state="$git_state + uncommitted changes"
stamp=$(date +%Y%m%dT%H%M%S)
raw=$data/raw-$stamp.jsonl
: > "$raw"

run_tool() { # tool case repeat -> the command line
  local tool=$1 c=$2 r=$3 o="$out/${c}_$tag.$1.r$3.json"
  case $tool in
    rail) echo python3 benches/pdf/rail_eval.py "$data/${c}_$tag.qp.hdf5" --out "$o" --quiet ;;
    pz_qp) echo "$bin" score "$data/${c}_$tag.qp.hdf5" --format json --output "$o" --quiet ;;
    pz_csv) echo "$bin" score "$data/${c}_$tag.csv" --format json --output "$o" --quiet ;;
    pz_rail) echo "$bin" score "$data/${c}_$tag.qp.hdf5" --dialect rail --format json --output "$o" --quiet ;;
  esac
}

measure() { # case tool repeat position
  local c=$1 tool=$2 r=$3 pos=$4 rc=0 wall kib
  local -a cmd
  read -r -a cmd <<< "$(run_tool "$tool" "$c" "$r")"
  local t0 t1 wall_e
  t0=$(date +%s%N)
  /usr/bin/time -f '%e %M %U %S' -o "$out/time.txt" "${cmd[@]}" > "$out/stdout.txt" 2> "$out/stderr.txt" || rc=$?
  t1=$(date +%s%N)
  read -r wall_e kib user sys < <(tail -n 1 "$out/time.txt")
  # wall: ns clock around /usr/bin/time (time's own %e has 10 ms resolution; both are kept)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
  printf '{"case":"%s","tool":"%s","repeat":%d,"position":%d,"wall_s":%s,"time_e_s":%s,"peak_rss_kib":%s,"user_s":%s,"sys_s":%s,"load1":%s,"rc":%d,"output":"%s","command":"%s"}\n' \
    "$c" "$tool" "$r" "$pos" "$wall" "$wall_e" "$kib" "$user" "$sys" "$(cut -d' ' -f1 /proc/loadavg)" "$rc" "$out/${c}_$tag.$tool.r$r.json" "${cmd[*]}" >> "$raw"
  awk -v c="$c" -v t="$tool" -v r="$r" -v w="$wall" -v k="$kib" -v rc="$rc" \
    'BEGIN { printf "  %-10s %-8s repeat %d: %7.2f s  %8.1f MiB  rc %d\n", c, t, r, w, k / 1024, rc }'
  [ $rc -eq 0 ] || { echo "    stderr: $(tail -n 3 "$out/stderr.txt" | tr '\n' ' ')"; }
}

echo "n = $n, repeats = $repeats (qp/RAIL: $rail_repeats), tools: $tools"
nt=${#tool_list[@]}
for r in $(seq 1 "$repeats"); do
  for c in "${case_list[@]}"; do
    for k in $(seq 0 $((nt - 1))); do
      tool=${tool_list[$(((k + r - 1) % nt))]}
      [ "$tool" = rail ] && [ "$r" -gt "$rail_repeats" ] && continue
      measure "$c" "$tool" "$r" "$k"
    done
  done
done

host=$(hostname -s 2> /dev/null || hostname)
stem=$results/$(date +%Y-%m-%d)-$host
python3 benches/pdf/summarize.py --raw "$raw" --data "$data" --tag "$tag" --n "$n" --bin "$bin" \
  --repeats "$repeats" --rail-repeats "$rail_repeats" --note "$pz_note" --base-rss-kib "$base_rss" --git "$git_state" --stem "$stem"
