#!/usr/bin/env python3
"""Split a CSV catalogue into train/val/test CSVs by a seeded shuffle of its rows.

usage: split_catalogue.py FILE OUTDIR [--seed 1] [--test 0.2] [--val 0.15]

The test part is --test of all rows; the validation part is --val of the remaining (training)
rows. Same file + seed -> same split (Python's random.Random is stable across versions).
Writes OUTDIR/{train,val,test}.csv with the original header.
"""
import argparse
import os
import random

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("outdir")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--test", type=float, default=0.2)
ap.add_argument("--val", type=float, default=0.15)
a = ap.parse_args()
with open(a.file) as f:
    header, *rows = [line for line in f if line.strip()]
order = list(range(len(rows)))
random.Random(a.seed).shuffle(order)
n_test = round(a.test * len(rows))
n_val = round(a.val * (len(rows) - n_test))
parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
os.makedirs(a.outdir, exist_ok=True)
for name, idx in parts.items():
    with open(os.path.join(a.outdir, name + ".csv"), "w") as f:
        f.write(header)
        f.writelines(rows[i] for i in sorted(idx))
    print(f"{name}: {len(idx)} rows")
