#!/usr/bin/env python3
"""The NN-MDN's DC2 results (benches/mdn_dc2.sh) beside RAIL's KNN and FlexZBoost, as Markdown.

usage: mdn_table.py RESULTS_DIR [--reference ../shared/reference/pdf]

Reads RESULTS_DIR/*/seed*.score.json (`pzbench score --format json` of each seed's predictions)
and the reference cases' expected.json (their `pzbench` block: the exact metrics of RAIL's PDFs
on the same 3,066 galaxies); prints one row per configuration and seed (a point model's PDF
columns empty), then the references.
"""
import argparse
import glob
import json
import os

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--reference", default="../shared/reference/pdf")
a = ap.parse_args()

COLUMNS = ["CDE loss", "PIT KS", "PIT CvM", "PIT outliers", "cov. 68 %", "cov. 95 %", "CRPS",
           "mode scatter", "mode outliers", "mode bias"]


def row(pdf, mode):
    pit = pdf["pit"]
    return [pdf["cde_loss"], pit["ks"], pit["cvm"], pit["outlier_rate"], pit["coverage_68"], pit["coverage_95"],
            pdf["crps"], mode["scatter"], mode["outlier_frac"], mode["bias"]]


def row_point(overall):
    return [overall["scatter"], overall["outlier_frac"], overall["bias"]]


def fmt(values):
    return " | ".join("" if v is None else f"{v:.4g}" if abs(v) >= 1e-3 else f"{v:.2e}" for v in values)


print("| model | seed | " + " | ".join(COLUMNS) + " |")
print("|---|---:|" + "---:|" * len(COLUMNS))
for config in sorted(glob.glob(os.path.join(a.results, "*", ""))):
    for path in sorted(glob.glob(os.path.join(config, "seed*.score.json"))):
        report = json.load(open(path))
        seed = os.path.basename(path).split(".")[0].removeprefix("seed")
        name = os.path.basename(config.rstrip("/"))
        if "pdf" in report:
            values, model = row(report["pdf"], report["pdf"]["point"]["mode"]), "NN-MDN"
        else:
            values, model = [None] * 7 + row_point(report["overall"]), "NN (point)"
        print(f"| {model} `{name}` | {seed} | " + fmt(values) + " |")
for case, name in [("knn_dc2", "RAIL KNearNeigh"), ("flexzboost_dc2", "RAIL FlexZBoost")]:
    ref = json.load(open(os.path.join(a.reference, case + ".expected.json")))["pzbench"]
    print(f"| {name} | – | " + fmt(row(ref, ref["point"]["mode"])) + " |")
