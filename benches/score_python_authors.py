#!/usr/bin/env python3
"""The GalaxiesML authors' evaluation procedure, for benchmarking `pzbench score` against it.

`benches/score_python.py` is a lean script that computes dz once per bin. Users of the paper's
code run the authors' procedure instead (astrodatalab/galaxiesml_examples,
`redshift_estimation/photoz_utils.py`, `get_point_metrics`), which this script follows step by
step without copying it:
- the file is read with pandas `read_csv` (or `read_parquet`);
- the overall metrics are one call with a single bin (0, 4], the per-bin metrics a second call
  with 20 bins of 0.2 (pandas `cut`, right-closed), each bin taken from a pandas `groupby`;
- every metric is its own function of (z_phot, z_spec) that recomputes dz from the two Series:
  loss, biweight bias (astropy `biweight_location`, defaults), biweight scatter (sqrt of astropy
  `biweight_midvariance`, defaults), biweight outlier rate (which recomputes the biweight bias
  and scatter), median bias, MAD scatter (scipy, normal scale), |dz| > 0.15 outlier rate, MSE.
The authors compute the MSE with scikit-learn's `mean_squared_error`; this script uses numpy's
mean of squared differences (same value) so scikit-learn is not needed.

Usage: score_python_authors.py FILE [--json OUT]   (prints a one-line summary; JSON has the
`overall` and `per_bin` metrics under pzbench's key names, for checking against pzbench)
"""
import json
import sys

import numpy as np
import pandas as pd
from astropy.stats import biweight_location, biweight_midvariance
from scipy.stats import median_abs_deviation

ZSPEC = ["z_spec", "zspec", "specz_redshift", "spect_z_test", "redshift"]
ZPHOT = ["z_phot", "zphot", "photoz", "photo_z_test", "z_pred"]


def normalised_error(z_phot, z_spec):
    return (z_phot - z_spec) / (1 + z_spec)


def loss(z_phot, z_spec):
    dz = normalised_error(z_phot, z_spec)
    return 1 - 1.0 / (1.0 + np.square(dz / 0.15))


def bias(z_phot, z_spec, conventional):
    dz = normalised_error(z_phot, z_spec)
    return np.median(dz) if conventional else biweight_location(dz)


def scatter(z_phot, z_spec, conventional):
    dz = normalised_error(z_phot, z_spec)
    return median_abs_deviation(dz, scale="normal") if conventional else np.sqrt(biweight_midvariance(dz))


def outlier_rate(z_phot, z_spec, conventional):
    dz = normalised_error(z_phot, z_spec)
    if conventional:
        return np.mean(abs(dz) > 0.15)
    b = bias(z_phot, z_spec, False)
    s = scatter(z_phot, z_spec, False)
    return np.mean(abs(dz - b) > 2 * s)


def point_metrics(z_phot, z_spec, edges):
    groups = pd.cut(z_spec, bins=edges)
    spec_groups = z_spec.groupby(groups, observed=False)
    phot_groups = z_phot.groupby(groups, observed=False)
    rows = []
    for interval in spec_groups.groups:
        if len(spec_groups.groups[interval]) == 0:
            rows.append({"lo": interval.left, "hi": interval.right, "count": 0})
            continue
        zs = spec_groups.get_group(interval)
        zp = phot_groups.get_group(interval)
        rows.append({
            "lo": interval.left,
            "hi": interval.right,
            "count": len(zs),
            "loss": float(np.mean(loss(zp, zs))),
            "bias_bw": float(bias(zp, zs, False)),
            "bias": float(bias(zp, zs, True)),
            "scatter_bw": float(scatter(zp, zs, False)),
            "scatter": float(scatter(zp, zs, True)),
            "outlier_frac_bw": float(outlier_rate(zp, zs, False)),
            "outlier_frac": float(outlier_rate(zp, zs, True)),
            "mse": float(np.mean(np.square(zs.to_numpy() - zp.to_numpy()))),
        })
    return rows


def main():
    path = sys.argv[1]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    z_spec = df[next(c for c in df.columns if c in ZSPEC)]
    z_phot = df[next(c for c in df.columns if c in ZPHOT)]
    overall = point_metrics(z_phot, z_spec, np.linspace(0, 4, 2))[0]
    per_bin = point_metrics(z_phot, z_spec, np.linspace(0, 4, 21))
    if out:
        with open(out, "w") as f:
            json.dump({"overall": overall, "per_bin": per_bin}, f, indent=1)
    print(f"python (authors' procedure): {overall['count']} galaxies, loss {overall['loss']:.6g}")


if __name__ == "__main__":
    main()
