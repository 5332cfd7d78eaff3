"""qp reads the PDFs that `pzbench predict` writes for a mixture-density model (issue 18):
`qp.read` of the `--qp` file is a `mixmod` ensemble of the same galaxies whose densities, CDFs and
ancillary columns equal the CSV written beside it, and whose CDF at z_spec is `pzbench score`'s
PIT; an ensemble of two such models (`pzbench ensemble`) is, read by qp, the average of theirs.

Trains a small NN-MDN on DC2 rows with the command-line binary: `target/debug/pzbench` (built by
`cargo build`), or `$PZBENCH_BIN`.
"""
import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import qp
from scipy.stats import norm

REPO = Path(__file__).resolve().parents[2]
DC2 = REPO / "fixtures" / "data" / "dc2" / "dc2_training_9816.csv"
BANDS = "mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst"
CLI = Path(os.environ.get("PZBENCH_BIN", REPO / "target" / "debug" / "pzbench"))
K = 3


def cli(*args):
    """`pzbench ARGS`, which must succeed."""
    if not CLI.exists():
        pytest.fail(f"{CLI} not found: build the command line first (cargo build), or set PZBENCH_BIN")
    run = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    """A NN-MDN (K = 3) trained on DC2 rows with index mod 10 < 7 among the first 1,500, and its
    PDFs of the other rows: (CSV path, qp path, per-galaxy values of `pzbench score --pit-out`)."""
    tmp = tmp_path_factory.mktemp("mdn")
    with open(DC2) as f:
        header, *lines = f.readlines()[:1501]
    for name, keep in [("train", lambda i: i % 10 < 7), ("test", lambda i: i % 10 >= 7)]:
        (tmp / f"{name}.csv").write_text(header + "".join(l for i, l in enumerate(lines) if keep(i)))
    model = tmp / "nn_mdn"
    cli("train", "--model", "nn", "--head", "mdn", "--components", K, "--train", tmp / "train.csv",
        "--val-fraction", "0.2", "--bands", BANDS, "--colors", "--epochs", "5", "--seed", "2", "--out", model, "-q")
    pdfs, qp_file = tmp / "pdfs.csv", tmp / "pdfs.qp.hdf5"
    cli("predict", "--model", model, "--data", tmp / "test.csv", "--out", pdfs, "--qp", qp_file, "-q")
    per_galaxy = tmp / "per_galaxy.csv"
    cli("score", qp_file, "--pit-out", per_galaxy, "-q")
    return pdfs, qp_file, rows(per_galaxy)


def test_an_ensemble_read_by_qp_is_the_average_of_its_members(predicted, tmp_path):
    """A second member (seed 3, validated on the first's split) and the two as an ensemble whose
    widths are kept: qp's densities and CDFs of the ensemble are the means of the members'."""
    _, first_qp, _ = predicted
    data = first_qp.parent
    second = tmp_path / "nn_mdn_3"
    cli("train", "--model", "nn", "--head", "mdn", "--components", K, "--train", data / "train.csv",
        "--val-fraction", "0.2", "--split-seed", "2", "--bands", BANDS, "--colors", "--epochs", "5", "--seed", "3",
        "--out", second, "-q")
    ensemble = tmp_path / "x2"
    cli("ensemble", data / "nn_mdn", second, "--no-width-calibration", "--out", ensemble, "-q")
    files = {}
    for name, model in [("second", second), ("ensemble", ensemble)]:
        files[name] = tmp_path / f"{name}.qp.hdf5"
        cli("predict", "--model", model, "--data", data / "test.csv", "--out", tmp_path / f"{name}.csv",
            "--qp", files[name], "-q")
    members = [qp.read(str(first_qp)), qp.read(str(files["second"]))]
    ens = qp.read(str(files["ensemble"]))
    assert ens.gen_class.name == "mixmod" and ens.objdata["means"].shape == (450, 2 * K)
    grid = np.linspace(0.0, 3.0, 301)
    np.testing.assert_allclose(ens.pdf(grid), (members[0].pdf(grid) + members[1].pdf(grid)) / 2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.cdf(grid), (members[0].cdf(grid) + members[1].cdf(grid)) / 2, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ens.ancil["object_id"], members[0].ancil["object_id"])


def table(path):
    """The CSV's ids, z_spec, z_phot and (n, K) weights, means and widths."""
    data = rows(path)
    column = lambda name: np.array([float(r[name]) for r in data])
    params = {p: np.stack([column(f"{p}_{k}") for k in range(K)], axis=1) for p in ("w", "mu", "sigma")}
    ids = np.array([int(r["object_id"]) for r in data])
    return ids, column("z_spec"), column("z_phot"), params


def test_qp_reads_the_same_pdfs_as_the_csv(predicted):
    pdfs, qp_file, _ = predicted
    ids, z_spec, z_phot, params = table(pdfs)
    assert len(ids) == 450
    ens = qp.read(str(qp_file))
    assert ens.gen_class.name == "mixmod"
    assert ens.npdf == len(ids)
    np.testing.assert_array_equal(ens.ancil["object_id"], ids)
    np.testing.assert_array_equal(ens.ancil["z_spec"], z_spec)
    np.testing.assert_array_equal(ens.ancil["zmode"], z_phot)
    # The parameters as stored, and the densities and CDFs on a grid, from the CSV's columns.
    np.testing.assert_array_equal(ens.objdata["means"], params["mu"])
    np.testing.assert_array_equal(ens.objdata["stds"], params["sigma"])
    weights = params["w"] / params["w"].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ens.objdata["weights"], weights, rtol=1e-15, atol=0)
    grid = np.linspace(0.0, 3.0, 301)
    density = (weights[:, :, None] * norm.pdf(grid, params["mu"][:, :, None], params["sigma"][:, :, None])).sum(axis=1)
    cdf = (weights[:, :, None] * norm.cdf(grid, params["mu"][:, :, None], params["sigma"][:, :, None])).sum(axis=1)
    np.testing.assert_allclose(ens.pdf(grid), density, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.cdf(grid), cdf, rtol=1e-12, atol=1e-12)
    assert density.max() > 1.0, "trained PDFs are narrower than the redshift range"


def test_qp_cdf_at_the_truth_is_the_pit_pzbench_scores(predicted):
    _, qp_file, per_galaxy = predicted
    ens = qp.read(str(qp_file))
    z_spec = ens.ancil["z_spec"]
    pit = np.array([float(r["pit"]) for r in per_galaxy])
    qp_pit = ens.cdf(z_spec[:, None])[:, 0]
    np.testing.assert_allclose(qp_pit, pit, rtol=1e-12, atol=1e-14)
    modes = np.array([float(r["z_mode"]) for r in per_galaxy])
    np.testing.assert_array_equal(ens.ancil["zmode"], modes)
