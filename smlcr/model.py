"""The latent-class linear regression model, a statsmodels ``LikelihoodModel``."""

from __future__ import annotations

import inspect
import numbers
import sys
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel
from statsmodels.tools.sm_exceptions import ConvergenceWarning, MissingDataError

from smlcr import dask_data, em, information, starts
from smlcr.compress import (
    CompressedData,
)
from smlcr.dask_data import from_dask, is_dask_frame
from smlcr.design import (
    Cells,
    SideDesign,
    aligned,
    as_numeric,
    check_count,
    check_formula_data,
    check_k_classes,
    check_keywords,
    check_rng,
    check_tolerance,
    check_var_floor,
    factorize,
    formula_columns,
    plain,
    reads_by_individual,
    reject_strings,
    row_values,
    side_formula,
    side_rows,
)
from smlcr.exceptions import (
    AbsorbedIndividualWarning,
    AbsorbedRegressorWarning,
    DegenerateClassWarning,
    LocalMaximumWarning,
    MissingRowsWarning,
    RowLabelsWarning,
    SingleBestStartWarning,
    VarianceFloorLoweredWarning,
    VarianceFloorWarning,
    ZeroWeightWarning,
    warn,
)
from smlcr.information import Derivatives
from smlcr.newton import newton_phase
from smlcr.params import ClassParams, Layout
from smlcr.prepare import (  # noqa: F401 (CONDITION_LIMIT re-exported)
    CONDITION_LIMIT,
    GIVEN_PREPARED,
    check_enough_data,
    check_finite,
    check_k_classes_fit,
    prepare,
)
from smlcr.progress import progress_bar
from smlcr.units import unit_map as build_unit_map
from smlcr.weights import (
    INDIVIDUAL_WEIGHTS,
    WEIGHT_ARGUMENTS,
    by_individual,
    check_weights,
)

__all__ = ["LatentClassOLS"]

_COV_TYPES = ("oim", "opg", "robust")

_INIT_KEYWORDS = frozenset(
    {"groups", "k_classes", "absorb", "variance", "membership", "common", "missing"}
    | set(WEIGHT_ARGUMENTS)
)
#: keywords statsmodels' ``from_formula`` passes to the model
_STATSMODELS_KEYWORDS = frozenset(
    {"missing_idx", "formula", "model_spec", "design_info", "hasconst"}
)


_VARIANCES = ("class", "common")


class LatentClassOLS(LikelihoodModel):
    """Latent-class (finite mixture) linear regression on grouped data.

    Every individual ``i`` (a value of ``groups``) belongs to one of
    ``k_classes`` unobserved classes for all of its rows; within class ``s``::

        y_it = x_it' beta_s + eps_it,   eps_it ~ N(0, sigma2_s)
        P(class s) = softmax(eta)_s    (class 1 the reference, eta_1 = 0)

    Parameters
    ----------
    endog : array_like, shape (n,)
        Response.
    exog : array_like, shape (n, p)
        Regressors, all class-specific (include a constant for class-specific
        intercepts).
    groups : array_like, shape (n,), optional
        Label of each row's individual: strings, integers or categories, in
        any order. ``None`` makes every row its own individual (a plain
        mixture of regressions), labelled by the data's row label (by
        position for arrays).
    k_classes : int
        Number of latent classes K, at least 1 and at most the number of
        individuals.
    absorb : array_like, or list of array_like, optional
        Fixed effects to absorb: one variable, or several whose combination
        defines the cells (artist x country). Cells must be nested within
        ``groups``. The data are demeaned within cells before estimation;
        regressors constant within every cell (the intercept among them) are
        not identified and are dropped with a warning (``dropped_exog``), and
        each individual's likelihood has ``d_i = rows - cells`` degrees of
        freedom. Individuals with ``d_i = 0`` are dropped with a warning.
    variance : {"class", "common"}
        One residual variance per class (``"sigma2[k]"``), or one shared by
        all classes (``"sigma2"``).
    membership : array_like or DataFrame, shape (n, q), optional
        Membership (concomitant) variables, one row per data row and constant
        within each individual: class probabilities are
        ``softmax(z_i' eta)`` with class 1 the reference. Used as given:
        include a constant column for an intercept (``from_formula`` with a
        formula adds one). Default: a constant, i.e. class shares.
    common : array_like or DataFrame, shape (n, m), optional
        Regressors with one coefficient shared by all classes.
    missing : {"none", "drop", "raise"}
        statsmodels' missing-data handling; a dropped row is dropped from
        ``groups``, ``absorb``, ``membership``, ``common`` and the weights
        too (with a ``MissingRowsWarning`` and a count in
        ``n_missing_dropped``).
    freq_weights : array_like, optional
        Frequency weights: individual ``i`` stands for ``w_i`` identical
        individuals (non-negative integers). One value per row, constant
        within individuals, or a Series indexed by the individuals' labels.
        Estimates, log-likelihood, standard errors and criteria equal those of
        the data with every individual repeated ``w_i`` times; ``n_groups`` of
        the results is ``sum w_i``.
    weights : array_like, optional
        Sampling (probability) weights of individuals, given like
        ``freq_weights``: the estimates maximise the pseudo-log-likelihood
        ``sum_i w_i l_i``, with the weights rescaled to sum to the number of
        individuals (so nothing depends on their scale); standard errors are
        the sandwich (``cov_type="robust"``, the default and the only one
        valid). Not together with ``freq_weights``.
    row_weights : array_like, shape (n,), optional
        Precision (analytic) weights of rows: ``var(eps_it) = sigma2_s / w_it``.
        The rows are scaled by ``sqrt(w_it)`` in the compression, so the cost
        of the fit does not change.

    Rows or individuals with a weight of zero are dropped with a
    ``ZeroWeightWarning`` and a count (``n_rows_zero_weight``,
    ``n_groups_zero_weight``).

    Attributes
    ----------
    n_groups : int
        Number of individuals N.
    has_groups : bool
        Whether ``groups`` was given (otherwise every row is its own individual).
    nobs : float
        Number of rows used in estimation.
    df_model : float
        Number of estimated parameters (all of them: coefficients, variances,
        membership coefficients).
    df_resid : float
        Individuals less parameters: the individuals are the independent units
        of the likelihood (``n_groups - df_model``).
    class_exog_names : list of str
        Names of the class-specific regressors estimated (after dropping).
    dropped_exog : list of str
        Regressors dropped as constant within every absorbed cell.
    n_cells : int or None
        Number of absorbed cells.
    n_groups_no_dof : int
        Individuals dropped because absorbing left them no degrees of freedom.
    group_labels : pandas.Index
        The individuals' labels, in the order estimation works in (an order
        defined by the individuals' data, :func:`smlcr.compress.canonical_order_of_individuals`).
    label_order : ndarray of int
        Positions in ``group_labels`` of the individuals sorted by label (the
        order of the rows of ``results.posteriors``).
    stats : CompressedData
        Per-individual QR statistics that estimation works on, in the order of
        ``group_labels``.

    Notes
    -----
    The parameter vector is ``[beta_1, ..., beta_K, delta, sigma2_1, ...,
    sigma2_K, eta_2, ..., eta_K]``, named ``"{exog name}[k]"``, the common
    regressors' names (``delta``, only with ``common``), ``"sigma2[k]"`` (or
    one ``"sigma2"``) and ``"membership:{name}[k]"``. The class shares are
    ``softmax(0, eta_2, ..., eta_K)``; ``eta_k`` is the log-odds of class
    ``k`` against class 1.
    """

    def __init__(
        self,
        endog,
        exog,
        groups=None,
        k_classes: int = 2,
        absorb=None,
        variance: str = "class",
        membership=None,
        common=None,
        missing: str = "none",
        freq_weights=None,
        weights=None,
        row_weights=None,
        **kwargs,
    ):
        check_keywords(kwargs, _INIT_KEYWORDS | _STATSMODELS_KEYWORDS, "LatentClassOLS")
        _check_missing(missing)
        self.k_classes = check_k_classes(k_classes)
        if variance not in _VARIANCES:
            raise ValueError(
                f"`variance` must be 'class' (one variance per class) or 'common' "
                f"(one shared variance), got {variance!r}."
            )
        self.variance = variance
        # with a formula, endog is already free of missing rows and `missing_idx`
        # marks them among all rows of the data, which the per-row arguments still have
        missing_idx = kwargs.get("missing_idx")
        n_rows = len(endog) if missing_idx is None else len(missing_idx)
        self._n_rows_given = n_rows  # before missing rows are dropped (per-row arguments)
        _check_endog_shape(endog)
        reject_strings(endog, "endog")
        # pandas nullable numeric columns (pd.NA) as float64 with NaN, as from_formula does
        endog, exog = _nullable_to_float(endog), _nullable_to_float(exog)
        # pandas per-row inputs are matched to the data by label, never by position: to
        # the labels of endog, or of exog when endog is an array (from_formula has given
        # them per row of its data already)
        formula_rows = "missing_idx" in kwargs  # given by from_formula, per row of its data
        row_index = None if formula_rows else _row_labels(endog, exog)
        self._row_labels = row_index
        if not formula_rows:
            _check_same_rows(endog, exog)

        def align(value, name):
            return value if formula_rows else aligned(value, row_index, name)

        groups = align(groups, "groups")
        if isinstance(absorb, (list, tuple)):
            absorb = [align(a, "absorb") for a in absorb]
        else:
            absorb = align(absorb, "absorb")
        membership = align(membership, "membership")
        common = align(common, "common")
        given = {"freq_weights": freq_weights, "weights": weights, "row_weights": row_weights}
        if not formula_rows:
            for name in INDIVIDUAL_WEIGHTS:
                given[name] = by_individual(given[name], name, row_index, groups)
        self._weight_name = _individual_weight_name(given)
        #: the weights' variable names, for the summary
        self.weight_names = {
            name: str(getattr(value, "name", None) or name)
            for name, value in given.items()
            if value is not None
        }
        for name, value in given.items():
            if value is not None:
                value = check_weights(align(value, name), name)
                if value.size != n_rows:
                    raise ValueError(
                        f"`{name}` has {value.size} values but the data have {n_rows} rows; "
                        "pass one weight per row (or, for individual weights, a Series "
                        "indexed by the `groups` labels)."
                    )
                kwargs[name] = value
        self.has_groups = groups is not None
        if groups is not None and np.ndim(groups) > 1 and np.shape(groups)[1] != 1:
            raise ValueError(
                f"`groups` must be one label per row, got shape {np.shape(groups)}; to make "
                "individuals of combinations of several variables, combine them into one "
                "label first (for example as strings joined by '_')."
            )
        if isinstance(groups, str) or (groups is not None and np.ndim(groups) == 0):
            raise ValueError(
                f"`groups` must be one label per row, got {groups!r}"
                + (
                    "; a column name works with `from_formula` (pass the column's values here)"
                    if isinstance(groups, str)
                    else ""
                )
                + "."
            )
        if groups is None:
            self._groups_name = "group"
            codes, labels = np.arange(n_rows, dtype=np.float64), _rows_as_individuals(endog, exog)
        else:
            if len(groups) != n_rows:
                raise ValueError(
                    f"`groups` has {len(groups)} labels but the data have {n_rows} rows; "
                    "pass one group label per row."
                )
            self._groups_name = getattr(groups, "name", None) or "group"
            codes, labels = factorize(groups, "groups")
        self._cells = None
        if absorb is not None:
            if groups is None:
                raise ValueError(
                    "`absorb` needs `groups`: absorbed cells must be nested within "
                    "individuals, so pass the individual of each row as `groups`."
                )
            self._cells = Cells.from_arrays(absorb, n_rows)
            kwargs["absorb"] = self._cells.codes
        self.membership_design = (
            None if membership is None else SideDesign(membership, n_rows, "membership")
        )
        self.common_design = None if common is None else SideDesign(common, n_rows, "common")
        # 2-D side designs cannot pass through statsmodels' missing-data handling
        # (it takes 2-D extras for n x n matrices): a row index goes instead, NaN
        # where a side design has a missing value, and selects their rows afterwards
        row_index = np.arange(n_rows, dtype=np.float64)
        for side in (self.membership_design, self.common_design):
            if side is not None and missing != "none":
                row_index[side.missing_rows()] = np.nan
        _check_exog_values(exog, missing)
        # statsmodels' search for a constant is a max/min pass over the rows (an SVD of
        # them when there is none) that the model makes once itself (_exog_names)
        self._given_hasconst = kwargs.get("hasconst")
        kwargs.setdefault("hasconst", False)
        super().__init__(endog, exog, groups=codes, row_index=row_index, missing=missing, **kwargs)
        if self._given_hasconst is None:  # not the user's: not a keyword to recreate the model
            self._init_keys.remove("hasconst")
        self.n_missing_dropped = n_rows - len(self.endog)
        if self.n_missing_dropped:
            warn(
                f"{self.n_missing_dropped} row(s) with missing values were dropped from every "
                f"array (missing={missing!r}); see `n_missing_dropped`.",
                MissingRowsWarning,
            )
        self._setup(labels)

    def _exog_names(self, exog: np.ndarray) -> list[str]:
        """The regressors' names: the data's own, or statsmodels' defaults (``const``,
        ``x1``, ...); records the constant column as statsmodels would (``k_constant``,
        ``data.const_idx``), from one max/min pass over the rows."""
        constant = np.flatnonzero(exog.max(axis=0) == exog.min(axis=0)) if exog.size else []
        if self._given_hasconst is None:
            nonzero = [j for j in constant if exog[0, j] != 0]
            self.k_constant = self.data.k_constant = int(len(nonzero) > 0)
            self.data.const_idx = int(nonzero[0]) if nonzero else None
        names = self.data._get_names(self.data.orig_exog)
        if not names:
            names = [f"x{j}" for j in range(1, exog.shape[1] + 1 - (len(constant) > 0))]
            if len(constant):
                names.insert(int(constant[0]), "const")
            self.data.xnames = names  # statsmodels' cache, so it does not compute them again
        return list(names)

    def _setup(self, labels):
        endog = _numeric(self.endog, "endog")
        exog = _numeric(self.exog, "exog")
        rows = np.asarray(self.row_index).astype(np.int64)
        membership = None if self.membership_design is None else self.membership_design.matrix[rows]
        common = None if self.common_design is None else self.common_design.matrix[rows]
        self._common_rows = np.empty((rows.size, 0)) if common is None else common
        self._membership_rows = membership
        individual_weights = None if self._weight_name is None else getattr(self, self._weight_name)
        row_weights = getattr(self, "row_weights", None)
        given = GIVEN_PREPARED.get()
        class_names = self._exog_names(exog)  # (and the constant, as statsmodels records it)
        prepared = (
            given
            if given is not None
            else prepare(
                endog,
                exog,
                np.asarray(self.groups, dtype=np.float64),
                labels,
                self.k_classes,
                class_names=class_names,
                groups_name=self._groups_name,
                cells=None if self._cells is None else np.asarray(self.absorb, dtype=np.float64),
                cell_label=None if self._cells is None else self._cells.label,
                membership=membership,
                membership_names=None
                if self.membership_design is None
                else self.membership_design.names,
                common=common,
                common_names=[] if self.common_design is None else list(self.common_design.names),
                individual_weights=None
                if individual_weights is None
                else np.asarray(individual_weights, dtype=np.float64),
                weight_name=self._weight_name or "freq_weights",
                row_weights=None
                if row_weights is None
                else np.asarray(row_weights, dtype=np.float64),
            )
        )
        for message, category in prepared.notes:
            warn(message, category)
        #: the record estimation works from (:class:`smlcr.prepare.PreparedData`); the
        #: attributes below are its fields, for statsmodels' idiom
        self.prepared = prepared
        self.groups = None if prepared.rows is None else prepared.rows.labels
        self.stats: CompressedData = prepared.stats
        self.membership_exog = prepared.membership_exog
        self.membership_names = prepared.membership_names
        self.class_exog_names = prepared.class_exog_names
        self.common_names = prepared.common_names
        self.dropped_exog: list[str] = prepared.dropped_exog
        self.n_cells = prepared.n_cells
        self.n_groups_no_dof = prepared.n_groups_no_dof
        self.group_labels = prepared.group_labels
        self.label_order = prepared.label_order
        self.n_groups = prepared.n_groups
        self.nobs = prepared.nobs
        #: the weights per individual (:class:`smlcr.weights.Weighting`)
        self.weighting = prepared.weighting
        # residual variance of the one-class fit (scaled units), from the rank check's QR
        self._pooled_variance = prepared.pooled_variance
        self.n_individuals = prepared.n_individuals
        self.n_groups_zero_weight = prepared.weighting.n_groups_zero_weight
        self.n_rows_zero_weight = prepared.weighting.n_rows_zero_weight
        self.k_exog = len(self.class_exog_names)
        self.k_common = len(self.common_names)
        self._Z = prepared.Z
        self.layout = Layout(
            self.k_classes,
            self.k_exog,
            self.membership_exog.shape[1],
            self.variance == "common",
            self.k_common,
        )
        #: the affine map between scaled and data-unit parameters (:mod:`smlcr.units`)
        self.unit_map = build_unit_map(self.layout, prepared.units)
        self.data.param_names = self._param_names()
        self.k_params = len(self.data.param_names)
        self.df_model = float(self.k_params)
        # the independent units are the individuals, not the rows
        self.df_resid = float(self.n_individuals - self.k_params)
        self._init_keys.extend(["k_classes", "variance"])
        # row-length arrays that `remove_data` must drop with endog and exog
        rows = [
            "prepared.rows.keep",
            "prepared.rows.individual",
            "prepared.rows.cell",
            "prepared.rows.labels",
        ]
        self._data_attr.extend(
            ["groups", "row_index", "_common_rows", "_membership_rows"]
            + (rows if prepared.rows is not None else [])
            + [name for name in WEIGHT_ARGUMENTS if getattr(self, name, None) is not None]
            + (["absorb", "_cells.codes"] if self._cells is not None else [])
            + (["membership_design.matrix"] if self.membership_design is not None else [])
            + (["common_design.matrix"] if self.common_design is not None else [])
        )

    def rows_used(self) -> tuple[np.ndarray, np.ndarray]:
        """Class-specific and common regressors of the rows estimation used (original units).

        Returns
        -------
        exog : ndarray, shape (nobs, k_exog)
        common : ndarray, shape (nobs, k_common)
        """
        self.require_data("rows_used()")
        exog = np.asarray(self.exog, dtype=np.float64)
        exog = exog[:, None] if exog.ndim == 1 else exog
        keep = self.prepared.rows.keep
        exog = exog[keep][:, self.prepared.exog_keep]
        common = self._common_rows[keep][:, self.prepared.common_keep]
        return exog, common

    def row_weights_used(self) -> np.ndarray | None:
        """``row_weights`` of the rows estimation used, or None without row weights.

        Returns
        -------
        ndarray, shape (nobs,), or None
        """
        self.require_data("row_weights_used()")
        row_weights = getattr(self, "row_weights", None)
        if row_weights is None:
            return None
        return np.asarray(row_weights, dtype=np.float64)[self.prepared.rows.keep]

    def with_k_classes(self, k_classes: int) -> LatentClassOLS:
        """The same model (data, individuals, options) with another number of classes.

        Parameters
        ----------
        k_classes : int

        Returns
        -------
        LatentClassOLS
            Warnings about the data already given by this model are not repeated.
        """
        if getattr(self, "_statistics", None) is not None:
            spec, kwargs = self._statistics
            return dask_data.statistics_model(
                type(self),
                spec,
                self.prepared,
                {**kwargs, "k_classes": k_classes},
                self.n_missing_dropped,
            )
        self.require_data("with_k_classes (and refit_fewer_classes)")
        # the rows' labels of the model's data (after missing rows were dropped), so that the
        # per-row arguments align with endog and exog by label
        index = _row_labels(self.data.orig_endog, self.data.orig_exog)
        kwargs = {
            "groups": pd.Series(self.groups, index=index, name=self._groups_name),
            "k_classes": k_classes,
            "variance": self.variance,
        }
        if self._cells is not None:
            kwargs["absorb"] = np.asarray(self.absorb)
        if self.membership_design is not None:
            kwargs["membership"] = pd.DataFrame(
                self._membership_rows, columns=self.membership_design.names, index=index
            )
        if self.common_design is not None:
            kwargs["common"] = pd.DataFrame(
                self._common_rows, columns=self.common_design.names, index=index
            )
        for name in WEIGHT_ARGUMENTS:
            if getattr(self, name, None) is not None:
                kwargs[name] = np.asarray(getattr(self, name))
        # the statistics of this model serve the new one (no second compression); the
        # checks that depend on K are made here, as prepare would make them
        k_classes = check_k_classes(k_classes)
        check_k_classes_fit(k_classes, self.prepared.n_groups)
        check_enough_data(
            self.prepared.stats.dof,
            k_classes,
            len(self.prepared.class_exog_names),
            len(self.prepared.common_names),
        )
        token = GIVEN_PREPARED.set(self.prepared)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AbsorbedRegressorWarning)
                warnings.simplefilter("ignore", AbsorbedIndividualWarning)
                warnings.simplefilter("ignore", ZeroWeightWarning)
                model = self.__class__(self.data.orig_endog, self.data.orig_exog, **kwargs)
        finally:
            GIVEN_PREPARED.reset(token)
        for name in ("formula", "_side_specs"):
            if hasattr(self, name):
                setattr(model, name, getattr(self, name))
        # the formula's spec goes with the formula and the frame it was evaluated on, which
        # statsmodels needs together to rebuild the spec when a pickle is loaded
        for name in ("model_spec", "formula", "frame"):
            if getattr(self.data, name, None) is not None:
                setattr(model.data, name, getattr(self.data, name))
        return model

    def require_data(self, what: str) -> None:
        """An error saying that ``what`` needs the rows, after ``remove_data()``.

        Parameters
        ----------
        what : str
            The method or attribute, for the message.

        Returns
        -------
        None
        """
        if self._has_rows():
            return
        if getattr(self, "_statistics", None) is not None:
            raise ValueError(
                f"{what} needs the model's rows, and this model was built from Dask data: it "
                "holds the per-individual statistics, not the rows. Estimates, standard "
                "errors, tests, posteriors of individuals and predictions on new pandas data "
                "are available; compute row-level values on the rows with `predict`."
            )
        raise ValueError(
            f"{what} needs the model's rows, which were removed by remove_data(); keep "
            "the data (or refit the model on it) to use it. Estimates, standard errors, "
            "posteriors and predictions on new data are still available."
        )

    def _params_vector(self, params, name: str) -> np.ndarray:
        """Parameters in the data's units as an array in the order of ``param_names``,
        checked: the one owner of that rule (``start_params``, and the ``params`` of
        ``loglike``, ``score``, ``hessian`` and the rest).

        A pandas Series (or a dict) is matched by parameter name (its order does not matter); names
        missing from it or unknown to the model are an error, as are a wrong length,
        values that are not finite and variances that are not positive.
        """
        names = list(self.data.param_names)
        if isinstance(params, dict):
            params = pd.Series(params, dtype=object)  # by name, as a Series is
        if isinstance(params, pd.Series):
            missing = [n for n in names if n not in params.index]
            unknown = [n for n in params.index if n not in names]
            if missing or unknown or not params.index.is_unique:
                raise ValueError(
                    f"`{name}` is matched to the parameters by name: missing {missing}, "
                    f"unknown {unknown}; the parameters are {names}."
                )
            params = params.reindex(names)
        try:
            values = np.asarray(params, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"`{name}` must be numbers, one per parameter ({err}).") from err
        if values.shape != (self.k_params,):
            raise ValueError(
                f"`{name}` has shape {values.shape} but the model has "
                f"{self.k_params} parameters, in this order: {names}."
            )
        bad = [n for n, v in zip(names, values, strict=True) if not np.isfinite(v)]
        variances = self.layout.slices["sigma2"]
        bad += [n for n, v in zip(names[variances], values[variances], strict=True) if not v > 0]
        if bad:
            raise ValueError(f"`{name}` must be finite with positive variances; check {bad}.")
        return values

    @classmethod
    def from_formula(cls, formula, data, subset=None, drop_cols=None, *args, **kwargs):
        """Create a model from a formula and a DataFrame.

        Parameters
        ----------
        formula : str
            Model formula such as ``"y ~ x1 + x2"``; every term is
            class-specific (the intercept too). Evaluated by statsmodels'
            formula support (patsy, or formulaic with ``SM_FORMULA_ENGINE``).
        data : pandas.DataFrame
            The data.
        subset : array_like, optional
            Rows of ``data`` to use: a boolean mask (one value per row; a Series
            is aligned by index), or distinct index labels of ``data``.
        drop_cols : list of str, optional
            Columns to drop from the design matrix, named exactly as the
            design's columns (an unknown name is an error).
        *args
            Passed to the model.
        **kwargs
            ``groups`` (a column name of ``data`` or an array with one label
            per row of ``data``), ``absorb`` (a column name or array, or a
            list of them), ``membership`` (a one-sided formula such as
            ``"~ genre + career_years"``, evaluated on ``data``; its variables
            must be constant within individuals), ``common`` (a one-sided
            formula of regressors shared by all classes, such as
            ``"~ C(weekday)"``; its intercept is dropped, the class-specific
            intercepts hold it), ``k_classes``, ``variance``, ``missing``
            (default "drop": rows with a missing value in any formula,
            ``groups`` or ``absorb`` are dropped everywhere), ``eval_env``,
            and the weights ``freq_weights``, ``weights`` (column names,
            arrays with one value per row of ``data``, or Series indexed by
            the individuals' labels) and ``row_weights`` (a column name or
            one value per row).

        Returns
        -------
        LatentClassOLS
        """
        check_keywords(kwargs, _INIT_KEYWORDS | {"eval_env"}, "LatentClassOLS.from_formula")
        _check_missing(kwargs.get("missing", "drop"))
        if is_dask_frame(data):
            return from_dask(cls, formula, data, subset, drop_cols, **kwargs)
        if not isinstance(formula, str) or "~" not in formula or not formula.split("~")[0].strip():
            raise ValueError(
                f"`formula` must have the response on the left of '~' (as 'y ~ x1 + x2'), "
                f"got {formula!r}."
            )
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                "`data` must be a pandas (or Dask) DataFrame with the formula's variables, "
                f"got {type(data).__name__} (pd.DataFrame(data) makes one of a dict of "
                "columns)."
            )
        data = _masked_to_float(data)
        full_index = data.index
        if subset is not None:
            data = _subset_rows(data, subset)
        drop_cols = None if drop_cols is None else _DropColumns(drop_cols)
        groups = row_values(kwargs.pop("groups", None), data, full_index, subset, "groups")
        absorb = kwargs.pop("absorb", None)
        if absorb is not None:
            items = absorb if isinstance(absorb, (list, tuple)) else [absorb]
            if any(np.ndim(item) == 0 and not isinstance(item, str) for item in items):
                raise ValueError(
                    "`absorb` is a list, read as a list of variables (column names or "
                    "per-row arrays), but it holds single values; give per-row values as one "
                    "numpy array or Series, or the column's name."
                )
            kwargs["absorb"] = [
                row_values(item, data, full_index, subset, "absorb") for item in items
            ]
        kwargs["groups"] = groups
        for name in WEIGHT_ARGUMENTS:
            value = kwargs.pop(name, None)
            if name in INDIVIDUAL_WEIGHTS:
                # a Series indexed by individual: looked up for the rows of the (subset) data
                value = by_individual(value, name, full_index, groups)
            if isinstance(value, np.ndarray) and len(value) == len(data) != len(full_index):
                kwargs[name] = value
            elif value is not None:
                kwargs[name] = row_values(value, data, full_index, subset, name)
        eval_env = kwargs.pop("eval_env", None)
        side_env = _caller_namespace(eval_env)
        # statsmodels' depth counts from its own from_formula: 2 more frames to the code
        # that called this one (eval_env=0, as for the side formulas)
        if eval_env is None:
            eval_env = 2
        elif isinstance(eval_env, int) and not isinstance(eval_env, bool) and eval_env >= 0:
            eval_env += 2
        specs, texts = {}, {}
        for name, drop_intercept in (("membership", False), ("common", True)):
            value = kwargs.pop(name, None)
            if isinstance(value, str):
                texts[name] = value
                check_formula_data(data, value, "data")
                kwargs[name], specs[name] = side_formula(
                    value, data, side_env, name, drop_intercept
                )
            elif value is not None:
                kwargs[name] = side_rows(value, data, full_index, subset, name)
        check_formula_data(data, formula, "data")
        try:
            model = super().from_formula(
                formula, data, None, drop_cols, *args, eval_env=eval_env, **kwargs
            )
        except Exception as err:  # the formula engine's own error for a missing value
            missing = kwargs.get("missing")
            named = formula_columns(data, formula)
            if missing in ("none", "raise") and bool(data[named].isna().to_numpy().any()):
                if missing == "raise":  # as statsmodels raises it for arrays
                    raise MissingDataError(
                        "`data` has missing values in the formula's variables (missing='raise')."
                    ) from err
                raise ValueError(
                    "`data` has missing values and missing='none' makes them an error; pass "
                    "missing='drop' to drop those rows from every array (or remove them)."
                ) from err
            raise
        if drop_cols is not None:
            drop_cols.check()
        model._side_specs = specs
        model._side_formulas = texts
        # the data's columns each formula reads: new rows must hold them (the formula engine
        # would otherwise look a missing one up among the names of the caller's namespace)
        model._formula_columns = {
            "exog": formula_columns(data, formula.split("~", 1)[-1]),  # not the response
            **{name: formula_columns(data, text) for name, text in texts.items()},
        }
        # the data's rows before `subset` and the positions among them of those it keeps,
        # for per-row values given later (fit's `cluster`)
        model._data_rows = (
            full_index,
            None if subset is None else _subset_positions(full_index, subset),
        )
        return model

    def __getstate__(self):
        # formula engines' specs do not pickle; they are rebuilt from the formula text
        # (statsmodels' own rebuilding of the model's spec looks for the formula's names
        # in the frames of the call stack, and fails when loaded from a script's top level)
        state = self.__dict__.copy()
        state.pop("_side_specs", None)
        if getattr(self.data, "model_spec", None) is not None:
            # a copy without the spec, made without statsmodels' __getstate__/__setstate__:
            # copy.copy would rebuild the spec through the call stack's namespaces, which
            # fails off the main thread (multiprocessing pickles in a feeder thread) when
            # the formula uses a function of the caller's
            data = object.__new__(type(self.data))
            data.__dict__.update(
                {key: value for key, value in self.data.__dict__.items() if key != "model_spec"}
            )
            data._smlcr_restore_spec = True
            state["data"] = data
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._side_specs = {}
        frame = getattr(self.data, "frame", None)
        if self.data.__dict__.pop("_smlcr_restore_spec", False):
            self.data.model_spec = _rebuilt_spec(getattr(self.data, "formula", None), frame)
        for name, text in getattr(self, "_side_formulas", {}).items():
            try:
                _, self._side_specs[name] = side_formula(
                    text, frame, {}, name, drop_intercept=name == "common"
                )
            except (ValueError, TypeError, AttributeError):
                # data removed, or the formula used names of the caller's namespace:
                # predictions on new data then need `membership_exog` / `common_exog`
                continue

    # ------------------------------------------------------------------ names
    def _param_names(self) -> list[str]:
        return self.layout.names(self.class_exog_names, self.common_names, self.membership_names)

    def to_scaled(self, params) -> ClassParams:
        """Parameters (in the data's units, order of ``param_names``) in the scaled units
        estimation works in, as :class:`smlcr.params.ClassParams`.

        Parameters
        ----------
        params : array_like, shape (k_params,)
            A pandas Series is matched by name (:meth:`_params_vector`).

        Returns
        -------
        ClassParams
        """
        params = self._params_vector(params, "params")
        return self.layout.unflat(self.unit_map.to_scaled(params))

    def llf_offset(self, individuals: np.ndarray | None = None) -> float:
        """Log-likelihood in the data's units minus that in scaled units.

        Parameters
        ----------
        individuals : ndarray of int, optional
            Positions of the individuals whose log-likelihood it is (all when
            None).

        Returns
        -------
        float
        """
        terms = self._llf_offsets()
        if individuals is not None:
            terms = terms[individuals]
        return float(np.sum(self.stats.weighted(terms)))

    def _llf_offsets(self) -> np.ndarray:
        """Each individual's log-likelihood in the data's units minus that in scaled units:
        ``-d_i log(y_scale)``, plus ``0.5 sum_t log w_it`` with row weights."""
        offsets = -self.stats.dof * np.log(self.stats.y_scale)
        if self.weighting.log_row_weight is not None:
            offsets = offsets + self.weighting.log_row_weight
        return offsets

    # ------------------------------------------------------------- likelihood
    def loglike(self, params) -> float:
        """Observed-data log-likelihood ``sum_i w_i log sum_s pi_s f_is``.

        Parameters
        ----------
        params : array_like
            Parameter vector in the order of ``data.param_names``.

        Returns
        -------
        float
        """
        scaled = self.to_scaled(params)
        return em.e_step(self.stats, self._Z, scaled).llf + self.llf_offset()

    def loglikeobs(self, params) -> np.ndarray:
        """Log-likelihood contribution of each individual (not each row).

        Not multiplied by the individual's frequency or sampling weight
        (:meth:`loglike` is their weighted sum).

        Parameters
        ----------
        params : array_like

        Returns
        -------
        ndarray, shape (n_groups,)
        """
        scaled = self.to_scaled(params)
        return em.e_step(self.stats, self._Z, scaled).llf_obs + self._llf_offsets()

    def derivatives(self, params) -> Derivatives:
        """Analytic score, Hessian and per-individual scores in scaled units.

        The parameters are given in the data's units; the derivatives are with
        respect to the scaled parameters (:meth:`to_scaled`), which is what the
        covariance estimators of :mod:`smlcr.information` take
        (:meth:`score` and :meth:`hessian` give them in the data's units).

        Parameters
        ----------
        params : array_like, shape (k_params,)

        Returns
        -------
        smlcr.information.Derivatives
        """
        return information.derivatives(self.stats, self._Z, self.to_scaled(params), self.layout)

    def score(self, params) -> np.ndarray:
        """Analytic gradient of :meth:`loglike`.

        Parameters
        ----------
        params : array_like

        Returns
        -------
        ndarray, shape (k_params,)
        """
        return self.unit_map.gradient_to_original(self.derivatives(params).score)

    def score_obs(self, params) -> np.ndarray:
        """Per-individual analytic scores, shape (n_groups, k_params).

        Parameters
        ----------
        params : array_like

        Returns
        -------
        ndarray
        """
        return self.unit_map.gradient_to_original(self.derivatives(params).score_obs)

    def predict(self, params, exog=None, *args, **kwargs):
        """Not available on the model: predictions need the fit's posteriors and class
        probabilities.

        Use the results' :meth:`~smlcr.results.LatentClassOLSResults.predict` (or
        ``get_prediction``).

        Raises
        ------
        NotImplementedError
        """
        raise NotImplementedError(
            "LatentClassOLS.predict is not available: use the results' predict() or "
            "get_prediction() (res = model.fit(); res.predict(new_rows))."
        )

    def information(self, params):
        """Not available: the observed information is ``-hessian(params)``.

        Raises
        ------
        NotImplementedError
        """
        raise NotImplementedError(
            "LatentClassOLS.information is not available: the observed information is "
            "-model.hessian(params); the fit's covariances are res.cov_params_oim, "
            "res.cov_params_opg and res.cov_params_robust."
        )

    def hessian(self, params) -> np.ndarray:
        """Analytic Hessian of :meth:`loglike` (the negative observed information).

        Parameters
        ----------
        params : array_like

        Returns
        -------
        ndarray, shape (k_params, k_params)
        """
        return self.unit_map.hessian_to_original(self.derivatives(params).hessian)

    # -------------------------------------------------------------- estimation
    def fit(
        self,
        start_params=None,
        n_starts: int | None = None,
        rng=None,
        maxiter: int = 300,
        tol: float = 1e-8,
        param_tol: float = 1e-5,
        n_full: int | None = None,
        short_maxiter: int = 20,
        var_floor: float | None = None,
        min_share: float = 0.01,
        cov_type: str | None = None,
        cluster=None,
        gtol: float = 1e-9,
        search_sample: int | None = starts.SEARCH_SAMPLE,
        disp: bool = False,
        progress: bool = False,
        **kwargs,
    ):
        """Estimate by EM from many starts, then Newton steps; standard errors from the
        observed information.

        Parameters
        ----------
        start_params : array_like, Series or dict, optional
            Start values (an array in the order of ``data.param_names``; a
            Series or dict is matched by name); when given, EM runs from them
            alone instead of from random starts.
        n_starts : int, optional
            Number of starts; default from the size of the problem, 10 to 100
            (:func:`smlcr.starts.default_n_starts`). Kinds cycle: least squares
            on small random subsets of individuals, k-means on per-individual
            OLS coefficients (when individuals have more rows than regressors),
            random partitions, random posteriors, and (a fifth of the starts)
            perturbations of the best solutions found (:mod:`smlcr.starts`).
        rng : int or numpy.random.Generator, optional
            Seed or generator for the starts; the same seed gives the same fit,
            whatever the labels of the individuals and the order of the rows.
        maxiter : int
            Maximum EM iterations of a run. The best run is then finished by
            Newton steps whatever this is, so it bounds the time spent on runs
            that creep along flat ridges (common when K is above what the data
            support).
        tol : float
            An EM run has converged when the relative change of the
            log-likelihood is below ``tol``...
        param_tol : float
            ...and the largest parameter change (scaled coefficients, log
            variances, membership coefficients) below ``param_tol``. The best
            run is then polished by Newton steps to ``gtol``.
        n_full : int, optional
            Continue only this many of the best runs after ``short_maxiter``
            iterations; default all of them (a run stops when it converges,
            reaches a maximum already found, turns degenerate, or cannot catch
            up with the best maximum).
        short_maxiter : int
            Iterations of the first round of every start.
        var_floor : float, optional
            Lower bound on each class variance, as a fraction of the residual
            variance of the one-class regression. It keeps the likelihood
            bounded when a class collapses on an individual it fits exactly;
            a binding floor is reported by a warning and in the results.
            Default (None): ``1e-4``; while runs stop above the best maximum
            with a class at the floor that holds many rows (at least
            ``max(p, 3)`` beyond the ``p`` that fix its plane), the search runs
            again with ``1e-8``, then ``1e-12``, and the floor whose search
            reached the highest interior maximum is kept when chance does not
            explain its classes below ``1e-4`` (a real class that tight, not
            a handful of rows that happen to lie on a plane:
            :func:`smlcr.starts.chance_sets`); a
            ``VarianceFloorLoweredWarning`` says when it was lowered, and
            ``results.var_floor`` and ``results.floor_search`` record it. A
            number is kept as given.
        min_share : float
            A class whose share is below ``min_share`` is degenerate: the
            search reports the best maximum without such a class when one was
            reached (a higher one with a tiny class, typically one or two
            individuals fitted almost exactly, is recorded in ``start_status``
            and warned about), and otherwise keeps it, reported by a warning and
            in ``results.degenerate``, never dropped;
            ``results.refit_fewer_classes()`` refits with one class less. Set
            it to 0 to accept classes of any size.
        cov_type : {"oim", "opg", "robust"}, optional
            Covariance of the estimates: inverse observed information,
            inverse outer product of per-individual scores, or the sandwich
            (robust to misspecification, clustered by individual, or by
            ``cluster``). Default "oim", and "robust" with sampling
            ``weights`` or a ``cluster`` (the only valid choice with them).
        cluster : str or array_like, optional
            Clusters of individuals for the sandwich (firms in industries,
            respondents in survey clusters): a column name of the formula's
            data, one value per row of the model's data (constant within
            individuals), or a Series indexed by the individuals' labels. The
            sandwich sums the weighted scores within clusters. An individual
            whose rows lie in two clusters is an error naming it.
        gtol : float
            The fit has converged when the Hessian is negative definite and a
            Newton step would add less than ``gtol`` to the log-likelihood
            (half the Newton decrement ``g'(-H)^-1 g``), or less than the
            log-likelihood's rounding error (:func:`smlcr.em.rounding_bound`).
        search_sample : int or None
            With more than twice this many individuals, the starts run on a
            random sample of this many (drawn from ``rng``, independent of the
            labels), and the best distinct maxima found there are continued on
            all individuals by Newton steps; ``results.search_sample`` and
            ``results.continued_maxima`` report it. None runs every start on
            all individuals (as many times slower as the data are larger than
            the sample). A sample with fewer than
            :data:`smlcr.starts.SAMPLE_CLASS_SIZE` individuals of a class at
            ``min_share`` (at least 1%) gives a ``SingleBestStartWarning``, one
            with fewer individuals than parameters a ``ValueError``.
        disp : bool
            Print each start's outcome.
        progress : bool
            Show the starts as their runs finish (tqdm when installed, one line
            per step otherwise).

        Returns
        -------
        LatentClassOLSResults
        """
        from smlcr.results import LatentClassOLSResults, LatentClassOLSResultsWrapper

        check_keywords(kwargs, FIT_KEYWORDS, "fit()")
        # the options as given, before any is resolved: refit_fewer_classes fits with them
        options = {name: value for name, value in locals().items() if name in FIT_KEYWORDS}
        cov_type = self._check_cov_type(cov_type, cluster)
        clusters = None if cluster is None else self.cluster_codes(cluster)
        n_starts = check_count(n_starts, "n_starts", 1, allow_none=True)
        n_full = check_count(n_full, "n_full", 1, allow_none=True)
        maxiter = check_count(maxiter, "maxiter", 0)
        short_maxiter = check_count(short_maxiter, "short_maxiter", 1)
        tol = check_tolerance(tol, "tol")
        param_tol = check_tolerance(param_tol, "param_tol")
        gtol = check_tolerance(gtol, "gtol")
        search_sample = check_count(search_sample, "search_sample", 1, allow_none=True)
        searched = starts.search_size(self.n_groups, search_sample)
        if searched < self.n_groups and searched < self.k_params:
            raise ValueError(
                f"`search_sample`={search_sample} individuals cannot hold a search for the "
                f"model's {self.k_params} parameters; use at least that many (the "
                f"default is {starts.SEARCH_SAMPLE}), or None to search on all individuals."
            )
        generator = check_rng(rng)
        floor_given = var_floor is not None
        floors = (check_var_floor(var_floor),) if floor_given else starts.VAR_FLOORS
        if isinstance(min_share, bool) or not isinstance(min_share, numbers.Real):
            raise ValueError(f"`min_share` must be a number in [0, 1), got {min_share!r}.")
        if not 0 <= min_share < 1:
            raise ValueError(f"`min_share` must be in [0, 1), got {min_share!r}.")
        if start_params is not None:
            start_params = self._params_vector(start_params, "start_params")
        start = None if start_params is None else self.to_scaled(start_params)
        if start is not None:
            # a start below the floor would be clipped by the first M-step (the
            # log-likelihood would fall): the default floor starts low enough for it
            ratio = float(start.sigma2.min()) / self._pooled_variance
            floors = tuple(floor for floor in floors if floor <= ratio)
            if not floors:
                raise ValueError(
                    f"`start_params` has a class variance of {ratio:.3g} x the one-class "
                    f"residual variance, below `var_floor`="
                    f"{var_floor if floor_given else starts.VAR_FLOORS[-1]}: lower "
                    "`var_floor`, or start from a larger variance."
                )
        work = em.Workspace.build(self.stats, self._Z)  # shared by the search and Newton
        total = (
            1
            if start is not None
            else n_starts or starts.default_n_starts(searched, self.k_classes, self.k_exog)
        )

        def search(relative_floor, continued=None):
            """The multi-start search and the Newton phase with this variance floor
            (``continued``: runs a search with a higher floor stopped at it)."""
            constraints = em.Constraints(
                var_floor=relative_floor * self._pooled_variance,
                common_variance=self.variance == "common",
                n_common=self.k_common,
            )
            bar = progress_bar(total, f"fit K={self.k_classes}: starts", progress)
            outcome = starts.multistart(
                self.stats,
                self._Z,
                self.k_classes,
                generator,
                n_starts=n_starts,
                n_full=n_full,
                short_maxiter=short_maxiter,
                maxiter=maxiter,
                tol=tol,
                param_tol=param_tol,
                constraints=constraints,
                start_params=start,
                layout=self.layout,
                min_share=min_share,
                work=work,
                sample=search_sample,
                gtol=gtol,
                max_newton=min(50, maxiter),
                progress=bar,
                pooled=self._pooled_variance,
                continued=continued,
                # below the default floor, a maximum's tight classes must be real ones
                real_below=floors[0] if relative_floor < floors[0] else None,
            )
            bar.close()
            polished = outcome.polished  # the Newton phase on all individuals after a sample
            if polished is None:
                # in canonical class order already, so that the derivatives at the end serve
                # the standard errors unless the polish reorders the classes
                polished = newton_phase(
                    self.stats,
                    self._Z,
                    starts.canonical_order(outcome.best),
                    self.layout,
                    constraints,
                    # the estimate is judged on sums of squares formed from the residuals
                    replace(work, expand=False),
                    gtol=gtol,
                    max_steps=min(50, maxiter),
                    # when every run ended degenerate, the polish stops as soon as a class
                    # below min_share shrinks further (towards a spurious maximum)
                    min_share=min_share if not outcome.completed.any() else 0.0,
                )
            return outcome, polished

        # with the default floor, runs stopped at it above the best maximum by a class that
        # holds many rows (it may be a real class tighter than the floor) are given a lower
        # floor; it is kept when the search with it reaches a higher interior maximum whose
        # classes below the default floor chance does not explain
        outcome, polished = search(floors[0])
        tried = [(floors[0], outcome)]
        for relative_floor in floors[1:]:
            if not tried[-1][1].floor_candidates:
                break  # a floor low enough for the tightest class the search found
            lower, lower_polished = search(relative_floor, tried[-1][1].floor_runs)
            tried.append((relative_floor, lower))
            if (
                lower_polished.boundary is None
                and lower.completed.any()
                and lower.best.llf > outcome.best.llf + outcome.reach_tol
                # the classes below the default floor must be real, not a handful of rows
                # that happen to lie on a plane (common among hundreds of ungrouped rows)
                and starts.tight_classes_are_real(
                    lower.best, self.stats, self._pooled_variance, floors[0]
                )
            ):
                outcome, polished = lower, lower_polished
        var_floor = next(floor for floor, found in tried if found is outcome)
        if not np.any(polished.run.params.sigma2 < floors[0] * self._pooled_variance):
            # a lower floor's search found a maximum whose classes all lie above the default
            # floor: a maximum at that floor, which its search missed (`floor_search` says
            # which search found it)
            var_floor = floors[0]
        floor_search = pd.DataFrame(
            {
                "llf": [found.best.llf + self.llf_offset() for _, found in tried],
                "floor_candidates": [found.floor_candidates for _, found in tried],
                "chosen": [found is outcome for _, found in tried],
            },
            index=pd.Index([floor for floor, _ in tried], name="var_floor"),
        )
        order = starts.class_order(polished.run)
        outcome.best = starts.canonical_order(polished.run, order)
        final_derivatives = polished.derivatives  # the standard errors need them
        if final_derivatives is not None and not np.array_equal(order, np.arange(len(order))):
            final_derivatives = final_derivatives.transformed(self.layout.relabelling(order))
        offset = self.llf_offset(outcome.sample)
        if disp:
            for j, record in enumerate(outcome.records):
                print(
                    f"start {j + 1:3d} ({record.kind:9s}): log-likelihood "
                    f"{record.llf + offset:.10g} after {record.n_iter} iterations, {record.status}"
                )
        self._warn_about_search(outcome, polished, maxiter, gtol, searched, min_share)
        self._warn_about_floor(outcome, floor_search, floor_given, var_floor)
        best = outcome.best
        if np.any(best.floor_hit):
            classes = [int(s) + 1 for s in np.flatnonzero(best.floor_hit)]
            warn(
                f"the variance of class(es) {classes} is held at the floor "
                f"(var_floor={var_floor} x the one-class residual variance): the "
                "class has collapsed onto individuals it fits almost exactly. "
                "Consider fewer classes; see `results.degenerate`.",
                VarianceFloorWarning,
            )
        params = self.unit_map.to_original(self.layout.flat(best.params))
        results = LatentClassOLSResults(
            self,
            params,
            cov_type=cov_type,
            em_outcome=outcome,
            newton=polished,
            derivatives=final_derivatives,
            llf_offset=self.llf_offset(),
            var_floor=var_floor,
            min_share=min_share,
            clusters=clusters,
            fit_options=options,
            floor_search=floor_search,
        )
        return LatentClassOLSResultsWrapper(results)

    def _check_cov_type(self, cov_type, cluster) -> str:
        """``cov_type`` checked against the weights and ``cluster``, its default resolved."""
        sampling = self.weighting.kind == "sampling"
        if cov_type is None:
            return "robust" if sampling or cluster is not None else "oim"
        if cov_type not in _COV_TYPES:
            raise ValueError(f"`cov_type` must be one of {_COV_TYPES}, got {cov_type!r}.")
        if cov_type != "robust" and sampling:
            raise ValueError(
                f"cov_type={cov_type!r} is not valid with sampling `weights`: the weighted "
                "log-likelihood is not a likelihood, so its information does not estimate "
                "the variance; use cov_type='robust' (the default with `weights`)."
            )
        if cov_type != "robust" and cluster is not None:
            raise ValueError(
                f"`cluster` sums scores within clusters in the sandwich; it needs "
                f"cov_type='robust', got {cov_type!r}."
            )
        return cov_type

    def cluster_codes(self, cluster) -> tuple[np.ndarray, str]:
        """Cluster of every individual (in the order of ``group_labels``), as codes.

        Parameters
        ----------
        cluster : str or array_like
            See :meth:`fit`.

        Returns
        -------
        codes : ndarray of int, shape (n_groups,)
            Cluster of each individual, ``0..G-1`` in order of sorted cluster labels.
        name : str
            The clusters' name, for the summary.
        """
        name = cluster if isinstance(cluster, str) else getattr(cluster, "name", None)
        if self._has_rows():
            first = self._cluster_by_rows(cluster)
        else:
            codes, _ = factorize(self._cluster_of_individuals(cluster), "cluster")
            if np.isnan(codes).any():
                raise ValueError(
                    "`cluster` has missing values for individuals the model uses; every "
                    "individual needs a cluster."
                )
            first = codes.astype(np.int64)
        codes = np.unique(first, return_inverse=True)[1].reshape(-1)
        if codes.max(initial=0) < 1:
            raise ValueError(
                "`cluster` puts every individual in one cluster: a clustered covariance "
                "needs at least two clusters (and many more than the parameters to be "
                "reliable); use cov_type='robust' for independent individuals."
            )
        return codes, str(name or "cluster")

    def _has_rows(self) -> bool:
        """Whether the model holds its rows (not built from Dask data, not after
        ``remove_data()``)."""
        return getattr(self, "_statistics", None) is None and not (
            self.endog is None or self.exog is None
        )

    def _cluster_of_individuals(self, cluster) -> np.ndarray:
        """``cluster`` as one value per individual (in the order of ``group_labels``) for a
        model without its rows, where only a Series indexed by the individuals' labels
        says which individual a value belongs to."""
        if not isinstance(cluster, pd.Series):
            raise ValueError(
                "`cluster` on a model without its rows (built from Dask data, or after "
                "remove_data()) must be a pandas Series indexed by the `groups` labels, one "
                "value per individual; with Dask data, for example "
                "`data[[groups, cluster]].drop_duplicates().compute().set_index(groups)"
                "[cluster]`. Column names and per-row values need the rows."
            )
        labels = pd.Index(self.group_labels)
        if not cluster.index.is_unique:
            repeated = list(dict.fromkeys(cluster.index[cluster.index.duplicated()]))[:3]
            raise ValueError(
                f"`cluster` has more than one value for individual(s) "
                f"{[plain(a) for a in repeated]}: give one value per individual (clusters "
                "must group whole individuals)."
            )
        found = labels.isin(cluster.index)
        if not found.all():
            absent = list(labels[~found][:3])
            raise ValueError(
                f"`cluster` has no value for individual(s) {[plain(a) for a in absent]}: "
                "index it by the `groups` labels, one value per individual."
            )
        extra = ~cluster.index.isin(labels)
        if extra.any():
            # per-row values indexed 0..n-1 hold integer individuals' labels too: without the
            # rows, only an index of exactly the individuals says what a value belongs to
            raise ValueError(
                f"`cluster` has values for labels that are no individual of the model "
                f"({[plain(a) for a in cluster.index[extra][:3]]}): on a model without its "
                "rows it must be indexed by exactly the `groups` labels, one value per "
                "individual (per-row values need the rows). If it holds one value per "
                "individual and more, select the model's: `cluster.loc[model.group_labels]`."
            )
        return cluster.reindex(labels).to_numpy()

    def _cluster_by_rows(self, cluster) -> np.ndarray:
        """Cluster code of every individual from ``cluster``'s values on the model's rows;
        an error where an individual's rows lie in two clusters."""
        values = self._cluster_rows(cluster)
        codes, _ = factorize(values, "cluster")
        if np.isnan(codes).any():
            raise ValueError(
                "`cluster` has missing values on rows the model uses; every individual "
                "needs a cluster."
            )
        rows = self.prepared.rows
        per_row = codes[rows.keep].astype(np.int64)
        first = np.full(self.n_groups, -1, dtype=np.int64)
        first[rows.individual[::-1]] = per_row[::-1]
        spans = np.flatnonzero(per_row != first[rows.individual])
        if spans.size:
            label = self.group_labels[rows.individual[spans[0]]]
            raise ValueError(
                f"individual {plain(label)!r} has rows in two clusters of `cluster`; clusters must "
                "group whole individuals (each individual's rows in one cluster)."
            )
        return first

    def _cluster_rows(self, cluster) -> np.ndarray:
        """``cluster`` as one value per row of the model (after missing rows were dropped)."""
        self.require_data("`cluster`")
        positions = np.asarray(self.row_index).astype(np.int64)  # among the data's rows
        frame = getattr(self.data, "frame", None)
        if isinstance(cluster, str):
            if frame is None or cluster not in frame:
                raise ValueError(
                    f"`cluster`={cluster!r} is not a column of the formula's data; pass the "
                    "values instead (one per row, or a Series indexed by individual)."
                )
            return frame[cluster].to_numpy()[positions]
        # the rows the model was given (a formula's data after `subset`), their labels, and
        # all rows of the data (before `subset`), which per-row values may also cover
        n_rows = len(frame) if frame is not None else self._n_rows_given
        labels = frame.index if frame is not None else getattr(self, "_row_labels", None)
        labels = pd.RangeIndex(n_rows) if labels is None else labels
        all_labels, subset = getattr(self, "_data_rows", (labels, None))
        if isinstance(cluster, pd.Series):
            model_labels = labels[positions]
            if reads_by_individual(cluster, "cluster", all_labels, model_labels, self.groups):
                return cluster.reindex(self.groups).to_numpy()
            if not cluster.index.is_unique:  # the data's own repeated labels, in order
                return cluster.to_numpy()[positions if subset is None else subset[positions]]
            return cluster.reindex(model_labels).to_numpy()
        values = np.asarray(cluster).reshape(-1)
        if subset is not None and values.size == len(all_labels):
            return values[subset][positions]  # one value per row of the formula's data
        if values.size != n_rows:
            raise ValueError(
                f"`cluster` has {values.size} values but the data have "
                f"{len(all_labels)} rows; pass one value per row, a column name, or a Series "
                "indexed by individual."
            )
        return values[positions]

    def _warn_about_floor(
        self, outcome, floor_search: pd.DataFrame, given: bool, var_floor: float
    ) -> None:
        """Warnings about the variance floor: lowered (``floor_search`` has the floors
        tried; ``var_floor`` is the one the estimate holds at), or binding on classes that
        may be tighter than it (:attr:`smlcr.starts.StartRecord.floor_candidate`)."""
        first, chosen = floor_search.index[0], floor_search.index[floor_search["chosen"]][0]
        if chosen != first and var_floor == first:
            gain = floor_search["llf"].loc[chosen] - floor_search["llf"].loc[first]
            warn(
                f"the search with the variance floor lowered to {chosen:g} x the one-class "
                f"residual variance reached a maximum {gain:.4g} higher than the search with "
                f"{first:g}, and every class of it lies above {first:g}: the search with the "
                "default floor had missed that maximum, and others may have been missed too. "
                "See `results.floor_search` and `local_maxima`; more starts (`n_starts`) "
                "search further.",
                LocalMaximumWarning,
            )
        elif chosen != first:
            gain = floor_search["llf"].loc[chosen] - floor_search["llf"].loc[first]
            warn(
                f"the variance floor was lowered from {first:g} to {chosen:g} x the one-class "
                f"residual variance: with {first:g}, "
                f"{floor_search['floor_candidates'].loc[first]} start(s) stopped with a class "
                "at the floor that held many rows (above the best maximum, or too many for "
                "chance to explain), and "
                f"the search with {chosen:g} reached a maximum {gain:.4g} higher, whose classes "
                "below the default floor chance does not explain (a class that tight, not a "
                "handful of rows that happen to lie on a plane). See "
                "`results.floor_search`; pass `var_floor` to keep a floor fixed.",
                VarianceFloorLoweredWarning,
            )
        n_tight = outcome.floor_candidates
        if not n_tight:
            return
        if not given and not np.any(
            floor_search["llf"].to_numpy() > floor_search["llf"].loc[chosen] + outcome.reach_tol
        ):
            # the lower floors' searches (continuing the runs stopped at this one) reached no
            # higher maximum, interior or not: the tighter class those runs suggested is not
            # there, and nothing is left to warn about (`floor_search` records the search)
            return
        if given:
            advice = (
                "Such a class may be tighter than the floor: refit with a smaller `var_floor` "
                f"(e.g. {chosen * 1e-4:g}), or with the default (None), which lowers the floor "
                "when a lower one reaches a maximum that chance does not explain."
            )
        else:
            advice = (
                f"With lower floors (down to {floor_search.index[-1]:g}) the search reached "
                "no higher interior maximum that chance does not explain: a class went to the "
                "lower floor too, fitting its rows exactly (many rows with the same response, "
                "or a few outlying rows in a class of their own), where the likelihood is "
                "unbounded, or the higher maximum's tightest class is a handful of rows that "
                "happen to lie on a plane. See `results.floor_search`."
            )
        warn(
            f"{n_tight} start(s) stopped with a class held at the variance floor "
            f"(var_floor={chosen:g} x the one-class residual variance) that held many rows "
            "(possibly a class that tight), above the reported maximum or too many for chance "
            f"to explain. {advice}",
            VarianceFloorWarning,
        )

    def _warn_about_search(
        self, outcome, polished, maxiter, gtol, searched=None, min_share=0.0
    ) -> None:
        """Warnings about the multi-start search (``searched``: the individuals it ran on,
        default all) and the convergence of the best run."""
        if searched is not None and searched < self.n_groups:
            share = max(min_share, 0.01)
            if searched * share < starts.SAMPLE_CLASS_SIZE:
                warn(
                    f"the starts ran on a random sample of {searched} of the {self.n_groups} "
                    f"individuals (search_sample), where a class with a share of {share:g} has "
                    f"about {searched * share:.0f} of them: too few for the search there to "
                    "stand for one on all individuals (`local_maxima` counts the starts on the "
                    f"sample). Raise `search_sample` (about {starts.SAMPLE_CLASS_SIZE} "
                    "individuals of such a class), or pass search_sample=None to search on all "
                    "individuals.",
                    SingleBestStartWarning,
                )
        user_start = outcome.records[0].kind == "user"
        if self.k_classes > 1 and not user_start and len(outcome.records) == 1:
            warn(
                "one start (n_starts=1): the fit did not look for other maxima, so it may be "
                "a local one. Use more starts to confirm it (the default is up to 100).",
                SingleBestStartWarning,
            )
        n_completed = int(outcome.completed.sum())
        needed = max(2, int(np.ceil(0.05 * n_completed)))
        none_interior = len(outcome.records) > 1 and n_completed == 0
        if none_interior:
            where = (
                f" ({polished.boundary})"
                if polished.boundary is not None
                else " (inside the parameter space after Newton steps)"
            )
            warn(
                f"none of the {len(outcome.records)} starts reached an interior maximum with "
                f"{self.k_classes} distinct classes: every run ended degenerate (see "
                f"`results.start_status`), so the estimate is the best of those runs{where}. "
                f"{em.boundary_advice(polished.boundary)}.",
                DegenerateClassWarning,
            )
        elif len(outcome.records) > 1 and outcome.n_reached_best < needed:
            stopped = sum(record.status == "maxiter" for record in outcome.records)
            advice = (
                f"{stopped} of them stopped at `maxiter` before converging, so their "
                "log-likelihoods are not maxima: raise `maxiter` first"
                if stopped
                else "Raise `n_starts` to confirm it"
            )
            warn(
                f"only {outcome.n_reached_best} of {n_completed} completed starts reached the "
                "best log-likelihood; it may be a local maximum found by chance, and a higher "
                f"one may exist. {advice} (see `results.local_maxima`).",
                SingleBestStartWarning,
            )
        if outcome.stopped_above_best:
            warn(
                f"{outcome.stopped_above_best} start(s) stopped before converging with a "
                "log-likelihood above the reported maximum (see `results.start_status`): "
                "runs that ended degenerate (an empty class, two coinciding classes, a "
                "variance at the floor, a class below `min_share`) mean that the likelihood "
                "rises towards spurious or fewer-class solutions, which are not reported as "
                "the estimate; runs screened out by `n_full` may lead to a higher maximum.",
                LocalMaximumWarning,
            )
        if polished.boundary is not None and not none_interior:
            if user_start:
                # EM cannot leave coinciding or empty classes: the start decided it
                why = (
                    "The run from `start_params` ended there; EM keeps classes that coincide "
                    "(or a class that is empty) so, whether or not the data support "
                    f"{self.k_classes} classes: fit without `start_params` to search"
                )
            else:
                why = em.boundary_advice(polished.boundary)
            warn(
                f"the estimate is on the boundary of the parameter space: {polished.boundary}. "
                f"{why}; see `results.boundary` and `results.degenerate`.",
                DegenerateClassWarning,
            )
        elif polished.boundary is None and not polished.converged:
            why = (
                "the Hessian is not negative definite"
                if not polished.negative_definite
                else f"a Newton step would still add {polished.decrement:.2g} to the "
                f"log-likelihood, above gtol={gtol}"
            )
            warn(
                f"the fit did not converge: {why} (maxiter={maxiter}). Raise `maxiter`, "
                "or check `results.local_maxima` and the singular directions.",
                ConvergenceWarning,
            )


def _subset_rows(data: pd.DataFrame, subset) -> pd.DataFrame:
    """The rows of ``data`` that ``subset`` selects: a boolean mask (one value per row, a
    Series aligned by index) or distinct index labels of ``data``; anything else, and a
    selection of no rows, is an error naming ``subset`` (a repeated label would put a row
    in the fit twice)."""
    if isinstance(subset, (str, bytes)) or np.ndim(subset) != 1:
        raise ValueError(
            "`subset` must be a boolean mask with one value per row of `data`, or a list of "
            f"its index labels, got {subset!r}; for a condition pass a boolean Series such "
            "as data.eval('x1 > 0')."
        )
    if isinstance(subset, pd.Series) and pd.api.types.is_bool_dtype(subset.dtype):
        subset = aligned(subset, data.index, "subset")
    values = np.asarray(subset)
    if values.dtype == bool:
        if values.size != len(data):
            raise ValueError(
                f"`subset` is a boolean mask of {values.size} values but `data` has "
                f"{len(data)} rows; pass one value per row."
            )
        selected = data.loc[values]
    else:
        labels = pd.Index(values)
        if not labels.is_unique:
            repeated = list(dict.fromkeys(labels[labels.duplicated()]))[:3]
            raise ValueError(
                f"`subset` repeats the label(s) {[plain(a) for a in repeated]}: a row would "
                "enter the fit more than once. Pass each row's label once (frequency "
                "weights count an individual several times)."
            )
        absent = labels[~labels.isin(data.index)]
        if len(absent):
            raise ValueError(
                f"`subset` has label(s) {[plain(a) for a in absent[:3]]} that are not in "
                "`data`'s index; pass index labels of `data`, or a boolean mask."
            )
        selected = data.loc[labels]
    if not len(selected):
        raise ValueError("`subset` selects no rows of `data`.")
    return selected


class _DropColumns(list):
    """``drop_cols`` as statsmodels reads it (``column in drop_cols`` for every column of
    the formula's design), recording the columns asked about, so that a name that is no
    column of the design is an error rather than silently ignored."""

    def __init__(self, names):
        if isinstance(names, str) or not all(isinstance(n, str) for n in list(names)):
            raise ValueError(f"`drop_cols` must be a list of column names, got {names!r}.")
        super().__init__(names)
        self.asked: set = set()

    def __contains__(self, name) -> bool:
        self.asked.add(name)
        return super().__contains__(name)

    def check(self) -> None:
        """An error naming the names that are no column of the design (when statsmodels
        asked about the design's columns at all)."""
        if not self.asked:
            return
        unknown = [name for name in self if name not in self.asked]
        if unknown:
            raise ValueError(
                f"`drop_cols` names {unknown}, which are not columns of the formula's design "
                f"(its columns: {sorted(self.asked, key=str)}); names are matched exactly."
            )


def _subset_positions(full_index: pd.Index, subset) -> np.ndarray:
    """Positions among ``full_index`` of the rows ``subset`` selects (a mask or labels), in
    the order ``DataFrame.loc[subset]`` gives them."""
    return pd.Series(np.arange(len(full_index)), index=full_index).loc[subset].to_numpy()


def _rows_as_individuals(endog, exog) -> pd.Index:
    """The individuals' labels when every row is its own individual (no ``groups``): the
    data's row labels, so that ``posteriors`` and ``modal_class`` join the data by label
    and ``predict(groups=...)`` takes them; positions ``0..n-1`` for arrays, and, with a
    :class:`RowLabelsWarning`, where the row labels repeat or are missing."""
    n_rows = len(endog)
    index = _row_labels(endog, exog)
    if index is None:
        return pd.RangeIndex(n_rows)
    if index.is_unique and not index.hasnans:
        return index
    warn(
        "without `groups` every row is its own individual, labelled by its row label, but "
        "the data's row labels repeat or are missing: the individuals are labelled by "
        f"position 0..{n_rows - 1} instead (`posteriors`, `modal_class`, `predict(groups=...)`"
        "); give the data a unique index to label them by row.",
        RowLabelsWarning,
    )
    return pd.RangeIndex(n_rows)


def _check_same_rows(endog, exog) -> None:
    """A ``ValueError`` naming ``endog`` and ``exog`` when they hold different numbers of
    rows, or pandas rows with different labels (statsmodels' own checks blame other
    arguments, or none, for a response that is a subset of the regressors' rows)."""
    n_endog, n_exog = len(endog), len(exog)
    labels = [getattr(a, "index", None) for a in (endog, exog)]
    if n_endog != n_exog:
        raise ValueError(
            f"`endog` has {n_endog} rows but `exog` has {n_exog}; give both for the same rows."
        )
    if all(isinstance(i, pd.Index) for i in labels) and not (
        labels[0].equals(labels[1])
        or bool(labels[0].isin(labels[1]).all() and labels[1].isin(labels[0]).all())
    ):
        raise ValueError(
            "`endog` and `exog` are pandas objects with different row labels; give both for "
            "the same rows (they are matched by label)."
        )


def _row_labels(endog, exog):
    """The data's row labels: ``endog``'s index, else ``exog``'s, else None (arrays)."""
    for data in (endog, exog):
        index = getattr(data, "index", None)
        if isinstance(index, pd.Index):
            return index
    return None


def _check_exog_values(exog, missing: str) -> None:
    """Errors for exog values statsmodels would reject with a less specific message, or
    silently convert (strings that look like numbers)."""
    reject_strings(exog, "exog")
    try:
        values = np.asarray(exog, dtype=np.float64)
    except (TypeError, ValueError):
        return  # non-numeric: reported with its own message after missing handling
    check_finite({"exog": values}, nan_allowed=missing != "none")


def _numeric(values, name: str) -> np.ndarray:
    """``values`` as float64 (:func:`smlcr.design.as_numeric`), ``exog`` as a matrix."""
    out = as_numeric(values, name)
    return out[:, None] if name == "exog" and out.ndim == 1 else out


def _caller_namespace(eval_env):
    """Variables a side formula may use: the namespace ``eval_env`` frames above the caller.

    Same convention as statsmodels' ``eval_env``: 0 (or None) is the namespace of the
    code that called ``from_formula``, -1 an empty one; a mapping is used as is.
    """
    if eval_env is None:
        eval_env = 0
    if not isinstance(eval_env, int):
        return eval_env
    if eval_env < 0:
        return {}
    frame = sys._getframe(2 + eval_env)  # 0: this function, 1: from_formula
    return {**frame.f_globals, **frame.f_locals}


#: fit()'s keywords (its signature's, read once when the module is imported; its
#: ``**kwargs`` takes none), for the message that names a misspelled one with the closest
FIT_KEYWORDS = frozenset(inspect.signature(LatentClassOLS.fit).parameters) - {"self", "kwargs"}


def _masked_to_float(data: pd.DataFrame) -> pd.DataFrame:
    """pandas' nullable numeric columns (``Float64``, ``Int64``) as float64, ``pd.NA`` as NaN.

    The formula engines cannot evaluate ``pd.NA``; as NaN it is a missing
    value like any other (dropped with ``missing="drop"``, an error with
    ``missing="none"``).
    """
    masked = [
        j
        for j, dtype in enumerate(data.dtypes)  # by position: column names may repeat
        if isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
    ]
    if not masked:
        return data
    data = data.copy()
    for j in masked:
        data.isetitem(j, data.iloc[:, j].astype("float64"))
    return data


def _nullable_to_float(values):
    """A pandas ``endog`` or ``exog`` with nullable numeric columns as float64 (``pd.NA``
    as NaN, a missing value as any other); anything else unchanged."""
    if isinstance(values, pd.DataFrame):
        return _masked_to_float(values)
    if isinstance(values, pd.Series):
        return _masked_to_float(values.to_frame())[values.name if values.name is not None else 0]
    return values


def _rebuilt_spec(formula, frame):
    """The formula engine's spec of the model's regressors, rebuilt from the formula and
    the data it was evaluated on (numpy as ``np`` in its namespace); None when it cannot
    be (a formula using names of the caller's namespace, or data removed)."""
    if formula is None or frame is None:
        return None
    from statsmodels.formula._manager import FormulaManager

    manager = FormulaManager()
    try:
        manager.get_matrices(formula, frame, eval_env={"np": np}, pandas=True)
    except Exception:  # noqa: BLE001 - any failure leaves predictions needing arrays
        return None
    return manager.spec


def _individual_weight_name(given: dict) -> str | None:
    """Which individual weights were given (an error for both kinds)."""
    names = [name for name in INDIVIDUAL_WEIGHTS if given[name] is not None]
    if len(names) > 1:
        raise ValueError(
            "pass either `freq_weights` (counts of identical individuals) or `weights` "
            "(sampling weights), not both; for a sample whose records stand for several "
            "respondents, multiply the two into `weights`."
        )
    return names[0] if names else None


def _check_missing(missing) -> None:
    if missing not in ("none", "drop", "raise"):
        raise ValueError(f"`missing` must be 'none', 'drop' or 'raise', got {missing!r}.")


def _check_endog_shape(endog) -> None:
    """One response per row: a two-column ``endog`` is an error, never interleaved."""
    shape = np.shape(endog)
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise ValueError(
            f"`endog` must be one column (one response per row), got shape {shape}; fit one "
            "model per response."
        )
