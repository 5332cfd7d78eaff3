#!/usr/bin/env python3
"""Make benchmark inputs for `pzbench score`: N galaxies as `object_id,z_spec,z_phot` CSV and
Parquet. z_spec follows a GalaxiesML-like n(z) (gamma shape, mode near 1), z_phot has a 3 % (1+z)
Gaussian scatter and 5 % catastrophic outliers. Fixed seed.

Usage: make_score_data.py N OUT_PREFIX   (writes OUT_PREFIX.csv and OUT_PREFIX.parquet)
"""
import sys

import numpy as np
import pandas as pd

def draw(rng, n):
    """`(z_spec, z_phot)` of n galaxies drawn with `rng`."""
    z_spec = np.clip(rng.gamma(2.5, 0.55, n), 0.011, 3.99)
    z_phot = z_spec + 0.03 * (1 + z_spec) * rng.standard_normal(n)
    outliers = rng.random(n) < 0.05
    z_phot[outliers] = rng.uniform(0.0, 4.0, outliers.sum())
    return z_spec, z_phot


if __name__ == "__main__":
    n = int(sys.argv[1])
    prefix = sys.argv[2]
    z_spec, z_phot = draw(np.random.default_rng(20261127), n)
    df = pd.DataFrame({"object_id": np.arange(1, n + 1, dtype=np.int64), "z_spec": z_spec, "z_phot": z_phot})
    df.to_csv(prefix + ".csv", index=False)
    df.to_parquet(prefix + ".parquet", index=False)
    print(f"wrote {prefix}.csv and {prefix}.parquet ({n} rows)")
