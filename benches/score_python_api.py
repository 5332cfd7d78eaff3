#!/usr/bin/env python3
"""Benchmark `pzbench.score` against the numpy/scipy/astropy evaluation, in one Python process.

Both score the same numpy float64 arrays of N galaxies (default 10,000,000): all 13 metrics
overall and in the 20 default bins (0.2 wide on z_spec, `pzbench.DEFAULT_EDGES`). The numpy
side is `metrics` of benches/score_python.py (the reference evaluation that made
fixtures/external/*.expected.json), per bin through pandas `cut` as that script does.

Each run is a child forked from this process after the arrays are made, so every run starts
from the same memory and its peak is its own: the table gives the median wall time of RUNS runs
and the median of their peak extra memory (peak RSS minus RSS at the start, MiB), then checks
that the two agree on the overall metrics.

Usage: score_python_api.py [N]   (RUNS=3 by default; needs pandas, scipy and astropy besides
       numpy, and the extension built with `maturin develop --release`: a debug build is
       several times slower)
"""
import os
import pickle
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pzbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_python import metrics  # noqa: E402  (the reference evaluation, imported as a module)

SEED = 20261203
SCATTER = 0.03  # Gaussian photo-z scatter, in units of (1 + z_spec)
OUTLIER_RATE = 0.05  # catastrophic outliers: z_phot uniform over the binned range


def galaxies(n):
    """`(z_spec, z_phot)`: z_spec uniform over the default bins' range, z_phot with 3 % (1+z)
    Gaussian scatter and 5 % catastrophic outliers (the layout of fixtures/reference/random_20k)."""
    rng = np.random.default_rng(SEED)
    lo, hi = pzbench.DEFAULT_EDGES[0], pzbench.DEFAULT_EDGES[-1]
    z_spec = rng.uniform(lo, hi, n)
    z_phot = z_spec + SCATTER * (1 + z_spec) * rng.standard_normal(n)
    outliers = rng.random(n) < OUTLIER_RATE
    z_phot[outliers] = rng.uniform(lo, hi, outliers.sum())
    return z_spec, z_phot


def numpy_score(z_spec, z_phot):
    """The 13 metrics overall and per bin with numpy, scipy and astropy (benches/score_python.py)."""
    edges = np.asarray(pzbench.DEFAULT_EDGES)
    bins = pd.cut(z_spec, edges, right=True, labels=False)
    per_bin = [metrics(z_spec[bins == b], z_phot[bins == b]) for b in range(len(edges) - 1)]
    return {"overall": metrics(z_spec, z_phot), "per_bin": per_bin}


def pzbench_score(z_spec, z_phot):
    """`pzbench.score` with its defaults (the same 20 bins), as plain dicts."""
    result = pzbench.score(z_spec, z_phot)
    return {"overall": result.overall, "per_bin": result.per_bin}


def rss_mib():
    """This process's resident memory now, MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_forked(method, z_spec, z_phot):
    """Run `method` once in a forked child: `(seconds, peak extra MiB, result)`."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        start_rss = rss_mib()
        start = time.perf_counter()
        result = method(z_spec, z_phot)
        seconds = time.perf_counter() - start
        peak_extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_rss
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump((seconds, peak_extra, result), pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pickle.load(pipe)
    os.waitpid(pid, 0)
    return outcome


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    runs = int(os.environ.get("RUNS", "3"))
    z_spec, z_phot = galaxies(n)
    print(f"{n:,} galaxies, 20 bins, 13 metrics; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at start; median of {runs} runs, each in a forked child\n")
    print("| method | wall s | peak extra memory MiB |")
    print("|---|---|---|")
    results = {}
    walls = {}
    for label, method in [("pzbench.score (Rust core)", pzbench_score),
                          ("numpy + scipy + astropy (benches/score_python.py)", numpy_score)]:
        outcomes = [run_forked(method, z_spec, z_phot) for _ in range(runs)]
        walls[label] = statistics.median(o[0] for o in outcomes)
        peak = statistics.median(o[1] for o in outcomes)
        results[label] = outcomes[0][2]
        print(f"| {label} | {walls[label]:.3f} | {peak:.0f} |")
    ours, theirs = results.values()
    worst = max(abs(ours["overall"][k] - theirs["overall"][k]) / max(abs(theirs["overall"][k]), 1e-300)
                for k in pzbench.METRICS)
    fast, slow = walls.values()
    print(f"\nspeed-up: {slow / fast:.1f}x; overall metrics agree to {worst:.1e} relative; "
          f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
