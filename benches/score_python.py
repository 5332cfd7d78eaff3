#!/usr/bin/env python3
"""The evaluation a user runs today, for benchmarking `pzbench score` against it.

pandas `read_csv` (or `read_parquet`), then the GalaxiesML metrics with numpy, scipy and astropy,
overall and per 0.2 redshift bin (pandas `cut`, right-closed), as the authors' `get_point_metrics`
does. Prints the metrics as JSON (same keys as pzbench) to the file named by --json, if given.

Usage: score_python.py FILE [--json OUT]
"""
import json
import sys

import numpy as np
import pandas as pd
from astropy.stats import biweight_location, biweight_midvariance
from scipy.stats import median_abs_deviation

KEYS = ["count", "bias", "mean_bias", "scatter", "sigma_iqr", "rms", "outlier_frac",
        "outlier_frac_rail", "mse", "loss", "bias_bw", "scatter_bw", "outlier_frac_bw"]

ZSPEC = ["z_spec", "zspec", "specz_redshift", "spect_z_test", "redshift"]
ZPHOT = ["z_phot", "zphot", "photoz", "photo_z_test", "z_pred"]


def metrics(zs, zp):
    n = len(zs)
    if n == 0:
        return {k: (0 if k == "count" else None) for k in KEYS}
    dz = (zp - zs) / (1 + zs)
    delta = zp - zs
    bias = np.median(dz)
    p75, p25 = np.percentile(dz, [75.0, 25.0])
    sigma_iqr = (p75 - p25) / 1.349
    bias_bw = biweight_location(dz, c=6.0, M=bias)
    scatter_bw = np.sqrt(biweight_midvariance(dz, c=9.0, M=bias, modify_sample_size=False))
    return {
        "count": int(n),
        "bias": float(bias),
        "mean_bias": float(np.mean(dz)),
        "scatter": float(median_abs_deviation(dz, scale="normal")),
        "sigma_iqr": float(sigma_iqr),
        "rms": float(np.sqrt(np.mean(dz ** 2))),
        "outlier_frac": float(np.sum(np.abs(dz) > 0.15) / n),
        "outlier_frac_rail": float(np.sum(np.fabs(dz) > np.maximum(0.06, 3.0 * sigma_iqr)) / n),
        "mse": float(np.mean(delta ** 2)),
        "loss": float(np.mean(1 - 1 / (1 + (dz / 0.15) ** 2))),
        "bias_bw": float(bias_bw),
        "scatter_bw": float(scatter_bw),
        "outlier_frac_bw": float(np.sum(np.abs(dz - bias_bw) > 2 * scatter_bw) / n),
    }


def main():
    path = sys.argv[1]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    if path.endswith(".parquet"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, sep=None if not path.endswith(".csv") else ",", engine="python" if not path.endswith(".csv") else "c")
    zs_col = next(c for c in df.columns if c in ZSPEC)
    zp_col = next(c for c in df.columns if c in ZPHOT)
    zs = df[zs_col].to_numpy(dtype=np.float64)
    zp = df[zp_col].to_numpy(dtype=np.float64)
    edges = np.linspace(0.0, 4.0, 21)
    bins = pd.cut(zs, edges, right=True, labels=False)
    result = {"overall": metrics(zs, zp), "per_bin": []}
    for b in range(20):
        mask = bins == b
        entry = metrics(zs[mask], zp[mask])
        entry.update({"lo": float(edges[b]), "hi": float(edges[b + 1])})
        result["per_bin"].append(entry)
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
    print(f"python: {result['overall']['count']} galaxies, loss {result['overall']['loss']:.6g}")


if __name__ == "__main__":
    main()
