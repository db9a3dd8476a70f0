"""Weights: frequency and sampling weights of individuals, precision weights of rows.

The one owner of what a weight may be and of what each kind means:

- ``freq_weights``: individual ``i`` stands for ``w_i`` identical individuals
  (non-negative integers); the fit equals that of the replicated data.
- ``weights``: sampling (probability) weights of individuals; the fit
  maximises the pseudo-log-likelihood ``sum_i w_i l_i`` with the weights
  rescaled to sum to the number of individuals (the estimates and the
  sandwich do not depend on their scale, and so neither does the reported
  log-likelihood).
- ``row_weights``: precision weights of rows, ``var(eps_it) = sigma2_s / w_it``.

Zero weights drop the individual (or row) with a warning and a count.
Pure numpy and pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from smlcr.design import per_individual, reads_by_individual

__all__ = [
    "INDIVIDUAL_WEIGHTS",
    "WEIGHT_ARGUMENTS",
    "Weighting",
    "by_individual",
    "check_some_weight",
    "check_weights",
    "individual_weight",
    "zero_weight_notes",
]

#: The individual weights' arguments and what they are.
INDIVIDUAL_WEIGHTS = {"freq_weights": "frequency", "weights": "sampling"}

#: Every weight argument of the model.
WEIGHT_ARGUMENTS = ("freq_weights", "weights", "row_weights")


@dataclass(frozen=True)
class Weighting:
    """The weights estimation used, per individual, and what was dropped for them.

    Attributes
    ----------
    kind : {"frequency", "sampling"} or None
        Kind of the individual weights (None: unweighted individuals).
    weight : ndarray, shape (N,), or None
        Each individual's weight in the log-likelihood, in the order of the
        statistics (sampling weights rescaled to sum to N).
    scale : float
        Sampling weights were multiplied by this to sum to N (1 otherwise).
    rows : bool
        Whether the rows carry precision weights.
    log_row_weight : ndarray, shape (N,), or None
        ``0.5 sum_t log w_it`` over each individual's rows: what precision
        weights add to its log-likelihood.
    n_groups_zero_weight : int
        Individuals dropped for a zero frequency or sampling weight.
    n_rows_zero_weight : int
        Rows dropped for a zero row weight.
    """

    kind: str | None = None
    weight: np.ndarray | None = None
    scale: float = 1.0
    rows: bool = False
    log_row_weight: np.ndarray | None = None
    n_groups_zero_weight: int = 0
    n_rows_zero_weight: int = 0

    @classmethod
    def build(
        cls,
        argument: str | None,
        weight: np.ndarray | None,
        log_row_weight: np.ndarray | None,
        n_groups_zero_weight: int = 0,
        n_rows_zero_weight: int = 0,
    ) -> Weighting:
        """The record from the weights per individual (sampling weights rescaled to sum to N).

        Parameters
        ----------
        argument : {"freq_weights", "weights"} or None
        weight : ndarray, shape (N,), or None
            Each individual's weight as given.
        log_row_weight : ndarray, shape (N,), or None
        n_groups_zero_weight, n_rows_zero_weight : int

        Returns
        -------
        Weighting
        """
        kind = None if weight is None else INDIVIDUAL_WEIGHTS[argument]
        scale = 1.0
        if kind == "sampling":
            scale = weight.size / float(np.sum(weight))
            weight = weight * scale
        return cls(
            kind=kind,
            weight=weight,
            scale=scale,
            rows=log_row_weight is not None,
            log_row_weight=log_row_weight,
            n_groups_zero_weight=n_groups_zero_weight,
            n_rows_zero_weight=n_rows_zero_weight,
        )

    @property
    def total(self) -> float | None:
        """``sum_i w_i`` (None for unweighted individuals)."""
        return None if self.weight is None else float(np.sum(self.weight))

    def take(self, order: np.ndarray) -> Weighting:
        """The weighting of the individuals ``order``.

        Parameters
        ----------
        order : ndarray of int

        Returns
        -------
        Weighting
        """

        def pick(a):
            return None if a is None else a[order]

        return replace(self, weight=pick(self.weight), log_row_weight=pick(self.log_row_weight))


def by_individual(value, name: str, row_index, row_groups):
    """Per-row values of an individual weight given per row or indexed by individual.

    :func:`smlcr.design.reads_by_individual` decides how a pandas Series is
    indexed: by the data's rows (returned as given, aligned later), or by the
    individuals' labels, looked up for every row (rows whose individual is
    missing get a placeholder 1, as they are dropped or refused for the missing
    label).

    Parameters
    ----------
    value : object
    name : str
        Argument name, for messages.
    row_index : pandas.Index or None
        All of the data's row labels (None: the rows' positions).
    row_groups : array_like or None
        Each row's individual label (None without ``groups``); a Series carries the
        labels of its rows (a ``subset`` of the data's rows), else the rows are
        ``row_index``.

    Returns
    -------
    object
        ``value`` unchanged, or an ndarray with one value per row.
    """
    if not isinstance(value, pd.Series) or row_groups is None:
        return value
    if row_index is None:
        # data without row labels: a Series over the rows carries the default index
        row_index = pd.RangeIndex(len(row_groups))
    row_labels = row_groups.index if isinstance(row_groups, pd.Series) else row_index
    if not reads_by_individual(value, name, row_index, row_labels, row_groups):
        return value
    groups = pd.Series(np.asarray(row_groups).reshape(-1))
    present = groups.notna().to_numpy()
    out = np.ones(len(groups))
    out[present] = value.reindex(groups[present]).to_numpy(dtype=np.float64)
    return out


def check_weights(values, name: str) -> np.ndarray:
    """``values`` as float64, or an error naming ``name`` and the fix.

    Parameters
    ----------
    values : array_like, shape (n,)
    name : str
        One of :data:`WEIGHT_ARGUMENTS`.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ValueError
        For strings, NaN, infinite or negative values, or non-integer
        frequency weights.
    """
    array = np.asarray(values)
    if array.dtype.kind in "OUSV":
        raise ValueError(f"`{name}` must be numeric, but it holds strings or objects.")
    array = np.asarray(array, dtype=np.float64).reshape(-1)
    if np.isnan(array).any():
        raise ValueError(
            f"`{name}` contains NaN values; every row needs a weight (give rows to drop a "
            "weight of 0, or remove them)."
        )
    if np.isinf(array).any():
        raise ValueError(f"`{name}` contains infinite values; weights must be finite.")
    if (array < 0).any():
        raise ValueError(
            f"`{name}` contains negative values (smallest {array.min():g}); weights must be "
            "non-negative."
        )
    if name == "freq_weights" and np.any(array != np.round(array)):
        bad = array[array != np.round(array)][0]
        raise ValueError(
            f"`freq_weights` must be whole numbers (counts of identical individuals), got "
            f"{float(bad)!r}; for non-integer weights use `weights` (sampling weights)."
        )
    return array


def individual_weight(values: np.ndarray, codes: np.ndarray, labels, name: str) -> np.ndarray:
    """One weight per individual from per-row weights constant within individuals.

    Parameters
    ----------
    values : ndarray, shape (n,)
    codes : ndarray of int, shape (n,)
        Individual of each row, ``0..N-1``.
    labels : array_like
        The individuals' labels, for the message.
    name : str

    Returns
    -------
    ndarray, shape (N,)
    """
    try:
        return per_individual(values[:, None], codes, [name], labels, name)[:, 0]
    except ValueError as err:
        raise ValueError(
            f"{err} Give `{name}` per individual (a Series indexed by the `groups` labels) "
            "or the same value on every row of an individual."
        ) from None


def zero_weight_notes(argument: str | None, n_groups: int, n_rows: int, detail: str = "") -> list:
    """The warnings about individuals and rows dropped for a zero weight.

    Parameters
    ----------
    argument : str or None
        The individual weights' argument.
    n_groups : int
        Individuals dropped for a zero individual weight.
    n_rows : int
        Rows dropped for a zero row weight.
    detail : str
        Appended to the rows' message (what else was lost with them).

    Returns
    -------
    list of (str, type)
    """
    from smlcr.exceptions import ZeroWeightWarning

    notes = []
    if n_groups:
        notes.append(
            (
                f"{n_groups} individual(s) with `{argument}` of zero were dropped (see "
                "`n_groups_zero_weight`).",
                ZeroWeightWarning,
            )
        )
    if n_rows:
        notes.append(
            (
                f"{n_rows} row(s) with `row_weights` of zero (infinite variance) were dropped"
                f"{detail}; see `n_rows_zero_weight`.",
                ZeroWeightWarning,
            )
        )
    return notes


def check_some_weight(zero: np.ndarray, argument: str) -> None:
    """An error when every individual (or row) has a zero weight.

    Parameters
    ----------
    zero : ndarray of bool
    argument : str
    """
    if zero.all():
        where = "row" if argument == "row_weights" else "individual"
        raise ValueError(f"`{argument}` is zero for every {where}; nothing to fit.")
