"""The summary of a fit, built table by table from the parameter layout.

Each table is one small function of the results; :func:`summary` assembles
them in the order of :attr:`smlcr.params.Layout.slices` (a table per class's
coefficients, the common coefficients, the shares, the classification, the
variances, the membership model) under a header and above numbered notes.
"""

from __future__ import annotations

import numpy as np
from statsmodels.iolib.summary import Summary, summary_params
from statsmodels.iolib.table import SimpleTable

from smlcr import information
from smlcr.design import check_title

__all__ = ["count_text", "header", "notes", "summary", "tables"]


def _label_corner(table: SimpleTable, label: str) -> None:
    """Write ``label`` in the empty top-left cell of a table.

    ``Summary.as_latex`` drops table titles, so the label keeps each class's
    table identifiable in LaTeX and HTML.
    """
    corner = table[0][0]
    corner.data = label
    corner.datatype = "stub"


def count_text(count: float) -> str:
    """A count for a table: digits only when whole (``158``, ``1000000``), else 6 digits.

    Parameters
    ----------
    count : float

    Returns
    -------
    str
    """
    return str(int(count)) if float(count).is_integer() else f"{count:.6g}"


def header(res) -> tuple[list, list]:
    """The two columns of the summary's header.

    Parameters
    ----------
    res : LatentClassOLSResults

    Returns
    -------
    left, right : list of (str, list or None)
    """
    left = [
        ("Dep. Variable:", None),
        ("Model:", None),
        ("Method:", [f"EM, {len(res.start_llfs)} starts"]),
        ("Date:", None),
        ("Time:", None),
        ("No. Observations:", [str(int(res.nobs))]),
        ("No. Individuals:", [count_text(res.n_groups)]),
        ("No. Classes:", [str(res.k_classes)]),
    ]
    kinds = [res.weighting.kind] if res.weighting.kind else []
    kinds += ["rows"] if res.weighting.rows else []
    if kinds:
        left.append(("Weights:", [", ".join(kinds)]))
    right = [
        ("Log-Likelihood:", [f"{res.llf:#.6g}"]),
        ("AIC:", [f"{res.aic:#.6g}"]),
        ("BIC:", [f"{res.bic:#.6g}"]),
        ("Converged:", ["yes" if res.converged else "no"]),
        ("No. Iterations:", [f"{res.n_iter} ({res.n_newton} Newton)"]),
        ("Rel. gradient:", [f"{res.gradient_norm:.1e}"]),
        ("Starts at best:", [_starts_at_best(res)]),
        ("Covariance Type:", [res.cov_type]),
        ("Entropy R2:", [f"{res.classification.entropy_r2:.4f}"]),
    ]
    return left, right


def _starts_at_best(res) -> str:
    """The summary's count of completed starts at the best maximum (none completed when
    every run ended degenerate)."""
    if res.n_completed_starts == 0 and len(res.start_llfs) > 1:
        return "none interior"
    return f"{res.n_reached_best} of {res.n_completed_starts}"


def _parameter_table(res, block: slice, names, title: str, corner: str, alpha: float):
    """statsmodels' coefficient table (estimate, se, z, p, interval) of one block."""
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    tvalues, pvalues = np.asarray(res.tvalues), np.asarray(res.pvalues)
    ci = np.asarray(res.conf_int(alpha))
    table = summary_params(
        (res, params[block], bse[block], tvalues[block], pvalues[block], ci[block]),
        yname=corner,
        xname=list(names),
        alpha=alpha,
        use_t=False,
    )
    table.title = title
    _label_corner(table, corner)
    return table


def _estimate_table(names, est, err, lower, upper, title: str, alpha: float) -> SimpleTable:
    """Estimates with standard errors and interval, for quantities without a z test."""
    level = f"{100 * (1 - alpha):g}%"
    rows = [
        [f"{e:.4g}", f"{s:.3g}", f"{lo:.4g}", f"{hi:.4g}"]
        for e, s, lo, hi in zip(est, err, lower, upper, strict=False)
    ]
    table = SimpleTable(
        rows,
        headers=["estimate", "std err", f"{level} lower", f"{level} upper"],
        stubs=list(names),
        title=title,
        txt_fmt={"data_aligns": "r", "header_align": "r"},
    )
    _label_corner(table, title.split(" (")[0])
    return table


def _classification_table(res, shares) -> SimpleTable:
    """Shares, modal shares, average posterior of the modal class and odds of correct
    classification per class."""
    diag = res.classification
    rows = [
        [f"{s:.4f}", f"{ms:.4f}", f"{a:.4f}", f"{o:.4g}"]
        for s, ms, a, o in zip(
            shares["share"], diag.modal_shares, diag.avepp, diag.occ, strict=True
        )
    ]
    table = SimpleTable(
        rows,
        headers=["share", "modal share", "AvePP", "OCC"],
        stubs=[f"class {s}" for s in range(1, res.k_classes + 1)],
        title="Classification (AvePP: average posterior of the modal class; "
        "OCC: odds of correct classification)",
        txt_fmt={"data_aligns": "r", "header_align": "r"},
    )
    _label_corner(table, "Classification")
    return table


def tables(res, alpha: float = 0.05) -> list:
    """The summary's tables, in the order of the parameter layout's blocks.

    Parameters
    ----------
    res : LatentClassOLSResults
    alpha : float

    Returns
    -------
    list of SimpleTable
    """
    m = res.model
    blocks = m.layout.slices
    names = m.data.param_names
    shares = res._class_shares(res.class_shares.index, alpha)
    out = [
        _parameter_table(
            res,
            block,
            m.class_exog_names,
            f"Class {s + 1} (share {shares['share'].iloc[s]:.3f})",
            f"Class {s + 1}",
            alpha,
        )
        for s, block in enumerate(blocks["beta"])
    ]
    if m.k_common:
        out.append(
            _parameter_table(
                res, blocks["common"], m.common_names, "Common to all classes", "Common", alpha
            )
        )
    out.append(
        _estimate_table(
            [f"class {s}" for s in range(1, res.k_classes + 1)],
            shares["share"],
            shares["bse"],
            shares["lower"],
            shares["upper"],
            "Class shares (delta method)",
            alpha,
        )
    )
    out.append(_classification_table(res, shares))
    variances = blocks["sigma2"]
    ci = np.asarray(res.conf_int(alpha))
    out.append(
        _estimate_table(
            names[variances],
            np.asarray(res.params)[variances],
            np.asarray(res.bse)[variances],
            ci[variances, 0],
            ci[variances, 1],
            "Residual variances",
            alpha,
        )
    )
    if res.k_classes > 1:
        out.append(
            _parameter_table(
                res,
                blocks["eta"],
                names[blocks["eta"]],
                "Membership (multinomial logit, class 1 reference)",
                "Membership",
                alpha,
            )
        )
    return out


def notes(res) -> list[str]:
    """The notes under the summary's tables: how to read them, and what to watch.

    Parameters
    ----------
    res : LatentClassOLSResults

    Returns
    -------
    list of str
    """
    m = res.model
    out = [
        "Classes are ordered by descending share.",
        *(
            []
            if m.has_groups
            else ["No `groups`: every row is its own individual (a mixture of regressions)."]
        ),
        _covariance_note(res),
        "BIC uses the number of individuals as the sample size.",
        *_weight_notes(res),
    ]
    if len(res.degenerate):
        out.append(
            f"Degenerate class(es) {[int(k) for k in res.degenerate.index]} (share below "
            f"{res.min_share} or variance at the floor): see `degenerate`."
        )
    if m.n_missing_dropped:
        out.append(f"{m.n_missing_dropped} row(s) with missing values were dropped.")
    if m.n_cells is not None:
        out.append(
            f"Fixed effects absorbed: {m.n_cells} cells; each individual has "
            "rows minus cells degrees of freedom."
        )
    if m.dropped_exog:
        out.append(
            f"Constant within the absorbed cells, not identified, dropped: {m.dropped_exog}."
        )
    if m.n_groups_no_dof:
        out.append(
            f"{m.n_groups_no_dof} individual(s) with no degrees of freedom left were dropped."
        )
    if len(res.local_maxima) > 1:
        second = res.local_maxima.iloc[1]
        out.append(
            f"{len(res.local_maxima)} distinct maxima were reached; the next best is "
            f"{res.local_maxima['llf'].iloc[0] - second['llf']:.4g} below (reached by "
            f"{int(second['n_starts'])} start(s)): see `local_maxima`."
        )
    if res.continued_maxima is not None:
        out.append(
            f"The starts ran on a random sample of {res.search_sample} of the "
            f"{res.n_groups} individuals (`search_sample`); its best "
            f"{len(res.continued_maxima)} maxima were continued on all of them: see "
            "`continued_maxima` (`start_status` and `local_maxima` refer to the sample)."
        )
    if len(res.start_llfs) > 1 and res.n_reached_best == 1:
        # (none: no start reached an interior maximum, which the header and the boundary
        # note say)
        out.append("Only one start reached the best log-likelihood: use more starts.")
    if np.any(res.variance_floor_hit):
        hit = [int(s) + 1 for s in np.flatnonzero(res.variance_floor_hit)]
        out.append(f"The variance of class(es) {hit} is held at the variance floor.")
    if res.boundary is not None:
        out.append(f"The estimate is on the boundary: {res.boundary}.")
    elif not res.converged:
        out.append(
            f"Did not converge: gradient {res.gradient_norm:.2g}, Hessian "
            + ("negative definite." if res.hessian_negative_definite else "not negative definite.")
        )
    return out


def _covariance_note(res) -> str:
    """What the standard errors are: the estimator's description, and its clusters."""
    text = information.COVARIANCES[res.cov_type].__doc__.splitlines()[0]
    if res.cov_type != "robust":
        return text
    if res.cluster_name is not None:
        text = (
            f"Sandwich covariance, robust and clustered by {res.cluster_name} "
            f"({res.n_clusters} clusters)."
        )
    return text + " No small-sample factor is applied."


def _weight_notes(res) -> list[str]:
    """How the weights entered the estimates, and what zero weights dropped."""
    m, weighting = res.model, res.weighting
    names = getattr(m, "weight_names", {})
    out = []
    if weighting.kind == "frequency":
        out.append(
            f"Frequency weights ({names.get('freq_weights', 'freq_weights')}): the "
            f"{m.n_groups} individuals stand for {res.n_groups:g}, and the rows for "
            f"{res.nobs:g}; as the replicated data."
        )
    elif weighting.kind == "sampling":
        out.append(
            f"Sampling weights ({names.get('weights', 'weights')}), rescaled to sum to the "
            f"{m.n_groups} individuals: pseudo-maximum likelihood; the log-likelihood and "
            "criteria are those of the weighted pseudo-likelihood, and only the sandwich "
            "estimates the variance."
        )
    if weighting.rows:
        out.append(
            f"Row weights ({names.get('row_weights', 'row_weights')}): the variance of a "
            "row is sigma2 / weight."
        )
    dropped = weighting.n_groups_zero_weight, weighting.n_rows_zero_weight
    if any(dropped):
        out.append(f"Zero weights dropped {dropped[0]} individual(s) and {dropped[1]} row(s).")
    return out


def summary(res, alpha: float = 0.05, title: str | None = None) -> Summary:
    """Header, :func:`tables` and numbered :func:`notes` as a statsmodels ``Summary``.

    Parameters
    ----------
    res : LatentClassOLSResults
    alpha : float
        Significance level of the intervals.
    title : str, optional

    Returns
    -------
    statsmodels.iolib.summary.Summary
    """
    title = check_title(title)
    left, right = header(res)
    smry = Summary()
    smry.add_table_2cols(
        res,
        gleft=left,
        gright=right,
        yname=res.model.endog_names,
        xname=list(res.model.class_exog_names),
        title=title or "Latent Class OLS Regression Results",
    )
    smry.tables.extend(tables(res, alpha))
    smry.add_extra_txt([f"[{j}] {note}" for j, note in enumerate(notes(res), start=1)])
    return smry
