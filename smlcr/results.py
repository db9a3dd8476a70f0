"""Results of a latent-class regression fit: estimates, inference, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from statsmodels.iolib.summary import Summary, summary_params
from statsmodels.iolib.table import SimpleTable

from smlcr.exceptions import SingularInformationWarning, warn

__all__ = ["LatentClassOLSResults", "LatentClassOLSResultsWrapper", "invert_information"]

_COV_DESCRIPTIONS = {
    "oim": "Covariance from the inverse of the analytic observed information.",
    "opg": "Covariance from the inverse outer product of per-individual scores (OPG).",
    "robust": "Sandwich covariance, robust and clustered by individual.",
}


def invert_information(information: np.ndarray, names: list[str]) -> np.ndarray:
    """Inverse of a symmetric information matrix, with a rank check.

    A Cholesky solve when the matrix is positive definite; otherwise a
    warning naming the parameters in its (near) null space, and the
    pseudo-inverse.

    Parameters
    ----------
    information : ndarray, shape (P, P)
    names : list of str
        Parameter names, for the warning.

    Returns
    -------
    ndarray, shape (P, P)
    """
    w, v = np.linalg.eigh(information)
    cutoff = information.shape[0] * np.finfo(float).eps * max(np.max(np.abs(w)), 1e-300) * 1e2
    weak = w <= cutoff
    if np.any(weak):
        involved = sorted(
            {names[j] for col in v[:, weak].T for j in np.flatnonzero(np.abs(col) > 0.1)}
        )
        warn(
            "the information matrix is singular or not positive definite; standard "
            f"errors are unreliable for {involved}. A class share near 0, a collapsed "
            "variance or too many classes are the usual causes: try fewer classes.",
            SingularInformationWarning
        )
        inv_w = np.where(weak, 0.0, 1.0 / np.where(weak, 1.0, w))
        return (v * inv_w) @ v.T
    # positive definite: solve rather than invert
    chol = np.linalg.cholesky(information)
    identity = np.eye(information.shape[0])
    half = np.linalg.solve(chol, identity)
    return half.T @ half


def _label_corner(table: SimpleTable, label: str) -> None:
    """Write ``label`` in the empty top-left cell of a table.

    ``Summary.as_latex`` drops table titles, so the label keeps each class's
    table identifiable in LaTeX and HTML.
    """
    corner = table[0][0]
    corner.data = label
    corner.datatype = "stub"


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
    llf : float
        Maximised log-likelihood.
    llf_history : ndarray
        Log-likelihood at every EM iteration of the final run (non-decreasing).
    converged : bool
    n_iter : int
        EM iterations of the final run.
    start_llfs : ndarray
        Final log-likelihood of every start.
    start_kinds : list of str
    n_reached_best : int
        Starts that reached the best log-likelihood (within ``reach_tol``).
    nobs : float
        Number of rows.
    n_groups : int
        Number of individuals.
    k_classes : int
    aic, bic : float
        ``-2 llf + 2 k`` and ``-2 llf + k log(n_groups)``: the sample size of
        BIC is the number of individuals, the independent units of the
        likelihood.
    posteriors : DataFrame
        Posterior class probabilities, one row per individual (indexed by
        its label) and one column per class.
    modal_class : Series
        Class with the largest posterior probability, per individual.
    class_shares : DataFrame
        Shares with delta-method standard errors and confidence intervals.
    variance_floor_hit : ndarray of bool
        Classes whose variance is held at the variance floor.
    dropped_exog : list of str
        Regressors dropped as constant within the absorbed cells.
    n_cells : int or None
        Number of absorbed cells.
    n_groups_no_dof : int
        Individuals dropped for having no degrees of freedom after absorbing.
    """

    def __init__(self, model, params, cov_type, em_outcome, llf_offset, var_floor):
        derivs = model._derivatives(params)
        jac = model._jacobian
        names = list(model.data.param_names)
        hessian_scaled = derivs.hessian
        information = -hessian_scaled
        if cov_type == "oim":
            cov_scaled = invert_information(information, names)
        else:
            opg = derivs.opg
            if cov_type == "opg":
                cov_scaled = invert_information(opg, names)
            else:
                bread = invert_information(information, names)
                cov_scaled = bread @ opg @ bread
        cov = cov_scaled * np.outer(jac, jac)
        super().__init__(model, params, normalized_cov_params=cov, scale=1.0)
        self.cov_type = cov_type
        self.use_t = False
        best = em_outcome.best
        self._llf = best.llf + llf_offset
        self.llf_history = np.asarray(best.llf_history) + llf_offset
        self.converged = bool(best.converged)
        self.n_iter = int(best.n_iter)
        self.start_llfs = em_outcome.start_llfs + llf_offset
        self.start_kinds = list(em_outcome.start_kinds)
        self.n_reached_best = int(em_outcome.n_reached_best)
        self.var_floor = var_floor
        self.variance_floor_hit = np.asarray(best.floor_hit, dtype=bool)
        self.score_at_estimate = derivs.score / jac
        self.nobs = model.nobs
        self.n_groups = model.n_groups
        self.dropped_exog = list(model.dropped_exog)
        self.n_cells = model.n_cells
        self.n_groups_no_dof = model.n_groups_no_dof
        self.k_classes = model.k_classes
        self.df_model = float(len(names))
        self.df_resid = float(self.n_groups - len(names))
        k = self.df_model
        self.aic = -2.0 * self._llf + 2.0 * k
        self.bic = -2.0 * self._llf + k * np.log(self.n_groups)
        classes = pd.Index(np.arange(1, self.k_classes + 1), name="class")
        self.posteriors = pd.DataFrame(best.estep.tau, index=model.group_labels, columns=classes)
        self.modal_class = pd.Series(
            classes.to_numpy()[np.argmax(best.estep.tau, axis=1)],
            index=model.group_labels,
            name="modal_class",
        )
        self.class_shares = self._class_shares(classes)

    @property
    def llf(self) -> float:
        """Maximised observed-data log-likelihood."""
        return self._llf

    def _slices(self):
        layout = self.model.layout
        k, p = layout.k, layout.p
        beta = [slice(s * p, (s + 1) * p) for s in range(k)]
        sigma2 = slice(k * p, k * p + layout.n_variances)
        eta = slice(k * p + layout.n_variances, layout.n_params)
        return beta, sigma2, eta

    def _class_shares(self, classes, alpha: float = 0.05) -> pd.DataFrame:
        """Average class probabilities with delta-method standard errors."""
        m = self.model
        Z = m.membership_exog
        k, q = m.k_classes, Z.shape[1]
        _, _, eta_slice = self._slices()
        params = np.asarray(self.params)
        eta = np.zeros((q, k))
        eta[:, 1:] = params[eta_slice].reshape(k - 1, q).T
        a = Z @ eta
        pi = np.exp(a - a.max(axis=1, keepdims=True))
        pi /= pi.sum(axis=1, keepdims=True)
        share = pi.mean(axis=0)
        # d share_s / d eta_r = mean_i pi_is (1[s = r] - pi_ir) z_i,  r = 2..K
        grad = np.zeros((k, q * (k - 1)))
        for r in range(1, k):
            indicator = (np.arange(k) == r).astype(float)
            weight = pi * (indicator[None, :] - pi[:, [r]])  # (N, K)
            grad[:, (r - 1) * q : r * q] = weight.T @ Z / Z.shape[0]
        cov = np.asarray(self.cov_params())[eta_slice, eta_slice]
        bse = np.sqrt(np.maximum(np.einsum("sa,ab,sb->s", grad, cov, grad), 0.0))
        z = scipy_stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame(
            {
                "share": share,
                "bse": bse,
                "lower": share - z * bse,
                "upper": share + z * bse,
            },
            index=classes,
        )

    # ------------------------------------------------------------------ summary
    def summary(self, alpha: float = 0.05, title: str | None = None) -> Summary:
        """Summary tables: header, one coefficient table per class, shares, variances.

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
        m = self.model
        k = self.k_classes
        params = np.asarray(self.params)
        bse = np.asarray(self.bse)
        tvalues = np.asarray(self.tvalues)
        pvalues = np.asarray(self.pvalues)
        ci = np.asarray(self.conf_int(alpha))
        xnames = list(m.class_exog_names)
        shares = self._class_shares(self.class_shares.index, alpha)

        gleft = [
            ("Dep. Variable:", None),
            ("Model:", None),
            ("Method:", [f"EM, {len(self.start_llfs)} starts"]),
            ("Date:", None),
            ("Time:", None),
            ("No. Observations:", [str(int(self.nobs))]),
            ("No. Individuals:", [str(self.n_groups)]),
            ("No. Classes:", [str(k)]),
        ]
        gright = [
            ("Log-Likelihood:", [f"{self.llf:#.6g}"]),
            ("AIC:", [f"{self.aic:#.6g}"]),
            ("BIC:", [f"{self.bic:#.6g}"]),
            ("Converged:", ["yes" if self.converged else "no"]),
            ("No. Iterations:", [str(self.n_iter)]),
            ("Starts at best:", [f"{self.n_reached_best} of {len(self.start_llfs)}"]),
            ("Covariance Type:", [self.cov_type]),
            ("", [""]),
        ]
        smry = Summary()
        smry.add_table_2cols(
            self,
            gleft=gleft,
            gright=gright,
            yname=m.endog_names,
            xname=xnames,
            title=title or "Latent Class OLS Regression Results",
        )
        beta_slices, sigma2_slice, eta_slice = self._slices()
        for s, sl in enumerate(beta_slices):
            table = summary_params(
                (self, params[sl], bse[sl], tvalues[sl], pvalues[sl], ci[sl]),
                yname=f"class {s + 1}",
                xname=xnames,
                alpha=alpha,
                use_t=False,
            )
            table.title = f"Class {s + 1} (share {shares['share'].iloc[s]:.3f})"
            _label_corner(table, f"Class {s + 1}")
            smry.tables.append(table)

        def estimate_table(names, est, err, lower, upper, title):
            level = f"{100 * (1 - alpha):g}%"
            rows = [
                [f"{e:.4g}", f"{s:.3g}", f"{lo:.4g}", f"{hi:.4g}"]
                for e, s, lo, hi in zip(est, err, lower, upper, strict=False)
            ]
            table = SimpleTable(
                rows,
                headers=["estimate", "std err", f"{level} lower", f"{level} upper"],
                stubs=names,
                title=title,
                txt_fmt={"data_aligns": "r", "header_align": "r"},
            )
            _label_corner(table, title.split(" (")[0])
            return table

        smry.tables.append(
            estimate_table(
                [f"class {s}" for s in range(1, k + 1)],
                shares["share"],
                shares["bse"],
                shares["lower"],
                shares["upper"],
                "Class shares (delta method)",
            )
        )
        names = m.data.param_names
        smry.tables.append(
            estimate_table(
                names[sigma2_slice],
                params[sigma2_slice],
                bse[sigma2_slice],
                ci[sigma2_slice, 0],
                ci[sigma2_slice, 1],
                "Residual variances",
            )
        )
        if k > 1:
            table = summary_params(
                (
                    self,
                    params[eta_slice],
                    bse[eta_slice],
                    tvalues[eta_slice],
                    pvalues[eta_slice],
                    ci[eta_slice],
                ),
                yname="membership",
                xname=names[eta_slice],
                alpha=alpha,
                use_t=False,
            )
            table.title = "Membership (multinomial logit, class 1 reference)"
            _label_corner(table, "Membership")
            smry.tables.append(table)

        notes = [
            "Classes are ordered by descending share.",
            _COV_DESCRIPTIONS[self.cov_type],
            "BIC uses the number of individuals as the sample size.",
        ]
        if m.n_cells is not None:
            notes.append(
                f"Fixed effects absorbed: {m.n_cells} cells; each individual has "
                "rows minus cells degrees of freedom."
            )
        if m.dropped_exog:
            notes.append(
                f"Constant within the absorbed cells, not identified, dropped: {m.dropped_exog}."
            )
        if m.n_groups_no_dof:
            notes.append(
                f"{m.n_groups_no_dof} individual(s) with no degrees of freedom left were dropped."
            )
        if len(self.start_llfs) > 1 and self.n_reached_best == 1:
            notes.append("Only one start reached the best log-likelihood: use more starts.")
        if np.any(self.variance_floor_hit):
            hit = [s + 1 for s in np.flatnonzero(self.variance_floor_hit)]
            notes.append(f"The variance of class(es) {hit} is held at the variance floor.")
        if not self.converged:
            notes.append("EM did not converge.")
        smry.add_extra_txt([f"[{j}] {note}" for j, note in enumerate(notes, start=1)])
        return smry


class LatentClassOLSResultsWrapper(LikelihoodResultsWrapper):
    """Wrapper giving pandas output for pandas input."""

    _attrs = {"score_at_estimate": "columns"}
    _wrap_attrs = wrap.union_dicts(LikelihoodResultsWrapper._wrap_attrs, _attrs)
    _methods = {}
    _wrap_methods = wrap.union_dicts(LikelihoodResultsWrapper._wrap_methods, _methods)


wrap.populate_wrapper(LatentClassOLSResultsWrapper, LatentClassOLSResults)
