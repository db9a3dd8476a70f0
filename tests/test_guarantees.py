"""The list of guarantees is enforced: every warning the package can emit is triggered
by a test, and every test named in docs/guarantees.md exists."""

import ast
import re
from pathlib import Path

from statsmodels.tools.sm_exceptions import ConvergenceWarning

import smlcr.exceptions as exc

ROOT = Path(__file__).resolve().parents[1]
TESTS = {p.name: p.read_text() for p in (ROOT / "tests").glob("test_*.py")}


def emitted_warnings() -> set:
    """Names of the classes passed to ``warn(...)`` anywhere in the package, or made
    into a ``(message, category)`` note that the model emits (``PreparedData.notes``)."""
    names = set()
    for path in (ROOT / "smlcr").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "warn":
                names |= {arg.id for arg in node.args if isinstance(arg, ast.Name)}
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                last = node.elts[-1]
                if isinstance(last, ast.Name) and last.id.endswith("Warning"):
                    names.add(last.id)
    return names


def warning_classes():
    classes = [
        obj
        for obj in vars(exc).values()
        if isinstance(obj, type)
        and issubclass(obj, exc.SmlcrWarning)
        and obj is not exc.SmlcrWarning
    ]
    return classes + [ConvergenceWarning]


def test_every_warning_is_emitted_by_the_package_and_triggered_by_a_test():
    text = "\n".join(body for name, body in TESTS.items() if name != Path(__file__).name)
    emitted = emitted_warnings()
    for cls in warning_classes():
        name = cls.__name__
        assert name in emitted, f"{name} is never emitted"
        pattern = rf"warns\(\s*(?:[\w.]+\.)?{name}\b|issubclass\(w\.category, {name}\)"
        assert re.search(pattern, text), f"no test triggers {name}"


def test_guarantees_page_names_existing_tests():
    page = (ROOT / "docs" / "guarantees.md").read_text()
    cited = re.findall(r"`tests/(test_\w+\.py)::(\w+)", page)
    assert len(cited) >= 20
    for filename, test in cited:
        assert filename in TESTS, filename
        assert re.search(rf"def {test}\(", TESTS[filename]), f"{filename}::{test}"
