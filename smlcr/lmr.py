"""The Vuong-Lo-Mendell-Rubin likelihood-ratio test of K - 1 classes against K.

Lo, Mendell and Rubin (2001) apply Vuong's (1989) theory of likelihood-ratio
tests between possibly misspecified models to mixtures: the statistic
``2 (l_K - l_{K-1})`` is asymptotically distributed as ``sum_j lambda_j Z_j^2``
(independent standard normal ``Z_j``), the ``lambda_j`` being minus the
eigenvalues of (Vuong's statistic is ``l_f - l_g``, the opposite sign)::

    W = [[-B_f A_f^-1, -B_fg A_g^-1],
         [ B_gf A_f^-1,  B_g A_g^-1]]

with ``A`` the average Hessian of each model's log-likelihood, ``B`` the
average outer product of its per-individual scores and ``B_fg`` the average
cross product of the two models' scores (``f`` the smaller model, ``g`` the
larger), all at the estimates. For two nested regular models that are
correctly specified this is the chi-squared distribution with the difference
in parameters as degrees of freedom (Wilks). Their ad hoc adjustment (the
"adjusted LMR test") divides the statistic by ``1 + 1 / (d ln n)``, with ``d``
the difference in the number of parameters and ``n`` the number of
individuals; in LMR's univariate normal mixtures ``d = 3 (K - K0)``, which is
the ``(3K - 1) - (3K0 - 1)`` of the implementations in R's tidySEM and
tidyLPA. Both p-values are from the weighted chi-squared distribution,
evaluated by simulation with a fixed seed.
"""

from __future__ import annotations

import numbers

import numpy as np

from smlcr.design import check_count

__all__ = ["check_nested_fits", "lmr_adjusted", "lmr_test", "vuong_weights", "weighted_chi2_sf"]


def _same_data(a, b) -> str | None:
    """What differs between the data and options of two models, or None: the individuals,
    their compressed statistics (rows, regressors, absorbed cells, common regressors and
    weights all enter them), the membership design and the variance option."""
    if not a.group_labels.equals(b.group_labels):
        return "individuals"
    if a.variance != b.variance:
        return "variance option"
    if a.class_exog_names != b.class_exog_names or a.common_names != b.common_names:
        return "regressors"
    for name in ("R_upper", "c", "rss", "dof", "weight"):
        x, y = getattr(a.stats, name), getattr(b.stats, name)
        if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
            return "data" if name != "weight" else "weights"
    if not np.array_equal(a._Z, b._Z):
        return "membership design"
    return None


def _require_fits(fits_and_names) -> None:
    """A ``TypeError`` naming the argument that is not a fitted result."""
    for fit, name in fits_and_names:
        if not all(hasattr(fit, a) for a in ("model", "llf", "k_classes", "df_model", "params")):
            raise TypeError(
                f"`{name}` must be a fitted result (LatentClassOLSResults), got "
                f"{type(fit).__name__}; pass the result of `model.fit()`."
            )


def check_nested_fits(small, big, names: tuple = ("small", "big"), one_more: bool = False):
    """An error naming the argument unless ``small`` and ``big`` are fits of one model and
    one data set with fewer and more classes: the one owner of that rule (the LMR test,
    the bootstrap likelihood-ratio test).

    Parameters
    ----------
    small, big : LatentClassOLSResults
    names : tuple of str
        The arguments' names, for messages.
    one_more : bool
        ``big`` must have exactly one class more than ``small``.
    """
    _require_fits(zip((small, big), names, strict=True))
    if one_more and big.k_classes != small.k_classes + 1:
        raise ValueError(f"`{names[1]}` must have exactly one class more than `{names[0]}`.")
    if big.k_classes <= small.k_classes:
        raise ValueError(f"`{names[1]}` must have more classes than `{names[0]}`.")
    differs = _same_data(small.model, big.model)
    if differs is not None:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` are fits of different models or data (their "
            f"{differs} differ); fit both to the same data with the same options, e.g. "
            "with `model.with_k_classes(k)`."
        )


def vuong_weights(small, big) -> np.ndarray:
    """The weights of the distribution of ``2 (l_big - l_small)``: minus the eigenvalues
    of Vuong's ``W``, for two fits on the same individuals.

    Parameters
    ----------
    small, big : LatentClassOLSResults
        The smaller and the larger model, fitted to the same individuals.

    Returns
    -------
    ndarray
        Real parts, largest first.

    Notes
    -----
    With frequency weights, as for the replicated data; with sampling
    weights, the scores' variance is that of the sandwich (``sum w_i^2 s_i
    s_i'``), the weighted chi-squared limit of a pseudo-likelihood ratio.
    """
    _check_vuong_pair(small, big)
    f = small.model.derivatives(np.asarray(small.params))
    g = big.model.derivatives(np.asarray(big.params))
    if not np.array_equal(
        np.ones(0) if f.weight is None else f.weight, np.ones(0) if g.weight is None else g.weight
    ):
        raise ValueError("the two fits have different weights; fit both with the same ones.")
    # the variance of the independent units' scores: every individual counted w_i times
    # with frequency weights, its score w_i s_i with sampling weights (as in the sandwich)
    sampling = small.model.weighting.kind == "sampling"

    def cross(a, b):
        return (a.weighted_scores if sampling else a.score_obs).T @ b.weighted_scores / n

    n = small.model.n_individuals
    try:
        a_f_inv = np.linalg.inv(f.hessian / n)
        a_g_inv = np.linalg.inv(g.hessian / n)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"the Hessian of the fit with {small.k_classes} or {big.k_classes} classes is "
            "singular (a boundary estimate: an empty class, coinciding classes or a separated "
            "membership logit), so Vuong's weights are not defined there."
        ) from err
    if not (np.all(np.isfinite(a_f_inv)) and np.all(np.isfinite(a_g_inv))):
        raise ValueError(
            f"the Hessian of the fit with {small.k_classes} or {big.k_classes} classes is not "
            "finite or not invertible, so Vuong's weights are not defined there."
        )
    b_f, b_g, b_fg = cross(f, f), cross(g, g), cross(f, g)
    w = np.block([[-b_f @ a_f_inv, -b_fg @ a_g_inv], [b_fg.T @ a_f_inv, b_g @ a_g_inv]])
    return np.sort(-np.linalg.eigvals(w).real)[::-1]


def _check_vuong_pair(small, big) -> None:
    """An error unless ``small`` and ``big`` are fits of one response on the same
    individuals, ``big`` with more parameters (nested by classes or by regressors)."""
    _require_fits(((small, "small"), (big, "big")))
    if not big.df_model > small.df_model:
        raise ValueError(
            f"`big` ({big.df_model:g} parameters) must have more parameters than `small` "
            f"({small.df_model:g}); are they swapped?"
        )
    rows = [getattr(fit.model, "endog", None) for fit in (small, big)]
    if all(r is not None for r in rows) and not np.array_equal(*map(np.asarray, rows)):
        raise ValueError("the two fits have different responses; fit both to the same data.")
    if not small.model.group_labels.equals(big.model.group_labels):
        raise ValueError(
            "the two fits are not on the same individuals in the same order; fit both models "
            "to the same data (e.g. model.with_k_classes(k))."
        )


def weighted_chi2_sf(x: float, weights: np.ndarray, n_sim: int = 200_000, seed: int = 0) -> float:
    """``P(sum_j w_j Z_j^2 >= x)`` by simulation with a fixed seed.

    Parameters
    ----------
    x : float
    weights : ndarray
    n_sim : int
        Simulated draws (the p-value's standard error is at most 0.5 / sqrt(n_sim)).
    seed : int

    Returns
    -------
    float
        NaN when ``x`` is NaN.
    """
    n_sim = check_count(n_sim, "n_sim", 1)
    seed = check_count(seed, "seed", 0)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"`weights` must be finite numbers, got {weights.tolist()}.")
    if np.isnan(x):
        return float("nan")
    rng = np.random.default_rng(seed)
    total = np.zeros(n_sim)
    for w in weights:
        total += w * rng.standard_normal(n_sim) ** 2
    return float(np.mean(total >= x))


def lmr_adjusted(lr: float, d: int, n: int) -> float:
    """Lo, Mendell and Rubin's ad hoc adjustment: ``lr / (1 + 1 / (d ln n))``.

    Parameters
    ----------
    lr : float
        ``2 (l_big - l_small)``.
    d : int
        Difference in the number of parameters.
    n : int
        Number of independent units (individuals).

    Returns
    -------
    float
    """
    d = check_count(d, "d", 1)
    if isinstance(n, bool) or not isinstance(n, numbers.Real) or not n > 1:
        raise ValueError(f"`n` must be a number of individuals above 1, got {n!r}.")
    return float(lr / (1.0 + 1.0 / (d * np.log(n))))


def lmr_test(small, big, n_sim: int = 200_000, seed: int = 0) -> dict:
    """The Vuong-Lo-Mendell-Rubin test and its adjusted form, K - 1 against K classes.

    Both are reported as Mplus and Stata report them, but they are not valid tests of
    the number of classes: a mixture with one class too many does not meet the
    regularity conditions of Vuong's theory (Jeffries, 2003), and spurious maxima
    inflate the statistic. In a Monte Carlo of two-class panels
    (``benchmarks/mc_lrt_calibration.py``) they rejected the true K at the 5% level
    in 75% and 67% of 60 panels. Use :func:`smlcr.bootstrap_lrt` and the criteria.

    Parameters
    ----------
    small, big : LatentClassOLSResults
        Fits of the same model and data with fewer and more classes.
    n_sim : int
        Draws for the weighted chi-squared p-values.
    seed : int

    Returns
    -------
    dict
        ``lr`` (``2 (l_big - l_small)``), ``vlmr_pvalue``, ``lmr_adjusted`` (the
        adjusted statistic), ``lmr_pvalue``, ``df`` (difference in parameters)
        and ``weights`` (Vuong's eigenvalues).
    """
    check_nested_fits(small, big)
    n_sim = check_count(n_sim, "n_sim", 1)
    seed = check_count(seed, "seed", 0)
    for fit in (small, big):
        if getattr(fit, "boundary", None):
            # coinciding classes or an empty one: the fit is the smaller model's, Vuong's
            # weights vanish, and any positive rounding of the statistic would "reject"
            raise ValueError(
                f"the fit with {fit.k_classes} classes ends on the boundary ({fit.boundary}), "
                "where the Vuong-Lo-Mendell-Rubin test is not defined."
            )
    lr = max(2.0 * (big.llf - small.llf), 0.0)
    df = int(big.df_model - small.df_model)
    weights = vuong_weights(small, big)
    adjusted = lmr_adjusted(lr, df, big.n_groups)
    return {
        "lr": lr,
        "vlmr_pvalue": weighted_chi2_sf(lr, weights, n_sim, seed),
        "lmr_adjusted": adjusted,
        "lmr_pvalue": weighted_chi2_sf(adjusted, weights, n_sim, seed),
        "df": df,
        "weights": weights,
    }
