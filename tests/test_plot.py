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


def test_plot_and_diagnostics_helpers_check_their_arguments(fitted):
    """`bins=0` drew empty axes, other bad `bins` gave numpy's errors, `plot_criteria` of a
    fit an AttributeError and of no criteria an empty plot; the diagnostics helpers took
    rows that are not probabilities (an entropy R-squared of 19.8) and arrays of the wrong
    shape, and a one-class fit had an OCC of -inf (found by the API audit)."""
    from smlcr.diagnostics import (
        classification_diagnostics,
        information_criteria,
        posterior_entropy,
    )

    fitted, table = fitted

    for bins in (0, True, 2.5, -3, [0, 0.5, 1]):
        with pytest.raises(ValueError, match="`bins` must be an integer"):
            plot.plot_posteriors(fitted, bins=bins)
    with pytest.raises(TypeError, match="`table` must be the DataFrame"):
        plot.plot_criteria(fitted)
    with pytest.raises(ValueError, match="`criteria` is empty"):
        plot.plot_criteria(table, criteria=[])
    tau = np.array([[0.9, 0.1], [0.2, 0.8]])
    for bad in (np.array([[5.0, 1.0], [2.0, 8.0]]), np.array([[0.5, 0.4]]), np.array([0.5, 0.5])):
        with pytest.raises(ValueError, match="`tau`"):
            classification_diagnostics(bad, [0.5, 0.5])
    with pytest.raises(ValueError, match="`tau`"):
        posterior_entropy(np.array([[-0.5, 1.5]]))
    with pytest.raises(ValueError, match="`shares` must have one value per class"):
        classification_diagnostics(tau, [0.5, 0.3, 0.2])
    with pytest.raises(ValueError, match="`weight` must have one value per individual"):
        classification_diagnostics(tau, [0.5, 0.5], weight=np.ones(3))
    with pytest.raises(ValueError, match="`n` must be a positive number"):
        information_criteria(-10.0, 3, 0, tau)
    assert classification_diagnostics(tau, [0.55, 0.45]).entropy_r2 == pytest.approx(
        1 - posterior_entropy(tau) / (2 * np.log(2))
    )
    one = classification_diagnostics(np.ones((4, 1)), [1.0])
    assert one.entropy_r2 == 1.0 and np.isnan(one.occ.iloc[0])
