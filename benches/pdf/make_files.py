#!/usr/bin/env python3
"""Build the 100,000-galaxy PDF benchmark files by tiling the DC2 reference cases.

Usage: make_files.py OUTDIR [--n 100000] [--ref DIR]

For each DC2 case of shared/reference/pdf (knn_dc2: Gaussian mixtures K=7; flexzboost_dc2:
grids on linspace(0, 3, 301); 3066 galaxies each) the rows are repeated until there are n of
them. Every ancil column is kept (z_spec, and zmode for KNN); object_id becomes
original_id + tile * 10**11, so the first copy keeps the original ids and every id is unique.

Written, for n = 100000 ("100k"; other n use their own number as the tag):
  knn_100k.qp.hdf5, knn_100k.csv                              (mixmod)
  flexzboost_100k.qp.hdf5, flexzboost_100k.csv, flexzboost_100k.grid.csv  (interp)

The qp files are written BY qp (qp.Ensemble(qp.mixmod | qp.interp, data=..., ancil=...)
then ens.write_to(path)), so they are genuine qp files. The CSVs (spec PDF_METRICS.md 1.3) are
written from the arrays as read back from that qp file, so that CSV and qp file hold
bit-identical numbers (qp normalises again on construction, which may move a value by an ulp);
every float in shortest round-trip form (Python repr).
Nothing is fetched; needs qp-prob (1.1.4) and h5py.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import qp

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REF = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "reference", "pdf"))
ID_STRIDE = 10**11


def tag(n):
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def read_case(path):
    with h5py.File(path, "r") as h:
        meta = {k: h["meta"][k][()] for k in h["meta"]}
        data = {k: h["data"][k][()] for k in h["data"]}
        ancil = {k: h["ancil"][k][()] for k in h["ancil"]}
    return meta, data, ancil


def tile_rows(a, n):
    reps = -(-n // a.shape[0])
    return np.concatenate([a] * reps, axis=0)[:n]


def tiled_ancil(ancil, n):
    m = ancil["object_id"].shape[0]
    out = {k: tile_rows(v, n) for k, v in ancil.items()}
    if int(np.max(ancil["object_id"])) >= ID_STRIDE:
        sys.exit("object ids too large for the tiling stride")
    out["object_id"] = out["object_id"].astype(np.int64) + (np.arange(n, dtype=np.int64) // m) * ID_STRIDE
    assert np.unique(out["object_id"]).size == n
    return out


def fmt_rows(cols):
    """cols: list of 1-D arrays (object_id int, floats...). Yields CSV lines."""
    lists = [c.tolist() for c in cols]
    rep = float.__repr__
    for row in zip(*lists):
        yield str(row[0]) + "," + ",".join(map(rep, row[1:])) + "\n"


def write_csv(path, header, cols):
    with open(path, "w", newline="") as f:
        f.write(",".join(header) + "\n")
        buf = []
        for line in fmt_rows(cols):
            buf.append(line)
            if len(buf) >= 2000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


def make_knn(ref, outdir, n):
    meta, data, ancil = read_case(os.path.join(ref, "knn_dc2.qp.hdf5"))
    assert meta["pdf_name"][0] == b"mixmod"
    anc = tiled_ancil(ancil, n)
    ens = qp.Ensemble(qp.mixmod, data=dict(weights=tile_rows(data["weights"], n),
                                           means=tile_rows(data["means"], n),
                                           stds=tile_rows(data["stds"], n)), ancil=anc)
    stem = os.path.join(outdir, f"knn_{tag(n)}")
    ens.write_to(stem + ".qp.hdf5")
    with h5py.File(stem + ".qp.hdf5", "r") as h:
        w, mu, s = (h["data"][k][()] for k in ("weights", "means", "stds"))
        oid, z = h["ancil/object_id"][()], h["ancil/z_spec"][()]
    k = w.shape[1]
    header = (["object_id", "z_spec"] + [f"w_{i}" for i in range(k)]
              + [f"mu_{i}" for i in range(k)] + [f"sigma_{i}" for i in range(k)])
    cols = [oid, z] + [w[:, i] for i in range(k)] + [mu[:, i] for i in range(k)] + [s[:, i] for i in range(k)]
    write_csv(stem + ".csv", header, cols)
    return [stem + ".qp.hdf5", stem + ".csv"]


def make_flexzboost(ref, outdir, n):
    meta, data, ancil = read_case(os.path.join(ref, "flexzboost_dc2.qp.hdf5"))
    assert meta["pdf_name"][0] == b"interp"
    anc = tiled_ancil(ancil, n)
    xvals = meta["xvals"].reshape(-1)
    ens = qp.Ensemble(qp.interp, data=dict(xvals=xvals, yvals=tile_rows(data["yvals"], n)), ancil=anc)
    stem = os.path.join(outdir, f"flexzboost_{tag(n)}")
    ens.write_to(stem + ".qp.hdf5")
    with h5py.File(stem + ".qp.hdf5", "r") as h:
        x = h["meta/xvals"][()].reshape(-1)
        y = h["data/yvals"][()]
        oid, z = h["ancil/object_id"][()], h["ancil/z_spec"][()]
    header = ["object_id", "z_spec"] + [f"pdf_{i}" for i in range(y.shape[1])]
    write_csv(stem + ".csv", header, [oid, z] + [y[:, i] for i in range(y.shape[1])])
    with open(stem + ".grid.csv", "w") as f:
        f.write("z\n" + "".join(repr(v) + "\n" for v in x.tolist()))
    return [stem + ".qp.hdf5", stem + ".csv", stem + ".grid.csv"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--n", type=int, default=100000, help="galaxies per file (default 100000)")
    ap.add_argument("--ref", default=os.environ.get("PZ_PDF_REF", DEFAULT_REF),
                    help="folder with knn_dc2.qp.hdf5 and flexzboost_dc2.qp.hdf5 (default: shared/reference/pdf)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for f in make_knn(args.ref, args.outdir, args.n) + make_flexzboost(args.ref, args.outdir, args.n):
        print(f"{f}\t{os.path.getsize(f) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
