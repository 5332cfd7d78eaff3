#!/usr/bin/env python3
"""Split the DC2 catalogue as RAIL's reference PDFs were made: rows with 0-based index mod 10 >= 7
are the test set, the others the training set.

usage: split_rail_dc2.py OUTDIR [--catalogue fixtures/data/dc2/dc2_training_9816.csv]
                         [--reference ../shared/reference/pdf/knn_dc2.csv]

RAIL's KNearNeigh and FlexZBoost PDFs (shared/reference/pdf/knn_dc2*, flexzboost_dc2*;
docs/PDF_METRICS.md §5) were trained on the 7,159 rows with index mod 10 < 7 of
dc2_training_9816.csv and predict the other 3,066. Writes OUTDIR/train.csv and OUTDIR/test.csv
with the catalogue's header, rows in file order, and checks that the test rows are the reference
file's galaxies, in its order, with its redshifts (when the reference file is there).
"""
import argparse
import csv
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("outdir")
ap.add_argument("--catalogue", default="fixtures/data/dc2/dc2_training_9816.csv")
ap.add_argument("--reference", default="../shared/reference/pdf/knn_dc2.csv")
a = ap.parse_args()

with open(a.catalogue) as f:
    header, *rows = [line for line in f if line.strip()]
parts = {"train": [r for i, r in enumerate(rows) if i % 10 < 7], "test": [r for i, r in enumerate(rows) if i % 10 >= 7]}

if os.path.exists(a.reference):
    with open(a.reference) as f:
        reference = [(r["object_id"], float(r["z_spec"])) for r in csv.DictReader(f)]
    ours = [(r["id"], float(r["redshift"])) for r in csv.DictReader([header] + parts["test"])]
    if ours != reference:
        sys.exit(f"{a.reference}: the test rows are not its galaxies in its order; is {a.catalogue} the DC2 catalogue?")
    print(f"test rows = the {len(reference)} galaxies of {a.reference}, same order and redshifts")
else:
    print(f"{a.reference} not found: split made without checking it against RAIL's galaxies")

os.makedirs(a.outdir, exist_ok=True)
for name, part in parts.items():
    with open(os.path.join(a.outdir, name + ".csv"), "w") as f:
        f.write(header)
        f.writelines(part)
    print(f"{name}: {len(part)} rows")
