#!/usr/bin/env python3
"""Make an out-of-core benchmark set for `pzbench score` (issue 19): N galaxies as a
hive-partitioned Parquet data set, `OUT/healpix=K/part-0.parquet`, in P partitions of uneven size
(log-normal, sigma 1), written partition by partition so memory stays small whatever N.

Galaxies are drawn as benches/make_score_data.py draws them (a GalaxiesML-like n(z), 3 % (1+z)
scatter, 5 % catastrophic outliers) and stored as float32 columns `z_spec`, `z_phot` (a catalogue's
usual precision; pzbench reads them as float64, exactly), with an int64 `object_id` when --ids is
given. Partition K uses seed (20261203, K): the set is the same on every machine.

Usage: make_scale_data.py N OUT [--partitions P] [--ids] [--single FILE]
  --single FILE  also write the whole set as one Parquet file (for the in-memory comparison)
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from make_score_data import draw


def partition_sizes(n, partitions, rng):
    """`partitions` positive sizes summing to n, log-normally uneven."""
    weights = rng.lognormal(0.0, 1.0, partitions)
    sizes = np.floor(weights / weights.sum() * n).astype(np.int64)
    sizes = np.maximum(sizes, 1)
    sizes[np.argmax(sizes)] += n - sizes.sum()
    return sizes


def table(n, first_id, seed, ids):
    z_spec, z_phot = draw(np.random.default_rng(seed), n)
    columns = {"z_spec": z_spec.astype(np.float32), "z_phot": z_phot.astype(np.float32)}
    if ids:
        columns = {"object_id": np.arange(first_id, first_id + n, dtype=np.int64), **columns}
    return pa.table(columns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--partitions", type=int, default=64)
    ap.add_argument("--ids", action="store_true")
    ap.add_argument("--single")
    a = ap.parse_args()
    sizes = partition_sizes(a.n, a.partitions, np.random.default_rng(20261203))
    single = None
    first_id = 1
    for k, size in enumerate(sizes):
        part = table(int(size), first_id, (20261203, k), a.ids)
        first_id += int(size)
        folder = os.path.join(a.out, f"healpix={k}")
        os.makedirs(folder, exist_ok=True)
        pq.write_table(part, os.path.join(folder, "part-0.parquet"))
        if a.single:
            single = single or pq.ParquetWriter(a.single, part.schema)
            single.write_table(part)
    if single:
        single.close()
    print(f"wrote {a.n} rows in {len(sizes)} partitions (smallest {sizes.min()}, largest {sizes.max()}) to {a.out}")


if __name__ == "__main__":
    main()
