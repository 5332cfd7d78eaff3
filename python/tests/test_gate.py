"""`pzbench.gate` and `pzbench.save_baseline` against `pzbench gate` and `pzbench baseline save`: the
same verdict, exit code, text, Markdown and JSON, the same baseline file, and the command's messages
on bad input and bad policies.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import pzbench
from command import cli, cli_error

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"
PDF = REFERENCE / "pdf"
SOURCE = REFERENCE / "random_20k.csv"
# Quick gates: the fewest resamples a policy allows.
QUICK = {"resamples": 100}


def write_predictions(path, table):
    """Write `object_id,z_spec,z_phot` rows."""
    rows = (f"{int(i)},{float(zs)!r},{float(zp)!r}\n" for i, zs, zp in table)
    path.write_text("object_id,z_spec,z_phot\n" + "".join(rows))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A baseline (3,000 galaxies of `SOURCE`), a candidate clearly worse (the same galaxies,
    noisier) and a quick policy file."""
    folder = tmp_path_factory.mktemp("gate")
    table = np.loadtxt(SOURCE, delimiter=",", skiprows=1)[:3000]
    noisier = table.copy()
    noisier[:, 2] += np.random.default_rng(3).normal(0.0, 0.08, len(table)) * (1 + table[:, 1])
    policy = folder / "policy.toml"
    policy.write_text("resamples = 100\n[metrics]\nscatter = { relative = 0.05 }\nloss = { relative = 0.02 }\n")
    return {"base": write_predictions(folder / "base.csv", table),
            "worse": write_predictions(folder / "worse.csv", noisier), "policy": policy}


def assert_equals_the_command_line(result, *args):
    """`result` is what `pzbench gate ARGS` reports in every format, with its exit code."""
    for fmt, text in [("text", result.to_text()), ("markdown", result.to_markdown()), ("json", result.to_json())]:
        run = cli("gate", *args, "--format", fmt)
        assert run.returncode == result.exit_code, run.stderr
        assert text == run.stdout, fmt
    assert result.report == json.loads(result.to_json())


def test_equal_predictions_pass(files):
    result = pzbench.gate(files["base"], files["base"], files["policy"])
    assert result.passed and result.exit_code == 0
    assert result.report["regressions"] == 0 and result.report["galaxies"] == 3000
    assert_equals_the_command_line(result, "--baseline", files["base"], "--candidate", files["base"], "--policy",
                                   files["policy"])


def test_a_worse_candidate_fails_with_exit_code_1(files):
    result = pzbench.gate(str(files["base"]), files["worse"], files["policy"])
    assert not result.passed and result.exit_code == 1
    regressed = {c["metric"] for c in result.report["comparisons"] if c["verdict"] == "regressed"}
    assert {"scatter", "loss"} <= regressed
    assert result.to_text().splitlines()[-1].startswith("FAIL")
    assert_equals_the_command_line(result, "--baseline", files["base"], "--candidate", files["worse"], "--policy",
                                   files["policy"])


def test_default_policy_equals_the_command_line(files):
    result = pzbench.gate(files["base"], files["worse"])
    assert result.report["policy"]["resamples"] == 1000
    assert_equals_the_command_line(result, "--baseline", files["base"], "--candidate", files["worse"])


def test_a_policy_dict_equals_its_file(files):
    policy = {**QUICK, "metrics": {"scatter": {"relative": 0.05}, "loss": {"relative": 0.02}}}
    from_dict = pzbench.gate(files["base"], files["worse"], policy)
    from_file = pzbench.gate(files["base"], files["worse"], files["policy"])
    assert from_dict.to_json() == from_file.to_json()
    settings = {"confidence": 0.9, "correction": "none", "seed": 7, "bins": False, "min_galaxies_per_bin": 10,
                "metrics": {"bias": {"absolute": 0.001}, "outlier_frac": {"absolute": 0.0, "relative": 0.1}}}
    policy_file = files["policy"].with_name("settings.toml")
    policy_file.write_text('resamples = 100\nconfidence = 0.9\ncorrection = "none"\nseed = 7\nbins = false\n'
                           "min_galaxies_per_bin = 10\n[metrics]\nbias = { absolute = 0.001 }\n"
                           "outlier_frac = { absolute = 0.0, relative = 0.1 }\n")
    assert pzbench.gate(files["base"], files["worse"], {**QUICK, **settings}).to_json() == \
        pzbench.gate(files["base"], files["worse"], policy_file).to_json()


@pytest.mark.parametrize("policy, message", [
    ({"confidence": 2.0}, "policy: confidence = 2 must lie strictly between 0 and 1"),
    ({"resamples": 10}, "policy: resamples = 10 is too few for an interval; use at least 100"),
    ({"metrics": {}}, "policy: no metrics to gate: add e.g. `[metrics]` `loss = { relative = 0.05 }`"),
    ({"confidence": "high"}, 'policy: confidence = "high": invalid type: string "high", expected f64'),
    ({"metrics": {"sharpness": {"relative": 0.1}}}, "policy: unknown metric 'sharpness' in [metrics]"),
    ({"resamples": None}, "policy: resamples = None: expected a number"),
])
def test_a_bad_policy_dict_raises_value_error_naming_the_key(policy, message, files):
    with pytest.raises(ValueError) as raised:
        pzbench.gate(files["base"], files["base"], policy)
    assert str(raised.value).startswith(message)


def test_a_policy_dict_with_an_unknown_key_raises_value_error(files):
    with pytest.raises(ValueError) as raised:
        pzbench.gate(files["base"], files["base"], {"resampels": 100})
    assert str(raised.value).startswith("policy: resampels = 100: unknown field `resampels`")


def test_a_bad_policy_file_raises_the_command_line_message(tmp_path, files):
    policy = tmp_path / "bad.toml"
    policy.write_text("resamples = 100\nconfidence = 1.5\n")
    with pytest.raises(ValueError) as raised:
        pzbench.gate(files["base"], files["base"], policy)
    assert str(raised.value) == cli_error("gate", "--baseline", files["base"], "--candidate", files["base"],
                                          "--policy", policy)
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.gate(files["base"], files["base"], tmp_path / "missing.toml")
    assert str(raised.value) == cli_error("gate", "--baseline", files["base"], "--candidate", files["base"], "--policy",
                                          tmp_path / "missing.toml")


def test_missing_files_and_bad_columns_raise_the_command_line_message(tmp_path, files):
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.gate(files["base"], missing, QUICK)
    assert str(raised.value) == cli_error("gate", "--baseline", files["base"], "--candidate", missing)
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.gate(missing, files["base"], QUICK)
    assert str(raised.value) == cli_error("gate", "--baseline", missing, "--candidate", files["base"])
    with pytest.raises(ValueError) as raised:
        pzbench.gate(files["base"], files["base"], QUICK, zphot_col="nope")
    assert str(raised.value) == cli_error("gate", "--baseline", files["base"], "--candidate", files["base"],
                                          "--zphot-col", "nope")
    with pytest.raises(ValueError) as raised:
        pzbench.gate(files["base"], files["base"], QUICK, align="rows")
    assert str(raised.value) == cli_error("gate", "--baseline", files["base"], "--candidate", files["base"],
                                          "--align", "rows")


def test_save_baseline_writes_the_command_line_file_and_gates_against_it(tmp_path, files):
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    score = pzbench.save_baseline(files["base"], ours, bootstrap=100, seed=3)
    run = cli("baseline", "save", "--predictions", files["base"], "--output", theirs, "--bootstrap", "100", "--seed",
              "3")
    assert run.returncode == 0, run.stderr
    assert ours.read_bytes() == theirs.read_bytes()
    expected = cli("score", files["base"], "--bootstrap", "100", "--seed", "3", "--format", "json")
    assert score.to_json() == expected.stdout
    assert score.intervals["resamples"] == 100
    result = pzbench.gate(ours, files["worse"], files["policy"])
    assert result.exit_code == 1 and result.report["paired"]
    assert_equals_the_command_line(result, "--baseline", theirs, "--candidate", files["worse"], "--policy",
                                   files["policy"])


def test_save_baseline_of_a_pdf_file_writes_the_command_line_file(tmp_path):
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    path = PDF / "mix_k3_even.qp.hdf5"
    score = pzbench.save_baseline(path, ours)
    assert cli("baseline", "save", "--predictions", path, "--output", theirs).returncode == 0
    assert ours.read_bytes() == theirs.read_bytes()
    assert score.pdf is not None
    assert pzbench.gate(ours, path, QUICK).passed


def test_save_baseline_bad_input_raises_the_command_line_message(tmp_path, files):
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.save_baseline(missing, tmp_path / "out.json")
    assert str(raised.value) == cli_error("baseline", "save", "--predictions", missing, "--output",
                                          tmp_path / "out.json")
    with pytest.raises(ValueError) as raised:
        pzbench.save_baseline(files["base"], tmp_path / "out.json", lock_timeout=-1)
    assert str(raised.value) == cli_error("baseline", "save", "--predictions", files["base"], "--output",
                                          tmp_path / "out.json", "--lock-timeout=-1")
    assert not (tmp_path / "out.json").exists()
