"""The `pzbench` command line that the tests compare the package with: target/debug/pzbench
(built by `cargo test`), or the binary $PZBENCH_BIN names."""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("PZBENCH_BIN", REPO / "target" / "debug" / "pzbench"))


def cli(*args, env=None):
    """`pzbench ARGS` (in the environment `env`, default this process's): the completed process."""
    if not CLI.exists():
        pytest.fail(f"{CLI} not found: build the command line first (cargo build), or set PZBENCH_BIN")
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=env)


def cli_output(*args, env=None):
    """What `pzbench ARGS` prints (it must succeed)."""
    run = cli(*args, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout


def cli_error(*args, env=None):
    """The message of `pzbench ARGS`, which must fail with exit code 2 (without `error: `)."""
    run = cli(*args, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    return run.stderr.removeprefix("error: ").rstrip("\n")
