"""Per-row inputs of the model: individuals, absorbed cells, and side designs.

Turns what the user passes (labels, arrays, DataFrames, column names) into
integer codes and float matrices, with names for messages. pandas and numpy
only; no statsmodels.
"""

from __future__ import annotations

import numbers
import re

import numpy as np
import pandas as pd

__all__ = [
    "check_count",
    "check_k_classes",
    "check_tolerance",
    "check_rng",
    "normal_quantile",
    "aligned",
    "reads_by_individual",
    "check_keywords",
    "Cells",
    "SideDesign",
    "factorize",
    "row_values",
    "per_individual",
    "differ_within",
    "varies_within_error",
    "side_formula",
    "side_rows",
    "side_design_for",
    "plain",
]


def plain(value):
    """A numpy scalar as the Python value it holds (for readable messages).

    Parameters
    ----------
    value : object

    Returns
    -------
    object
    """
    return value.item() if isinstance(value, np.generic) else value


def check_count(value, name: str, minimum: int = 1, allow_none: bool = False):
    """``value`` as an int, or an error naming the argument (booleans are not counts).

    Parameters
    ----------
    value : object
    name : str
    minimum : int
    allow_none : bool

    Returns
    -------
    int or None
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer of at least {minimum}, got {value!r}.")
    return int(value)


def check_title(value, name: str = "title") -> str | None:
    """``value`` when it is a string or None, else a ``TypeError`` naming the argument.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    str or None
    """
    if value is not None and not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string, got {value!r}.")
    return value


def check_tolerance(value, name: str) -> float:
    """``value`` as a finite non-negative float, or an error naming the argument.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    float
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"`{name}` must be a finite number of at least 0, got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number of at least 0, got {value!r}.")
    return float(value)


def check_var_floor(value) -> float:
    """``var_floor`` as a positive finite float, or an error naming it.

    Parameters
    ----------
    value : object

    Returns
    -------
    float
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`var_floor` must be a number or None, got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"`var_floor` must be a positive fraction of the residual variance, got "
            f"{value!r}: without a floor the likelihood is unbounded."
        )
    return float(value)


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """``numpy.random.default_rng(rng)``, or an error naming the argument: None, a
    non-negative integer, a ``SeedSequence``, a ``BitGenerator`` or a ``Generator``.

    Parameters
    ----------
    rng : object
    name : str

    Returns
    -------
    numpy.random.Generator
    """
    ok = rng is None or isinstance(
        rng, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)
    )
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        ok = rng >= 0
    if not ok:
        raise ValueError(
            f"`{name}` must be None, a non-negative integer seed or a numpy.random.Generator, "
            f"got {rng!r}."
        )
    return np.random.default_rng(rng)


def normal_quantile(alpha) -> float:
    """``z_{1 - alpha/2}``, the factor of a two-sided normal interval of coverage
    ``1 - alpha``; ``alpha`` outside (0, 1) is an error naming it (it gave intervals
    whose lower end was above the upper one, or infinite).

    Parameters
    ----------
    alpha : float
        One minus the coverage, strictly between 0 and 1.

    Returns
    -------
    float
    """
    from scipy import stats

    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(
            f"`alpha` must be a number strictly between 0 and 1 (one minus the coverage: "
            f"0.05 for 95% intervals), got {alpha!r}."
        )
    return float(stats.norm.ppf(1 - alpha / 2))


def check_keywords(given, valid, where: str) -> None:
    """A ``TypeError`` naming every keyword in ``given`` that is not in ``valid``.

    Misspelled options must not be ignored (a different model would be fitted
    without a word); the message suggests the closest valid name.

    Parameters
    ----------
    given : iterable of str
    valid : iterable of str
    where : str
        The function, for the message.

    Returns
    -------
    None
    """
    import difflib

    valid = sorted(valid)
    unknown = [k for k in given if k not in valid]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(
            f"{where} got unexpected keyword argument(s) {', '.join(hints)}; valid keywords "
            f"are {valid}."
        )


def aligned(value, index, name: str):
    """A pandas per-row input aligned with the data's row ``index``.

    pandas inputs are matched to the data by their index, as statsmodels
    matches ``endog`` and ``exog``: one with the same labels in another order
    is reordered; one whose labels differ from the data's (or repeat) is an
    error, never read by position. Other inputs are returned unchanged.

    Parameters
    ----------
    value : object
    index : pandas.Index or None
        The data's row labels (None when the data carry none).
    name : str
        Argument name, for the message.

    Returns
    -------
    object
    """
    if not isinstance(value, (pd.Series, pd.DataFrame)):
        return value
    if index is None:
        # data without row labels (arrays): only the default labels 0..n-1 say which
        # row a value belongs to; any other index cannot be matched, and reading it by
        # position would silently pair values with the wrong rows
        if value.index.equals(pd.RangeIndex(len(value))):
            return value
        raise ValueError(
            f"`{name}` is a pandas object with its own index, but the data have no row "
            "labels to align it with (they are arrays); give `endog` or `exog` as a pandas "
            "object with the same index, or pass this as a numpy array in the order of the "
            "rows."
        )
    if value.index.equals(index):
        return value
    if value.index.nlevels != index.nlevels:
        raise ValueError(
            f"`{name}` is a pandas object whose index has {value.index.nlevels} level(s) but "
            f"the data's rows have {index.nlevels}; index it as the data are (it is aligned "
            "by label, never by position)."
        )
    if (
        len(value.index) == len(index)
        and value.index.is_unique
        and index.is_unique
        and value.index.isin(index).all()
    ):
        return value.reindex(index)
    raise ValueError(
        f"`{name}` is a pandas object whose index does not match the data's rows; pass it "
        "with the same index labels as the data (it is aligned by label, never by position), "
        "or as a numpy array in the order of the rows."
    )


def reads_by_individual(value: pd.Series, name: str, row_index, row_labels, row_groups) -> bool:
    """Whether a Series of a variable that may be given per row or per individual is
    indexed by the individuals' labels (True) or by the data's rows (False).

    The one owner of that rule (individual weights, clusters). A Series whose index
    holds each of the data's row labels once is per row. Otherwise, one whose index
    holds the labels of the rows the values are wanted for is per row, and one that
    holds every individual's label is per individual. An index that holds both (the
    full data's column given while a subset of its rows is fitted, with integer
    individuals' labels that are also row labels; or individuals of a single row
    each) could mean either: it is read per row where both readings give every row
    the same value, and is an error where they differ. One that is neither is an
    error.

    Parameters
    ----------
    value : pandas.Series
    name : str
        Argument name, for messages.
    row_index : pandas.Index
        All of the data's row labels.
    row_labels : pandas.Index
        The row labels of the rows the values are wanted for.
    row_groups : array_like
        The individual's label of each of those rows (missing labels are skipped).

    Returns
    -------
    bool
    """
    if not value.index.is_unique:
        if value.index.equals(row_index):
            return False  # the data's own (repeated) labels, in the data's order
        raise ValueError(
            f"`{name}` is a Series with repeated index labels; index it by the data's rows "
            "(one value per row) or by the `groups` labels (one value per individual)."
        )
    groups = pd.Index(np.asarray(row_groups, dtype=object).reshape(-1))
    present = ~pd.isna(groups)
    found = groups[present].isin(value.index)
    exact_rows = len(value) == len(row_index) and bool(value.index.isin(row_index).all())
    covers_rows = bool(pd.Index(row_labels)[present].isin(value.index).all())
    if found.all() and covers_rows:
        by_row = pd.Series(value.reindex(pd.Index(row_labels)[present]).to_numpy())
        by_label = pd.Series(value.reindex(groups[present]).to_numpy())
        if by_row.equals(by_label):
            return False
        if exact_rows and not pd.Index(groups[present]).is_unique:
            return False  # exactly the data's rows, and individuals of several rows
        raise ValueError(
            f"`{name}` is a Series whose index holds both the rows' labels and every "
            "individual's label, and the two readings give rows different values (for "
            "example the full data's column while a subset of its rows is fitted, with "
            "individuals labelled by integers that are also row labels). Pass exactly the "
            "rows fitted (e.g. the column of the data given to the model), a Series indexed "
            "by the `groups` labels only, a column name, or a numpy array with one value per "
            "row."
        )
    if exact_rows or covers_rows:
        return False
    if not found.all():
        absent = list(dict.fromkeys(groups[present][~found]))[:3]
        raise ValueError(
            f"`{name}` is a Series whose index is neither the data's rows nor every "
            f"individual's label: no value for individual(s) {[plain(a) for a in absent]}. "
            "Index it by the `groups` labels (one value per individual) or by the data's "
            "rows."
        )
    return True


def factorize(values, name: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (float, NaN for missing) and the sorted distinct labels.

    Parameters
    ----------
    values : array_like
        One label per row.
    name : str
        Argument name, for the error message.

    Returns
    -------
    codes : ndarray of float
    labels : pandas.Index
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).reshape(-1))
    try:
        codes, labels = pd.factorize(series, sort=True, use_na_sentinel=True)
    except TypeError as err:  # unorderable mixture of label types
        raise ValueError(
            f"`{name}` mixes label types that cannot be sorted ({err}); "
            f"convert `{name}` to strings first."
        ) from err
    if pd.api.types.is_float_dtype(labels.dtype) and np.isinf(labels.to_numpy()).any():
        raise ValueError(
            f"`{name}` contains infinite values; give those rows a real label or remove them "
            "(missing='drop' drops only NaN)."
        )
    if series.dtype == object:
        _check_one_kind_per_label(series, codes, name)
    codes = codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes, labels


def _label_kind(value) -> str:
    """A label's kind for :func:`factorize`: labels of different kinds that compare equal
    (``1``, ``1.0``, ``True``) are different individuals a user meant, not one."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return type(value).__name__


def _check_one_kind_per_label(series: pd.Series, codes: np.ndarray, name: str) -> None:
    """An error where labels of different kinds fall on one code (pandas merges ``1``,
    ``1.0`` and ``True``, which compare equal)."""
    present = codes >= 0
    kinds = pd.factorize(series[present].map(_label_kind))[0]
    pairs = pd.DataFrame({"code": codes[present], "kind": kinds}).drop_duplicates()
    if len(pairs) == len(np.unique(codes[present])):
        return
    code = pairs["code"][pairs["code"].duplicated()].iloc[0]
    merged = list(dict.fromkeys(series[present][codes[present] == code].map(repr)))[:3]
    raise ValueError(
        f"`{name}` has labels of different types that compare equal ({', '.join(merged)}), "
        "which would be merged into one; convert the labels to one type first (for "
        "example all to strings)."
    )


def row_values(value, data: pd.DataFrame, full_index, subset, name: str):
    """A per-row variable given as a column name or as an array over all rows of ``data``.

    Parameters
    ----------
    value : str, array_like or None
    data : pandas.DataFrame
        The data after ``subset``.
    full_index : pandas.Index
        Index of the data before ``subset``.
    subset : array_like or None
    name : str
        Argument name, for messages.

    Returns
    -------
    pandas.Series or None
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data:
            raise ValueError(f"`{name}`={value!r} is not a column of `data`.")
        return data[value]
    if len(value) != len(full_index):
        raise ValueError(
            f"`{name}` has {len(value)} values but `data` has {len(full_index)} rows; "
            "pass a column name or one value per row of `data`."
        )
    value = aligned(value, full_index, name)
    series = pd.Series(
        np.asarray(value), index=full_index, name=getattr(value, "name", None) or name
    )
    return series if subset is None else series.loc[subset]


class Cells:
    """Absorbed cells: one code per row for each combination of the absorb variables.

    Parameters
    ----------
    codes : ndarray of float
        Cell of each row (NaN where an absorb variable is missing).
    names : list of str
        Names of the absorb variables.
    """

    def __init__(self, codes, names, uniques, combos):
        self.codes = codes
        self.names = names
        self._uniques = uniques
        self._combos = combos

    @classmethod
    def from_arrays(cls, absorb, n_rows: int) -> Cells:
        """Cells from one variable, a list of variables, or a DataFrame of them.

        Parameters
        ----------
        absorb : array_like, list of array_like, or DataFrame
        n_rows : int

        Returns
        -------
        Cells
        """
        if isinstance(absorb, str) or np.ndim(absorb) == 0:
            columns = [absorb]  # refused below, naming the argument
        elif isinstance(absorb, pd.DataFrame):
            columns = [absorb[c] for c in absorb.columns]
        elif isinstance(absorb, (list, tuple)):
            columns = list(absorb)
        else:
            arr = absorb if isinstance(absorb, pd.Series) else np.asarray(absorb)
            columns = [arr] if arr.ndim == 1 else [arr[:, j] for j in range(arr.shape[1])]
        if not columns:
            raise ValueError("`absorb` holds no variable; pass one (or several) or None.")
        names, per_column, uniques = [], [], []
        for j, col in enumerate(columns):
            if isinstance(col, str) or np.ndim(col) != 1:
                raise ValueError(
                    f"`absorb` must be one value per row (or a list of such variables), got "
                    f"{col!r}"[:200]
                    + (
                        "; a column name works with `from_formula` (pass the column's values here)."
                        if isinstance(col, str)
                        else "."
                    )
                )
            if len(col) != n_rows:
                raise ValueError(
                    f"`absorb` variable {j} has {len(col)} values but the data have "
                    f"{n_rows} rows; pass one value per row."
                )
            names.append(getattr(col, "name", None) or f"absorb{j}")
            codes, labels = factorize(col, "absorb")
            per_column.append(codes)
            uniques.append(np.asarray(labels))
        stacked = np.column_stack(per_column)
        missing = np.isnan(stacked).any(axis=1)
        combos, inverse = np.unique(
            np.where(missing[:, None], -1, stacked).astype(np.int64), axis=0, return_inverse=True
        )
        codes = inverse.reshape(-1).astype(np.float64)
        codes[missing] = np.nan
        return cls(codes, names, uniques, combos)

    def label(self, code: int) -> str:
        """Readable label of a cell, e.g. ``(artist='a1', country='US')``."""
        parts = [
            f"{name}={plain(self._uniques[j][self._combos[int(code), j]])!r}"
            for j, name in enumerate(self.names)
        ]
        return "(" + ", ".join(parts) + ")"


def reject_strings(values, name: str) -> None:
    """An error naming ``name`` when it holds strings or objects (even numeric-looking ones:
    they are never converted silently), complex numbers or dates: the one owner of that rule
    (the response, the regressors, membership and common variables, new rows).

    Parameters
    ----------
    values : array_like or DataFrame
    name : str
        Argument name, for the message.
    """
    kinds = (
        {dtype.kind for dtype in values.dtypes}
        if isinstance(values, pd.DataFrame)
        else {np.asarray(values).dtype.kind}
    )
    if kinds & set("OUSV"):
        raise ValueError(
            f"`{name}` must be numeric, but it holds strings or objects; convert it "
            "(pd.to_numeric) or, for categories, use a formula, which builds dummy columns."
        )
    if kinds & set("c"):
        raise ValueError(
            f"`{name}` holds complex numbers; pass real values (the imaginary parts would be "
            "dropped)."
        )
    if kinds & set("Mm"):
        raise ValueError(
            f"`{name}` holds dates or times; convert them to numbers first (for example "
            "years, or days since a date)."
        )


def formula_names(formula: str) -> set:
    """The names (identifiers) a formula's text mentions: the one reading of which
    variables a formula may use.

    Parameters
    ----------
    formula : str

    Returns
    -------
    set of str
    """
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula))


def formula_columns(data: pd.DataFrame, formula: str) -> list:
    """The columns of ``data`` whose names appear in ``formula`` (those it may use).

    Parameters
    ----------
    data : pandas.DataFrame
    formula : str

    Returns
    -------
    list
    """
    tokens = formula_names(formula)
    return [
        c
        for c in data.columns
        if isinstance(c, str) and (c in tokens if c.isidentifier() else c in formula)
    ]


def check_formula_data(data, formula: str, name: str) -> None:
    """A ``ValueError`` naming the column when a column a formula uses appears twice in
    ``data`` (which of them the formula means is not said), holds complex numbers (the
    formula engines fail inside numpy on them), or holds dates or times (the formula
    engines would silently make one dummy column per distinct date, where a time trend
    was likely meant; the array interface refuses them too, :func:`reject_strings`).

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
    formula : str
    name : str
        Argument name, for the message.
    """
    used = formula_columns(data, formula)
    repeated = [c for c in dict.fromkeys(used) if int((data.columns == c).sum()) > 1]
    if repeated:
        raise ValueError(
            f"`{name}` has more than one column named {repeated}; rename them so that the "
            "formula's names are unique."
        )
    for column in used:
        kind = data[column].dtype.kind
        if kind == "c":
            raise ValueError(
                f"column {column!r} of `{name}` holds complex numbers; pass real values."
            )
        if kind in "Mm":
            raise ValueError(
                f"column {column!r} of `{name}` holds dates or times, which a formula would "
                "turn into one dummy column per distinct value; convert it to numbers (for "
                f"example `{name}[{column!r}].dt.year`, or days since a date) for a trend, or "
                f"to strings (`.astype(str)`) for one dummy per date."
            )


def as_numeric(values, name: str) -> np.ndarray:
    """``values`` as float64, or a ``ValueError`` naming the argument: strings (even
    numeric-looking ones), complex numbers and dates are refused (:func:`reject_strings`),
    and so is anything numpy cannot read as numbers.

    Parameters
    ----------
    values : array_like or DataFrame
    name : str
        Argument name, for the message.

    Returns
    -------
    ndarray
    """
    reject_strings(values, name)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`{name}` must be numeric ({err}); encode categories as numbers, or use a "
            "formula, which builds dummy columns."
        ) from err


class SideDesign:
    """A per-row design matrix besides ``exog`` (membership or common regressors).

    Parameters
    ----------
    values : array_like or DataFrame, shape (n,) or (n, m)
    n_rows : int
    name : str
        Argument name (``"membership"``, ``"common"``), for messages and
        default column names.
    """

    def __init__(self, values, n_rows: int, name: str):
        if isinstance(values, str) or np.ndim(values) == 0:
            raise ValueError(
                f"`{name}` must be one row of values per row of the data, got {values!r}"
                + (
                    "; a one-sided formula such as '~ z' works with `from_formula`."
                    if isinstance(values, str)
                    else "."
                )
            )
        if isinstance(values, pd.Series):
            values = values.to_frame()
        matrix = as_numeric(values, name)
        if isinstance(values, pd.DataFrame):
            self.names = [str(c) for c in values.columns]
        else:
            if matrix.ndim == 1:
                matrix = matrix[:, None]
            self.names = [f"{name}{j}" for j in range(matrix.shape[1])]
        if matrix.ndim != 2 or matrix.shape[0] != n_rows:
            raise ValueError(
                f"`{name}` has shape {matrix.shape} but the data have {n_rows} rows; pass "
                "one row of values per row of the data."
            )
        self.matrix = matrix
        self.name = name

    def missing_rows(self) -> np.ndarray:
        """Rows with a NaN in any column."""
        return np.isnan(self.matrix).any(axis=1)


def per_individual(matrix: np.ndarray, codes: np.ndarray, names, labels, arg: str) -> np.ndarray:
    """One row per individual from per-row values that must be constant within individuals.

    Parameters
    ----------
    matrix : ndarray, shape (n, q)
    codes : ndarray of int, shape (n,)
        Individual of each row, coded ``0..N-1``.
    names : list of str
        Column names, for the error message.
    labels : array_like
        Individual labels, for the error message.
    arg : str
        Argument name, for the error message.

    Returns
    -------
    ndarray, shape (N, q)

    Raises
    ------
    ValueError
        Naming a variable and an individual for which it varies.
    """
    n_groups = int(codes.max()) + 1
    first = np.full(n_groups, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    per_group = matrix[first]
    varies = differ_within(np.abs(matrix - per_group[codes]), matrix)
    if varies.any():
        row, col = np.argwhere(varies)[0]
        raise varies_within_error(arg, names[col], labels[codes[row]])
    return per_group


def differ_within(spread: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether values of one individual differ by more than rounding: ``spread`` above
    ``1e-12 max(1, |values|)`` (the rule of :func:`per_individual`).

    Parameters
    ----------
    spread : ndarray
        Differences between an individual's values.
    values : ndarray
        The values, for the relative tolerance.

    Returns
    -------
    ndarray of bool
    """
    return spread > 1e-12 * np.maximum(1.0, np.abs(values))


def varies_within_error(arg: str, name: str, label) -> ValueError:
    """The error for an individual-level variable that varies within an individual.

    Parameters
    ----------
    arg : str
        Argument name.
    name : str
        Variable (column) name.
    label : object
        The individual's label.

    Returns
    -------
    ValueError
    """
    return ValueError(
        f"`{arg}` variable {name!r} varies within individual {plain(label)!r}; its values "
        "describe individuals, so they must be constant across an individual's rows."
    )


def side_formula(formula: str, data: pd.DataFrame, eval_env, name: str, drop_intercept: bool):
    """Evaluate a one-sided formula on ``data``, keeping every row of ``data``.

    Rows the formula engine drops for missing values come back as NaN rows, so
    that statsmodels' missing-data handling drops them from every array.

    Parameters
    ----------
    formula : str
        One-sided formula, e.g. ``"~ genre + career_years"`` (``~`` optional).
    data : pandas.DataFrame
    eval_env : mapping
        Variables the formula may use besides the columns of ``data``.
    name : str
        Argument name, for messages.
    drop_intercept : bool
        Remove an ``Intercept`` column.

    Returns
    -------
    design : pandas.DataFrame
    spec : object
        The formula engine's model spec, to build the same columns on new data.
    """
    from statsmodels.formula._manager import FormulaManager

    text = formula if formula.lstrip().startswith("~") else "~ " + formula
    manager = FormulaManager()
    # evaluated on positions, so that duplicate index labels survive the rows the engine
    # drops for missing values
    positional = data.reset_index(drop=True)
    try:
        design = manager.get_matrices(text, positional, eval_env=eval_env, pandas=True)
    except Exception as err:
        raise ValueError(f"`{name}` formula {formula!r} could not be evaluated: {err}") from err
    spec = manager.get_model_spec(design)
    design = pd.DataFrame(design)
    if drop_intercept and "Intercept" in design.columns:
        design = design.drop(columns="Intercept")
    if design.shape[1] == 0:
        raise ValueError(f"`{name}` formula {formula!r} gives no columns.")
    return design.reindex(positional.index).set_axis(data.index), spec


def side_rows(value, data: pd.DataFrame, full_index, subset, name: str) -> pd.DataFrame:
    """A side design given as an array or DataFrame over all rows of ``data`` (before ``subset``).

    Parameters
    ----------
    value : array_like or DataFrame, one row per row of the data
    data : pandas.DataFrame
        The data after ``subset``.
    full_index : pandas.Index
        Index of the data before ``subset``.
    subset : array_like or None
    name : str

    Returns
    -------
    pandas.DataFrame
    """
    frame = value.to_frame() if isinstance(value, pd.Series) else value
    if not isinstance(frame, pd.DataFrame):
        matrix = np.asarray(value, dtype=np.float64)
        matrix = matrix[:, None] if matrix.ndim == 1 else matrix
        frame = pd.DataFrame(matrix, columns=[f"{name}{j}" for j in range(matrix.shape[1])])
    if len(frame) != len(full_index):
        raise ValueError(
            f"`{name}` has {len(frame)} rows but `data` has {len(full_index)}; pass one "
            "row per row of `data`, or a formula."
        )
    if isinstance(value, (pd.Series, pd.DataFrame)):
        frame = aligned(frame, full_index, name)
    frame = frame.set_axis(full_index)
    return frame if subset is None else frame.loc[data.index]


def side_design_for(spec, data: pd.DataFrame, drop_intercept: bool) -> pd.DataFrame:
    """The columns of a side formula's ``spec`` built on new data.

    Parameters
    ----------
    spec : object
        Model spec returned by :func:`side_formula`.
    data : pandas.DataFrame
    drop_intercept : bool

    Returns
    -------
    pandas.DataFrame
    """
    from statsmodels.formula._manager import FormulaManager

    design = pd.DataFrame(FormulaManager().get_matrices(spec, data, pandas=True, prediction=True))
    if len(design) < len(data):
        # rows with a missing value, which the formula engine drops: kept as NaN rows (as
        # statsmodels keeps them for the class regressors), so that predictions stay one
        # per new row
        if not data.index.is_unique:
            raise ValueError(
                "some new rows have missing values in the membership or common variables, "
                "and their index repeats labels, so they cannot be kept as NaN rows; remove "
                "those rows or give the data a unique index."
            )
        design = design.reindex(data.index)
    if drop_intercept and "Intercept" in design.columns:
        design = design.drop(columns="Intercept")
    return design


def check_k_classes(k_classes) -> int:
    """``k_classes`` as an int, or an error naming it (not an integer, below 1).

    Parameters
    ----------
    k_classes : object

    Returns
    -------
    int
    """
    if isinstance(k_classes, bool) or not isinstance(k_classes, numbers.Integral):
        raise TypeError(f"`k_classes` must be an integer, got {k_classes!r}.")
    if k_classes < 1:
        raise ValueError(f"`k_classes` must be at least 1, got {k_classes}.")
    return int(k_classes)
