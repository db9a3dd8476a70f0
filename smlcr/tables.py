"""Tables for papers: one or several fits side by side, classes as columns.

:func:`summary_table` puts every fit's classes in columns, ``coef`` over
``(se)`` with significance stars, then the shares, the variances, the
log-likelihood, criteria and counts, as a statsmodels ``Summary`` (text,
LaTeX, HTML). Classes of different fits are aligned to a reference fit by
matching coefficients (Hungarian assignment,
:func:`scipy.optimize.linear_sum_assignment`), so "class 2" means the same
segment in every column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable

from smlcr.design import check_count, check_title
from smlcr.report import count_text

__all__ = ["align_classes", "summary_table"]

#: p-value thresholds of one, two and three stars (statsmodels' ``summary_col``).
STARS = (0.1, 0.05, 0.01)


def _class_frame(res) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Class-specific coefficients and standard errors, each terms x classes."""
    model = res.model
    blocks = model.layout.slices["beta"]
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    terms = list(model.class_exog_names)
    coef = pd.DataFrame({s + 1: params[b] for s, b in enumerate(blocks)}, index=terms)
    se = pd.DataFrame({s + 1: bse[b] for s, b in enumerate(blocks)}, index=terms)
    return coef, se


def align_classes(reference, other) -> np.ndarray:
    """The label of each class of ``other`` that matches ``reference``'s classes.

    The cost of pairing class ``s`` of the reference with class ``t`` of the
    other fit is ``sum_j ((b_sj - b_tj) / se_sj)^2`` over the class-specific
    terms both fits have (differences in units of the reference's standard
    errors); the pairing of least total cost is the Hungarian assignment.
    A class of ``other`` without a partner (it has more classes) gets the
    labels after the reference's.

    Parameters
    ----------
    reference, other : LatentClassOLSResults

    Returns
    -------
    ndarray of int
        ``labels[t]`` (1-based) is the reference class that class ``t + 1`` of
        ``other`` is shown as.
    """
    ref_coef, ref_se = _class_frame(reference)
    coef, _ = _class_frame(other)
    shared = [t for t in ref_coef.index if t in coef.index]
    k_ref, k_other = ref_coef.shape[1], coef.shape[1]
    if not shared:
        return np.arange(1, k_other + 1)
    a = ref_coef.loc[shared].to_numpy().T  # (K_ref, terms)
    scale = ref_se.loc[shared].to_numpy().T
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    b = coef.loc[shared].to_numpy().T  # (K_other, terms)
    cost = (((a[:, None, :] - b[None, :, :]) / scale[:, None, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e300))
    labels = np.zeros(k_other, dtype=int)
    labels[cols] = rows + 1
    extra = [t for t in range(k_other) if t not in set(cols.tolist())]
    labels[extra] = k_ref + 1 + np.arange(len(extra))
    return labels


def _stars(p: float) -> str:
    return "*" * sum(p < level for level in STARS) if np.isfinite(p) else ""


def summary_table(
    results,
    model_names: Sequence[str] | None = None,
    reference: int = 0,
    align: bool = True,
    stars: bool = True,
    digits: int = 3,
    title: str | None = None,
) -> Summary:
    """One or several fits side by side, classes as columns, as a statsmodels ``Summary``.

    Parameters
    ----------
    results : LatentClassOLSResults or sequence of them
    model_names : sequence of str, optional
        A name per fit (default ``(1)``, ``(2)``, ...).
    reference : int
        The fit whose class order the others are aligned to.
    align : bool
        Align the classes of every fit to the reference's
        (:func:`align_classes`); false keeps each fit's own order (by
        descending share).
    stars : bool
        Mark coefficients with p < 0.1, 0.05, 0.01 by one, two, three stars.
    digits : int
        Digits after the decimal point.
    title : str, optional

    Returns
    -------
    statsmodels.iolib.summary.Summary
        ``as_text()``, ``as_latex()``, ``as_html()``; the table is also
        ``summary.tables[0]`` and its values ``summary_table(...).tables[0].data``.
    """
    fits = [results] if not isinstance(results, (list, tuple)) else list(results)
    if not fits:
        raise ValueError("`results` is empty: pass one fit or a list of fits.")
    others = [type(f).__name__ for f in fits if not hasattr(f, "class_shares")]
    if others:
        raise TypeError(f"`results` must hold fitted smlcr results, got {others}.")
    if model_names is None:
        names = [f"({j + 1})" for j in range(len(fits))]
    else:  # a string is one name, never read letter by letter
        names = [model_names] if isinstance(model_names, str) else list(model_names)
    if len(names) != len(fits):
        raise ValueError(f"`model_names` has {len(names)} names for {len(fits)} fits.")
    reference = check_count(reference, "reference", 0)
    title = check_title(title)
    if not 0 <= reference < len(fits):
        raise ValueError(f"`reference` must index one of the {len(fits)} fits, got {reference}.")
    digits = check_count(digits, "digits", 0)
    fmt = f"{{:.{digits}f}}"
    columns, orders = [], []
    for j, res in enumerate(fits):
        labels = np.arange(1, res.k_classes + 1)
        if align and j != reference:
            labels = align_classes(fits[reference], res)
        order = np.argsort(labels, kind="stable")  # the fit's classes, in the shown order
        orders.append(order)
        columns += [f"{names[j]} class {labels[t]}" for t in order]
    terms = list(dict.fromkeys(t for res in fits for t in res.model.class_exog_names))
    common = list(dict.fromkeys(t for res in fits for t in res.model.common_names))
    body, stubs = [], []

    def row_pair(label, values):
        body.append([v[0] for v in values])
        body.append([v[1] for v in values])
        stubs.extend([label, ""])

    for term in terms:
        cells = []
        for res, order in zip(fits, orders, strict=True):
            coef, se = _class_frame(res)
            pvalues = np.asarray(res.pvalues)
            blocks = res.model.layout.slices["beta"]
            for t in order:
                if term not in coef.index:
                    cells.append(("", ""))
                    continue
                position = blocks[t].start + list(coef.index).index(term)
                mark = _stars(pvalues[position]) if stars else ""
                cells.append(
                    (
                        fmt.format(coef.loc[term, t + 1]) + mark,
                        f"({fmt.format(se.loc[term, t + 1])})",
                    )
                )
        row_pair(term, cells)
    for term in common:
        cells = []
        for res, order in zip(fits, orders, strict=True):
            present = term in res.model.common_names
            # by position: the results hold arrays when the model was built from arrays
            at = list(res.model.data.param_names).index(term) if present else None
            for _ in order:
                if not present:
                    cells.append(("", ""))
                    continue
                coef, se, p = (float(np.asarray(v)[at]) for v in (res.params, res.bse, res.pvalues))
                mark = _stars(p) if stars else ""
                cells.append((fmt.format(coef) + mark, f"({fmt.format(se)})"))
        row_pair(f"{term} (common)", cells)
    shares = [
        (
            fmt.format(res.class_shares["share"].iloc[t]),
            f"({fmt.format(res.class_shares['bse'].iloc[t])})",
        )
        for res, order in zip(fits, orders, strict=True)
        for t in order
    ]
    row_pair("share", shares)
    variances = []
    for res, order in zip(fits, orders, strict=True):
        block = res.model.layout.slices["sigma2"]
        values, errors = np.asarray(res.params)[block], np.asarray(res.bse)[block]
        for t in order:
            v = 0 if values.size == 1 else t
            variances.append((fmt.format(values[v]), f"({fmt.format(errors[v])})"))
    row_pair("sigma2", variances)

    def per_fit(label, text):
        cells = []
        for res, order in zip(fits, orders, strict=True):
            cells += [text(res)] + [""] * (len(order) - 1)
        body.append(cells)
        stubs.append(label)

    per_fit("Log-likelihood", lambda r: f"{r.llf:.2f}")
    per_fit("AIC", lambda r: f"{r.aic:.2f}")
    per_fit("BIC", lambda r: f"{r.bic:.2f}")
    per_fit("Rows", lambda r: f"{int(r.nobs)}")
    per_fit("Individuals", lambda r: count_text(r.n_groups))
    table = SimpleTable(
        body,
        headers=columns,
        stubs=stubs,
        title=title or "Latent class regressions",
        txt_fmt={"data_aligns": "r", "header_align": "r"},
    )
    out = Summary()
    out.tables.append(table)
    notes = ["Standard errors in parentheses."]
    if stars:
        notes.append("* p<.1, ** p<.05, *** p<.01")
    if align and len(fits) > 1:
        notes.append(
            f"Classes aligned to {names[reference]} by matching coefficients (Hungarian "
            "assignment); within a fit, classes are otherwise ordered by share."
        )
    out.add_extra_txt(notes)
    return out
