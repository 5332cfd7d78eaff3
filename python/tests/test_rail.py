"""`pzbench.rail.PzbenchEvaluator`, the RAIL evaluator stage, run as RAIL runs stages (`make_stage`,
`evaluate`, handles of a `DataStore`, outputs written to HDF5), checked against `pzbench.score` and
`pzbench.score_pdf` (bit for bit) and against RAIL's own evaluators where both compute the same
quantity. Skipped where RAIL (pz-rail-base) is not installed.

Agreement with RAIL (pz-rail-base 2.0.11, qp 1.1.4) on RAIL's KNearNeigh PDFs of DC2
(`fixtures/reference/pdf/knn_dc2.qp.hdf5`, 3066 galaxies; the first `GALAXIES` for RAIL's slower
PDF evaluators), measured on all 3066 and on the first 500:

- point estimates (the file's `zmode`), against `PointToPointEvaluator` with `force_exact=True`:
  `bias` = `point_bias`, `sigma_iqr` = `point_stats_iqr` and `outlier_frac_rail` =
  `point_outlier_rate` bit for bit; `scatter` × Φ⁻¹(0.75) = `point_stats_sigma_mad` / 1.4826 to
  2e-16 relative (RAIL rounds the NMAD constant 1/Φ⁻¹(0.75) = 1.482602… to 1.4826, so its value
  is 1.5e-6 smaller). Without `force_exact`, RAIL approximates them with t-digests.
- PDFs with `dialect="rail"`: `DistToPointEvaluator`'s `cdeloss` and `brier`, and
  `OldEvaluator`'s PIT KS, CvM, AD and outlier rate, CDE loss and point statistics of the mode:
  bit for bit here; asserted to 1e-9 relative, the rail dialect's tolerance (docs/pdf.md).
- PDFs with `dialect="pzbench"` (exact values): the PIT KS and CvM statistics equal
  `OldEvaluator`'s to 4e-16 relative (asserted: 1e-12), qp's CDF of a Gaussian mixture being exact
  too; the other values differ by definition (grids, estimators: docs/PDF_METRICS.md §4).
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

qp = pytest.importorskip("qp")
pytest.importorskip("rail.evaluation")
tables_io = pytest.importorskip("tables_io")

import pzbench  # noqa: E402
from pzbench.rail import RESAMPLES, PzbenchEvaluator  # noqa: E402
from rail.core.data import DataStore, Hdf5Handle, QPHandle  # noqa: E402
from rail.evaluation.dist_to_point_evaluator import DistToPointEvaluator  # noqa: E402
from rail.evaluation.evaluator import OldEvaluator  # noqa: E402
from rail.evaluation.point_to_point_evaluator import PointToPointEvaluator  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KNN = REPO / "fixtures" / "reference" / "pdf" / "knn_dc2.qp.hdf5"
# Galaxies given to RAIL's PDF evaluators (18 s for all 3066 in OldEvaluator).
GALAXIES = 500
# Resamples where the tests need intervals but not RESAMPLES of them (a debug build).
FEW = 100
# The RAIL truth table layout: columns under a group, as RAIL's evaluators read them by default.
GROUP = "photometry"
REDSHIFT = "redshift"


@pytest.fixture(scope="module")
def ensemble():
    """RAIL's KNearNeigh PDFs of DC2, with `z_spec` and `zmode` in their ancil."""
    return qp.read(str(KNN))


@pytest.fixture(scope="module")
def subset(ensemble):
    """The first `GALAXIES` PDFs."""
    return ensemble[:GALAXIES]


def truth_of(ensemble):
    """The truth table of `ensemble` in RAIL's layout."""
    return {GROUP: {REDSHIFT: np.squeeze(ensemble.ancil["z_spec"])}}


def run_stage(ensemble, name, **config):
    """The outputs (`{tag: data}`) of a `PzbenchEvaluator` run by `evaluate`, returning them."""
    stage = PzbenchEvaluator.make_stage(name=name, output_mode="return", **config)
    return {tag: handle.data for tag, handle in stage.evaluate(ensemble, truth_of(ensemble)).items()}


def column(bins, key):
    """`key` of every bin dict as a column, `None` as NaN."""
    return np.array([np.nan if b.get(key) is None else b[key] for b in bins])


def test_point_estimates_equal_pzbench_score_bit_for_bit(ensemble):
    outputs = run_stage(ensemble, "pzbench_point", point_estimate_key="zmode", bootstrap=FEW, bins="0:3:0.5")
    z_spec = np.squeeze(ensemble.ancil["z_spec"])
    expected = pzbench.score(z_spec, np.squeeze(ensemble.ancil["zmode"]), bootstrap=FEW, bins="0:3:0.5")
    summary, per_bin = outputs["summary"], outputs["per_bin"]
    for metric in pzbench.METRICS:
        assert summary[metric].tolist() == [expected.overall[metric]]
        np.testing.assert_array_equal(per_bin[metric], column(expected.per_bin, metric))
    for metric, (lo, hi) in expected.intervals["overall"].items():
        assert (summary[f"{metric}_lo"][0], summary[f"{metric}_hi"][0]) == (lo, hi)
        bins = [{} if b is None else {"lo": b[metric][0], "hi": b[metric][1]} for b in expected.intervals["per_bin"]]
        np.testing.assert_array_equal(per_bin[f"{metric}_lo"], column(bins, "lo"))
        np.testing.assert_array_equal(per_bin[f"{metric}_hi"], column(bins, "hi"))
    np.testing.assert_array_equal(per_bin["lo"], expected.edges[:-1])
    np.testing.assert_array_equal(per_bin["hi"], expected.edges[1:])


@pytest.mark.parametrize("dialect", ["pzbench", "rail"])
def test_pdfs_equal_pzbench_score_pdf_bit_for_bit(subset, dialect):
    outputs = run_stage(subset, f"pzbench_pdf_{dialect}", dialect=dialect, bootstrap=FEW, bins="0:3:0.5")
    expected = pzbench.score_pdf(
        np.squeeze(subset.ancil["z_spec"]), subset, dialect=dialect, bootstrap=FEW, bins="0:3:0.5"
    )
    summary, per_bin = outputs["summary"], outputs["per_bin"]
    assert summary["pit.ks"].tolist() == [expected.pdf["pit"]["ks"]]
    for metric in pzbench.METRICS:
        assert summary[metric].tolist() == [expected.overall[metric]]
    # Every value with an interval is in the tables under the path the intervals give it.
    intervals = expected.pdf["intervals"]
    for key, (lo, hi) in intervals["overall"].items():
        assert key in summary, key
        assert (summary[f"{key}_lo"][0], summary[f"{key}_hi"][0]) == (lo, hi), key
    for index, bin_intervals in enumerate(intervals["per_bin"]):
        for key, (lo, hi) in (bin_intervals or {}).items():
            assert (per_bin[f"{key}_lo"][index], per_bin[f"{key}_hi"][index]) == (lo, hi), key
    pit_ks = [np.nan if "pit" not in b else b["pit"]["ks"] for b in expected.pdf["per_bin"]]
    np.testing.assert_array_equal(per_bin["pit.ks"], pit_ks)


def test_the_default_bootstrap_is_the_command_line_s():
    help_text = subprocess.run(
        [sys.executable, "-m", "pzbench._cli", "score", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert f"the flag alone means {RESAMPLES})" in " ".join(help_text.split())
    assert PzbenchEvaluator.config_options["bootstrap"].default == RESAMPLES


def test_runs_on_files_through_a_data_store_and_writes_its_tables(ensemble, tmp_path, monkeypatch):
    truth_path = tmp_path / "truth.hdf5"
    tables_io.write(truth_of(ensemble), str(truth_path))
    store = DataStore()
    pdfs = store.read_file("knn_pdfs", QPHandle, str(KNN))
    truth = store.read_file("knn_truth", Hdf5Handle, str(truth_path))
    monkeypatch.chdir(tmp_path)
    stage = PzbenchEvaluator.make_stage(name="pzbench_files", point_estimate_key="zmode")
    handles = stage.evaluate(pdfs, truth)
    for tag in ("summary", "per_bin"):
        written = tables_io.read(handles[tag].path)
        assert sorted(written) == sorted(handles[tag].data)
        for key, values in handles[tag].data.items():
            np.testing.assert_array_equal(written[key], values)
    assert "bias_lo" in handles["summary"].data  # RESAMPLES by default


def test_point_metrics_agree_with_rail_s_point_to_point_evaluator(ensemble):
    ours = run_stage(ensemble, "pzbench_vs_p2p", point_estimate_key="zmode", bootstrap=0)["summary"]
    rail = PointToPointEvaluator.make_stage(
        name="rail_p2p",
        metrics=["point_bias", "point_stats_iqr", "point_outlier_rate", "point_stats_sigma_mad"],
        force_exact=True,
        point_estimate_key="zmode",
        output_mode="return",
    )
    theirs = rail.evaluate(ensemble, truth_of(ensemble))["summary"].data
    assert ours["bias"][0] == theirs["point_bias"][0]
    assert ours["sigma_iqr"][0] == theirs["point_stats_iqr"][0]
    assert ours["outlier_frac_rail"][0] == theirs["point_outlier_rate"][0]
    normal_quartile = 0.6744897501960817  # Φ⁻¹(0.75), scipy.stats.norm.ppf(0.75)
    rail_nmad = theirs["point_stats_sigma_mad"][0] / 1.4826  # RAIL's rounded 1/Φ⁻¹(0.75)
    assert ours["scatter"][0] * normal_quartile == pytest.approx(rail_nmad, rel=1e-15)
    assert ours["scatter"][0] != theirs["point_stats_sigma_mad"][0]


def test_rail_dialect_agrees_with_rail_s_pdf_evaluators(subset):
    ours = run_stage(subset, "pzbench_vs_rail", dialect="rail", bootstrap=0)["summary"]
    dist_to_point = DistToPointEvaluator.make_stage(
        name="rail_d2p", metrics=["cdeloss", "brier"], force_exact=True, output_mode="return"
    )
    theirs = dist_to_point.evaluate(subset, truth_of(subset))["summary"].data
    assert ours["grids[numpy.linspace(0, 2.5, 301)].cde_loss"][0] == pytest.approx(theirs["cdeloss"][0], rel=1e-9)
    assert ours["brier"][0] == pytest.approx(theirs["brier"][0], rel=1e-9)
    old = OldEvaluator.make_stage(name="rail_old", hdf5_groupname=GROUP, output_mode="return")
    theirs = old.evaluate(subset, truth_of(subset)).data
    grid = "grids[numpy.linspace(0, 3, 302)]"  # OldEvaluator's grid: linspace(zmin, zmax, nzbins + 1)
    pairs = {
        "pit.ks": "PIT_KS_stat",
        "pit.cvm": "PIT_CvM_stat",
        "pit.ad": "PIT_AD_stat",
        "pit.outlier_rate": "PIT_OutRate_stat",
        f"{grid}.cde_loss": "CDE_stat",
        f"{grid}.point_on_mode.bias": "POINT_Bias",
        f"{grid}.point_on_mode.sigma_iqr": "POINT_SimgaIQR",
        f"{grid}.point_on_mode.outlier_rate": "POINT_OutlierRate",
        f"{grid}.point_on_mode.sigma_mad": "POINT_SigmaMAD",
    }
    for key, rail_key in pairs.items():
        assert ours[key][0] == pytest.approx(theirs[rail_key][0], rel=1e-9, abs=1e-300), key


def test_exact_pit_statistics_agree_with_rail_s_for_mixtures(subset):
    ours = run_stage(subset, "pzbench_vs_old", bootstrap=0)["summary"]
    theirs = OldEvaluator.make_stage(name="rail_old_exact", hdf5_groupname=GROUP, output_mode="return")
    theirs = theirs.evaluate(subset, truth_of(subset)).data
    assert ours["pit.ks"][0] == pytest.approx(theirs["PIT_KS_stat"][0], rel=1e-12)
    assert ours["pit.cvm"][0] == pytest.approx(theirs["PIT_CvM_stat"][0], rel=1e-12)


def test_a_missing_point_estimate_or_truth_column_is_one_line(ensemble):
    keys = r"\(keys: object_id, z_spec, zmode\); set it to one of those"
    with pytest.raises(ValueError, match=rf"^point_estimate_key 'zbest' is not in the ensemble's ancil {keys}"):
        run_stage(ensemble, "pzbench_no_zbest", point_estimate_key="zbest")
    with pytest.raises(ValueError, match=r"^the truth table has no group 'catalogue' \(hdf5_groupname\)"):
        run_stage(ensemble, "pzbench_no_group", point_estimate_key="zmode", hdf5_groupname="catalogue")
    with pytest.raises(ValueError, match=r"^reference_dictionary_key 'z_true' is not a column of the truth table"):
        run_stage(ensemble, "pzbench_no_column", point_estimate_key="zmode", reference_dictionary_key="z_true")


def test_import_pzbench_never_imports_rail_and_pzbench_rail_names_the_extra():
    check = "import sys, pzbench; assert not [m for m in sys.modules if m.split('.')[0] in ('rail', 'ceci', 'qp')]"
    subprocess.run([sys.executable, "-c", check], check=True)
    without_rail = "import sys; sys.modules['rail'] = sys.modules['ceci'] = None; import pzbench.rail"
    done = subprocess.run([sys.executable, "-c", without_rail], capture_output=True, text=True)
    assert done.returncode == 1
    assert 'ImportError: pzbench.rail needs RAIL: pip install "pzbench[rail]"' in done.stderr


def test_a_pdf_option_with_point_estimates_is_refused_not_dropped(ensemble):
    with pytest.raises(ValueError, match=r"^dialect applies to PDFs, but point_estimate_key 'zmode' scores point"):
        run_stage(ensemble, "pzbench_point_rail", point_estimate_key="zmode", dialect="rail")
