"""Choosing the number of classes: criteria across K and a bootstrap likelihood-ratio test."""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from smlcr.dask_data import is_dask_frame
from smlcr.design import check_count, check_keywords, check_rng
from smlcr.exceptions import InterruptedWarning, SmlcrWarning, warn
from smlcr.lmr import check_nested_fits, lmr_test
from smlcr.model import FIT_KEYWORDS, LatentClassOLS
from smlcr.progress import parallel_map, progress_bar, resolve_jobs
from smlcr.weights import WEIGHT_ARGUMENTS

__all__ = ["compare_classes", "bootstrap_lrt"]


def _row(res) -> dict:
    return {
        "llf": res.llf,
        "k_params": int(res.df_model),
        **{name: float(value) for name, value in res.info_criteria.items()},
        "entropy_r2": res.classification.entropy_r2,
        "min_share": float(res.class_shares["share"].min()),
        "n_reached_best": res.n_reached_best,
        "n_starts": len(res.start_llfs),
        "converged": res.converged,
    }


@dataclass
class _Design:
    """The rows the bootstrap draws responses for: the model's rows, with frequency-weighted
    individuals repeated as many times as their weight (independent draws, as in the
    replicated data the weights stand for)."""

    design: np.ndarray  # (n, p) class-specific regressors, data units
    common: np.ndarray  # (n, m)
    codes: np.ndarray  # individual of each row, 0..M-1
    membership: np.ndarray  # (M, q) membership design per individual
    cells: np.ndarray | None  # absorbed cell of each row
    row_weights: np.ndarray | None  # precision weight of each row
    weights: np.ndarray | None  # sampling weight of each individual (M,)


def _design(model) -> _Design:
    model.require_data("the bootstrap")
    design, common = model.rows_used()
    rows = model.prepared.rows
    codes, cells = rows.individual, rows.cell
    row_weights = model.row_weights_used()
    weighting = model.weighting
    if weighting.kind != "frequency":
        return _Design(
            design, common, codes, model.membership_exog, cells, row_weights, weighting.weight
        )
    copies = weighting.weight.astype(np.int64)
    offset = np.cumsum(copies) - copies  # first new individual of each individual
    take = np.repeat(np.arange(codes.size), copies[codes])
    copy = np.arange(take.size) - np.repeat(np.cumsum(copies[codes]) - copies[codes], copies[codes])
    new_codes = offset[codes[take]] + copy
    owner = np.repeat(np.arange(copies.size), copies)  # the individual of each new one
    return _Design(
        design=design[take],
        common=common[take],
        codes=new_codes,
        membership=model.membership_exog[owner],
        cells=None if cells is None else cells[take] * int(copies.max()) + copy,
        row_weights=None if row_weights is None else row_weights[take],
        weights=None,
    )


def _simulate_model(res, k_classes: int, rng: np.random.Generator) -> LatentClassOLS:
    """A model of data drawn from the fitted ``res`` (same rows, regressors, groups, cells,
    weights; frequency-weighted individuals drawn as many times as their weight)."""
    model = res.model
    rows = _design(model)
    probs = res._probabilities(rows.membership)
    draw = rng.random(probs.shape[0])[:, None]
    classes = np.minimum((draw > np.cumsum(probs, axis=1)).sum(axis=1), model.k_classes - 1)
    row_class = classes[rows.codes]
    sigma2 = model.to_scaled(np.asarray(res.params)).sigma2 * model.stats.y_scale**2  # data units
    variance = (
        sigma2[row_class] if rows.row_weights is None else sigma2[row_class] / rows.row_weights
    )
    endog = np.einsum("np,np->n", rows.design, res._class_coefficients()[row_class])
    endog = endog + rows.common @ res._common_coefficients()
    endog = endog + rng.standard_normal(endog.size) * np.sqrt(variance)
    return _model_like(model, rows, endog, k_classes)


def _model_like(model, rows: _Design, endog, k_classes: int) -> LatentClassOLS:
    """A model with ``model``'s options and side designs on ``rows``, response ``endog``."""
    has_membership = model.membership_design is not None
    return LatentClassOLS(
        endog,
        rows.design,
        groups=rows.codes,
        k_classes=k_classes,
        absorb=rows.cells,
        variance=model.variance,
        membership=rows.membership[rows.codes] if has_membership else None,
        common=rows.common if model.k_common else None,
        weights=None if rows.weights is None else rows.weights[rows.codes],
        row_weights=rows.row_weights,
    )


def _search_of(res) -> dict:
    """The search a fit ran (its number of starts, ``min_share`` and ``var_floor`` as given:
    None lowers the default floor where a class is tighter than it): a bootstrap replicate
    searches as hard as the fit it stands for."""
    drawn = [kind for kind in res.start_kinds if kind != "floor"]  # not the continued runs
    return {
        "n_starts": len(drawn),
        "min_share": res.min_share,
        "var_floor": res.fit_options.get("var_floor", res.var_floor),
    }


def _replicate_lrs(task) -> list:
    """Likelihood-ratio statistics of bootstrap replicates (one task: a list of seeds)."""
    res_k, small_kwds, big_kwds, seeds = task
    out = []
    with warnings.catch_warnings():
        # replicate fits: their own start and convergence warnings are not the user's
        warnings.simplefilter("ignore", SmlcrWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in seeds:
            small = _simulate_model(res_k, res_k.k_classes, np.random.default_rng(seed))
            fit_small = small.fit(rng=seed, **small_kwds)
            big = small.with_k_classes(res_k.k_classes + 1)
            fit_big = big.fit(rng=seed + 1, **big_kwds)
            out.append(max(2.0 * (fit_big.llf - fit_small.llf), 0.0))
    return out


def bootstrap_lrt(
    res_k,
    res_k1,
    n_boot: int = 99,
    rng=None,
    fit_kwds=None,
    n_jobs: int | None = 1,
    progress: bool = False,
) -> dict:
    """Parametric bootstrap likelihood-ratio test of K classes against K + 1.

    The likelihood-ratio statistic of nested mixtures has no chi-squared
    distribution (the smaller model is on the boundary of the larger), so
    its null distribution is simulated: ``n_boot`` data sets are drawn from
    the fitted K-class model, both models are fitted to each, and the
    p-value is ``(1 + #{LR_b >= LR}) / (n_boot + 1)``.

    Parameters
    ----------
    res_k, res_k1 : LatentClassOLSResults
        Fits with K and K + 1 classes of the same model and data.
    n_boot : int
        Bootstrap replications.
    rng : int or numpy.random.Generator, optional
    fit_kwds : dict, optional
        Passed to ``fit`` of every replicate. By default each replicate's fits
        search as the fits they stand for did (``res_k``'s and ``res_k1``'s
        number of starts, ``min_share`` and ``var_floor``): replicates fitted
        with fewer starts than the data's fits miss the spurious maxima those
        find, their statistics come out smaller, and the test rejects too often
        (a true K in 5 of 20 simulated panels at the 5% level with 5 starts
        against 100, in 5 of 60 as the data's fits; see the docs). Fewer
        starts here trade that for time.
    n_jobs : int, optional
        Worker processes (-1: all cores). Every replicate has its own seed,
        drawn before any is fitted, so the result does not depend on it.
    progress : bool
        Show the replicates as they finish (tqdm when installed).

    Returns
    -------
    dict
        ``lr`` (observed statistic), ``pvalue``, ``n_boot`` (replicates
        finished) and ``lr_boot`` (the simulated statistics). After an
        interrupt (Ctrl-C), the test on the replicates finished so far, with
        an :class:`~smlcr.exceptions.InterruptedWarning`.
    """
    check_nested_fits(res_k, res_k1, ("res_k", "res_k1"), one_more=True)
    n_boot = check_count(n_boot, "n_boot", 1)
    jobs = resolve_jobs(n_jobs)
    generator = check_rng(rng)
    fit_kwds = _fit_arguments(fit_kwds, "fit_kwds")
    small_kwds = {**_search_of(res_k), **fit_kwds}
    big_kwds = {**_search_of(res_k1), **fit_kwds}
    lr = max(2.0 * (res_k1.llf - res_k.llf), 0.0)
    if res_k1.boundary is not None:
        # (the Vuong-Lo-Mendell-Rubin test is NaN there, with its own warning)
        warn(
            f"the fit with {res_k1.k_classes} classes is on the boundary ({res_k1.boundary}): "
            f"it has no more distinct classes than {res_k.k_classes} that the search could "
            "find, so the statistic is about 0 and the p-value about 1 at this fit; more "
            "starts (`n_starts`) may find an interior maximum.",
            SmlcrWarning,
        )
    seeds = [int(generator.integers(2**63)) for _ in range(n_boot)]
    # one replicate per task in this process; in workers, a few tasks per worker (each
    # task sends the fitted model once)
    size = 1 if jobs == 1 else max(1, -(-n_boot // (4 * jobs)))
    tasks = [(res_k, small_kwds, big_kwds, seeds[j : j + size]) for j in range(0, n_boot, size)]
    bar = progress_bar(len(tasks), f"bootstrap K={res_k.k_classes} vs {res_k1.k_classes}", progress)
    try:
        done, interrupted = parallel_map(_replicate_lrs, tasks, jobs, bar)
    finally:
        bar.close()
    lr_boot = np.array([value for chunk in done if chunk is not None for value in chunk])
    if interrupted:
        warn(
            f"the bootstrap was interrupted after {lr_boot.size} of {n_boot} replicates; "
            "the p-value uses those.",
            InterruptedWarning,
        )
    if lr_boot.size == 0:
        return {"lr": lr, "pvalue": np.nan, "n_boot": 0, "lr_boot": lr_boot}
    pvalue = (1.0 + np.sum(lr_boot >= lr)) / (lr_boot.size + 1.0)
    return {"lr": lr, "pvalue": float(pvalue), "n_boot": int(lr_boot.size), "lr_boot": lr_boot}


def _fit_k(task):
    """Build and fit the model with ``k`` classes; its warnings, to give in the caller."""
    model, k, fit_kwds, seed = task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = model.with_k_classes(k)  # on the statistics computed once (model.prepared)
        res = model.fit(rng=np.random.default_rng(seed), **fit_kwds)
    return res, [(str(w.message), w.category) for w in caught]


def _fit_arguments(kwds, name: str) -> dict:
    """``fit_kwds`` / ``boot_fit_kwds`` checked: a mapping of ``fit``'s keywords other than
    ``rng`` (compare_classes and bootstrap_lrt seed every fit themselves)."""
    if kwds is None:
        return {}
    if not isinstance(kwds, Mapping):
        raise TypeError(f"`{name}` must be a dict of fit() arguments, got {kwds!r}.")
    if "rng" in kwds:
        raise ValueError(
            f"`{name}` must not hold `rng`: every fit is seeded from the function's own "
            "`rng` argument; pass rng=... to it instead."
        )
    check_keywords(dict(kwds), FIT_KEYWORDS, f"{name} (fit())")
    return dict(kwds)


def compare_classes(
    formula: str,
    data: pd.DataFrame,
    groups=None,
    k_range=range(1, 7),
    n_boot: int = 0,
    rng=None,
    fit_kwds: dict | None = None,
    boot_fit_kwds: dict | None = None,
    return_results: bool = False,
    n_jobs: int | None = 1,
    progress: bool = False,
    **model_kwds,
):
    """Fit the model for several numbers of classes and compare them.

    Parameters
    ----------
    formula : str
        Model formula, as in :meth:`LatentClassOLS.from_formula`.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        With Dask data the statistics are computed once and every K is
        fitted to them (no bootstrap: it needs the rows).
    groups : str or array_like, optional
        Individuals, as in :meth:`LatentClassOLS.from_formula`.
    k_range : iterable of int
        Numbers of classes to fit.
    n_boot : int
        With ``n_boot > 0``, a parametric bootstrap likelihood-ratio test of
        K against K + 1 for every consecutive pair in ``k_range``
        (:func:`bootstrap_lrt`); 0 skips it.
    rng : int or numpy.random.Generator, optional
        Seed for the fits' starts and the bootstrap. Every K draws from its own stream
        of the seed, keyed by K, so a K's row depends neither on ``n_jobs`` nor on the
        other K in ``k_range``. A Generator gives a seed drawn from it (so it is
        consumed, and ``default_rng(3)`` runs other searches than ``rng=3``).
    fit_kwds : dict, optional
        Passed to every ``fit`` (e.g. ``n_starts``, ``cov_type``).
    boot_fit_kwds : dict, optional
        Passed to the fits of bootstrap replicates (by default they search as
        the fits of the data did: see :func:`bootstrap_lrt`).
    return_results : bool
        Also return the fitted results, a dict keyed by K.
    n_jobs : int, optional
        Worker processes for the fits of the several K and for the bootstrap
        (-1: all cores). Every K has its own seed, so the table does not
        depend on it.
    progress : bool
        Show each K (and the bootstrap replicates) as it finishes (tqdm when
        installed, one line per step otherwise).
    **model_kwds
        Passed to :meth:`LatentClassOLS.from_formula` (``absorb``,
        ``variance``, ``missing``, ``subset``, the weights, ...).

    Returns
    -------
    pandas.DataFrame
        Indexed by K: ``llf``, ``k_params``, ``aic``, ``bic``, ``sabic``,
        ``caic``, ``icl`` (n = individuals), ``entropy_r2``, ``min_share``,
        ``n_reached_best``, ``n_starts``, ``converged``; ``vlmr_pvalue`` and
        ``lmr_pvalue``, the Vuong-Lo-Mendell-Rubin test and its adjusted form of
        K - 1 against K (:func:`smlcr.lmr.lmr_test`; NaN without K - 1; far too
        liberal above the true K, see its notes: do not choose K by them); with
        ``n_boot``, ``lr`` and ``boot_pvalue`` of the test of K against K + 1.
    dict, optional
        The results, when ``return_results`` is true.
    """
    check_keywords(
        model_kwds,
        {"absorb", "variance", "membership", "common", "missing", "subset", "drop_cols"}
        | {"eval_env"}
        | set(WEIGHT_ARGUMENTS)
        | (set(inspect.signature(compare_classes).parameters) - {"model_kwds"}),
        "compare_classes",
    )
    for name, value in (("return_results", return_results), ("progress", progress)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    fit_kwds = _fit_arguments(fit_kwds, "fit_kwds")
    boot_fit_kwds = (
        None if boot_fit_kwds is None else _fit_arguments(boot_fit_kwds, "boot_fit_kwds")
    )
    if not isinstance(data, pd.DataFrame) and not is_dask_frame(data):
        raise TypeError(
            f"`data` must be a pandas (or Dask) DataFrame with the formula's variables, got "
            f"{type(data).__name__}."
        )
    try:
        values = list(k_range)
    except TypeError:
        values = None
    if not values or any(
        isinstance(k, bool) or not isinstance(k, numbers.Real) or not float(k).is_integer() or k < 1
        for k in values
    ):
        raise ValueError(
            f"`k_range` must be a sequence of positive integers such as range(1, 7), got "
            f"{k_range!r}."
        )
    if len(set(values)) < len(values):
        raise ValueError(f"`k_range` repeats a number of classes: {values!r}.")
    ks = sorted(int(k) for k in values)
    n_boot = check_count(n_boot, "n_boot", 0)
    if boot_fit_kwds is not None and not n_boot:
        raise ValueError("`boot_fit_kwds` is used only with a bootstrap: pass n_boot > 0 too.")
    generator = check_rng(rng)  # (the same Generator when one is given)
    seeds = np.random.SeedSequence(
        rng if isinstance(rng, (int, np.integer)) or rng is None else int(generator.integers(2**63))
    )
    # every K its own stream, keyed by K (not by its position in k_range), so that a K's
    # row depends neither on n_jobs nor on the other K in k_range; (0, K) keys K's bootstrap
    fit_seeds = {k: np.random.SeedSequence(seeds.entropy, spawn_key=(k,)) for k in ks}
    jobs = resolve_jobs(n_jobs)
    # the model built once (one pass over the data, one compression) for every K; its
    # formula sees the caller's names, as from_formula called there would (Dask formulas
    # see the data's columns and numpy only)
    eval_env = model_kwds.pop("eval_env", None)
    if is_dask_frame(data):
        if n_boot:
            raise ValueError(
                "the bootstrap draws new responses for the rows, which Dask data do not keep "
                "in memory; use n_boot=0 (the criteria and the Vuong-Lo-Mendell-Rubin test "
                "need only the statistics)."
            )
    elif eval_env is None:
        eval_env = 1
    elif isinstance(eval_env, int) and not isinstance(eval_env, bool) and eval_env >= 0:
        eval_env += 1
    model = LatentClassOLS.from_formula(
        formula, data, groups=groups, k_classes=ks[0], eval_env=eval_env, **model_kwds
    )
    tasks = [(model, k, fit_kwds, fit_seeds[k]) for k in ks]
    bar = progress_bar(len(ks), "compare_classes", progress)
    try:
        fitted, interrupted = parallel_map(_fit_k, tasks, jobs, bar, lambda t: f"K = {t[1]}")
    finally:
        bar.close()
    results, rows = {}, {}
    for k, outcome in zip(ks, fitted, strict=True):
        if outcome is None:
            continue
        results[k], caught = outcome
        for message, category in caught:
            warn(message, category)
        rows[k] = _row(results[k])
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "K"
    if interrupted:
        warn(
            f"compare_classes was interrupted: the table holds the finished K = {sorted(rows)} "
            f"of {ks}; no bootstrap was run.",
            InterruptedWarning,
        )
        return (table, results) if return_results else table
    # the Vuong-Lo-Mendell-Rubin test of K - 1 against K, in row K (as Mplus prints it)
    table["vlmr_pvalue"] = np.nan
    table["lmr_pvalue"] = np.nan
    for k in ks:
        if k - 1 in results and k > 1:
            try:
                test = lmr_test(results[k - 1], results[k])
            except ValueError as err:  # not defined at a singular Hessian: NaN, and why
                warn(
                    f"no Vuong-Lo-Mendell-Rubin test of K = {k - 1} against {k}: {err}",
                    SmlcrWarning,
                )
                continue
            table.loc[k, "vlmr_pvalue"] = test["vlmr_pvalue"]
            table.loc[k, "lmr_pvalue"] = test["lmr_pvalue"]
    if n_boot:
        table["lr"] = np.nan
        table["boot_pvalue"] = np.nan
        skipped = [k for k in ks[:-1] if k + 1 not in results]
        if skipped:
            warn(
                f"no bootstrap test for K = {skipped}: K + 1 is not in `k_range`, and the test "
                "compares consecutive numbers of classes (their rows hold NaN).",
                SmlcrWarning,
            )
        for k in ks:
            if k + 1 in results:
                # a stream of its own for each K, as the fits have: row K does not depend on
                # which other K are in `k_range` (one shared stream had made it so)
                boot_rng = np.random.default_rng(
                    np.random.SeedSequence(seeds.entropy, spawn_key=(0, k))
                )
                test = bootstrap_lrt(
                    results[k], results[k + 1], n_boot, boot_rng, boot_fit_kwds, n_jobs, progress
                )
                table.loc[k, "lr"] = test["lr"]
                table.loc[k, "boot_pvalue"] = test["pvalue"]
    return (table, results) if return_results else table
