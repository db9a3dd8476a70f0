"""Plots of a fit (optional extra ``smlcr[plot]``: matplotlib).

Each function returns the matplotlib ``Figure`` it drew, so it can be saved or
changed; pass ``ax`` to draw into an existing axes where there is one.

- :func:`plot_trace`: the log-likelihood at every EM and Newton step of the
  final run (it never falls).
- :func:`plot_posteriors`: for each class, the histogram of the individuals'
  posterior probabilities of it (as flexmix's ``plot`` of a fit): a good
  separation piles them at 0 and 1.
- :func:`plot_coefficients`: every class-specific coefficient by class, with
  confidence intervals.
- :func:`plot_criteria`: information criteria against K from
  :func:`smlcr.compare_classes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlcr.design import check_count

__all__ = ["plot_coefficients", "plot_criteria", "plot_posteriors", "plot_trace"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "plots need matplotlib: pip install 'smlcr[plot]' (or matplotlib)."
        ) from err
    return plt


def _axes(ax, **subplots):
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(**subplots)
        return fig, ax
    return ax.figure, ax


def plot_trace(res, ax=None):
    """The log-likelihood at every step of the final run (EM, then Newton).

    Parameters
    ----------
    res : LatentClassOLSResults
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax)
    history = np.asarray(res.llf_history)
    steps = np.arange(history.size)
    ax.plot(steps, history, marker=".", label="log-likelihood")
    if res.n_newton:
        start = history.size - 1 - res.n_newton
        ax.axvline(start, color="grey", linestyle=":", label="Newton phase")
    ax.set_xlabel("step (EM, then Newton)")
    ax.set_ylabel("log-likelihood")
    ax.set_title(f"Trace of the best run (K = {res.k_classes})")
    ax.legend()
    return fig


def plot_posteriors(res, bins: int = 20, fig=None):
    """Histograms of the individuals' posterior probability of each class.

    Parameters
    ----------
    res : LatentClassOLSResults
    bins : int
        Bins over [0, 1].
    fig : matplotlib Figure, optional
        Drawn into (its axes are replaced by one per class).

    Returns
    -------
    matplotlib.figure.Figure
    """
    bins = check_count(bins, "bins")
    plt = _pyplot()
    k = res.k_classes
    if fig is None:
        fig = plt.figure(figsize=(3 * k, 3.4), layout="constrained")
    fig.clear()
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    edges = np.linspace(0.0, 1.0, bins + 1)
    for s, ax in enumerate(axes):
        values = res.posteriors.iloc[:, s].to_numpy()
        ax.hist(values, bins=edges)
        ax.set_title(f"class {s + 1} (share {res.class_shares['share'].iloc[s]:.2f})")
        ax.set_xlabel("posterior probability")
    axes[0].set_ylabel("individuals")
    fig.suptitle("Posterior probabilities by class")
    return fig


def plot_coefficients(res, alpha: float = 0.05, ax=None):
    """Every class-specific coefficient by class, with ``1 - alpha`` intervals.

    Parameters
    ----------
    res : LatentClassOLSResults
    alpha : float
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax)
    model = res.model
    terms = list(model.class_exog_names)
    ci = np.asarray(res.conf_int(alpha))
    params = np.asarray(res.params)
    positions = np.arange(len(terms))
    width = 0.8 / res.k_classes
    for s, block in enumerate(model.layout.slices["beta"]):
        x = positions - 0.4 + width * (s + 0.5)
        y = params[block]
        error = np.vstack([y - ci[block, 0], ci[block, 1] - y])
        ax.errorbar(x, y, yerr=error, fmt="o", capsize=3, label=f"class {s + 1}")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(positions)
    ax.set_xticklabels(terms)
    ax.set_ylabel(f"coefficient ({100 * (1 - alpha):g}% interval)")
    ax.set_title("Coefficients by class")
    ax.legend()
    return fig


def plot_criteria(table, criteria=("aic", "bic", "icl"), ax=None):
    """Information criteria against the number of classes.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`smlcr.compare_classes` (indexed by K).
    criteria : str or sequence of str
        Columns to draw.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"`table` must be the DataFrame of smlcr.compare_classes, got {type(table).__name__}."
        )
    criteria = [criteria] if isinstance(criteria, str) else list(criteria)
    if not criteria:
        raise ValueError("`criteria` is empty: name at least one column, such as 'bic'.")
    missing = [c for c in criteria if c not in table.columns]
    if missing:
        raise ValueError(
            f"`criteria` {missing} are not columns of the table; it has {list(table.columns)}."
        )
    fig, ax = _axes(ax)
    for name in criteria:
        ax.plot(table.index, table[name], marker="o", label=name.upper())
    ax.set_xlabel("number of classes K")
    ax.set_ylabel("criterion (lower is better)")
    ax.set_xticks(list(table.index))
    ax.set_title("Information criteria")
    ax.legend()
    return fig
