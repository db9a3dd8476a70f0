"""From the user's aligned rows to the record estimation works from.

:func:`prepare` takes per-row arrays that are already aligned and free of
missing rows (the model's job, with statsmodels) and returns a frozen
:class:`PreparedData`: the checks on the values, the absorbed fixed effects
(within transformation, unidentified regressors and individuals without
degrees of freedom dropped), the units of the scaled data, the compressed
statistics, the membership design per individual, the data-defined order of
the individuals, and the warnings to give. Each step is a small function.
Pure numpy (and a pandas Index for the labels).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from smlcr.compress import (
    CompressedData,
    canonical_order_of_individuals,
    compress,
    constant_within,
    membership_standardization,
    pooled_factor,
    pooled_residual_variance,
    standardization,
    unnested_cell,
    within_transform,
)
from smlcr.design import per_individual, plain
from smlcr.exceptions import (
    AbsorbedIndividualWarning,
    AbsorbedRegressorWarning,
)
from smlcr.weights import (
    Weighting,
    check_some_weight,
    individual_weight,
    zero_weight_notes,
)

__all__ = ["CONDITION_LIMIT", "PreparedData", "RowMap", "from_statistics", "prepare"]

#: The statistics a model is built from instead of its rows (Dask data): set only while
#: :func:`smlcr.dask_data.statistics_model` builds the model on the data's skeleton.
GIVEN_PREPARED = contextvars.ContextVar("smlcr_given_prepared", default=None)

#: Largest condition number of the standardised regressors (of their pooled R factor)
#: accepted. The information matrix's is about its square (1e12 here): the standard errors
#: keep about four correct digits, and the smallest eigenvalue of the equilibrated Hessian
#: (about 1e-12 of the largest) stays above the tolerance ``100 P eps`` by which
#: ``converged`` judges it negative definite, for models of up to about 40 parameters. At
#: 1e7 (the limit until session 11) it fell below that tolerance near 2e6: such fits
#: reported that they had not converged, at the right maximum.
CONDITION_LIMIT = 1e6


@dataclass
class RowMap:
    """Where the model's rows go (row-length arrays, dropped by ``remove_data``).

    Attributes
    ----------
    keep : ndarray of bool, shape (n_rows,)
        Rows estimation uses (absorbing can drop individuals without degrees
        of freedom).
    individual : ndarray of int, shape (n_used,)
        Position of each used row's individual in ``PreparedData.group_labels``.
    cell : ndarray of int or None, shape (n_used,)
        Absorbed cell of each used row, coded ``0..n_cells-1``.
    labels : ndarray, shape (n_rows,)
        The individual's label of every row.
    """

    keep: np.ndarray
    individual: np.ndarray
    cell: np.ndarray | None
    labels: np.ndarray


@dataclass(frozen=True)
class PreparedData:
    """The data as estimation sees them, individuals in a data-defined order.

    Attributes
    ----------
    stats : CompressedData
        Per-individual QR statistics of the within-transformed, scaled rows.
    Z : ndarray, shape (N, q)
        Membership design per individual, scaled (``units``' ``z_shift``,
        ``z_scale``).
    membership_exog : ndarray, shape (N, q)
        The membership design per individual in the data's units.
    group_labels : pandas.Index
        The individuals' labels, in the order of ``stats``.
    label_order : ndarray of int
        Positions in ``group_labels`` of the individuals sorted by label.
    exog_keep, common_keep : ndarray of bool
        Class-specific and common regressors estimation uses.
    class_exog_names, common_names, membership_names : list of str
    dropped_exog : list of str
        Regressors constant within the absorbed cells (not identified).
    n_cells : int or None
        Absorbed cells, None without ``absorb``.
    n_groups_no_dof : int
        Individuals dropped for having no degrees of freedom after absorbing.
    units : dict
        Shifts and scales of the response, the regressors and the membership
        design (:func:`smlcr.compress.standardization`,
        :func:`smlcr.compress.membership_standardization`).
    nobs : float
        Rows estimation uses (each counted ``w_i`` times with frequency weights).
    weighting : Weighting
        The weights, per individual in the order of ``stats``, and what was
        dropped for zero weights.
    notes : tuple of (str, type)
        Warnings to give the user: message and category.
    rows : RowMap
    pooled_variance : float
        Residual variance of the one-class least-squares fit (scaled units,
        :func:`smlcr.compress.pooled_residual_variance`), computed once with the
        rank check by :func:`from_statistics`; the fit's variance floor is a
        multiple of it.
    """

    stats: CompressedData
    Z: np.ndarray
    membership_exog: np.ndarray
    group_labels: pd.Index
    label_order: np.ndarray
    exog_keep: np.ndarray
    common_keep: np.ndarray
    class_exog_names: list
    common_names: list
    membership_names: list
    dropped_exog: list
    n_cells: int | None
    n_groups_no_dof: int
    units: dict
    nobs: float
    weighting: Weighting = field(default_factory=Weighting)
    notes: tuple = ()
    rows: RowMap = field(default=None)
    pooled_variance: float | None = None

    @property
    def n_groups(self) -> int:
        """Number of individuals N in the statistics (records, whatever their weights)."""
        return self.stats.n_groups

    @property
    def n_individuals(self) -> float:
        """Individuals the data stand for: ``sum_i w_i`` with frequency weights, else N.

        The sample size of the information criteria and of ``df_resid``.
        """
        if self.weighting.kind == "frequency":
            return float(self.weighting.total)
        return float(self.n_groups)

    @property
    def dof(self) -> np.ndarray:
        """Degrees of freedom of each individual, ``d_i`` = rows less absorbed cells."""
        return self.stats.dof


def check_finite(arrays: dict, nan_allowed: bool = False) -> None:
    """An error naming the first argument with a NaN or an infinite value: the one
    owner of that rule (the model applies it to ``exog`` before statsmodels sees it).

    Parameters
    ----------
    arrays : dict
        Argument name to array (None is skipped).
    nan_allowed : bool
        Only infinite values are errors (NaN rows are still to be dropped by
        ``missing='drop'``).
    """
    for name, values in arrays.items():
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64)
        if np.isfinite(values).all():  # one pass in the usual case
            continue
        if np.isinf(values).any():
            raise ValueError(
                f"`{name}` contains infinite values; replace or remove those rows "
                "(missing='drop' drops only NaN)."
            )
        if not nan_allowed:
            raise ValueError(
                f"`{name}` contains NaN values; remove those rows or pass "
                "missing='drop' to drop them from every array."
            )


def check_rank(stats: CompressedData, names: list) -> np.ndarray:
    """An error naming the columns when the regressors are (nearly) collinear.

    The condition number is that of the pooled R factor of the scaled
    regressors (an orthogonal factorisation of the stacked ``R_i``, so it is
    not squared); above :data:`CONDITION_LIMIT` the information matrix,
    whose condition number is about its square, leaves the standard errors
    with fewer than four correct digits and its definiteness undecidable.

    Parameters
    ----------
    stats : CompressedData
    names : list of str
        Names of the compressed columns.

    Returns
    -------
    ndarray, shape (p + 1, p + 1)
        The unweighted :func:`smlcr.compress.pooled_factor` (its leading block is
        the R factor of the stacked ``R_i`` the check is made on).
    """
    p = stats.k_exog
    factor = pooled_factor(stats, weighted=False)
    check_columns(factor[:p, :p], names, "exog", "regressors")
    return factor


def check_columns(matrix: np.ndarray, names: list, argument: str, what: str) -> None:
    """An error naming the columns of ``matrix`` that are (nearly) collinear: the one
    owner of the rank rule, for the regressors (their pooled R factor) and the membership
    design. The condition number is that of ``matrix`` (standardised columns), accepted
    up to :data:`CONDITION_LIMIT`.

    Parameters
    ----------
    matrix : ndarray, shape (n, q)
    names : list of str
        The columns' names.
    argument, what : str
        The argument and its columns, for the message.
    """
    zero = [names[j] for j in np.flatnonzero(~np.any(matrix != 0, axis=0))]
    if zero:
        raise ValueError(
            f"`{argument}` has the column(s) {zero} of zeros in every row used: drop them (an "
            "unused level of a categorical variable makes such a dummy column: "
            "`.cat.remove_unused_categories()`)."
        )
    _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    condition = singular[0] / singular[-1] if singular[-1] > 0 else np.inf
    if not condition <= CONDITION_LIMIT:
        weak = singular < singular[0] / CONDITION_LIMIT
        involved = sorted({names[j] for row in vt[weak] for j in np.flatnonzero(np.abs(row) > 0.1)})
        state = "rank deficient" if condition > 1e14 else "nearly collinear"
        raise ValueError(
            f"`{argument}` is {state}: the columns {involved} are collinear (condition number "
            f"{condition:.3g} of the standardised {what}, above {CONDITION_LIMIT:.0e}); "
            "drop one of them or combine them."
        )


def check_k_classes_fit(k_classes: int, n_groups: int) -> None:
    """An error when there are more classes than individuals.

    Parameters
    ----------
    k_classes, n_groups : int
    """
    if k_classes > n_groups:
        raise ValueError(
            f"`k_classes`={k_classes} exceeds the number of individuals "
            f"({n_groups}); use at most {n_groups} classes."
        )


def check_enough_data(dof: np.ndarray, k_classes: int, k_exog: int, k_common: int) -> None:
    """An error when the rows cannot carry the coefficients and variances.

    Parameters
    ----------
    dof : ndarray
        Degrees of freedom of each individual.
    k_classes, k_exog, k_common : int
    """
    usable = float(dof.sum())
    n_coef = k_classes * k_exog + k_common + k_classes
    if usable < n_coef:
        raise ValueError(
            f"the data have {usable:g} usable rows (rows less absorbed cells) but the "
            f"{k_classes}-class model has {n_coef} coefficients and variances; use "
            "fewer classes or regressors, or more data."
        )


def check_varies_within(varies: bool) -> None:
    """An error when the response is constant within every absorbed cell.

    Parameters
    ----------
    varies : bool
        Whether the within-transformed response is not (numerically) zero.
    """
    if not varies:
        raise ValueError(
            "`endog` is constant within every absorbed cell, so nothing is left to "
            "explain once the fixed effects are absorbed; absorb fewer effects."
        )


def unidentified_regressors(constant: np.ndarray, names: list, n_class: int) -> tuple:
    """Regressors constant within the cells: an error when no class-specific one is left,
    else their names and the warning.

    Parameters
    ----------
    constant : ndarray of bool
        Columns (class-specific, then common) constant within every cell.
    names : list of str
    n_class : int
        Number of class-specific columns.

    Returns
    -------
    dropped : list of str
    notes : list of (str, type)
    """
    if constant[:n_class].all():
        raise ValueError(
            "every regressor in `exog` is constant within the absorbed cells, so none "
            "is identified; add regressors that vary within cells or absorb less."
        )
    dropped = [n for n, c in zip(names, constant, strict=True) if c]
    if not dropped:
        return [], []
    message = (
        f"regressors {dropped} are constant within every absorbed cell and are not "
        "identified alongside the fixed effects; they were dropped (see `dropped_exog`)."
    )
    return dropped, [(message, AbsorbedRegressorWarning)]


def no_dof_note(n_groups: int, n_rows: int | None = None) -> tuple:
    """The warning about individuals left without degrees of freedom by absorbing.

    Parameters
    ----------
    n_groups : int
    n_rows : int, optional
        Their rows.

    Returns
    -------
    (str, type)
    """
    rows = "" if n_rows is None else f"{n_rows} rows; "
    return (
        f"{n_groups} individual(s) have one row in every absorbed cell, so nothing is left "
        f"of them after the within transformation; they were dropped ({rows}see "
        "`n_groups_no_dof`).",
        AbsorbedIndividualWarning,
    )


#: Largest ratio of scales (and smallest inverse) between the response and a regressor, or
#: of a membership variable: a coefficient's variance goes as the square of that ratio, and
#: float64 holds numbers up to 1e308 (with full precision from 2e-308); squares of ratios
#: within 1e140 leave room for the sample size and the design's conditioning.
SCALE_RATIO_LIMIT = 1e140

#: Largest scale (and smallest inverse) of the response: the covariance of the residual
#: variances goes as its fourth power.
Y_SCALE_LIMIT = 1e70


#: Largest geometric mean (and smallest inverse) of the row weights: the class variances
#: scale with them, and their information with the inverse square (equal weights of
#: ``1e-120`` gave numpy's ``LinAlgError`` in the Hessian's eigenvalues).
ROW_WEIGHT_SCALE_LIMIT = 1e30


def check_row_weight_scale(mean_log: float) -> None:
    """An error when the row weights' geometric mean lies beyond
    :data:`ROW_WEIGHT_SCALE_LIMIT` (or below its inverse): multiplying every row weight by
    a constant changes only the variances' units, so dividing them by one is the fix.

    Parameters
    ----------
    mean_log : float
        The mean of the logarithms of the positive row weights.
    """
    if not abs(mean_log) < np.log(ROW_WEIGHT_SCALE_LIMIT):
        scale = float(np.exp(mean_log))
        raise ValueError(
            f"`row_weights` are on a scale of {scale:.3g} (their geometric mean), beyond "
            f"{ROW_WEIGHT_SCALE_LIMIT:.0e} or below its inverse: the class variances would "
            "leave float64's range. Divide them by a constant (for example their mean): that "
            "changes only the variances' units, not the estimates or the log-likelihood."
        )


def check_y_scale(y_scale: float) -> None:
    """An error when the response's scale puts the covariance of the residual variances
    (its fourth power) outside float64's range.

    Parameters
    ----------
    y_scale : float
    """
    if not 1 / Y_SCALE_LIMIT < y_scale < Y_SCALE_LIMIT:
        raise ValueError(
            f"`endog` varies on a scale of {y_scale:.3g}: the covariance of the residual "
            "variances (its fourth power) would be outside the range of float64; divide it "
            "by a constant (the estimates scale with it)."
        )


def check_scales(units: dict, names: list) -> None:
    """An error naming the response or the regressors whose scales put the covariance of
    the estimates outside float64's range (standard errors that would come out infinite,
    or lose their precision, without a word).

    Parameters
    ----------
    units : dict
        ``y_scale`` and ``x_scale`` (:func:`smlcr.compress.standardization`).
    names : list of str
        Names of the columns of ``x_scale``.
    """
    check_y_scale(units["y_scale"])
    shown = _beyond_ratio_limit(units["y_scale"] / np.asarray(units["x_scale"]), names)
    if shown:
        raise ValueError(
            f"the regressor(s) {shown} vary on scales {SCALE_RATIO_LIMIT:.0e} or more times "
            "larger or smaller than `endog`'s: their coefficients' variances would be outside "
            "the range of float64. Multiply or divide them by a constant (their coefficients "
            "scale with it)."
        )


def check_membership_scale(z_scale: np.ndarray, names: list) -> None:
    """An error naming the membership variables whose scale puts their coefficients'
    variances outside float64's range.

    Parameters
    ----------
    z_scale : ndarray
    names : list of str
    """
    shown = _beyond_ratio_limit(z_scale, names)
    if shown:
        raise ValueError(
            f"the membership variable(s) {shown} vary on a scale beyond "
            f"{SCALE_RATIO_LIMIT:.0e} (or below its inverse): their coefficients' variances "
            "would be outside the range of float64. Multiply or divide them by a constant."
        )


def _beyond_ratio_limit(scales, names: list) -> list:
    """The names of the columns whose ``scales`` lie outside ``(1 / SCALE_RATIO_LIMIT,
    SCALE_RATIO_LIMIT)`` (the columns' positions where the names do not match them)."""
    scales = np.asarray(scales, dtype=np.float64)
    bad = np.flatnonzero(~((1 / SCALE_RATIO_LIMIT < scales) & (scales < SCALE_RATIO_LIMIT)))
    names = (
        list(names) if len(names) == scales.size else [f"column {j}" for j in range(scales.size)]
    )
    return [names[j] for j in bad]


@dataclass
class _Absorbed:
    """What absorbing the cells left of the rows."""

    endog: np.ndarray
    design: np.ndarray
    codes: np.ndarray
    labels: np.ndarray
    dof: np.ndarray
    column_keep: np.ndarray
    row_keep: np.ndarray
    cells: np.ndarray
    n_cells: int
    dropped: list
    n_groups_no_dof: int
    notes: list


def absorb_cells(
    endog, design, codes, labels, cells, names, cell_label, row_weight=None
) -> _Absorbed:
    """Within-transform by cell, drop unidentified columns and individuals without dof.

    Parameters
    ----------
    endog : ndarray, shape (n,)
    design : ndarray, shape (n, m)
    codes : ndarray of int, shape (n,)
        Individual of each row, ``0..N-1``.
    labels : ndarray, shape (N,)
    cells : ndarray of int, shape (n,)
        Absorbed cell of each row (any integer codes).
    names : list of str
        Names of the design's columns.
    cell_label : callable
        Label of a cell code, for messages.
    row_weight : ndarray, shape (n,), optional
        Precision weights: cells are demeaned by their weighted means.

    Returns
    -------
    _Absorbed
    """
    used_cells, cells = np.unique(np.asarray(cells, dtype=np.int64), return_inverse=True)
    bad = unnested_cell(cells, codes)
    if bad is not None:
        rows = np.flatnonzero(cells == bad)
        spans = [plain(v) for v in dict.fromkeys(labels[codes[rows]])][:2]
        raise ValueError(
            f"`absorb` cell {cell_label(used_cells[bad])} spans more than one "
            f"individual ({spans[0]!r} and {spans[1]!r}); absorbed cells must be nested "
            "within `groups` (e.g. artist x country within artist). Include the "
            "`groups` variable in `absorb`."
        )
    n_cells = len(used_cells)
    demeaned = within_transform(np.column_stack([endog, design]), cells, row_weight)
    endog_w, design_w = demeaned[:, 0], demeaned[:, 1:]
    check_varies_within(np.max(np.abs(endog_w)) > 1e-12 * np.max(np.abs(endog)))
    constant = constant_within(design, design_w)
    dropped, notes = unidentified_regressors(constant, names, constant.size)
    if constant.any():
        design_w = design_w[:, ~constant]
    n_rows = np.bincount(codes, minlength=len(labels))
    cell_group = np.zeros(n_cells, dtype=np.int64)
    cell_group[cells] = codes
    cells_per_group = np.bincount(cell_group, minlength=len(labels))
    # the one home of d_i: an individual's rows less its absorbed cells
    dof = (n_rows - cells_per_group).astype(np.float64)
    no_dof = dof == 0
    row_keep = np.ones(codes.size, dtype=bool)
    if no_dof.any():
        notes.append(no_dof_note(int(no_dof.sum()), int(n_rows[no_dof].sum())))
        row_keep = ~no_dof[codes]
        n_cells -= int(cells_per_group[no_dof].sum())
        kept_groups, codes = np.unique(codes[row_keep], return_inverse=True)
        endog_w, design_w = endog_w[row_keep], design_w[row_keep]
        labels, dof = labels[kept_groups], dof[kept_groups]
        cells = cells[row_keep]
    return _Absorbed(
        endog=endog_w,
        design=design_w,
        codes=codes,
        labels=labels,
        dof=dof,
        column_keep=~constant,
        row_keep=row_keep,
        cells=np.unique(cells, return_inverse=True)[1],
        n_cells=n_cells,
        dropped=dropped,
        n_groups_no_dof=int(no_dof.sum()),
        notes=notes,
    )


def prepare(
    endog: np.ndarray,
    exog: np.ndarray,
    codes: np.ndarray,
    labels: np.ndarray,
    k_classes: int,
    *,
    class_names: list,
    groups_name: str = "group",
    cells: np.ndarray | None = None,
    cell_label=str,
    membership: np.ndarray | None = None,
    membership_names: list | None = None,
    common: np.ndarray | None = None,
    common_names: list = (),
    individual_weights: np.ndarray | None = None,
    weight_name: str = "freq_weights",
    row_weights: np.ndarray | None = None,
) -> PreparedData:
    """Check, absorb, standardise and compress aligned rows; order the individuals.

    Parameters
    ----------
    endog : ndarray, shape (n,)
    exog : ndarray, shape (n, p)
        Class-specific regressors.
    codes : ndarray, shape (n,)
        Individual of each row, as integer codes into ``labels`` (not all
        codes need be used).
    labels : array_like
        The individuals' labels.
    k_classes : int
    class_names : list of str
        Names of ``exog``'s columns.
    groups_name : str
        Name of the individuals' labels.
    cells : ndarray of int, shape (n,), optional
        Absorbed cell of each row.
    cell_label : callable
        Label of a cell code, for messages.
    membership : ndarray, shape (n, q), optional
        Membership variables per row (constant within individuals); default
        an intercept.
    membership_names : list of str, optional
    common : ndarray, shape (n, m), optional
        Regressors with coefficients shared by all classes.
    common_names : list of str
    individual_weights : ndarray, shape (n,), optional
        Frequency or sampling weight of each row's individual (constant
        within individuals; checked by :func:`smlcr.weights.check_weights`).
    weight_name : {"freq_weights", "weights"}
        Which kind ``individual_weights`` are (:data:`smlcr.weights.INDIVIDUAL_WEIGHTS`).
    row_weights : ndarray, shape (n,), optional
        Precision weights of the rows.

    Returns
    -------
    PreparedData

    Raises
    ------
    ValueError
        Naming the argument and the fix, for missing or infinite values, a
        constant response, cells not nested in individuals, nothing left to
        estimate, too many classes, a response on an unrepresentable scale,
        collinear regressors, or too few rows.
    """
    check_finite(
        {
            "endog": endog,
            "exog": exog,
            "groups": codes,
            "absorb": cells,
            "membership": membership,
            "common": common,
        }
    )
    if np.size(endog) == 0:
        raise ValueError(
            "no rows to fit: `endog` is empty (the data have no rows, or every row was "
            "dropped for a missing value)."
        )
    if np.ptp(endog) == 0:
        raise ValueError(
            f"`endog` is constant (every value is {endog[0]!r}): there is no variation "
            "for the regressions to explain."
        )
    codes = np.asarray(codes).astype(np.int64)
    row_labels = np.asarray(labels)[codes]
    weighted = _drop_zero_weights(codes, labels, individual_weights, weight_name, row_weights)
    if row_weights is not None:
        positive = row_weights[weighted.keep]
        positive = positive[positive > 0]
        if positive.size:
            check_row_weight_scale(float(np.mean(np.log(positive))))
    keep, notes = weighted.keep, list(weighted.notes)
    if not keep.all():
        endog, exog, codes = endog[keep], exog[keep], codes[keep]
        cells = None if cells is None else np.asarray(cells)[keep]
        membership = None if membership is None else membership[keep]
        common = None if common is None else common[keep]
        row_weights = None if row_weights is None else row_weights[keep]
        individual_weights = None if individual_weights is None else individual_weights[keep]
    # the individuals left, coded 0..N-1 in the labels' order (numpy.unique's result, by
    # counting rather than a sort of the rows)
    present = np.bincount(codes, minlength=len(labels)) > 0
    if not present.all():
        codes = (np.cumsum(present) - 1)[codes]
    labels = np.asarray(labels)[present]
    common_names = list(common_names)
    # class-specific and common regressors are compressed together: [X | W]
    design = exog if common is None else np.column_stack([exog, common])
    names = list(class_names) + common_names
    dof, row_keep, cell_codes = None, np.ones(endog.shape[0], dtype=bool), None
    column_keep = np.ones(design.shape[1], dtype=bool)
    n_cells, dropped, n_no_dof = None, [], 0
    if cells is not None:
        absorbed = absorb_cells(endog, design, codes, labels, cells, names, cell_label, row_weights)
        endog, design, codes, labels = (
            absorbed.endog,
            absorbed.design,
            absorbed.codes,
            absorbed.labels,
        )
        dof, row_keep, cell_codes = absorbed.dof, absorbed.row_keep, absorbed.cells
        column_keep, n_cells = absorbed.column_keep, absorbed.n_cells
        dropped, n_no_dof = absorbed.dropped, absorbed.n_groups_no_dof
        notes += absorbed.notes
        if row_weights is not None:
            row_weights = row_weights[row_keep]
        if individual_weights is not None:
            individual_weights = individual_weights[row_keep]
    exog_keep, common_keep = column_keep[: exog.shape[1]], column_keep[exog.shape[1] :]
    class_exog_names = [n for n, k in zip(class_names, exog_keep, strict=True) if k]
    kept_common = [n for n, k in zip(common_names, common_keep, strict=True) if k]
    if not class_exog_names:
        raise ValueError(
            "no class-specific regressor is left; `exog` needs at least one column "
            + (
                "that varies within the absorbed cells."
                if cells is not None
                else "(or an intercept)."
            )
        )
    check_k_classes_fit(k_classes, len(labels))
    units = standardization(endog, design, int(exog_keep.sum()))
    check_scales(units, class_exog_names + kept_common)
    stats = compress(
        endog,
        design,
        codes,
        dof,
        x_shift=units["x_shift"],
        x_scale=units["x_scale"],
        y_shift=units["y_shift"],
        y_scale=units["y_scale"],
        row_weight=row_weights,
    )
    weighting = _weighting(
        codes, labels, individual_weights, weight_name, row_weights, weighted, cell_codes
    )
    stats = replace(stats, weight=weighting.weight)
    if membership is None:
        membership_exog = np.ones((len(labels), 1))
        membership_names = ["Intercept"]
    else:
        membership_exog = per_individual(
            membership[row_keep], codes, membership_names, labels, "membership"
        )
    prepared, position = from_statistics(
        stats,
        labels,
        membership_exog,
        k_classes,
        groups_name=groups_name,
        class_exog_names=class_exog_names,
        common_names=kept_common,
        membership_names=list(membership_names),
        exog_keep=exog_keep,
        common_keep=common_keep,
        dropped_exog=dropped,
        n_cells=n_cells,
        n_groups_no_dof=n_no_dof,
        units=units,
        nobs=float(endog.shape[0])
        if weighting.kind != "frequency"
        else float(weighting.weight @ np.bincount(codes, minlength=len(labels))),
        weighting=weighting,
        notes=tuple(notes),
    )
    return replace(
        prepared,
        rows=RowMap(
            keep=_combined(keep, row_keep),
            individual=position[codes],
            cell=cell_codes,
            labels=row_labels,
        ),
    )


def from_statistics(
    stats: CompressedData,
    labels,
    membership_exog: np.ndarray,
    k_classes: int,
    *,
    groups_name: str,
    class_exog_names: list,
    common_names: list,
    units: dict,
    weighting: Weighting,
    **record,
) -> tuple[PreparedData, np.ndarray]:
    """The record of individuals' statistics (in any order), checked and put in canonical order.

    The step after compression, shared by rows in memory (:func:`prepare`) and
    statistics computed elsewhere (:mod:`smlcr.dask_data`): the rank and
    data checks, the membership design's units, and the data-defined order of
    the individuals.

    Parameters
    ----------
    stats : CompressedData
        Statistics in scaled units (``units``), with the weights.
    labels : array_like
        Label of each individual of ``stats``, sorted (``label_order`` is the
        inverse of the canonical order).
    membership_exog : ndarray, shape (N, q)
        Membership design per individual, data units.
    k_classes : int
    groups_name : str
    class_exog_names, common_names : list of str
        Names of the compressed columns (class-specific, then common).
    units : dict
        :func:`smlcr.compress.standardization`'s units of ``stats``.
    weighting : Weighting
        The weights, in the order of ``stats``.
    **record
        The other fields of :class:`PreparedData` (``rows`` excepted).

    Returns
    -------
    prepared : PreparedData
        Without ``rows``.
    position : ndarray of int
        Position in the canonical order of each individual of ``stats``.
    """
    check_k_classes_fit(k_classes, stats.n_groups)
    # estimation works on a standardised membership design (units of any size), and on
    # the individuals in an order defined by their data, so that neither their labels nor
    # the order of the rows changes the starts or any sum over individuals (the pooled
    # fit's included)
    z_units = membership_standardization(membership_exog)
    check_membership_scale(z_units["z_scale"], list(record.get("membership_names") or []))
    scaled_z = (membership_exog - z_units["z_shift"]) / z_units["z_scale"]
    order = canonical_order_of_individuals(stats, scaled_z)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    stats = stats.take(order)
    if k_classes > 1 and scaled_z.shape[1] > 1:
        names = list(record.get("membership_names") or [])
        check_columns(scaled_z, names, "membership", "membership variables")
    factor = check_rank(stats, class_exog_names + common_names)
    if stats.weight is not None:
        factor = pooled_factor(stats)  # the weighted fit for the variance
    pooled = pooled_residual_variance(stats, factor)
    check_enough_data(stats.dof, k_classes, len(class_exog_names), len(common_names))
    prepared = PreparedData(
        stats=stats,
        Z=np.ascontiguousarray(scaled_z[order]),
        membership_exog=membership_exog[order],
        group_labels=pd.Index(np.asarray(labels), name=groups_name)[order],
        label_order=np.argsort(order),
        class_exog_names=class_exog_names,
        common_names=common_names,
        units={**units, **z_units},
        weighting=weighting.take(order),
        pooled_variance=pooled,
        **record,
    )
    return prepared, position


@dataclass
class _ZeroWeights:
    """Rows kept after dropping zero weights, and the warnings about it."""

    keep: np.ndarray
    notes: list
    n_groups: int = 0
    n_rows: int = 0


def _drop_zero_weights(codes, labels, individual_weights, weight_name, row_weights):
    """Rows without a zero individual or row weight; an error when none is left."""
    keep = np.ones(codes.size, dtype=bool)
    n_groups, n_rows, lost = 0, 0, 0
    if individual_weights is not None:
        used, inverse = np.unique(codes, return_inverse=True)
        per = individual_weight(individual_weights, inverse, np.asarray(labels)[used], weight_name)
        zero = per == 0
        check_some_weight(zero, weight_name)
        n_groups = int(zero.sum())
        keep &= ~zero[inverse]
    if row_weights is not None:
        zero = row_weights == 0
        check_some_weight(zero | ~keep, "row_weights")
        n_rows = int((zero & keep).sum())
        before = np.unique(codes[keep]).size
        keep &= ~zero
        lost = before - np.unique(codes[keep]).size
    detail = f", and with them {lost} individual(s) left without rows" if lost else ""
    notes = zero_weight_notes(weight_name, n_groups, n_rows, detail)
    return _ZeroWeights(keep=keep, notes=notes, n_groups=n_groups, n_rows=n_rows)


def row_weight_jacobian(log_weight_sum, cell_weight=None, cell_rows=None) -> np.ndarray:
    """The row weights' term of an individual's log-likelihood, ``0.5 sum_t log w_it``,
    less ``0.5 log`` of each absorbed cell's mean weight: the one owner of that term (the
    in-memory and the Dask statistics).

    With row weights, ``e_it ~ N(0, sigma2 / w_it)``: the density of the rows has the
    Jacobian ``0.5 sum_t log w_it``. With absorbed cells the likelihood is that of the
    within-cell contrasts, whose Jacobian loses ``0.5 log`` of the cell's mean weight, so
    that multiplying every weight by ``c`` only rescales the variances (the log-likelihood
    is unchanged, as without cells) and equal weights give the unweighted fit.

    Parameters
    ----------
    log_weight_sum : ndarray, shape (G,)
        ``sum_t log w_t`` over the rows of each group (individual, or cell).
    cell_weight, cell_rows : ndarray, shape (G,), optional
        Each cell's summed weight and number of rows (groups are cells), with ``absorb``.

    Returns
    -------
    ndarray, shape (G,)
    """
    out = 0.5 * np.asarray(log_weight_sum, dtype=np.float64)
    if cell_weight is not None:
        out = out - 0.5 * np.log(np.asarray(cell_weight) / np.asarray(cell_rows))
    return out


def _weighting(
    codes, labels, individual_weights, weight_name, row_weights, zeros, cells=None
) -> Weighting:
    """The weights per individual (codes ``0..N-1``); ``cells``, each row's absorbed cell."""
    weight, log_row_weight = None, None
    if individual_weights is not None:
        weight = individual_weight(individual_weights, codes, labels, weight_name)
    if row_weights is not None:
        if cells is None:
            log_row_weight = row_weight_jacobian(
                np.bincount(codes, weights=np.log(row_weights), minlength=len(labels))
            )
        else:
            n_cells = int(cells.max()) + 1 if cells.size else 0
            per_cell = row_weight_jacobian(
                np.bincount(cells, weights=np.log(row_weights), minlength=n_cells),
                np.bincount(cells, weights=row_weights, minlength=n_cells),
                np.bincount(cells, minlength=n_cells),
            )
            owner = np.zeros(n_cells, dtype=np.int64)
            owner[cells] = codes
            log_row_weight = np.bincount(owner, weights=per_cell, minlength=len(labels))
    return Weighting.build(weight_name, weight, log_row_weight, zeros.n_groups, zeros.n_rows)


def _combined(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """The rows kept by ``first`` and then, among those, by ``then``."""
    if first.all():
        return then
    out = first.copy()
    out[first] = then
    return out
