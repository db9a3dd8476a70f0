"""Predictions, class means and average effects with delta-method standard errors.

Every quantity here is a smooth function ``g(theta)`` of the estimates; its
variance is ``G Sigma G'`` with ``G`` the analytic gradient of ``g`` and
``Sigma`` the covariance the fit chose (``cov_type``). Parameters in a
singular direction of the information (NaN variance) make NaN exactly the
quantities that depend on them. The positions of the parameter blocks come
from the model's :class:`smlcr.params.Layout`. The analogues of Stata's
``fmm`` postestimation: ``predict`` (``get_prediction``), ``estat lcmean``
(``class_means``) and ``margins`` (``average_effects``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from smlcr.design import normal_quantile

__all__ = ["PredictionResults", "average_effects", "class_means", "get_prediction"]


class PredictionResults:
    """Predicted means with standard errors, as statsmodels' ``get_prediction`` gives.

    Parameters
    ----------
    predicted_mean : ndarray, shape (n,)
    var_pred_mean : ndarray, shape (n,)
        Delta-method variances of the predictions.
    row_labels : Index, optional
        Labels of the predictions (the rows, or rows and classes).

    Attributes
    ----------
    predicted_mean, var_pred_mean, se_mean : ndarray
    row_labels : Index or None
    """

    def __init__(self, predicted_mean, var_pred_mean, row_labels=None) -> None:
        self.predicted_mean = np.asarray(predicted_mean, dtype=np.float64)
        self.var_pred_mean = np.asarray(var_pred_mean, dtype=np.float64)
        self.row_labels = row_labels

    @property
    def se_mean(self) -> np.ndarray:
        """Standard errors of the predicted means."""
        return np.sqrt(self.var_pred_mean)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Normal confidence intervals of the predicted means.

        Parameters
        ----------
        alpha : float
            One minus the coverage.

        Returns
        -------
        ndarray, shape (n, 2)
            Lower and upper limits.
        """
        q = normal_quantile(alpha)
        return np.column_stack(
            [self.predicted_mean - q * self.se_mean, self.predicted_mean + q * self.se_mean]
        )

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """``mean``, ``mean_se``, ``mean_ci_lower`` and ``mean_ci_upper`` per prediction.

        Parameters
        ----------
        alpha : float

        Returns
        -------
        pandas.DataFrame
        """
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "mean": self.predicted_mean,
                "mean_se": self.se_mean,
                "mean_ci_lower": ci[:, 0],
                "mean_ci_upper": ci[:, 1],
            },
            index=self.row_labels,
        )


def delta_variance(gradient: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``diag(G Sigma G')``, NaN where a row of ``G`` touches a parameter without variance.

    Parameters
    ----------
    gradient : ndarray, shape (n, P)
    cov : ndarray, shape (P, P)

    Returns
    -------
    ndarray, shape (n,)
    """
    unknown = np.isnan(np.diag(cov))
    known = np.where(np.isnan(cov), 0.0, cov)
    out = np.einsum("np,np->n", gradient @ known, gradient)
    out[np.any(gradient[:, unknown] != 0, axis=1)] = np.nan
    return out


def _blocks(res):
    layout = res.model.layout
    return layout.slices, layout.membership_slices


def _class_predictions(res, design, common):
    """``x' beta_s + w' delta`` for every row and class, shape (n, K)."""
    return design @ res._class_coefficients().T + (common @ res._common_coefficients())[:, None]


def _class_gradient(res, design, common, s: int) -> np.ndarray:
    """Gradient of ``x' beta_s + w' delta`` with respect to the parameters, per row."""
    blocks, _ = _blocks(res)
    gradient = np.zeros((design.shape[0], len(res.params)))
    gradient[:, blocks["beta"][s]] = design
    gradient[:, blocks["common"]] = common
    return gradient


def get_prediction(res, design, common, membership, which: str, row_labels=None):
    """Predicted means of given rows with delta-method standard errors.

    Parameters
    ----------
    res : LatentClassOLSResults
    design, common : ndarray
        Class-specific and common regressors of the rows (data units).
    membership : ndarray or None
        Membership values of the rows (``which="marginal"``).
    which : {"marginal", "class"}
        ``"marginal"``: ``sum_s pi_s(z) yhat_s``; ``"class"``: ``yhat_s`` for
        every row and class (rows repeated, class-major within each row).
    row_labels : array_like, optional

    Returns
    -------
    PredictionResults
    """
    cov = np.asarray(res.cov_params())
    k = res.k_classes
    per_class = _class_predictions(res, design, common)
    if which == "class":
        gradients = [_class_gradient(res, design, common, s) for s in range(k)]
        # (row, class) pairs in row-major order: row 1 class 1..K, row 2 class 1..K, ...
        gradient = np.stack(gradients, axis=1).reshape(-1, cov.shape[0])
        labels = None
        if row_labels is not None:
            labels = pd.MultiIndex.from_product(
                [pd.Index(row_labels), res.posteriors.columns], names=["row", "class"]
            )
        return PredictionResults(per_class.ravel(), delta_variance(gradient, cov), labels)
    pi = res._probabilities(membership)
    predicted = np.einsum("nk,nk->n", per_class, pi)
    gradient = np.zeros((design.shape[0], cov.shape[0]))
    blocks, membership_blocks = _blocks(res)
    for s in range(k):
        gradient[:, blocks["beta"][s]] = pi[:, [s]] * design
    gradient[:, blocks["common"]] = common  # the probabilities sum to one
    # d pi_s / d eta_r = pi_s (1[s = r] - pi_r) z, so d yhat / d eta_r = pi_r (yhat_r - yhat) z
    for r, block in enumerate(membership_blocks, start=1):
        gradient[:, block] = (pi[:, r] * (per_class[:, r] - predicted))[:, None] * membership
    labels = None if row_labels is None else pd.Index(row_labels)
    return PredictionResults(predicted, delta_variance(gradient, cov), labels)


def _table(estimate, variance, index, alpha: float, name: str) -> pd.DataFrame:
    """Estimate, standard error, z, p-value and interval as a DataFrame."""
    bse = np.sqrt(variance)
    q = normal_quantile(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / bse
    return pd.DataFrame(
        {
            name: estimate,
            "bse": bse,
            "z": z,
            "pvalue": 2 * stats.norm.sf(np.abs(z)),
            "lower": estimate - q * bse,
            "upper": estimate + q * bse,
        },
        index=index,
    )


def class_means(res, alpha: float = 0.05) -> pd.DataFrame:
    """Each class's mean of the predicted response at the sample's regressors.

    ``mean_s = x_bar' beta_s + w_bar' delta`` with ``x_bar`` and ``w_bar``
    the means of the class-specific and common regressors (data units) over
    the rows estimation used (each counted as often as its individual's
    frequency or sampling weight): what the class's regression predicts for
    the average row. With ``absorb=`` the absorbed effects are not estimated, so
    the means are of ``x' beta_s + w' delta`` without them.

    Parameters
    ----------
    res : LatentClassOLSResults
    alpha : float

    Returns
    -------
    pandas.DataFrame
        One row per class: ``mean``, ``bse``, ``z``, ``pvalue``, ``lower``,
        ``upper``.
    """
    model = res.model
    model.require_data("class_means()")
    design, common = model.rows_used()
    # every row counted as often as its individual's frequency or sampling weight
    weight = model.stats.mean_weights[model.prepared.rows.individual]
    weight = weight / weight.sum()
    x_bar, w_bar = (weight @ design)[None, :], (weight @ common)[None, :]
    cov = np.asarray(res.cov_params())
    gradient = np.vstack([_class_gradient(res, x_bar, w_bar, s) for s in range(res.k_classes)])
    estimate = _class_predictions(res, x_bar, w_bar)[0]
    return _table(estimate, delta_variance(gradient, cov), res.posteriors.columns, alpha, "mean")


def average_effects(res, alpha: float = 0.05) -> pd.DataFrame:
    """Each class-specific regressor's share-weighted average coefficient, and per class.

    The average effect of regressor ``j`` is ``sum_s share_s beta_sj`` with
    ``share_s`` the class share (the average class probability over the
    individuals, as ``class_shares``); its standard error accounts for the
    uncertainty of the shares (the membership coefficients) as well as of the
    coefficients.

    Parameters
    ----------
    res : LatentClassOLSResults
    alpha : float

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(term, class)`` with ``class`` ``"average"`` then
        ``1..K``: ``effect``, ``bse``, ``z``, ``pvalue``, ``lower``, ``upper``.
    """
    model = res.model
    blocks, membership_blocks = _blocks(res)
    cov = np.asarray(res.cov_params())
    z = model.membership_exog
    pi = res._probabilities(z)
    share = res.class_shares["share"].to_numpy()  # the average of pi over the individuals
    beta = res._class_coefficients()  # (K, p)
    k, p = beta.shape
    average = share @ beta
    gradient = np.zeros((p, cov.shape[0]))
    for s in range(k):
        gradient[:, blocks["beta"][s]] = share[s] * np.eye(p)
    # d share_s / d eta_r = mean_i pi_is (1[s = r] - pi_ir) z_i, so
    # d average_j / d eta_r = mean_i pi_ir (beta_rj - sum_s pi_is beta_sj) z_i
    mixed = pi @ beta  # (N, p)
    w = model.stats.mean_weights[:, None]  # the average over individuals, as the shares'
    for r, block in enumerate(membership_blocks, start=1):
        gradient[:, block] = (w * pi[:, [r]] * (beta[r] - mixed)).T @ z
    rows = [(term, "average") for term in model.class_exog_names]
    estimates, variances = [average], [delta_variance(gradient, cov)]
    for s in range(k):
        positions = np.arange(blocks["beta"][s].start, blocks["beta"][s].stop)
        rows += [(term, s + 1) for term in model.class_exog_names]
        estimates.append(beta[s])
        variances.append(np.diag(cov)[positions])
    index = pd.MultiIndex.from_tuples(rows, names=["term", "class"])
    table = _table(np.concatenate(estimates), np.concatenate(variances), index, alpha, "effect")
    order = [(term, c) for term in model.class_exog_names for c in ["average", *range(1, k + 1)]]
    return table.loc[order]
