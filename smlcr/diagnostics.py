"""Classification diagnostics and information criteria of a fitted mixture.

Functions of posterior probabilities, shares and the log-likelihood only;
numpy and pandas, no statsmodels.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ClassificationDiagnostics", "classification_diagnostics", "information_criteria"]


def _checked(tau, weight=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Posteriors (N, K) with rows that are probabilities, and weights (N,) that are finite
    and not negative, as float64; else a ``ValueError`` naming the argument."""
    tau = np.asarray(tau, dtype=np.float64)
    if tau.ndim != 2:
        raise ValueError(f"`tau` must be an (individuals, classes) array, got shape {tau.shape}.")
    if not np.all(np.isfinite(tau)) or np.any(tau < 0) or np.any(tau > 1):
        raise ValueError("`tau` must hold probabilities: finite values in [0, 1].")
    if tau.size and np.max(np.abs(tau.sum(axis=1) - 1.0)) > 1e-6:
        raise ValueError("`tau`'s rows must sum to 1 (posterior probabilities of the classes).")
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != (tau.shape[0],):
            raise ValueError(
                f"`weight` must have one value per individual ({tau.shape[0]}), got shape "
                f"{weight.shape}."
            )
        if not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError("`weight` must hold finite values that are not negative.")
    return tau, weight


def posterior_entropy(tau: np.ndarray, weight: np.ndarray | None = None) -> float:
    """``EN = -sum_i w_i sum_s tau_is log tau_is`` (0 log 0 = 0).

    Parameters
    ----------
    tau : ndarray, shape (N, K)
    weight : ndarray, shape (N,), optional
        The individuals' weights (default 1).

    Returns
    -------
    float
    """
    tau, weight = _checked(tau, weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(tau > 0, tau * np.log(np.where(tau > 0, tau, 1.0)), 0.0)
    per_individual = terms.sum(axis=1)
    if weight is not None:
        per_individual = per_individual * weight
    return float(-np.sum(per_individual))


@dataclass(frozen=True)
class ClassificationDiagnostics:
    """How well individuals are assigned to classes.

    Attributes
    ----------
    entropy_r2 : float
        ``1 - EN / (N log K)``: 1 for certain classification, 0 for posteriors
        equal to ``1 / K`` for everyone (1 when K = 1).
    avepp : pandas.Series
        Average posterior probability of class k among individuals whose modal
        class is k (NaN for a class that is nobody's modal class).
    occ : pandas.Series
        Odds of correct classification,
        ``(avepp_k / (1 - avepp_k)) / (share_k / (1 - share_k))`` (inf when
        ``avepp_k = 1``; NaN with one class).
    table : pandas.DataFrame
        Classification table: row j, column k holds ``sum tau_ik`` over the
        individuals whose modal class is j (posterior-weighted counts).
    modal_sizes : pandas.Series
        Number of individuals whose modal class is k.
    modal_shares : pandas.Series
        ``modal_sizes / N``, to compare with the estimated shares.
    """

    entropy_r2: float
    avepp: pd.Series
    occ: pd.Series
    table: pd.DataFrame
    modal_sizes: pd.Series
    modal_shares: pd.Series

    def summary_frame(self) -> pd.DataFrame:
        """AvePP, OCC, modal sizes and modal shares in one frame, one row per class.

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame(
            {
                "avepp": self.avepp,
                "occ": self.occ,
                "modal_size": self.modal_sizes,
                "modal_share": self.modal_shares,
            }
        )


def classification_diagnostics(
    tau: np.ndarray, shares: np.ndarray, weight: np.ndarray | None = None
) -> ClassificationDiagnostics:
    """Entropy R-squared, AvePP, OCC and the classification table.

    Parameters
    ----------
    tau : ndarray, shape (N, K)
        Posterior class probabilities (rows sum to 1).
    shares : ndarray, shape (K,)
        Estimated class shares.
    weight : ndarray, shape (N,), optional
        The individuals' weights: every individual counts ``w_i`` times in the
        table, the sizes and the averages (default 1).

    Returns
    -------
    ClassificationDiagnostics
    """
    tau, weight = _checked(tau, weight)
    shares = np.asarray(shares, dtype=np.float64)
    k = tau.shape[1]
    if shares.shape != (k,):
        raise ValueError(f"`shares` must have one value per class ({k}), got shape {shares.shape}.")
    w = np.ones(tau.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    n = float(w.sum())
    classes = pd.Index(np.arange(1, k + 1), name="class")
    modal = np.argmax(tau, axis=1)
    indicator = np.eye(k)[modal] * w[:, None]  # (N, K)
    table = indicator.T @ tau  # row j: modal class j, column k: sum of w_i tau_ik
    sizes = indicator.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        avepp = np.diag(table) / sizes
        occ = (avepp / (1.0 - avepp)) / (shares / (1.0 - shares))
    if k == 1:
        occ = np.full(1, np.nan)  # no other class to confuse it with: not defined
    entropy_r2 = 1.0 if k == 1 else 1.0 - posterior_entropy(tau, weight) / (n * np.log(k))
    modal_name = pd.Index(np.arange(1, k + 1), name="modal class")
    return ClassificationDiagnostics(
        entropy_r2=float(entropy_r2),
        avepp=pd.Series(avepp, index=classes, name="avepp"),
        occ=pd.Series(occ, index=classes, name="occ"),
        table=pd.DataFrame(table, index=modal_name, columns=classes),
        modal_sizes=pd.Series(
            sizes.astype(np.int64) if np.all(sizes == np.round(sizes)) else sizes,
            index=classes,
            name="modal_size",
        ),
        modal_shares=pd.Series(sizes / n, index=classes, name="modal_share"),
    )


def information_criteria(
    llf: float, k_params: int, n: float, tau: np.ndarray, weight: np.ndarray | None = None
) -> pd.Series:
    """AIC, BIC, sample-size-adjusted BIC, CAIC and ICL (smaller is better).

    Parameters
    ----------
    llf : float
        Maximised log-likelihood.
    k_params : int
        Number of estimated parameters.
    n : int
        Sample size of the criteria that use one: the number of individuals.
    tau : ndarray, shape (N, K)
        Posterior probabilities (for ICL's entropy term).
    weight : ndarray, shape (N,), optional
        The individuals' weights in the entropy term.

    Returns
    -------
    pandas.Series
        ``aic = -2 llf + 2 k``; ``bic = -2 llf + k log n``;
        ``sabic = -2 llf + k log((n + 2) / 24)``;
        ``caic = -2 llf + k (log n + 1)``; ``icl = bic + 2 EN`` with ``EN`` the
        posterior entropy (the ICL-BIC of McLachlan and Peel).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Real) or not n > 0 or not np.isfinite(n):
        raise ValueError(f"`n` must be a positive number of individuals, got {n!r}.")
    if isinstance(k_params, bool) or not isinstance(k_params, numbers.Integral) or k_params < 0:
        raise ValueError(f"`k_params` must be a count of parameters, got {k_params!r}.")
    deviance = -2.0 * llf
    bic = deviance + k_params * np.log(n)
    return pd.Series(
        {
            "aic": deviance + 2.0 * k_params,
            "bic": bic,
            "sabic": deviance + k_params * np.log((n + 2.0) / 24.0),
            "caic": deviance + k_params * (np.log(n) + 1.0),
            "icl": bic + 2.0 * posterior_entropy(tau, weight),
        },
        name="information_criteria",
    )
