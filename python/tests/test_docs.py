"""docs/python.md's walk-through, run as written: every ```python block of its "Walk-through"
section, in order, in one namespace, in a scratch directory."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def walkthrough_blocks() -> list:
    """The code blocks of the walk-through section (up to the next `## ` heading)."""
    text = DOC.read_text()
    section = text.split("\n## Walk-through\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = walkthrough_blocks()
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert abs(namespace["result"].overall["scatter"] - 0.03) < 0.002
    assert len(namespace["frame"]) == 20
    assert (tmp_path / "scatter.png").stat().st_size > 10_000
    assert len(namespace["from_file"].input["sha256"]) == 64
    printed = capsys.readouterr().out
    assert "lo" in printed and "scatter" in printed
