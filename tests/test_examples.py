"""The examples run and show what they promise."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_quickstart(capsys):
    out = run("quickstart.py", capsys)
    assert "Latent Class OLS Regression Results" in out
    assert "Fixed effects absorbed" in out
    # the crosstab is diagonal: every artist recovered
    table = out.split("true segment, artists:")[1].strip().splitlines()[2:]
    counts = [[int(v) for v in line.split()[1:]] for line in table]
    assert all(counts[i][j] == 0 for i in range(4) for j in range(4) if i != j)


@pytest.mark.slow
def test_streams_segments(capsys):
    out = run("streams_segments.py", capsys)
    assert "BIC chooses K = 4" in out
    assert "no fall beyond rounding" in out


def test_readme_usage_block_runs():
    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["table"]["bic"].idxmin() == 4
    assert namespace["res"].k_classes == 4
