"""Every Python code block of the documentation runs on its own (a fresh namespace, in a
temporary directory), so a reader can paste any one of them."""

import re
import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCKS = [
    (path.name, j, block)
    for path in sorted(DOCS.glob("*.md"))
    for j, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))
]


def test_the_docs_have_code_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize(
    ("page", "number", "block"), BLOCKS, ids=[f"{p}[{j}]" for p, j, _ in BLOCKS]
)
def test_code_block_runs_standalone(page, number, block, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}  # as a script run by python
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, f"{page}[{number}]", "exec"), namespace)
    capsys.readouterr()
