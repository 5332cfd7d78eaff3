#!/usr/bin/env python3
"""The qp/RAIL evaluation of a PDF file, as a RAIL user gets "all metrics" today.

Usage: rail_eval.py FILE.qp.hdf5 [--out JSON] [--all-cde] [--check EXPECTED.json]

Reads FILE with qp.read (truth = ancil z_spec), then calls exactly the qp-prob 1.1.4 /
pz-rail-base 2.0.11 functions that the `rail` block of the reference files
(shared/reference/pdf/*.expected.json, spec PDF_METRICS.md section 3) names:

  pit            qp.metrics.pit.PIT(ens, z).calculate_pit_meta_metrics()   -> ks, cvm, ad, outlier_rate
  cde_loss       rail.evaluation.metrics.cdeloss.CDELoss(ens, linspace(0, 3, 301), z).evaluate().statistic
                 (--all-cde adds qp CDELossMetric() [linspace(0, 2.5, 301)] and CDELoss on linspace(0, 3, 302))
  brier          qp.metrics.calculate_brier(ens, z, limits=(0.0, 3.0), dx=0.01)
  point_on_mode  zmode = ens.mode(grid=linspace(0, 3, 301)); PointBias / PointSigmaIQR /
                 PointOutlierRate / PointSigmaMAD (rail.evaluation.metrics.pointestimates)

Prints one JSON object (values, wall time of read + evaluate measured with time.perf_counter,
and the time of each step) and writes it to --out if given. --check compares the values with
the `rail` block of an expected.json and exits 1 if any differs by more than 1e-9 relative.
Nothing is fetched: qp and rail must be installed (pip install qp-prob==1.1.4 pz-rail-base==2.0.11).
"""
import argparse
import json
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import qp  # noqa: E402
from qp.metrics import calculate_brier  # noqa: E402
from qp.metrics.concrete_metric_classes import CDELossMetric  # noqa: E402
from qp.metrics.pit import PIT  # noqa: E402
from rail.evaluation.metrics.cdeloss import CDELoss  # noqa: E402
from rail.evaluation.metrics.pointestimates import (  # noqa: E402
    PointBias,
    PointOutlierRate,
    PointSigmaIQR,
    PointSigmaMAD,
)

T_IMPORTED = time.perf_counter()


def evaluate(path, all_cde=False):
    steps = {}
    t0 = time.perf_counter()
    ens = qp.read(path)
    z = np.asarray(ens.ancil["z_spec"], dtype=float).reshape(-1)
    t = time.perf_counter()
    steps["read"] = t - t0

    out = {"n": int(ens.npdf), "pdf_name": type(ens.gen_obj).__name__}

    t1 = time.perf_counter()
    pit = PIT(ens, z)
    mm = pit.calculate_pit_meta_metrics()
    out["pit"] = {
        "ks": float(mm["ks"].statistic),
        "cvm": float(mm["cvm"].statistic),
        "ad": float(mm["ad"].statistic),
        "outlier_rate": float(mm["outlier_rate"]),
        "n_pit_outside_0_1": int(np.sum((pit.pit_samps < 0) | (pit.pit_samps > 1))),
    }
    t = time.perf_counter()
    steps["pit"] = t - t1

    t1 = t
    cde = [{
        "function": "rail.evaluation.metrics.cdeloss.CDELoss(ensemble, zgrid, z_spec).evaluate().statistic",
        "zgrid": "numpy.linspace(0, 3, 301)",
        "value": float(CDELoss(ens, np.linspace(0.0, 3.0, 301), z).evaluate().statistic),
    }]
    if all_cde:
        cde.append({
            "function": "qp.metrics.concrete_metric_classes.CDELossMetric().evaluate(ensemble, z_spec)",
            "zgrid": "numpy.linspace(0, 2.5, 301)",
            "value": float(CDELossMetric().evaluate(ens, z)),
        })
        cde.append({
            "function": "rail.evaluation.metrics.cdeloss.CDELoss(ensemble, zgrid, z_spec).evaluate().statistic",
            "zgrid": "numpy.linspace(0, 3, 302)",
            "value": float(CDELoss(ens, np.linspace(0.0, 3.0, 302), z).evaluate().statistic),
        })
    out["cde_loss"] = cde
    t = time.perf_counter()
    steps["cde_loss"] = t - t1

    t1 = t
    out["brier"] = float(calculate_brier(ens, z, limits=(0.0, 3.0), dx=0.01))
    t = time.perf_counter()
    steps["brier"] = t - t1

    t1 = t
    zmode = np.asarray(ens.mode(grid=np.linspace(0.0, 3.0, 301))).reshape(-1)
    out["point_on_mode"] = {
        "bias": float(PointBias(zmode, z).evaluate()),
        "sigma_iqr": float(PointSigmaIQR(zmode, z).evaluate()),
        "outlier_rate": float(PointOutlierRate(zmode, z).evaluate()),
        "sigma_mad": float(PointSigmaMAD(zmode, z).evaluate()),
    }
    t = time.perf_counter()
    steps["point_on_mode"] = t - t1
    steps["read_and_evaluate"] = t - t0
    return out, steps


def flat_values(res):
    """(name, value) pairs of the numbers, named as in the reference `rail` block."""
    pairs = [(f"pit.{k}", res["pit"][k]) for k in ("ks", "cvm", "ad", "outlier_rate")]
    for c in res["cde_loss"]:
        pairs.append((f"cde_loss[{c['zgrid']}]", c["value"]))
    pairs.append(("brier", res["brier"]))
    pairs += [(f"point_on_mode.{k}", v) for k, v in res["point_on_mode"].items()]
    return pairs


def expected_values(rail):
    exp = {f"pit.{k}": rail["pit"][k] for k in ("ks", "cvm", "ad", "outlier_rate")}
    for c in rail["cde_loss"]:
        grid = c["args"].get("zgrid") or c["args"].get("eval_grid")
        exp[f"cde_loss[{grid.split(' (')[0]}]"] = c["value"]
    exp["brier"] = rail["brier"]["value"]
    for k in ("bias", "sigma_iqr", "outlier_rate", "sigma_mad"):
        exp[f"point_on_mode.{k}"] = rail["point_on_mode"][k]["value"]
    return exp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="a qp HDF5 file (*.qp.hdf5) with ancil z_spec")
    ap.add_argument("--out", help="write the JSON here too")
    ap.add_argument("--all-cde", action="store_true",
                    help="also the CDE loss on the other two grids of the reference rail block")
    ap.add_argument("--check", metavar="EXPECTED_JSON",
                    help="compare with the rail block of this expected.json (1e-9 relative)")
    ap.add_argument("--quiet", action="store_true", help="print nothing (use with --out)")
    args = ap.parse_args()

    res, steps = evaluate(args.file, all_cde=args.all_cde or bool(args.check))
    res["file"] = args.file
    res["timing_s"] = dict(steps, import_=T_IMPORTED - T_START,
                           process_so_far=time.perf_counter() - T_START)
    res["versions"] = {"qp": qp.__version__, "numpy": np.__version__,
                       "python": sys.version.split()[0]}
    try:
        from importlib.metadata import version
        res["versions"]["pz-rail-base"] = version("pz-rail-base")
        res["versions"]["scipy"] = version("scipy")
    except Exception:  # pragma: no cover
        pass

    rc = 0
    if args.check:
        with open(args.check) as f:
            exp = expected_values(json.load(f)["rail"])
        rows, worst = [], 0.0
        for name, got in flat_values(res):
            want = exp.get(name)
            if want is None:
                continue
            rel = abs(got - want) / max(abs(want), 1e-300) if got != want else 0.0
            worst = max(worst, rel)
            rows.append({"metric": name, "got": got, "expected": want, "rel_diff": rel})
        missing = sorted(set(exp) - {n for n, _ in flat_values(res)})
        res["check"] = {"against": args.check, "max_rel_diff": worst, "rows": rows,
                        "missing": missing, "pass": worst <= 1e-9 and not missing}
        rc = 0 if res["check"]["pass"] else 1

    text = json.dumps(res, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if not args.quiet:
        print(text)
    return rc


if __name__ == "__main__":
    sys.exit(main())
