"""Plots: each returns its Figure; what was drawn is checked (Agg backend)."""

import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import smlcr  # noqa: E402
from smlcr import plot  # noqa: E402
from smlcr.datasets import simulate_grouped  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    sim = simulate_grouped(n_groups=150, rows_per_group=4, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            sim.formula, sim.data, groups="id", k_classes=3
        ).fit(rng=0)
        table = smlcr.compare_classes(
            sim.formula,
            sim.data,
            groups="id",
            k_range=[1, 2, 3],
            rng=0,
            fit_kwds={"n_starts": 4},
        )
    return res, table


def test_trace_draws_the_log_likelihood_history(fitted):
    res, _ = fitted
    fig = plot.plot_trace(res)
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), res.llf_history)
    assert np.all(np.diff(line.get_ydata()) >= -1e-9 * abs(res.llf))


def test_posterior_histograms_count_every_individual(fitted):
    res, _ = fitted
    fig = plot.plot_posteriors(res, bins=10)
    assert len(fig.axes) == 3
    for s, ax in enumerate(fig.axes):
        heights = [patch.get_height() for patch in ax.patches]
        assert len(heights) == 10 and sum(heights) == res.n_groups
        counts, _ = np.histogram(res.posteriors.iloc[:, s], bins=np.linspace(0, 1, 11))
        np.testing.assert_array_equal(heights, counts)


def test_coefficients_are_drawn_with_their_intervals(fitted):
    res, _ = fitted
    fig = plot.plot_coefficients(res, alpha=0.1)
    ax = fig.axes[0]
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(points) == 3
    for s, line in enumerate(points, start=1):
        expected = res.params[[f"{t}[{s}]" for t in res.model.class_exog_names]]
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == res.model.class_exog_names


def test_criteria_against_k(fitted):
    _, table = fitted
    fig = plot.plot_criteria(table, criteria=("aic", "bic"))
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), table["aic"])
    np.testing.assert_allclose(lines[1].get_ydata(), table["bic"])
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="criteria"):
        plot.plot_criteria(table, criteria=("abc",))
