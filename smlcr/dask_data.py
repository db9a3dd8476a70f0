"""Data larger than memory: a Dask DataFrame compressed to the statistics, partition by partition.

One pass over the data reduces every individual to its QR statistics; estimation
never touches the rows again. The formula (and ``membership``, ``common``) is
turned into a design specification once, from a small *skeleton* of the data
that holds every level of every categorical variable of the whole data, and
applied to each partition. Each partition yields the R factors of its
individuals' rows (or, with ``absorb``, of its cells' rows ``[1 | X | y]``,
whose trailing block is the within-transformed statistics), and the pieces are
merged exactly by a tree reduction: the R factor of two stacked R factors is the
R factor of the stacked rows (tall-skinny QR), whichever partitions an
individual's or a cell's rows fall in.

Rows are centred within each partition before the QR, for precision; the
centring is undone exactly where the design carries a constant (the cells'
indicator with ``absorb``, the intercept otherwise), and there is none without
one. The units of the scaled statistics follow
:func:`smlcr.compress.units_rule`, from the merged moments of the columns (or,
with ``absorb``, from the within statistics), as for data in memory.

Dask is imported only here, and only when Dask data is given.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import MissingDataError

from smlcr.compress import (
    CompressedData,
    pack_upper,
    rows_by_individual,
    square_safe_scale,
    tsqr,
    units_rule,
)
from smlcr.design import (
    check_formula_data,
    check_k_classes,
    check_keywords,
    differ_within,
    formula_names,
    plain,
    varies_within_error,
)
from smlcr.exceptions import MissingRowsWarning, warn
from smlcr.prepare import (
    GIVEN_PREPARED,
    check_enough_data,
    check_finite,
    check_k_classes_fit,
    check_row_weight_scale,
    check_scales,
    check_varies_within,
    from_statistics,
    no_dof_note,
    row_weight_jacobian,
    unidentified_regressors,
)
from smlcr.weights import (
    INDIVIDUAL_WEIGHTS,
    WEIGHT_ARGUMENTS,
    Weighting,
    check_some_weight,
    check_weights,
    zero_weight_notes,
)

if TYPE_CHECKING:  # annotations only: the model imports this module
    from smlcr.model import LatentClassOLS

__all__ = ["DaskSpec", "compress_dask", "from_dask", "is_dask_frame", "statistics_model"]

#: Rows of the data taken (from the first partitions) into the skeleton.
SKELETON_ROWS = 200

#: The model's argument that each of the specification's designs stands for (in messages).
ARGUMENTS = {"y": "endog", "x": "exog", "membership": "membership", "common": "common"}


def is_dask_frame(data) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing Dask).

    Parameters
    ----------
    data : object

    Returns
    -------
    bool
    """
    return type(data).__module__.startswith("dask") and hasattr(data, "npartitions")


def _require_dask():
    try:
        import dask  # noqa: F401
        import dask.dataframe  # noqa: F401
    except ImportError as err:  # pragma: no cover - the extra is installed in the tests
        raise ImportError(
            "Dask data need the optional dependency: pip install 'smlcr[dask]'."
        ) from err


# ----------------------------------------------------------------- the design spec
@dataclass
class DaskSpec:
    """What turns a partition into arrays: formulas, column names and the skeleton.

    Formula engines' specs do not pickle, so each worker rebuilds them from
    the formulas and the skeleton (:meth:`matrices`), which hold every level of
    every categorical variable of the whole data.

    Attributes
    ----------
    formula : str
    skeleton : pandas.DataFrame
        A few rows of the data with every categorical level present.
    groups : str or None
        Column of the individuals' labels.
    absorb : list of str or None
        Columns whose combinations are the absorbed cells.
    membership, common : str or None
        One-sided formulas.
    weights : dict
        Weight argument (``freq_weights``, ``weights``, ``row_weights``) to column.
    missing : str
    """

    formula: str
    skeleton: pd.DataFrame
    groups: str | None
    absorb: list | None
    membership: str | None
    common: str | None
    weights: dict = field(default_factory=dict)
    missing: str = "drop"
    _specs: dict | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_specs"] = None  # rebuilt from the skeleton where it is needed
        return state

    def _build(self) -> dict:
        from statsmodels.formula._manager import FormulaManager

        manager = FormulaManager()
        env = {"np": np}
        lhs, rhs = self.formula.split("~", 1)
        specs = {"y": "~ 0 + " + lhs.strip(), "x": "~ " + rhs.strip()}
        for name in ("membership", "common"):
            text = getattr(self, name)
            if text is not None:
                specs[name] = text if text.lstrip().startswith("~") else "~ " + text
        built = {}
        for name, text in specs.items():
            try:
                design = manager.get_matrices(text, self.skeleton, eval_env=env, pandas=True)
            except Exception as err:
                raise ValueError(
                    f"the formula {text!r} could not be evaluated on Dask data ({err}); "
                    "formulas on Dask data may use the data's columns, numpy as `np` and "
                    "the formula engine's functions (C, I, ...)."
                ) from err
            spec = manager.get_model_spec(design)
            _refuse_stateful(spec, text)
            built[name] = (spec, list(pd.DataFrame(design).columns))
        if len(built["y"][1]) != 1:
            raise ValueError(
                f"the response {lhs.strip()!r} evaluates to {len(built['y'][1])} columns on the "
                "Dask data (a text, boolean or categorical column gives one per level); the "
                "response must be one numeric column."
            )
        return built

    def _plain(self, columns: list) -> bool:
        """Whether a design's columns are the data's numeric columns (and ``Intercept``)."""
        dtypes = self.skeleton.dtypes
        return all(
            c == "Intercept"
            or (
                c in dtypes.index
                and pd.api.types.is_numeric_dtype(dtypes[c])
                and not pd.api.types.is_bool_dtype(dtypes[c])
            )
            for c in columns
        )

    @property
    def specs(self) -> dict:
        """Name to ``(engine spec, column names)`` for ``y``, ``x``, ``membership``, ``common``."""
        if self._specs is None:
            self._specs = self._build()
        return self._specs

    def matrices(self, frame: pd.DataFrame) -> tuple[dict, np.ndarray]:
        """Every design of ``frame``'s rows and which rows they all have.

        Parameters
        ----------
        frame : pandas.DataFrame
            A partition, with a positional index.

        Returns
        -------
        arrays : dict
            Name to float array over the kept rows (``y``, ``x``, ``membership``,
            ``common``, ``groups``, ``cells``, and the weights).
        kept : ndarray of bool
            Rows without a missing value in anything the model uses.
        """
        from statsmodels.formula._manager import FormulaManager

        manager = FormulaManager()
        n = len(frame)
        kept = np.ones(n, dtype=bool)
        designs = {}
        for name, (spec, columns) in self.specs.items():
            if self._plain(columns):
                # the design is the data's own numeric columns (and a constant): read them
                if name == "common":  # the classes' intercepts hold the constant
                    columns = [c for c in columns if c != "Intercept"]
                design = _plain_design(frame, columns)
                for j in range(design.shape[1]):  # column by column, where it is contiguous
                    kept &= ~np.isnan(design[:, j])
                designs[name] = design
                continue
            design = manager.get_matrices(
                spec, frame, pandas=True, na_action=manager.get_na_action("drop")
            )
            design = pd.DataFrame(design)
            present = np.zeros(n, dtype=bool)
            present[design.index.to_numpy()] = True
            kept &= present
            if list(design.columns) != columns:
                raise ValueError(
                    f"a partition gives the columns {list(design.columns)} for {name!r}, "
                    f"not those of the whole data ({columns})."
                )
            if name == "common" and "Intercept" in design.columns:
                design = design.drop(columns="Intercept")  # the classes' intercepts hold it
            designs[name] = design.reindex(range(n)).to_numpy(dtype=np.float64)
        # infinite values are errors, as for pandas data (NaN rows are dropped or refused)
        check_finite({ARGUMENTS[name]: design for name, design in designs.items()}, True)
        extra = {}
        if self.groups is not None:
            extra["groups"] = frame[self.groups]
        for position, column in enumerate(self.absorb or []):
            extra[f"absorb{position}"] = frame[column]
        for argument, column in self.weights.items():
            extra[argument] = pd.Series(check_weights(frame[column], argument))
        for values in extra.values():
            kept &= values.notna().to_numpy()
        every = kept.all()  # (no copies then)
        arrays = {name: design if every else design[kept] for name, design in designs.items()}
        arrays.update(
            {
                name: values.to_numpy() if every else values.to_numpy()[kept]
                for name, values in extra.items()
            }
        )
        return arrays, kept


def _plain_design(frame: pd.DataFrame, columns: list) -> np.ndarray:
    """The columns ``columns`` of ``frame`` as float64 (``Intercept``: ones), NaN kept."""
    # column-major: every column written and later reduced contiguously
    out = np.empty((len(frame), len(columns)), order="F")
    for j, column in enumerate(columns):
        if column == "Intercept":
            out[:, j] = 1.0
        else:
            out[:, j] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _refuse_stateful(spec, text: str) -> None:
    """An error for formula transforms that learn from the data (center, standardize,
    splines): a partition would learn other values than the whole data."""
    factor_infos = getattr(spec, "factor_infos", {}) or {}
    for info in factor_infos.values():
        state = getattr(info, "state", {}) or {}
        if state.get("transforms"):
            raise ValueError(
                f"the formula {text!r} uses a transform that learns from the data "
                "(center, standardize, scale or splines); on Dask data every partition "
                "would learn its own. Compute the transformed column before."
            )


def _categorical_columns(data, texts: list) -> list:
    """Columns of the formulas whose levels must come from the whole data."""
    mentioned = set()
    for text in texts:
        mentioned |= formula_names(text)
    wrapped = set()
    for text in texts:
        wrapped |= set(re.findall(r"C\(\s*([A-Za-z_][A-Za-z0-9_]*)", text))
    out = []
    for column, dtype in data.dtypes.items():
        if column not in mentioned:
            continue
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if not numeric or column in wrapped:
            out.append(column)
    return out


def _skeleton(data, texts: list, used: list) -> pd.DataFrame:
    """A few complete rows of ``data`` plus rows that carry every categorical level."""
    import dask

    columns = [c for c in data.columns if c in set(used)]
    partitions = 1  # as few as give enough complete rows (not a pass over all of them)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # fewer rows than asked: widened
            head = data[columns].head(SKELETON_ROWS, npartitions=partitions).dropna()
        if len(head) >= min(SKELETON_ROWS, 10) or partitions >= data.npartitions:
            break
        partitions = min(4 * partitions, data.npartitions)
    if head.empty:
        raise ValueError(
            "every row of the Dask data has a missing value; the formulas' design is built "
            "from complete rows."
        )
    categorical = [c for c in _categorical_columns(data, texts) if c in columns]
    levels = dask.compute(*[data[c].dropna().unique() for c in categorical])
    rows = [head]
    template = head.iloc[:1]
    for column, values in zip(categorical, levels, strict=True):
        values = pd.Series(values)
        if isinstance(head[column].dtype, pd.CategoricalDtype):
            continue  # the dtype carries every category
        missing = values[~values.isin(head[column])]
        if len(missing):
            extra = pd.concat([template] * len(missing), ignore_index=True)
            extra[column] = missing.to_numpy()
            rows.append(extra)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------ per-partition pieces
@dataclass
class Pieces:
    """The statistics of some rows: one R factor per key (a cell, or an individual).

    Attributes
    ----------
    keys : pandas.DataFrame
        The key of every entry: ``group`` (the individual) and, with
        ``absorb``, the absorb columns.
    R : ndarray, shape (M, m, m)
        R factor of the entry's rows ``[1 | D - centre | y - centre]`` (with
        ``absorb``) or ``[D - centre | y - centre]``, rows scaled by
        ``sqrt(row weight)``.
    centre : ndarray, shape (M, m)
        What was subtracted from each column (0 for the constant).
    rows : ndarray, shape (M,)
        Rows of each entry.
    log_row_weight : ndarray, shape (M,)
        ``sum log w`` over the entry's rows (:func:`smlcr.prepare.row_weight_jacobian`
        makes it the log-likelihood's term).
    side_low, side_high : ndarray, shape (M, r)
        Smallest and largest value of the individual-level columns (membership
        design, individual weight) over the entry's rows.
    moments : dict
        Merged column moments of the rows (``n``, ``mean``, ``m2`` in units of
        ``scale`` squared, ``scale``, ``low``, ``high``, ``first``), for the units.
    n_missing : int
        Rows dropped for a missing value.
    n_zero_rows : int
        Rows dropped for a zero row weight.
    """

    keys: pd.DataFrame
    R: np.ndarray
    centre: np.ndarray
    rows: np.ndarray
    log_row_weight: np.ndarray
    side_low: np.ndarray
    side_high: np.ndarray
    moments: dict | None
    n_missing: int = 0
    n_zero_rows: int = 0


def _key_codes(keys: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Integer code of every row's key (its columns' combination), in order of appearance."""
    if keys.shape[1] == 1:
        codes, uniques = pd.factorize(keys.iloc[:, 0])
        return codes.astype(np.int64), len(uniques)
    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    return codes.astype(np.int64), int(codes.max()) + 1 if codes.size else 0


def _merge_moments(a: dict | None, b: dict | None) -> dict | None:
    """Chan et al.'s parallel merge of means and sums of squared deviations.

    The sums of squares are in units of ``scale`` squared (a power of two for each
    column, :func:`smlcr.compress.square_safe_scale`), so that columns near 1e200 do
    not overflow; the merge takes the larger of the two scales.
    """
    if a is None or b is None:
        return a if b is None else b
    n = a["n"] + b["n"]
    delta = b["mean"] - a["mean"]
    scale = np.maximum(a["scale"], b["scale"])
    return {
        "n": n,
        "mean": a["mean"] + delta * (b["n"] / n),
        "m2": a["m2"] * (a["scale"] / scale) ** 2
        + b["m2"] * (b["scale"] / scale) ** 2
        + (delta / scale) ** 2 * (a["n"] * b["n"] / n),
        "scale": scale,
        "low": np.minimum(a["low"], b["low"]),
        "high": np.maximum(a["high"], b["high"]),
        "first": a["first"],
    }


def partition_pieces(frame: pd.DataFrame, spec: DaskSpec, constant: int | None) -> Pieces:
    """The statistics of one partition's rows, by cell (``absorb``) or by individual.

    Parameters
    ----------
    frame : pandas.DataFrame
    spec : DaskSpec
    constant : int or None
        Column of the design (``[X | W]``) that is a constant, without ``absorb``.

    Returns
    -------
    Pieces
    """
    frame = frame.reset_index(drop=True)
    arrays, kept = spec.matrices(frame)
    n_missing = int((~kept).sum())
    if n_missing and spec.missing != "drop":
        # statsmodels' error for missing='raise', as on pandas data
        error = MissingDataError if spec.missing == "raise" else ValueError
        raise error(
            f"the Dask data have {n_missing} row(s) with a missing value in a variable the "
            "model uses; pass missing='drop' to drop them (they are counted)."
        )
    absorb = spec.absorb is not None
    lead = 1 if absorb else 0  # the cells' column of ones comes first
    n_zero = 0
    weight = arrays.get("row_weights")
    if weight is not None and np.any(weight == 0):
        keep = weight != 0
        n_zero = int((~keep).sum())
        arrays = {k: (v[keep] if np.ndim(v) else v) for k, v in arrays.items()}
        weight = arrays["row_weights"]
    parts = [arrays["x"]] + ([arrays["common"]] if "common" in arrays else []) + [arrays["y"]]
    width = sum(a.shape[1] for a in parts)
    n = parts[0].shape[0]
    values = np.empty((n, lead + width), order="F")  # column-major: see _block_qr_r
    groups = arrays["groups"] if "groups" in arrays else np.arange(n)
    key_columns = {"group": groups}
    for position in range(len(spec.absorb or [])):
        key_columns[f"absorb{position}"] = arrays[f"absorb{position}"]
    keys = pd.DataFrame(key_columns)
    codes, n_keys = _key_codes(keys)
    first = np.full(n_keys, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    # the moments of the columns (each column summarised where it is contiguous), and the
    # rows centred within the partition as they are copied into one row-major block (the
    # centring is undone through the design's constant; without one, nothing is centred)
    moments = None
    centre = np.zeros(width)
    centred = absorb or constant is not None
    if n:
        summaries = [(part.min(axis=0), part.max(axis=0), part.mean(axis=0)) for part in parts]
        low, high, mean = (np.concatenate(columns) for columns in zip(*summaries, strict=True))
        moments = {"n": float(n), "mean": mean, "low": low, "high": high}
        if centred:
            centre = mean.copy()
            if constant is not None and not absorb:
                centre[constant] = 0.0  # the constant stays: it undoes the centring
    column = lead
    for part in parts:
        target = values[:, column : column + part.shape[1]]
        if centred:
            np.subtract(part, centre[column - lead : column - lead + part.shape[1]], out=target)
        else:
            target[...] = part
        column += part.shape[1]
    data = values[:, lead:]
    if n:
        moments["first"] = data[0] + centre
        # sums of squared deviations in units of a power of two where squares could
        # overflow (see _merge_moments)
        scale = square_safe_scale(np.maximum(np.abs(low), np.abs(high)))
        deviation = data if centred else data - mean
        if np.any(scale != 1.0):
            deviation = deviation / scale
        moments["m2"] = np.einsum("ij,ij->j", deviation, deviation)
        moments["scale"] = scale
        if centred and constant is not None and not absorb:
            moments["m2"][constant] = 0.0
    if absorb:
        values[:, 0] = 1.0
    rows = values
    if weight is not None:
        rows *= np.sqrt(weight)[:, None]
    m = rows.shape[1]
    if codes.size and np.any(codes[1:] < codes[:-1]):
        order = rows_by_individual(codes, n_keys)  # the QR levels read each key's rows together
        rows, codes_sorted = np.asfortranarray(rows[order]), codes[order]
    else:  # rows already grouped by key (data written by individual): no copy
        codes_sorted = codes
    R = tsqr(rows, codes_sorted, n_keys) if n_keys else np.zeros((0, m, m))
    side = [arrays["membership"]] if "membership" in arrays else []
    for argument in INDIVIDUAL_WEIGHTS:
        if argument in arrays:
            side.append(np.asarray(arrays[argument], dtype=np.float64)[:, None])
    side = np.column_stack(side) if side else np.zeros((rows.shape[0], 0))
    low = np.full((n_keys, side.shape[1]), np.inf)
    high = np.full((n_keys, side.shape[1]), -np.inf)
    np.minimum.at(low, codes, side)
    np.maximum.at(high, codes, side)
    log_weight = np.zeros(n_keys)
    if weight is not None:
        np.add.at(log_weight, codes, np.log(weight))
    full_centre = np.concatenate([[0.0], centre]) if absorb else centre
    return Pieces(
        keys=keys.iloc[first].reset_index(drop=True),
        R=R,
        centre=np.broadcast_to(full_centre, (n_keys, m)).copy(),
        rows=np.bincount(codes, minlength=n_keys).astype(np.float64),
        log_row_weight=log_weight,
        side_low=low,
        side_high=high,
        moments=moments,
        n_missing=n_missing,
        n_zero_rows=n_zero,
    )


def _recentre(
    R: np.ndarray,
    centre: np.ndarray,
    target: np.ndarray,
    constant: int | None,
    constant_value: float,
) -> np.ndarray:
    """R factors of rows centred at ``centre`` re-expressed for rows centred at ``target``.

    ``D - target = (D - centre) + (centre - target) 1``, and the column of ones is
    the constant column (``constant``, scaled by its value): a linear map of the
    columns, applied to the R factors.
    """
    shift = (centre - target) / constant_value  # (M, m)
    if not np.any(shift):
        return R
    return R + R[:, :, [constant]] * shift[:, None, :]


def merge_pieces(a: Pieces, b: Pieces, constant: int | None, constant_value: float) -> Pieces:
    """The statistics of the rows of ``a`` and ``b`` together, exactly (tall-skinny QR).

    Parameters
    ----------
    a, b : Pieces
    constant : int or None
        Column of the factors that is the constant (0 with ``absorb``).
    constant_value : float

    Returns
    -------
    Pieces
    """
    keys = pd.concat([a.keys, b.keys], ignore_index=True)
    codes, n_keys = _key_codes(keys)
    R = np.concatenate([a.R, b.R])
    centre = np.concatenate([a.centre, b.centre])
    first = np.full(n_keys, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    target = centre[first]
    if constant is not None:
        R = _recentre(R, centre, target[codes], constant, constant_value)
    m = R.shape[-1]
    counts = np.bincount(codes, minlength=n_keys)
    if np.all(counts == 1):
        merged = np.empty_like(R)
        merged[codes] = R
    else:
        order = rows_by_individual(codes, n_keys)
        merged = tsqr(R[order].reshape(-1, m), np.repeat(codes[order], m), n_keys)

    def summed(x, y):
        out = np.zeros(n_keys)
        np.add.at(out, codes, np.concatenate([x, y]))
        return out

    low = np.full((n_keys, a.side_low.shape[1]), np.inf)
    high = np.full((n_keys, a.side_low.shape[1]), -np.inf)
    np.minimum.at(low, codes, np.concatenate([a.side_low, b.side_low]))
    np.maximum.at(high, codes, np.concatenate([a.side_high, b.side_high]))
    return Pieces(
        keys=keys.iloc[first].reset_index(drop=True),
        R=merged,
        centre=target,
        rows=summed(a.rows, b.rows),
        log_row_weight=summed(a.log_row_weight, b.log_row_weight),
        side_low=low,
        side_high=high,
        moments=_merge_moments(a.moments, b.moments),
        n_missing=a.n_missing + b.n_missing,
        n_zero_rows=a.n_zero_rows + b.n_zero_rows,
    )


# ---------------------------------------------------------------- the whole pass
def compress_dask(data, spec: DaskSpec, constant: int | None, split_every: int = 2) -> Pieces:
    """The merged statistics of every partition, by a tree reduction in Dask.

    Parameters
    ----------
    data : dask.dataframe.DataFrame
    spec : DaskSpec
    constant : int or None
        Column of ``[X | W]`` that is the formula's intercept (value 1).
    split_every : int
        Pieces merged at each node of the tree.

    Returns
    -------
    Pieces
    """
    import dask

    factor_constant = 0 if spec.absorb is not None else constant
    level = [dask.delayed(partition_pieces)(part, spec, constant) for part in data.to_delayed()]
    while len(level) > 1:
        merged = []
        for start in range(0, len(level), split_every):
            group = level[start : start + split_every]
            node = group[0]
            for other in group[1:]:
                node = dask.delayed(merge_pieces)(node, other, factor_constant, 1.0)
            merged.append(node)
        level = merged
    return level[0].compute()


@dataclass
class DaskStatistics:
    """What :func:`finish` hands to :func:`smlcr.prepare.from_statistics`."""

    stats: CompressedData
    labels: np.ndarray
    membership_exog: np.ndarray
    units: dict
    weighting: Weighting
    record: dict
    n_missing: int
    notes: list


def _per_individual(
    individual: np.ndarray, n_groups: int, low_high: tuple, arguments: list, names: list, labels
) -> np.ndarray:
    """Individual-level columns from the merged pieces' ranges, checked constant within
    individuals (the rule and error of :func:`smlcr.design.per_individual`)."""
    low = np.full((n_groups, low_high[0].shape[1]), np.inf)
    high = np.full((n_groups, low_high[0].shape[1]), -np.inf)
    np.minimum.at(low, individual, low_high[0])
    np.maximum.at(high, individual, low_high[1])
    varies = differ_within(high - low, low)
    if varies.any():
        row, col = np.argwhere(varies)[0]
        raise varies_within_error(arguments[col], names[col], labels[row])
    return low


def finish(pieces: Pieces, spec: DaskSpec, class_names: list, common_names: list) -> DaskStatistics:
    """Per-individual statistics in scaled units from the merged pieces.

    Parameters
    ----------
    pieces : Pieces
    spec : DaskSpec
    class_names, common_names : list of str

    Returns
    -------
    DaskStatistics
    """
    if len(pieces.keys) == 0 or pieces.moments is None:
        raise ValueError("the Dask data have no complete rows.")
    notes = []
    names = list(class_names) + list(common_names)
    p_all = len(names)
    absorb = spec.absorb is not None
    group_keys = pieces.keys["group"]
    codes, labels = pd.factorize(group_keys, sort=True)
    labels = np.asarray(labels)
    n_groups = labels.size
    moments = pieces.moments
    n_rows = moments["n"]
    rows_per = np.bincount(codes, weights=pieces.rows, minlength=n_groups)
    if absorb:
        cells = pieces.keys.drop(columns="group")
        spans = cells.duplicated(keep=False).to_numpy()
        if spans.any():
            first = cells.iloc[int(np.flatnonzero(spans)[0])]
            same = np.flatnonzero((cells == first).all(axis=1).to_numpy())
            owners = [plain(v) for v in dict.fromkeys(labels[codes[same]])][:2]
            cell = tuple(plain(v) for v in first)
            raise ValueError(
                f"`absorb` cell {cell} spans more than one individual ({owners[0]!r} and "
                f"{owners[1]!r}); absorbed cells must be nested within `groups`. Include the "
                "`groups` variable in `absorb`."
            )
        m = p_all + 1
        within = pieces.R[:, 1:, 1:]
        order = rows_by_individual(codes, n_groups)
        R = tsqr(within[order].reshape(-1, m), np.repeat(codes[order], m), n_groups)
        cells_per = np.bincount(codes, minlength=n_groups)
        dof = rows_per - cells_per
        scale = moments["scale"]  # the within columns are no larger than the raw ones
        scaled = R / scale if np.any(scale != 1.0) else R  # (one copy, only where needed)
        rms_within = np.sqrt(np.einsum("nij,nij->j", scaled, scaled) / n_rows) * scale
        rms_raw = np.sqrt(moments["m2"] / n_rows + (moments["mean"] / scale) ** 2) * scale
        check_varies_within(rms_within[-1] > 1e-12 * rms_raw[-1])
        # as :func:`smlcr.compress.constant_within`, from the statistics
        constant = rms_within[:-1] <= 1e-9 * rms_raw[:-1]
        dropped, dropped_notes = unidentified_regressors(constant, names, len(class_names))
        notes += dropped_notes
        if dropped:
            keep = np.concatenate([~constant, [True]])
            R = np.linalg.qr(R[:, :, keep], mode="r")
            rms_within = rms_within[keep]
        column_keep = ~constant
        units = units_rule(
            np.ones(int(column_keep.sum())),
            np.ones(int(column_keep.sum())),
            int(column_keep[: len(class_names)].sum()),
            None,
            lambda: (rms_within[:-1], rms_within[-1]),
        )
        R = R / np.concatenate([units["x_scale"], [units["y_scale"]]])[None, None, :]
        n_cells = int(len(pieces.keys))
    else:
        column_keep = np.ones(p_all, dtype=bool)
        dropped, n_cells = [], None
        dof = rows_per
        mean, scale = moments["mean"], moments["scale"]
        sd = np.sqrt(moments["m2"] / n_rows) * scale
        rms = np.sqrt(moments["m2"] / n_rows + (mean / scale) ** 2) * scale
        spread = (moments["high"] - moments["low"])[:-1]
        units = units_rule(
            spread,
            moments["first"][:-1],
            len(class_names),
            lambda: (mean[:-1], sd[:-1], mean[-1], sd[-1]),
            lambda: (rms[:-1], rms[-1]),
        )
        shift = np.concatenate([units["x_shift"], [units["y_shift"]]])
        scale = np.concatenate([units["x_scale"], [units["y_scale"]]])
        R = np.zeros((n_groups, p_all + 1, p_all + 1))
        R[codes] = pieces.R  # one entry per individual without absorb
        centre = np.zeros((n_groups, p_all + 1))
        centre[codes] = pieces.centre
        if units["constant"] is not None:
            value = units["constant_value"]
            R = _recentre(R, centre, shift[None, :], units["constant"], value)
        R = np.linalg.qr(R / scale[None, None, :], mode="r")
    p = int(column_keep.sum())
    # a QR's diagonal may be negative; the statistics need only R'R, c'R and rss
    stats = CompressedData(
        R_upper=pack_upper(R[:, :p, :p]),
        c=np.ascontiguousarray(R[:, :p, p]),
        rss=R[:, p, p] ** 2,
        dof=np.asarray(dof, dtype=np.float64),
        x_scale=units["x_scale"],
        y_scale=units["y_scale"],
        x_shift=units["x_shift"],
        y_shift=units["y_shift"],
    )
    check_scales(units, [n for n, keep in zip(names, column_keep, strict=True) if keep])
    # individual-level columns: membership design, then the individual weight
    argument = next((a for a in spec.weights if a in INDIVIDUAL_WEIGHTS), None)
    q = pieces.side_low.shape[1] - (argument is not None)
    membership_names = spec_names(spec, "membership")
    side = _per_individual(
        codes,
        n_groups,
        (pieces.side_low, pieces.side_high),
        ["membership"] * q + ([argument] if argument else []),
        membership_names + ([spec.weights[argument]] if argument else []),
        labels,
    )
    membership_exog = side[:, :q] if q else np.ones((n_groups, 1))
    log_row_weight = None
    if "row_weights" in spec.weights:
        if pieces.rows.sum() > 0:
            check_row_weight_scale(float(pieces.log_row_weight.sum() / pieces.rows.sum()))
        # per key (an individual, or a cell with absorb: its summed weight is R[0, 0]^2)
        per_key = row_weight_jacobian(
            pieces.log_row_weight,
            *((pieces.R[:, 0, 0] ** 2, pieces.rows) if absorb else ()),
        )
        log_row_weight = np.bincount(codes, weights=per_key, minlength=n_groups)
    weight = side[:, q] if argument else None
    keep = dof > 0
    n_no_dof = int((~keep).sum()) if absorb else 0
    if n_no_dof:
        notes.append(no_dof_note(n_no_dof))
    n_zero_groups = 0
    if weight is not None:
        zero = weight == 0
        check_some_weight(zero | ~keep, argument)
        n_zero_groups = int((zero & keep).sum())
        keep &= ~zero
    notes += zero_weight_notes(argument, n_zero_groups, pieces.n_zero_rows)
    n_cells_dropped = int(np.bincount(codes, minlength=n_groups)[~keep].sum()) if absorb else 0
    if not keep.all():
        index = np.flatnonzero(keep)
        stats = stats.take(index)
        labels, membership_exog, rows_per = labels[index], membership_exog[index], rows_per[index]
        weight = None if weight is None else weight[index]
        log_row_weight = None if log_row_weight is None else log_row_weight[index]
    weighting = Weighting.build(argument, weight, log_row_weight, n_zero_groups, pieces.n_zero_rows)
    stats = replace(stats, weight=weighting.weight)
    nobs = (
        float(weighting.weight @ rows_per)
        if weighting.kind == "frequency"
        else float(rows_per.sum())
    )
    record = {
        "exog_keep": column_keep[: len(class_names)],
        "common_keep": column_keep[len(class_names) :],
        "membership_names": membership_names if q else ["Intercept"],
        "dropped_exog": dropped,
        "n_cells": None if n_cells is None else n_cells - n_cells_dropped,
        "n_groups_no_dof": n_no_dof,
        "nobs": nobs,
    }
    return DaskStatistics(
        stats=stats,
        labels=labels,
        membership_exog=membership_exog,
        units=units,
        weighting=weighting,
        record=record,
        n_missing=pieces.n_missing,
        notes=notes,
    )


def spec_names(spec: DaskSpec, name: str) -> list:
    """Column names of one of the spec's designs (``x``, ``common``, ``membership``)."""
    if name not in spec.specs:
        return []
    columns = list(spec.specs[name][1])
    if name == "common" and "Intercept" in columns:
        columns.remove("Intercept")
    return columns


# ------------------------------------------------------------------ the model
def _column_names(value, name: str, data) -> list | None:
    """Column names given for ``name`` (one, or a list), checked against ``data``."""
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, str):
            raise ValueError(
                f"with Dask data, `{name}` must be a column name (or a list of them): the "
                "rows are not in memory to align an array with."
            )
        if item not in data.columns:
            raise ValueError(f"`{name}`={item!r} is not a column of the Dask data.")
    return list(items)


def from_dask(cls, formula: str, data, subset=None, drop_cols=None, **kwargs) -> LatentClassOLS:
    """The model of Dask data: statistics computed in one pass, the rows left where they are.

    Called by :meth:`smlcr.LatentClassOLS.from_formula` when ``data`` is a Dask
    DataFrame; see there and the "Data larger than memory" page.

    Returns
    -------
    LatentClassOLS
        Holding the statistics and the per-individual data, not the rows.
    """
    _require_dask()
    if subset is not None or drop_cols is not None:
        raise ValueError(
            "`subset` and `drop_cols` are not available with Dask data; filter the Dask "
            "DataFrame first, or remove the terms from the formula."
        )
    if kwargs.pop("eval_env", None) not in (None, -1, 0):
        raise ValueError(
            "`eval_env` is not available with Dask data: formulas may use the data's "
            "columns, numpy as `np` and the formula engine's functions."
        )
    groups = _column_names(kwargs.pop("groups", None), "groups", data)
    absorb = _column_names(kwargs.pop("absorb", None), "absorb", data)
    if absorb is not None and groups is None:
        raise ValueError(
            "`absorb` needs `groups`: absorbed cells must be nested within individuals."
        )
    sides = {}
    for name in ("membership", "common"):
        value = kwargs.pop(name, None)
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f"with Dask data, `{name}` must be a formula (such as '~ genre'), evaluated "
                "on every partition."
            )
        sides[name] = value
    weights = {}
    for argument in ("freq_weights", "weights", "row_weights"):
        value = kwargs.pop(argument, None)
        if value is not None:
            weights[argument] = _column_names(value, argument, data)[0]
    if "freq_weights" in weights and "weights" in weights:
        raise ValueError("pass either `freq_weights` or `weights`, not both.")
    missing = kwargs.pop("missing", "drop")
    texts = [formula] + [t for t in sides.values() if t is not None]
    for text in texts:
        check_formula_data(data, text, "data")
    tokens = set()
    for text in texts:
        tokens |= formula_names(text)
    used = [c for c in data.columns if c in tokens]
    used = list(dict.fromkeys(used + (groups or []) + (absorb or []) + list(weights.values())))
    skeleton = _skeleton(data, texts, used)
    spec = DaskSpec(
        formula=formula,
        skeleton=skeleton,
        groups=None if groups is None else groups[0],
        absorb=absorb,
        membership=sides["membership"],
        common=sides["common"],
        weights=weights,
        missing=missing,
    )
    class_names = spec_names(spec, "x")
    constant = class_names.index("Intercept") if "Intercept" in class_names else None
    if groups is None:
        raise ValueError(
            "with Dask data, pass `groups` (a column): rows without an individual's label "
            "cannot be told apart once partitions are merged."
        )
    pieces = compress_dask(data[used], spec, constant)
    computed = finish(pieces, spec, class_names, spec_names(spec, "common"))
    if computed.n_missing:
        if missing != "drop":
            error = MissingDataError if missing == "raise" else ValueError
            raise error(f"{computed.n_missing} row(s) have missing values; pass missing='drop'.")
        warn(
            f"{computed.n_missing} row(s) with missing values were dropped from every array "
            "(missing='drop'); see `n_missing_dropped`.",
            MissingRowsWarning,
        )
    for message, category in computed.notes:
        warn(message, category)
    return statistics_model(cls, spec, computed, kwargs)


def statistics_model(
    cls, spec: DaskSpec, computed, kwargs: dict, n_missing: int = 0
) -> LatentClassOLS:
    """A model of statistics computed from Dask data (:mod:`smlcr.dask_data`), without rows.

    The model is built by :meth:`LatentClassOLS.from_formula` on the data's skeleton
    (which gives it the formula's spec, names and side designs for new data) with the
    statistics in place of the skeleton's; the skeleton's rows are then dropped.

    Parameters
    ----------
    cls : type
    spec : smlcr.dask_data.DaskSpec
    computed : smlcr.dask_data.DaskStatistics or PreparedData
        The statistics (a ``PreparedData`` for another number of classes of the
        same statistics).
    kwargs : dict
        ``k_classes``, ``variance`` and the other model options.
    n_missing : int
        Rows dropped for missing values (with a ``PreparedData``).

    Returns
    -------
    LatentClassOLS
    """
    check_keywords(kwargs, {"k_classes", "variance"}, "LatentClassOLS.from_formula (Dask data)")
    k_classes = check_k_classes(kwargs.get("k_classes", 2))
    if hasattr(computed, "record"):
        prepared, _ = from_statistics(
            computed.stats,
            computed.labels,
            computed.membership_exog,
            k_classes,
            groups_name=spec.groups,
            class_exog_names=[
                n
                for n, k in zip(spec_names(spec, "x"), computed.record["exog_keep"], strict=True)
                if k
            ],
            common_names=[
                n
                for n, k in zip(
                    spec_names(spec, "common"), computed.record["common_keep"], strict=True
                )
                if k
            ],
            units=computed.units,
            weighting=computed.weighting,
            **computed.record,
        )
        n_missing = computed.n_missing
    else:
        prepared = computed
        check_k_classes_fit(k_classes, prepared.n_groups)
        check_enough_data(
            prepared.stats.dof,
            k_classes,
            len(prepared.class_exog_names),
            len(prepared.common_names),
        )
    options = {
        "groups": spec.groups,
        "absorb": spec.absorb,
        "membership": spec.membership,
        "common": spec.common,
        **spec.weights,
    }
    token = GIVEN_PREPARED.set(prepared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the skeleton's own notes are not the data's
            model = cls.from_formula(
                spec.formula,
                spec.skeleton,
                missing="drop",
                eval_env={"np": np},
                **{k: v for k, v in options.items() if v is not None},
                **kwargs,
            )
    finally:
        GIVEN_PREPARED.reset(token)
    for name in [
        "endog",
        "exog",
        "groups",
        "row_index",
        "absorb",
        "_common_rows",
        "_membership_rows",
        *WEIGHT_ARGUMENTS,
    ]:
        if hasattr(model, name):
            setattr(model, name, None)
    model.n_missing_dropped = n_missing
    model._statistics = (spec, {k: v for k, v in kwargs.items() if k != "k_classes"})
    return model
