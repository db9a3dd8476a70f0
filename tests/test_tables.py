"""Tables for papers: classes as columns, fits side by side, classes aligned."""

import re
import warnings

import numpy as np
import pytest

import smlcr
from smlcr.datasets import simulate_grouped
from smlcr.tables import align_classes


@pytest.fixture(scope="module")
def fits():
    sim = simulate_grouped(n_groups=300, rows_per_group=4, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        three = smlcr.LatentClassOLS.from_formula(
            sim.formula, sim.data, groups="id", k_classes=3
        ).fit(rng=0)
        two = smlcr.LatentClassOLS.from_formula(
            sim.formula, sim.data, groups="id", k_classes=2
        ).fit(rng=0)
    return three, two


def _relabelled(res, order):
    """A copy of ``res`` listing its classes in ``order`` (class order[s] shown as s)."""
    inner = res._results if hasattr(res, "_results") else res
    clone = object.__new__(type(inner))
    clone.__dict__.update(inner.__dict__)
    blocks = res.model.layout.slices
    permutation = np.arange(len(res.params))
    for s, t in enumerate(order):
        permutation[blocks["beta"][s]] = np.arange(blocks["beta"][t].start, blocks["beta"][t].stop)
        permutation[blocks["sigma2"].start + s] = blocks["sigma2"].start + t
    clone.params = np.asarray(res.params)[permutation]
    clone._cache = dict(getattr(inner, "_cache", {}))  # bse, p-values: cached, read-only
    for name in ("bse", "pvalues", "tvalues"):
        clone._cache[name] = np.asarray(getattr(res, name))[permutation]
    clone.__dict__["class_shares"] = res.class_shares.iloc[list(order)].reset_index(drop=True)
    return clone


def test_classes_listed_in_another_order_are_aligned(fits):
    three, _ = fits
    order = [2, 0, 1]
    other = _relabelled(three, order)
    labels = align_classes(three, other)
    # class s + 1 of the copy is class order[s] + 1 of the reference
    np.testing.assert_array_equal(labels, np.asarray(order) + 1)
    table = smlcr.summary_table([three, other], model_names=["a", "b"]).tables[0]
    header = [str(cell) for cell in table[0]][1:]
    assert header == [f"a class {s}" for s in (1, 2, 3)] + [f"b class {s}" for s in (1, 2, 3)]
    rows = {str(row[0]).strip(): [str(c).strip() for c in row][1:] for row in table[1:]}
    assert rows["x1"][:3] == rows["x1"][3:]  # the same segments in the same columns
    assert rows["share"][:3] == rows["share"][3:]


def test_fewer_classes_are_matched_to_their_nearest_segments(fits):
    three, two = fits
    labels = align_classes(three, two)
    assert sorted(labels) == sorted(set(labels)) and set(labels) <= {1, 2, 3}
    # class 1 (the largest, coefficients near (1, 2, -1)) is the same segment in both
    assert labels[0] == 1


def test_table_contents_stars_and_latex(fits):
    three, two = fits
    smry = smlcr.summary_table([three, two], model_names=["K=3", "K=2"])
    text = smry.as_text()
    coef = three.params["x1[1]"]
    assert f"{coef:.3f}***" in text and f"({three.bse['x1[1]']:.3f})" in text
    assert f"{three.llf:.2f}" in text and f"{two.bic:.2f}" in text
    assert "Individuals" in text and "Hungarian" in text
    latex = smry.as_latex()
    assert latex.count(r"\begin{tabular}") == latex.count(r"\end{tabular}") == 1
    body = latex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    lines = [line for line in body.splitlines() if line.strip().endswith(r"\\")]
    assert lines and len({line.count("&") for line in lines}) == 1  # every row complete
    assert "<table" in smry.as_html()


def test_bad_table_arguments_name_themselves(fits):
    three, two = fits
    with pytest.raises(ValueError, match="model_names"):
        smlcr.summary_table([three, two], model_names=["only one"])
    with pytest.raises(ValueError, match="reference"):
        smlcr.summary_table([three, two], reference=2)
    assert re.search(r"class 1", smlcr.summary_table(three).as_text())
