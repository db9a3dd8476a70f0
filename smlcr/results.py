"""Results of a latent-class regression fit: estimates, inference, summary."""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap
from statsmodels.base.data import PandasData
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from statsmodels.iolib.summary import Summary

from smlcr import information, margins, report
from smlcr.compress import within_transform
from smlcr.dask_data import is_dask_frame
from smlcr.design import (
    aligned,
    as_numeric,
    check_formula_data,
    formula_columns,
    normal_quantile,
    plain,
    side_design_for,
)
from smlcr.diagnostics import classification_diagnostics, information_criteria
from smlcr.em import boundary_advice, flat_membership, log_prior, unidentified
from smlcr.exceptions import (
    DegenerateClassWarning,
    FewClustersWarning,
    RowLabelsWarning,
    SingularInformationWarning,
    warn,
)
from smlcr.prepare import check_finite

__all__ = ["LatentClassOLSResults", "LatentClassOLSResultsWrapper", "invert_information"]

# re-exported: the rank-checked inverse lives with the covariance estimators
invert_information = information.invert_information


class LatentClassOLSResults(LikelihoodModelResults):
    """Results of :meth:`smlcr.LatentClassOLS.fit`.

    Attributes
    ----------
    params : Series or ndarray
        Estimates, named ``"{exog}[k]"``, ``"sigma2[k]"``,
        ``"membership:Intercept[k]"`` (class ``k`` = 1..K, classes ordered by
        descending share).
    cov_type : str
        ``"oim"``, ``"opg"`` or ``"robust"``.
    fit_options : dict
        The options ``fit`` was given, as given (``None`` where the default
        was taken); :meth:`refit_fewer_classes` fits with them.
    llf : float
        Maximised log-likelihood.
    llf_history : ndarray
        Log-likelihood at every EM or Newton step of the final run
        (non-decreasing).
    converged : bool
        The Hessian is negative definite at the estimate (a maximum, not a
        saddle or a boundary point) and a Newton step would add less than
        ``gtol``, or less than the rounding error of the log-likelihood.
    gradient_norm : float
        Relative gradient at the estimate,
        ``max_j |g_j| max(1, |theta_j|) / max(1, |llf|)`` in the scaled units
        estimation works in (:func:`smlcr.newton.relative_gradient`). Where
        the data are nearly collinear or fitted almost exactly, rounding
        keeps it from vanishing; ``newton_decrement`` against
        ``llf_rounding`` says whether a step could still gain anything.
    newton_decrement : float
        ``g'(-H)^-1 g / 2``: what one more Newton step would add to the
        log-likelihood.
    llf_rounding : float
        Bound on the rounding error of the log-likelihood at the estimate.
    hessian_negative_definite : bool
    boundary : str or None
        Why the estimate is on the boundary of the parameter space (an empty
        class, two coinciding classes, a variance at the floor); None inside.
    n_iter : int
        EM and Newton steps of the final run; ``n_newton`` of them Newton.
    start_llfs : ndarray
        Log-likelihood where every start stopped (on the individuals the
        starts ran on, see ``search_sample``).
    start_kinds : list of str
    start_status : DataFrame
        One row per start: ``kind``, ``llf``, ``n_iter``, ``status``
        (converged, maxiter, joined, pruned, degenerate, screened; see
        :class:`smlcr.starts.StartRecord`), ``reason``, ``floor_rows``,
        ``floor_candidate`` and ``floor_tight`` (distinct rows of a class held
        at the variance floor where the run stopped, whether it holds enough
        of them for a lower floor to be tried, and whether chance does not
        explain it even at the floor's variance, so that a lower floor is
        tried wherever the run stopped).
    local_maxima : DataFrame
        The distinct maxima the completed starts reached, best first:
        ``llf``, ``n_starts`` (how many starts reached it),
        ``same_llf_as_best`` and ``same_point_as_best`` (the same parameters,
        not only the same log-likelihood).
    n_reached_best : int
        Completed starts that reached the best log-likelihood.
    n_completed_starts : int
        Starts that reached a maximum (converged, or joined one already
        found), as opposed to stopped early.
    search_sample : int
        Individuals the starts ran on: all of them, or a random sample when
        there are more than twice ``fit(search_sample=)`` (``start_llfs``,
        ``start_status`` and ``local_maxima`` then refer to the sample).
    continued_maxima : DataFrame or None
        With a sample: its best maxima continued on all individuals
        (``sample_llf``, ``llf``, ``n_iter``, ``status``, ``reason``).
    nobs : float
        Number of rows.
    n_groups : int
        Number of individuals.
    k_classes : int
    aic, bic : float
        ``-2 llf + 2 k`` and ``-2 llf + k log(n_groups)``: the sample size of
        BIC is the number of individuals, the independent units of the
        likelihood.
    info_criteria : Series
        AIC, BIC, sample-size-adjusted BIC, CAIC and ICL (see
        :func:`smlcr.diagnostics.information_criteria`); n is the number of
        individuals.
    classification : ClassificationDiagnostics
        Entropy R-squared, average posterior probabilities, odds of correct
        classification, the classification table and modal class sizes.
    posteriors : DataFrame
        Posterior class probabilities, one row per individual (indexed by
        its label) and one column per class.
    modal_class : Series
        Class with the largest posterior probability, per individual.
    class_shares : DataFrame
        Shares with delta-method standard errors and confidence intervals.
    variance_floor_hit : ndarray of bool
        Classes whose variance is held at the variance floor.
    var_floor : float
        The variance floor the estimate holds at (a fraction of the one-class
        residual variance): a lower floor only when a class lies below the
        default one (``floor_search`` says which floor's search found it).
    floor_search : DataFrame
        The floors the search ran with (index ``var_floor``): ``llf`` of its
        best maximum, ``floor_candidates`` (starts stopped with a class at the
        floor that holds enough rows for a lower floor to be tried,
        ``start_status["floor_candidate"]``, above that maximum or, when
        ``start_status["floor_tight"]``, anywhere) and
        ``chosen``. More than one row only when the default floor was lowered
        or lowering it was tried (see ``fit(var_floor=)``).
    degenerate : DataFrame
        Classes with a share below ``min_share`` or a variance at the floor
        (``share``, ``small_share``, ``variance_at_floor``, ``reason``); empty
        when there are none.
    dropped_exog : list of str
        Regressors dropped as constant within the absorbed cells.
    n_cells : int or None
        Number of absorbed cells.
    n_groups_no_dof : int
        Individuals dropped for having no degrees of freedom after absorbing.
    """

    def __init__(
        self,
        model,
        params,
        cov_type,
        em_outcome,
        newton,
        llf_offset,
        var_floor,
        min_share,
        derivatives=None,
        clusters=None,
        fit_options=None,
        floor_search=None,
    ):
        # the derivatives at the estimate (scaled units), from the Newton phase when it
        # ended there
        derivs = model.derivatives(params) if derivatives is None else derivatives
        names = list(model.data.param_names)
        best = em_outcome.best
        lost = unidentified(
            best.params,
            best.estep.class_weight,
            model.layout,
            best.estep.log_prior,
            np.asarray(best.floor_hit, dtype=bool),
        )
        if newton.boundary is not None and "separate class" in newton.boundary:
            # a coefficient with no finite maximum (in the final class order)
            flat = flat_membership(model.stats, model._Z, best.params, best.estep, newton.rounding)
            if flat is not None:
                lost[model.layout.membership_slices[flat[1] - 1].start + flat[0]] = True
        if lost.any():
            warn(
                f"the estimate is degenerate ({newton.boundary or 'an empty class'}): "
                f"{np.asarray(names)[lost].tolist()} are not identified there (or are held "
                "at the variance floor), so they have no standard errors and the others' are "
                f"computed with them held fixed. {boundary_advice(newton.boundary)}.",
                SingularInformationWarning,
            )
        # all three estimators, in the data's units; only the chosen one may warn. With
        # sampling weights only the sandwich estimates the variance (the others are NaN)
        sampling = model.weighting.kind == "sampling"
        self.cluster_name, self.n_clusters = None, None
        meat = information.score_outer(
            derivs, None if clusters is None else clusters[0], frequency=not sampling
        )
        if clusters is not None:
            self.cluster_name, self.n_clusters = clusters[1], int(clusters[0].max()) + 1
            identified = int(np.sum(~lost))
            if cov_type == "robust" and self.n_clusters - 1 < identified:
                # the scores' cluster sums add to zero at the estimate: rank G - 1 at most
                warn(
                    f"only {self.n_clusters} clusters for {identified} parameters: the "
                    f"clustered covariance has rank {self.n_clusters - 1} at most, so some "
                    "combinations of the parameters get standard errors of zero and the "
                    "others are unreliable. Use more clusters, or cov_type='robust' for "
                    "independent individuals.",
                    FewClustersWarning,
                )
        # the parameters that are not identified (or sit on the boundary) are held fixed:
        # the others' covariance is that of the block that remains, and theirs is NaN
        keep = ~lost
        block = np.ix_(keep, keep)
        kept = derivs.restricted(keep) if lost.any() else derivs
        kept_names = [name for name, k in zip(names, keep, strict=True) if k]
        covariances = {}
        for kind, estimator in information.COVARIANCES.items():
            scaled = np.full((len(names), len(names)), np.nan)
            if sampling and kind != "robust":
                covariances[kind] = scaled
                continue
            with warnings.catch_warnings():
                if kind != cov_type:
                    warnings.simplefilter("ignore", SingularInformationWarning)
                extra = {"meat": meat[block]} if kind == "robust" else {}
                scaled[block] = estimator(kept, kept_names, **extra)
            covariances[kind] = model.unit_map.covariance_to_original(scaled)
        self.cov_params_oim = covariances["oim"]
        self.cov_params_opg = covariances["opg"]
        self.cov_params_robust = covariances["robust"]
        cov = covariances[cov_type]
        super().__init__(model, params, normalized_cov_params=cov, scale=1.0)
        self.cov_params_default = cov
        self.cov_type = cov_type
        self.fit_options = dict(fit_options or {})
        self.floor_search = floor_search
        self.use_t = False
        self._llf = best.llf + llf_offset
        self.llf_history = np.asarray(best.llf_history) + llf_offset
        self.converged = bool(newton.converged)
        self.n_iter = int(best.n_iter)
        self.n_newton = int(newton.n_newton)
        self.gradient_norm = float(newton.gradient)
        self.newton_decrement = float(newton.decrement)
        self.llf_rounding = float(newton.rounding)
        self.hessian_negative_definite = bool(newton.negative_definite)
        self.boundary = newton.boundary
        # the starts ran on the search sample (all individuals unless sampled)
        search_offset = model.llf_offset(em_outcome.sample)
        self.search_sample = (
            model.n_groups if em_outcome.sample is None else int(em_outcome.sample.size)
        )
        self.continued_maxima = None
        if em_outcome.continued is not None:
            self.continued_maxima = em_outcome.continued.assign(
                sample_llf=em_outcome.continued["sample_llf"] + search_offset,
                llf=em_outcome.continued["llf"] + llf_offset,
            )
        self.start_llfs = em_outcome.start_llfs + search_offset
        self.start_kinds = list(em_outcome.start_kinds)
        self.n_reached_best = int(em_outcome.n_reached_best)
        self.n_completed_starts = int(em_outcome.completed.sum())
        self.start_status = pd.DataFrame(
            {
                "kind": [r.kind for r in em_outcome.records],
                "llf": self.start_llfs,
                "n_iter": [r.n_iter for r in em_outcome.records],
                "status": [r.status for r in em_outcome.records],
                "reason": [r.reason for r in em_outcome.records],
                "floor_rows": [r.floor_rows for r in em_outcome.records],
                "floor_candidate": [r.floor_candidate for r in em_outcome.records],
                "floor_tight": [r.floor_tight for r in em_outcome.records],
            },
            index=pd.RangeIndex(1, len(em_outcome.records) + 1, name="start"),
        )
        self.local_maxima = em_outcome.maxima.assign(llf=em_outcome.maxima["llf"] + search_offset)
        self.var_floor = var_floor
        self.variance_floor_hit = np.asarray(best.floor_hit, dtype=bool)
        self.score_at_estimate = model.unit_map.gradient_to_original(derivs.score)
        self.nobs = model.nobs
        self.n_groups = model.n_individuals
        self.weighting = model.weighting
        self.n_groups_zero_weight = model.n_groups_zero_weight
        self.n_rows_zero_weight = model.n_rows_zero_weight
        self.dropped_exog = list(model.dropped_exog)
        self.n_cells = model.n_cells
        self.n_groups_no_dof = model.n_groups_no_dof
        self.k_classes = model.k_classes
        self.df_model = float(len(names))
        self.df_resid = float(self.n_groups - len(names))
        self._tau = best.estep.tau
        self.info_criteria = information_criteria(
            self._llf, len(names), self.n_groups, best.estep.tau, weight=model.stats.weight
        )
        self.aic = float(self.info_criteria["aic"])
        self.bic = float(self.info_criteria["bic"])
        classes = pd.Index(np.arange(1, self.k_classes + 1), name="class")
        by_label = model.label_order
        self.posteriors = pd.DataFrame(
            best.estep.tau[by_label], index=model.group_labels[by_label], columns=classes
        )
        self.modal_class = pd.Series(
            classes.to_numpy()[np.argmax(best.estep.tau[by_label], axis=1)],
            index=model.group_labels[by_label],
            name="modal_class",
        )
        self.class_shares = self._class_shares(classes)
        self.classification = classification_diagnostics(
            best.estep.tau, self.class_shares["share"].to_numpy(), weight=model.stats.weight
        )
        self.min_share = min_share
        self.degenerate = self._degenerate_classes()
        small = self.degenerate[self.degenerate["small_share"]]
        if len(small):
            # (a variance at the floor has its own VarianceFloorWarning from fit)
            warn(
                f"degenerate class(es) {list(small.index)}: "
                + "; ".join(f"class {k}: {row.reason}" for k, row in small.iterrows())
                + ". They are kept and reported in `degenerate`; consider "
                "`refit_fewer_classes()`, or a smaller `min_share` if small classes are expected.",
                DegenerateClassWarning,
            )

    def _degenerate_classes(self) -> pd.DataFrame:
        """Classes with a share below ``min_share`` or a variance at the floor."""
        shares = self.class_shares["share"]
        small = shares.to_numpy() < self.min_share
        floor = self.variance_floor_hit
        reasons = []
        for s in range(self.k_classes):
            parts = []
            if small[s]:
                parts.append(f"share {shares.iloc[s]:.3g} below min_share={self.min_share}")
            if floor[s]:
                parts.append("variance held at the floor")
            reasons.append(", ".join(parts))
        frame = pd.DataFrame(
            {
                "share": shares.to_numpy(),
                "small_share": small,
                "variance_at_floor": floor,
                "reason": reasons,
            },
            index=shares.index,
        )
        return frame[small | floor]

    def refit_fewer_classes(self, **fit_kwds):
        """Fit the same model with one class less, with this fit's options.

        The options this fit was given (:attr:`fit_options`: the covariance and
        its ``cluster``, ``rng``, the search's ``n_starts``, ``min_share``,
        ``var_floor`` and tolerances) are given again, except ``start_params``
        (a start for K classes is none for K - 1); ``fit_kwds`` overrides them.
        An integer ``rng`` seeds the refit as it seeded this fit; a
        ``Generator`` continues its stream.

        Parameters
        ----------
        **fit_kwds
            Options of ``fit`` that replace this fit's, e.g.
            ``cov_type="oim", cluster=None``.

        Returns
        -------
        LatentClassOLSResults
        """
        if self.k_classes < 2:
            raise ValueError("the model has one class; there is no smaller model to fit.")
        options = {name: v for name, v in self.fit_options.items() if name != "start_params"}
        return self.model.with_k_classes(self.k_classes - 1).fit(**{**options, **fit_kwds})

    @property
    def llf(self) -> float:
        """Maximised observed-data log-likelihood."""
        return self._llf

    def _slices(self) -> dict:
        """Positions of the parameter blocks (:attr:`smlcr.params.Layout.slices`)."""
        return self.model.layout.slices

    def _class_shares(self, classes, alpha: float = 0.05) -> pd.DataFrame:
        """Average class probabilities with delta-method standard errors."""
        m = self.model
        Z = m.membership_exog
        k, q = m.k_classes, Z.shape[1]
        eta_slice = self._slices()["eta"]
        pi = self._probabilities(Z)
        w = m.stats.mean_weights  # each individual counted w_i times
        share = w @ pi
        # d share_s / d eta_r = mean_i pi_is (1[s = r] - pi_ir) z_i,  r = 2..K
        grad = np.zeros((k, q * (k - 1)))
        for r in range(1, k):
            indicator = (np.arange(k) == r).astype(float)
            weight = pi * (indicator[None, :] - pi[:, [r]]) * w[:, None]  # (N, K)
            grad[:, (r - 1) * q : r * q] = weight.T @ Z
        cov = np.asarray(self.cov_params())[eta_slice, eta_slice]
        bse = np.sqrt(np.maximum(np.einsum("sa,ab,sb->s", grad, cov, grad), 0.0))
        z = normal_quantile(alpha)
        # the interval is built on the logit scale (delta method there: se / (s (1 - s)))
        # and mapped back, so it stays inside (0, 1) however small the share
        with np.errstate(all="ignore"):
            logit = np.log(share) - np.log1p(-share)
            half = z * bse / (share * (1.0 - share))
            lower = 1.0 / (1.0 + np.exp(-(logit - half)))
            upper = 1.0 / (1.0 + np.exp(-(logit + half)))
        if k == 1:  # one class: a share of 1 by definition, not an estimate (its computed
            # value rounds to either side of 1, which had made the interval NaN or a point)
            share, bse, lower, upper = (np.array([v]) for v in (1.0, 0.0, 1.0, 1.0))
        return pd.DataFrame(
            {"share": share, "bse": bse, "lower": lower, "upper": upper},
            index=classes,
        )

    # ------------------------------------------------------------- inference
    def _param_index(self, name: str) -> int:
        names = list(self.model.data.param_names)
        if name not in names:
            raise ValueError(f"{name!r} is not a parameter; parameters are {names}.")
        return names.index(name)

    def t_test_pairwise(self, *args, **kwargs):
        """Not available: statsmodels' pairwise tests compare the levels of a categorical
        term, not classes.

        Parameters
        ----------
        *args, **kwargs
            Ignored.

        Raises
        ------
        NotImplementedError
            Saying what to use instead.
        """
        raise NotImplementedError(
            "t_test_pairwise compares the levels of a categorical term; to compare classes "
            "use test_class_equality(names) or t_test('x1[1] = x1[2]')."
        )

    def test_class_equality(self, names=None):
        """Wald test that coefficients are equal across all classes.

        Parameters
        ----------
        names : str or list of str, optional
            Regressors (as in ``class_exog_names``, without class index) whose
            coefficients are tested; default all class-specific regressors.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            The joint chi-squared test of ``beta_j[1] = ... = beta_j[K]`` for
            every listed ``j`` (``statistic``, ``pvalue``, ``df_denom`` holding
            the number of restrictions), with the covariance of ``cov_type``.
            Its attribute ``per_term`` is a DataFrame with one such test per
            regressor (``statistic``, ``df``, ``pvalue``).
        """
        model = self.model
        if self.k_classes < 2:
            raise ValueError("`test_class_equality` needs at least two classes.")
        if names is None:
            names = list(model.class_exog_names)
        elif isinstance(names, str):
            names = [names]
        if not list(names):
            raise ValueError(
                "`names` is empty; give at least one regressor of "
                f"{list(model.class_exog_names)} (or None for all of them)."
            )
        unknown = [n for n in names if n not in model.class_exog_names]
        if unknown:
            raise ValueError(
                f"`names` {unknown} are not class-specific regressors; choose from "
                f"{list(model.class_exog_names)}."
            )
        if len(set(names)) < len(list(names)):
            raise ValueError(f"`names` repeats a regressor: {list(names)}.")

        def restrictions(name):
            rows = np.zeros((self.k_classes - 1, len(model.data.param_names)))
            first = self._param_index(f"{name}[1]")
            for s in range(2, self.k_classes + 1):
                rows[s - 2, first] = 1.0
                rows[s - 2, self._param_index(f"{name}[{s}]")] = -1.0
            return rows

        joint = self.wald_test(np.vstack([restrictions(n) for n in names]), scalar=True)
        per_term = []
        for name in names:
            test = self.wald_test(restrictions(name), scalar=True)
            per_term.append(
                {
                    "statistic": float(test.statistic),
                    "df": self.k_classes - 1,
                    "pvalue": float(test.pvalue),
                }
            )
        joint.per_term = pd.DataFrame(per_term, index=pd.Index(names, name="term"))
        return joint

    def conf_int(self, alpha: float = 0.05):
        """Normal confidence intervals of the parameters.

        Parameters
        ----------
        alpha : float
            One minus the coverage, strictly between 0 and 1.

        Returns
        -------
        ndarray or DataFrame
            Lower and upper limits, one row per parameter.
        """
        normal_quantile(alpha)  # the check
        return super().conf_int(alpha)

    def initialize(self, model, params, **kwargs):
        """statsmodels' initialisation, when the fit builds the results; afterwards an
        error (new parameters would contradict the standard errors, log-likelihood and
        posteriors, which come from the fit).

        Parameters
        ----------
        model : LatentClassOLS
        params : ndarray
        **kwargs
            As in statsmodels.

        Raises
        ------
        NotImplementedError
            On fitted results.
        """
        if getattr(self, "_initialized", False):
            raise NotImplementedError(
                "fitted results are not re-initialised with other parameters: their standard "
                "errors, log-likelihood and posteriors belong to the fit. Fit the model again "
                "(fit(start_params=...)), or evaluate model.loglike(params)."
            )
        super().initialize(model, params, **kwargs)
        self._initialized = True

    def cov_params(self, r_matrix=None, column=None, scale=None, cov_p=None, other=None):
        """Covariance of the estimates, or of linear combinations ``r_matrix @ params``.

        As statsmodels' ``cov_params``, except that parameters without a
        variance (NaN: a singular direction) do not spoil combinations that
        do not involve them; a combination that does involve one is a
        ``ValueError`` naming them.

        Parameters
        ----------
        r_matrix : array_like or str, optional
            Rows of linear combinations, or constraints by name
            (``"x1[1] - x1[2]"``, as in :meth:`t_test`).
        column : sequence of int or str, optional
            Parameters (positions or names) whose covariance to return.
        scale : None
            Not used: the covariance is the chosen one (``cov_type``), with no
            scale factor; any other value is an error.
        cov_p : array_like, optional
            A covariance to use instead of the chosen one.
        other : array_like, optional
            Second set of combinations, as in statsmodels.

        Returns
        -------
        ndarray or DataFrame
            A DataFrame labelled by the parameter names for pandas data (the
            whole matrix, or the ``column`` block); an array otherwise and for
            combinations.
        """
        if scale is not None:
            raise ValueError(
                "`scale` does not apply: the covariance is the fit's (cov_type "
                f"{self.cov_type!r}) with no scale factor; multiply it yourself if needed."
            )
        names = list(self.model.data.param_names)
        if r_matrix is not None:
            r_matrix = self._restrictions(r_matrix)[0]
        selected = None
        if column is not None:
            labels = np.atleast_1d(np.asarray(column, dtype=object))
            if all(isinstance(c, str) for c in labels):
                unknown = [c for c in labels if c not in names]
                if unknown:
                    raise ValueError(
                        f"`column` names unknown parameters {unknown}; they are {names}."
                    )
                column = [names.index(c) for c in labels]
            positions = np.atleast_1d(np.asarray(column))
            if positions.dtype.kind not in "iu" or not np.all(
                (-len(names) <= positions) & (positions < len(names))
            ):
                raise ValueError(
                    f"`column` must be parameter names or positions 0..{len(names) - 1}, got "
                    f"{column!r}."
                )
            selected = [names[int(j)] for j in positions]
        out = self._restricted_cov(r_matrix, column, cov_p, other)
        if r_matrix is None and other is None:
            labels = names if selected is None else selected
            if isinstance(self.model.data, PandasData):
                return pd.DataFrame(np.asarray(out), index=labels, columns=labels)
        return out

    def _restricted_cov(self, r_matrix, column, cov_p, other):
        """statsmodels' ``cov_params``, with NaN variances kept out of combinations that do
        not involve them."""
        if r_matrix is not None and cov_p is None:
            cov = np.asarray(self.cov_params_default)
            if np.isnan(cov).any():
                rows = np.atleast_2d(np.asarray(r_matrix, dtype=np.float64))
                used = np.any(rows != 0, axis=0)
                missing = used & np.isnan(np.diag(cov))
                if missing.any():
                    names = np.asarray(self.model.data.param_names)[missing].tolist()
                    raise ValueError(
                        f"the restriction involves parameters without a standard error {names} "
                        "(a singular direction of the information matrix; see the "
                        "SingularInformationWarning)."
                    )
                cov_p = np.where(np.isnan(cov), 0.0, cov)
        return super().cov_params(r_matrix=r_matrix, column=column, cov_p=cov_p, other=other)

    def _named_constraints(self, method, r_matrix, *args, **kwargs):
        """Run a statsmodels test; a constraint naming a term without its class says how."""
        from patsy import PatsyError

        try:
            return method(r_matrix, *args, **kwargs)
        except PatsyError as err:
            names = list(self.model.data.param_names)
            raise ValueError(
                f"{err}\nParameters are named '{{term}}[k]' for class k (for example "
                f"{names[0]!r}), 'sigma2[k]' and 'membership:{{term}}[k]'; all of them: {names}."
            ) from err

    def t_test(self, r_matrix, *args, **kwargs):
        """statsmodels' ``t_test`` on the named parameters (``"x1[1] = x1[2]"``).

        Parameters
        ----------
        r_matrix, *args, **kwargs
            As in :meth:`statsmodels.base.model.LikelihoodModelResults.t_test`.

        Returns
        -------
        ContrastResults
        """
        if not isinstance(r_matrix, (str, list, tuple)):
            self._restrictions(r_matrix)  # a matrix of the wrong width named as such
        return self._named_constraints(super().t_test, r_matrix, *args, **kwargs)

    def wald_test(self, r_matrix, *args, **kwargs):
        """statsmodels' ``wald_test`` on the named parameters (``"x1[1] = 0, x1[2] = 0"``).

        Parameters
        ----------
        r_matrix, *args, **kwargs
            As in :meth:`statsmodels.base.model.LikelihoodModelResults.wald_test`.

        Returns
        -------
        ContrastResults
        """
        return self._named_constraints(self._equilibrated_wald, r_matrix, *args, **kwargs)

    def _restrictions(self, r_matrix) -> tuple[np.ndarray, np.ndarray]:
        """``(R, q)`` of restrictions ``R params = q`` given by name (``"x1[1] = x1[2]"``),
        as a matrix, or as an ``(R, q)`` pair: the one owner of their reading and of the
        check that ``R`` has one column per parameter."""
        names = list(self.model.data.param_names)
        if isinstance(r_matrix, (str, list)) and (
            isinstance(r_matrix, str) or all(isinstance(r, str) for r in r_matrix)
        ):
            from patsy import DesignInfo

            constraint = DesignInfo(names).linear_constraint(r_matrix)
            r_matrix = (constraint.coefs, constraint.constants[:, 0])
        if isinstance(r_matrix, tuple):
            matrix, q = (
                np.atleast_2d(np.asarray(r_matrix[0], float)),
                np.asarray(r_matrix[1], float).reshape(-1),
            )
        else:
            matrix = np.atleast_2d(np.asarray(r_matrix, dtype=np.float64))
            q = np.zeros(matrix.shape[0])
        if matrix.ndim != 2 or matrix.shape[1] != len(names) or q.shape != (matrix.shape[0],):
            raise ValueError(
                f"`r_matrix` must have one column per parameter ({len(names)}) and `q` one "
                f"value per restriction, got shapes {matrix.shape} and {q.shape}; or give the "
                f"restrictions by name, as '{names[0]} = {names[1]}'."
            )
        return matrix, q

    def _equilibrated_wald(self, r_matrix, *args, **kwargs):
        """statsmodels' ``wald_test`` with every restriction divided by its standard error.

        The statistic does not change, but statsmodels' rank check of ``R V R'``
        then sees a correlation matrix: with regressors in very different units
        (a slope per unit of a variable near 1e6 and an intercept) it would
        otherwise take a full-rank set of restrictions for a singular one and
        silently drop one.
        """
        matrix, q = self._restrictions(r_matrix)
        cov = np.asarray(self.cov_params())
        with np.errstate(invalid="ignore"):
            size = np.sqrt(np.einsum("ij,jk,ik->i", matrix, cov, matrix))
        size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
        return super().wald_test((matrix / size[:, None], q / size), *args, **kwargs)

    def wald_test_terms(self, *args, **kwargs):
        """Not available: statsmodels' per-term tests do not know the class structure.

        statsmodels builds one test per formula term from the columns of
        ``exog``, which here would test class 1's coefficient alone. Use
        :meth:`test_class_equality` (do the classes differ in a term?) or
        :meth:`wald_test` with the parameter names (``"x[1] = 0, x[2] = 0"``:
        is a term zero in every class?).

        Raises
        ------
        NotImplementedError
        """
        raise NotImplementedError(
            "wald_test_terms would test class 1's coefficients only; use "
            "test_class_equality() to test whether the classes differ in a term, or "
            "wald_test('x[1] = 0, x[2] = 0') with the parameter names (terms are named "
            "'{term}[k]' for class k)."
        )

    @property
    def params_table(self) -> pd.DataFrame:
        """Every estimate in a tidy table, for export.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter name, with columns ``block`` ("coefficient",
            "common", "variance", "membership"), ``class`` (1..K, or 0 for a
            parameter shared by all classes), ``term``, ``coef``, ``bse``, ``z``,
            ``pvalue``, ``lower`` and ``upper`` (95% interval).
        """
        model = self.model
        rows = model.layout.describe(
            model.class_exog_names, model.common_names, model.membership_names
        )
        names, block, klass, term = (list(column) for column in zip(*rows, strict=True))
        ci = np.asarray(self.conf_int())
        return pd.DataFrame(
            {
                "block": block,
                "class": klass,
                "term": term,
                "coef": np.asarray(self.params),
                "bse": np.asarray(self.bse),
                "z": np.asarray(self.tvalues),
                "pvalue": np.asarray(self.pvalues),
                "lower": ci[:, 0],
                "upper": ci[:, 1],
            },
            index=pd.Index(names, name="parameter"),
        )

    # ------------------------------------------------------------ prediction
    def _class_coefficients(self) -> np.ndarray:
        """Class coefficients, shape (K, p)."""
        params = np.asarray(self.params)
        return np.vstack([params[sl] for sl in self._slices()["beta"]])

    def _common_coefficients(self) -> np.ndarray:
        """Coefficients shared by all classes, shape (m,)."""
        return np.asarray(self.params)[self._slices()["common"]]

    def _membership_frame(self, values) -> pd.DataFrame:
        names = self.model.membership_names
        k = self.k_classes
        return pd.DataFrame(
            np.asarray(values).reshape(k - 1, len(names)).T,
            index=pd.Index(names, name="term"),
            columns=pd.Index(np.arange(2, k + 1), name="class"),
        )

    @property
    def membership_params(self) -> pd.DataFrame:
        """Membership (multinomial logit) coefficients, terms x classes 2..K.

        Class 1 is the reference: the entry for term ``z`` and class ``k`` is
        the change in ``log(pi_k / pi_1)`` per unit of ``z``. Standard errors
        are in :attr:`membership_bse`.

        Returns
        -------
        pandas.DataFrame
        """
        return self._membership_frame(np.asarray(self.params)[self._slices()["eta"]])

    @property
    def membership_bse(self) -> pd.DataFrame:
        """Standard errors of :attr:`membership_params`, terms x classes 2..K.

        Returns
        -------
        pandas.DataFrame
        """
        return self._membership_frame(np.asarray(self.bse)[self._slices()["eta"]])

    def _probabilities(self, membership: np.ndarray) -> np.ndarray:
        """Class probabilities ``softmax(z' eta)`` for rows of membership values."""
        q = self.model.membership_exog.shape[1]
        eta = np.zeros((q, self.k_classes))
        eta[:, 1:] = np.asarray(self.params)[self._slices()["eta"]].reshape(-1, q).T
        return np.exp(log_prior(membership, eta))

    def _side_rows(self, name: str, given, data, n_rows: int, arg: str = "exog") -> np.ndarray:
        """Membership or common values of new rows: given, or built from the formula on
        ``data`` (the argument ``arg``)."""
        model = self.model
        side = model.membership_design if name == "membership" else model.common_design
        if side is None:
            return np.ones((n_rows, 1)) if name == "membership" else np.empty((n_rows, 0))
        if given is None:
            spec = getattr(model, "_side_specs", {}).get(name)
            if spec is None or not isinstance(data, pd.DataFrame):
                raise ValueError(
                    f"this model has `{name}` variables: pass `{name}_exog` with one row of "
                    "values per new row (or a DataFrame to a formula model)."
                )
            _require_formula_columns(model, name, data, arg)
            given = side_design_for(spec, data, drop_intercept=name == "common")
        elif isinstance(given, (pd.Series, pd.DataFrame)):
            # matched to the new rows by index and to the variables by name, never by position
            rows = data.index if isinstance(data, (pd.Series, pd.DataFrame)) else None
            given = aligned(given, rows, f"{name}_exog")
            if isinstance(given, pd.DataFrame):
                given = _columns_by_name(given, side.names, f"{name}_exog")
        values = _new_values(given, f"{name}_exog")
        if name == "common" and values.shape[1] == model.prepared.common_keep.size:
            values = values[:, model.prepared.common_keep]
        expected = model.k_common if name == "common" else model.membership_exog.shape[1]
        if values.shape != (n_rows, expected):
            raise ValueError(
                f"`{name}_exog` has shape {values.shape}; expected ({n_rows}, {expected})."
            )
        return values

    def _prediction_rows(self, exog, groups, which, transform, common_exog, membership_exog):
        """The rows a prediction is for: class-specific and common regressors, membership
        values (``which="marginal"``), individuals (``which="posterior"``) and labels."""
        if which not in ("marginal", "posterior", "class"):
            raise ValueError(f"`which` must be 'marginal', 'posterior' or 'class', got {which!r}.")
        _refuse_dask_rows(exog, "exog")
        if groups is not None and (which != "posterior" or exog is None):
            raise ValueError(
                "`groups` is used only with new `exog` and which='posterior' (the individual "
                "of each new row); drop it, or pass which='posterior'."
            )
        model = self.model
        index, in_sample = None, None
        if exog is None:
            given = [
                n
                for n, v in (("common_exog", common_exog), ("membership_exog", membership_exog))
                if v is not None
            ]
            if given:
                raise ValueError(
                    f"`{given[0]}` is used only with new `exog` (the rows it belongs to); "
                    "without `exog` the prediction is for the sample's rows and their own "
                    "values. Pass the new rows as `exog` too."
                )
            model.require_data("predict() without new `exog`")
            design, common = model.rows_used()
            codes = model.prepared.rows.individual
            membership = model.membership_exog[codes]
            in_sample = model.prepared.rows.keep  # the rows used, among the model's rows
            if model.data.row_labels is not None:
                index = np.asarray(model.data.row_labels)
        else:
            raw = exog
            if not isinstance(transform, (bool, np.bool_)):
                raise TypeError(f"`transform` must be True or False, got {transform!r}.")
            formula = transform and hasattr(model, "formula")
            specs = getattr(model, "_side_specs", {}) if formula else {}
            for name, value in (("common", common_exog), ("membership", membership_exog)):
                if value is not None and name in specs:
                    raise ValueError(
                        f"`{name}_exog` is not used by this model: its {name} variables come "
                        f"from the new rows' DataFrame through its `{name}` formula. Put the "
                        "values in that DataFrame."
                    )
            spec = getattr(model, "model_spec", None) or getattr(model.data, "model_spec", None)
            if formula and spec is None:
                raise ValueError(
                    "the model's formula cannot be evaluated on new rows here: the model "
                    "was loaded from a pickle and its formula uses names of the namespace it "
                    "was built in (a function of the script, say), which a pickle does not "
                    "keep. Pass the regressors themselves with transform=False, columns named "
                    f"as {list(model.exog_names)}."
                )
            if isinstance(exog, pd.Series) and not formula:
                exog = _series_of_new_rows(exog, model.exog_names)
                raw = exog
            if isinstance(exog, pd.DataFrame) and not formula:
                exog = _columns_by_name(exog, model.exog_names)
            if formula and isinstance(exog, pd.DataFrame):
                _require_formula_columns(model, "exog", exog, "exog")
                check_formula_data(exog, model.formula, "exog")
            from patsy import PatsyError

            try:
                design, index = self._transform_predict_exog(exog, transform=transform)
            except (AttributeError, TypeError, ValueError, PatsyError) as err:
                if not formula or not isinstance(exog, pd.DataFrame):
                    raise
                # (statsmodels re-raises the formula engine's error as "use a DataFrame")
                fitted = getattr(model.data, "frame", None)
                numeric = set("biuf")
                changed = [
                    c
                    for c in formula_columns(exog, model.formula)
                    if fitted is not None
                    and c in fitted
                    and fitted[c].dtype.kind in numeric
                    and exog[c].dtype.kind not in numeric
                ]
                what = (
                    f"column(s) {changed} are not numeric, as they were in the data the model "
                    "was fitted to"
                    if changed
                    else f"{err.__cause__ or err.__context__ or err}"
                )
                raise ValueError(
                    f"the model's formula could not be evaluated on the new rows (`exog`): {what}."
                ) from err
            design = _new_values(design, "exog")
            if design.shape[1] == model.prepared.exog_keep.size:
                design = design[:, model.prepared.exog_keep]
            elif design.shape[1] != model.k_exog:
                raise ValueError(
                    f"`exog` has {design.shape[1]} columns; the model has "
                    f"{model.prepared.exog_keep.size} ({model.exog_names})."
                )
            common = self._side_rows("common", common_exog, raw, design.shape[0])
            membership = None
            if which == "marginal":
                membership = self._side_rows("membership", membership_exog, raw, design.shape[0])
            elif membership_exog is not None:
                raise ValueError(
                    f"`membership_exog` is not used with which={which!r} (the class "
                    "probabilities are the posteriors, or none); drop it, or pass "
                    "which='marginal'."
                )
            codes = None
            if which == "posterior":
                if groups is None:
                    raise ValueError(
                        "`which='posterior'` with new `exog` needs `groups`: the individual "
                        "of each new row (or use which='marginal')."
                    )
                groups = _new_row_groups(groups, raw, design.shape[0])
                codes = model.group_labels.get_indexer(groups)
                if np.any(codes < 0):
                    missing = groups[codes < 0][0]
                    raise ValueError(
                        f"`groups` label {plain(missing)!r} is not an individual of the sample; "
                        "posteriors exist only for them (use which='marginal')."
                    )
        return design, common, membership, codes, index, in_sample

    def predict(
        self,
        exog=None,
        groups=None,
        which: str = "marginal",
        transform: bool = True,
        common_exog=None,
        membership_exog=None,
    ):
        """Predicted means ``x' beta_s + w' delta`` combined across classes.

        Parameters
        ----------
        exog : array_like or DataFrame, optional
            New rows (a DataFrame for formula models, which also supplies the
            ``common`` and ``membership`` variables). Default: every row of
            the model's data (NaN for rows estimation did not use, as
            ``fittedvalues``).
        groups : array_like, optional
            The individual of each new row, needed for ``which="posterior"``
            with new ``exog``; the individuals must be in the sample.
        which : {"marginal", "posterior", "class"}
            ``"marginal"``: ``sum_s pi_s(z) yhat_s`` with the class
            probabilities (the shares, or the membership model at the row's
            ``z``); ``"posterior"``: ``sum_s tau_is yhat_s`` with the
            individual's posterior; ``"class"``: one column per class.
        transform : bool
            Pass ``exog`` through the model formula.
        common_exog, membership_exog : array_like, optional
            Values of the common regressors and of the membership variables
            for new rows of a model built from arrays.

        Returns
        -------
        ndarray, Series or DataFrame

        Notes
        -----
        With ``absorb=`` the absorbed fixed effects are not estimated, so
        predictions are of ``x'beta`` without them (``fittedvalues`` adds the
        in-sample cell effects).
        """
        design, common, membership, codes, index, in_sample = self._prediction_rows(
            exog, groups, which, transform, common_exog, membership_exog
        )
        per_class = (
            design @ self._class_coefficients().T + (common @ self._common_coefficients())[:, None]
        )
        classes = self.posteriors.columns
        if which == "class":
            out = _every_row(per_class, in_sample)
            return out if index is None else pd.DataFrame(out, index=index, columns=classes)
        if which == "marginal":
            out = np.einsum("nk,nk->n", per_class, self._probabilities(membership))
        else:
            out = np.einsum("nk,nk->n", per_class, self._tau[codes])
        out = _every_row(out, in_sample)
        return out if index is None else pd.Series(out, index=index, name="predicted")

    def get_prediction(
        self,
        exog=None,
        which: str = "marginal",
        transform: bool = True,
        common_exog=None,
        membership_exog=None,
    ) -> margins.PredictionResults:
        """Predicted means with delta-method standard errors and intervals.

        The same predictions as :meth:`predict`, with standard errors from
        the covariance the fit chose (``cov_type``): ``predicted_mean``,
        ``se_mean``, ``conf_int()`` and ``summary_frame()`` as statsmodels'
        ``get_prediction`` gives them.

        Parameters
        ----------
        exog : array_like or DataFrame, optional
            New rows (see :meth:`predict`); default every row of the model's data
            (NaN for rows estimation did not use, as ``fittedvalues``).
        which : {"marginal", "class"}
            ``"marginal"``: weighted by the class probabilities (their
            uncertainty included); ``"class"``: every row under every class,
            labelled by ``(row, class)``. Posterior-weighted predictions have
            no standard errors here (the posteriors are functions of the
            data as well as of the estimates).
        transform : bool
            Pass ``exog`` through the model formula.
        common_exog, membership_exog : array_like, optional
            As in :meth:`predict`.

        Returns
        -------
        smlcr.margins.PredictionResults
        """
        if which not in ("marginal", "class"):
            raise ValueError(
                f"`which` must be 'marginal' or 'class' for get_prediction, got {which!r} "
                "(posterior-weighted predictions: use predict(which='posterior'))."
            )
        design, common, membership, _, index, in_sample = self._prediction_rows(
            exog, None, which, transform, common_exog, membership_exog
        )
        if in_sample is None or in_sample.all():
            return margins.get_prediction(self, design, common, membership, which, index)
        # in-sample: every row of the model's data, NaN for rows estimation did not use
        used = margins.get_prediction(self, design, common, membership, which, None)
        per_row = self.k_classes if which == "class" else 1
        mean, var = (
            _every_row(a.reshape(-1, per_row), in_sample).reshape(-1)
            for a in (used.predicted_mean, used.var_pred_mean)
        )
        labels = index
        if index is not None and which == "class":
            labels = pd.MultiIndex.from_product(
                [pd.Index(index), self.posteriors.columns], names=["row", "class"]
            )
        return margins.PredictionResults(mean, var, labels)

    def class_means(self, alpha: float = 0.05) -> pd.DataFrame:
        """Each class's predicted mean response at the sample's average regressors.

        The analogue of Stata's ``estat lcmean``; see
        :func:`smlcr.margins.class_means`.

        Parameters
        ----------
        alpha : float
            One minus the coverage of the intervals.

        Returns
        -------
        pandas.DataFrame
            One row per class: ``mean``, ``bse``, ``z``, ``pvalue``,
            ``lower``, ``upper``.
        """
        return margins.class_means(self, alpha)

    def average_effects(self, alpha: float = 0.05) -> pd.DataFrame:
        """Share-weighted average coefficient of each regressor, and each class's.

        The analogue of Stata's ``margins, dydx()`` after ``fmm``; see
        :func:`smlcr.margins.average_effects`.

        Parameters
        ----------
        alpha : float
            One minus the coverage of the intervals.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(term, class)``, ``class`` being ``"average"`` or
            ``1..K``: ``effect``, ``bse``, ``z``, ``pvalue``, ``lower``,
            ``upper``.
        """
        return margins.average_effects(self, alpha)

    def row_posteriors(self) -> pd.DataFrame:
        """Each row's posterior class probabilities (its individual's) and modal class.

        The analogue of Stata's ``predict, classposteriorpr``: one row per row
        of the model's data, indexed like the data, so it joins back onto
        them. Rows estimation did not use (individuals dropped for having no
        degrees of freedom after absorbing) are NaN.

        Returns
        -------
        pandas.DataFrame
            Columns ``1..K`` and ``modal_class``.

        Warns
        -----
        RowLabelsWarning
            When the data's row labels repeat (after ``pd.concat`` of two
            files, say): a join by label would pair every row with each row of
            its label, so assign by position instead.
        """
        model = self.model
        model.require_data("row_posteriors()")
        keep = model.prepared.rows.keep
        values = np.full((keep.size, self.k_classes), np.nan)
        values[keep] = self._tau[model.prepared.rows.individual]
        index = model.data.row_labels
        out = pd.DataFrame(values, index=index, columns=self.posteriors.columns)
        modal = np.zeros(keep.size, dtype=np.int64)
        modal[keep] = np.asarray(self.posteriors.columns)[np.argmax(values[keep], axis=1)]
        out["modal_class"] = pd.arrays.IntegerArray(modal, ~keep)  # missing where not used
        if not out.index.is_unique:
            warn(
                "the data's row labels repeat, so `row_posteriors()` cannot be joined onto the "
                "data by label (a join pairs each row with every row of its label); its rows "
                "are in the data's order: assign them by position (`data[cols] = "
                "rows.to_numpy()`), or give the data a unique index (`reset_index()`).",
                RowLabelsWarning,
            )
        return out

    def predict_membership(self, data=None, membership_exog=None) -> pd.DataFrame:
        """Class probabilities ``softmax(z' eta)`` for new (or sample) individuals.

        Parameters
        ----------
        data : DataFrame, optional
            Rows of new individuals with the membership variables (formula
            models). Default, and without ``membership_exog``: the sample's
            individuals.
        membership_exog : array_like, optional
            Membership values, one row per new individual (array models; the
            same columns as the model's ``membership``).

        Returns
        -------
        pandas.DataFrame
            One row per input row (or sample individual), one column per class.
        """
        model = self.model
        if data is None and membership_exog is None:
            by_label = model.label_order
            values, index = model.membership_exog[by_label], model.group_labels[by_label]
        else:
            _refuse_dask_rows(data, "data")
            if data is not None and membership_exog is not None:
                raise ValueError(
                    "pass either `data` (a formula model's new rows) or `membership_exog` "
                    "(the membership values themselves), not both."
                )
            rows = data if membership_exog is None else membership_exog
            n_rows = len(rows)
            # a pandas membership_exog labels its own rows
            values = self._side_rows("membership", membership_exog, rows, n_rows, "data")
            index = rows.index if isinstance(rows, (pd.Series, pd.DataFrame)) else None
        return pd.DataFrame(
            self._probabilities(values), index=index, columns=self.posteriors.columns
        )

    @cached_property
    def fittedvalues(self) -> np.ndarray:
        """Posterior-weighted fitted values, one per row of the model's data.

        ``sum_s tau_is yhat_its`` with ``yhat_its = x_it' beta_s + w_it' delta``
        and, under ``absorb=``, plus the cell effect each class implies (the
        cell mean of ``y - yhat_s``, weighted by ``row_weights`` when given). Rows
        of individuals dropped for having no degrees of freedom are NaN.
        """
        model = self.model
        model.require_data("fittedvalues")
        keep = model.prepared.rows.keep
        design, common = model.rows_used()
        endog = np.asarray(model.endog, dtype=np.float64)[keep]
        coef = np.vstack(
            [
                self._class_coefficients().T,
                np.tile(self._common_coefficients()[:, None], self.k_classes),
            ]
        )
        full = np.column_stack([design, common])
        tau = self._tau[model.prepared.rows.individual]
        if model.prepared.rows.cell is None:
            fitted = np.einsum("nk,nk->n", full @ coef, tau)
        else:
            # the cell effects the fit implies: with row weights, the cells' weighted means
            # (as the within transformation estimation used)
            within = within_transform(
                np.column_stack([endog, full]), model.prepared.rows.cell, model.row_weights_used()
            )
            resid = within[:, :1] - within[:, 1:] @ coef
            fitted = endog - np.einsum("nk,nk->n", resid, tau)
        out = np.full(keep.size, np.nan)
        out[keep] = fitted
        return out

    @cached_property
    def resid(self) -> np.ndarray:
        """Posterior-weighted residuals, ``endog - fittedvalues``."""
        self.model.require_data("resid")
        return np.asarray(self.model.endog, dtype=np.float64) - self.fittedvalues

    # ------------------------------------------------------------------ summary
    def summary(self, alpha: float = 0.05, title: str | None = None) -> Summary:
        """Summary tables: header, one coefficient table per class, shares, variances.

        Built by :func:`smlcr.report.summary` from the parameter layout.

        Parameters
        ----------
        alpha : float
            Significance level of the confidence intervals.
        title : str, optional
            Title of the summary.

        Returns
        -------
        statsmodels.iolib.summary.Summary
            With ``as_text()``, ``as_latex()`` and ``as_html()``.
        """
        return report.summary(self, alpha, title)


class LatentClassOLSResultsWrapper(LikelihoodResultsWrapper):
    """Wrapper giving pandas output for pandas input."""

    _attrs = {"score_at_estimate": "columns"}
    _wrap_attrs = wrap.union_dicts(LikelihoodResultsWrapper._wrap_attrs, _attrs)
    _methods = {}
    # cov_params labels its own output (statsmodels' wrapper labels every output as the full
    # matrix, which fails for combinations and columns)
    _wrap_methods = {
        name: how
        for name, how in wrap.union_dicts(LikelihoodResultsWrapper._wrap_methods, _methods).items()
        if name != "cov_params"
    }

    def cov_params(self, *args, **kwargs):
        """:meth:`LatentClassOLSResults.cov_params`, which labels its own output."""
        return object.__getattribute__(self, "_results").cov_params(*args, **kwargs)


wrap.populate_wrapper(LatentClassOLSResultsWrapper, LatentClassOLSResults)


def _refuse_dask_rows(rows, arg: str) -> None:
    """A ``ValueError`` for new rows given as a Dask DataFrame: predictions are computed
    in memory, on pandas rows."""
    if is_dask_frame(rows):
        raise ValueError(
            f"`{arg}` is a Dask DataFrame; new rows must be a pandas DataFrame: take the "
            "rows to predict in memory first (`ddf.head(n)`, or `ddf.compute()` for all)."
        )


def _require_formula_columns(model, formula: str, rows: pd.DataFrame, arg: str) -> None:
    """A ``ValueError`` naming the columns of the fitted data that the model's ``formula``
    (``"exog"``, ``"membership"`` or ``"common"``) reads and the new ``rows`` lack: the
    formula engine would look a missing name up among the names of the namespace the model
    was built in, and predict from some other variable of that name without a word."""
    needed = getattr(model, "_formula_columns", {}).get(formula, [])
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        what = "the formula" if formula == "exog" else f"the `{formula}` formula"
        raise ValueError(
            f"`{arg}` lacks the column(s) {missing} that {what} reads; new rows must hold "
            "every variable the model was fitted with."
        )


def _columns_by_name(exog: pd.DataFrame, names: list, arg: str = "exog") -> pd.DataFrame:
    """New rows' values of a model built without a formula, matched by column name (a
    DataFrame's columns are never read by position)."""
    missing = [name for name in names if name not in exog.columns]
    if missing:
        what = "regressor" if arg == "exog" else "variable"
        raise ValueError(
            f"`{arg}` is a DataFrame without the model's {what}(s) {missing}; its columns "
            f"are matched by name to the model's ({list(names)}). Name them so, or pass a "
            "numpy array with the columns in the model's order."
        )
    return exog[list(names)]


def _every_row(values: np.ndarray, in_sample: np.ndarray | None) -> np.ndarray:
    """In-sample predictions of the rows used, placed among all of the model's rows (NaN
    for rows estimation did not use), as ``fittedvalues``; new rows' as they are."""
    if in_sample is None or in_sample.all():
        return values
    out = np.full((in_sample.size,) + values.shape[1:], np.nan)
    out[in_sample] = values
    return out


def _new_values(values, name: str) -> np.ndarray:
    """New rows' values as a float64 matrix; complex or text values, more than two
    dimensions and infinite values are errors naming ``name`` (NaN predicts NaN)."""
    array = as_numeric(values, name)
    if array.ndim > 2:
        raise ValueError(f"`{name}` must have one row per new row, got shape {array.shape}.")
    check_finite({name: array}, nan_allowed=True)
    return array[:, None] if array.ndim == 1 else array


def _series_of_new_rows(exog: pd.Series, names: list) -> pd.DataFrame:
    """A Series of new rows' regressors: one row labelled by the regressors' names (as
    ``data.iloc[0]`` gives it), or, with one regressor, its values; never read by position."""
    if set(names) <= set(exog.index):
        return exog.to_frame().T
    if len(names) == 1:
        return exog.to_frame(names[0])
    raise ValueError(
        f"`exog` is a Series whose index does not hold the model's regressors {list(names)}; "
        "one new row is matched by name (a Series indexed by the regressors' names), several "
        "need a DataFrame (or a numpy array with the columns in the model's order)."
    )


def _new_row_groups(groups, exog, n_rows: int) -> np.ndarray:
    """The individual of each new row: a column of ``exog`` named by ``groups``, a pandas
    Series aligned with ``exog``'s index, or one label per row in its order."""
    if isinstance(groups, str):
        if not isinstance(exog, pd.DataFrame) or groups not in exog.columns:
            raise ValueError(f"`groups`={groups!r} is not a column of the new `exog`.")
        groups = exog[groups]
    elif isinstance(groups, pd.Series):
        groups = aligned(groups, exog.index if isinstance(exog, pd.DataFrame) else None, "groups")
    values = np.asarray(groups).reshape(-1) if np.ndim(groups) else np.asarray([groups])
    if values.size != n_rows:
        raise ValueError(
            f"`groups` has {values.size} labels for {n_rows} new rows; pass one label per "
            "row (or the name of a column of `exog`)."
        )
    return values
