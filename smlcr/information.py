"""Analytic score and observed information of the mixture log-likelihood.

The observed-data log-likelihood is ``l = sum_i log sum_s exp(a_is)`` with
``a_is = log pi_is + log f_is``. With ``D_is = grad a_is`` and ``tau_is`` the
posterior, each individual contributes::

    score_i   = sum_s tau_is D_is
    hessian_i = sum_s tau_is (grad^2 a_is + D_is D_is') - score_i score_i'

Everything is closed-form in the compressed statistics. The parameter vector
is laid out as in :meth:`smlcr.em.ClassParams.flat` (scaled units). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlcr.compress import CompressedData
from smlcr.em import e_step, membership_information, ssr
from smlcr.exceptions import SingularInformationWarning, warn
from smlcr.params import ClassParams, Layout

__all__ = [
    "COVARIANCES",
    "Derivatives",
    "derivatives",
    "invert_information",
    "oim_covariance",
    "opg_covariance",
    "sandwich_covariance",
]


@dataclass
class Derivatives:
    """Score and Hessian of the observed-data log-likelihood.

    Attributes
    ----------
    score : ndarray, shape (P,)
    hessian : ndarray, shape (P, P)
    score_obs : ndarray, shape (N, P)
        Per-individual scores (individuals are the independent units).
    """

    score: np.ndarray
    hessian: np.ndarray
    score_obs: np.ndarray

    @property
    def opg(self) -> np.ndarray:
        """Outer product of per-individual scores, ``sum_i score_i score_i'``."""
        return self.score_obs.T @ self.score_obs


def _class_gradients(stats, Z, params, tau, ssr_, resid, pi):
    """``D_is`` for every individual and class, shape (N, K, P)."""
    n, p = stats.c.shape
    k = params.k_classes
    q = Z.shape[1]
    n_params = k * p + k + q * (k - 1)
    grad = np.zeros((n, k, n_params))
    sigma2 = params.sigma2
    # d a_is / d beta_s = R_i'(c_i - R_i beta_s) / sigma2_s
    g_beta = np.einsum("njp,njk->nkp", stats.R, resid) / sigma2[None, :, None]
    for s in range(k):
        grad[:, s, s * p : (s + 1) * p] = g_beta[:, s]
    # d a_is / d sigma2_s = -d_i / (2 sigma2_s) + SSR_is / (2 sigma2_s^2)
    g_sigma = -0.5 * stats.dof[:, None] / sigma2 + 0.5 * ssr_ / sigma2**2
    grad[:, np.arange(k), k * p + np.arange(k)] = g_sigma
    # d log pi_is / d eta_r = z_i (1[s = r] - pi_ir), r = 2..K
    base = k * p + k
    for r in range(1, k):
        cols = slice(base + (r - 1) * q, base + r * q)
        indicator = (np.arange(k) == r).astype(float)
        grad[:, :, cols] = (indicator[None, :] - pi[:, [r]])[:, :, None] * Z[:, None, :]
    return grad


def _expected_second_derivative(stats, Z, params, tau, ssr_, resid, pi):
    """``sum_i sum_s tau_is grad^2 a_is``, shape (P, P)."""
    n, p = stats.c.shape
    k = params.k_classes
    q = Z.shape[1]
    n_params = k * p + k + q * (k - 1)
    out = np.zeros((n_params, n_params))
    sigma2 = params.sigma2
    gram = stats.gram.reshape(n, p * p)
    weighted_gram = (tau.T @ gram).reshape(k, p, p)
    g_beta_raw = np.einsum("njp,njk->nkp", stats.R, resid)  # R_i'(c_i - R_i beta_s)
    for s in range(k):
        b = slice(s * p, (s + 1) * p)
        j = k * p + s
        out[b, b] = -weighted_gram[s] / sigma2[s]
        cross = -(tau[:, s] @ g_beta_raw[:, s]) / sigma2[s] ** 2
        out[b, j] = cross
        out[j, b] = cross
        out[j, j] = np.sum(
            tau[:, s] * (0.5 * stats.dof / sigma2[s] ** 2 - ssr_[:, s] / sigma2[s] ** 3)
        )
    # membership block: -sum_i (diag(pi_i) - pi_i pi_i') kron z_i z_i' (same for every s)
    if k > 1:
        base = k * p + k
        out[base:, base:] = -membership_information(Z, pi[:, 1:])
    return out


def derivatives(
    stats: CompressedData, Z: np.ndarray, params: ClassParams, layout: Layout | None = None
) -> Derivatives:
    """Analytic score and Hessian of the observed log-likelihood (scaled units).

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
        Membership design, one row per individual.
    params : ClassParams
    layout : Layout, optional
        Parameter vector the derivatives are taken in; default class-specific
        variances. A restricted layout (a common variance) is the linear map
        ``theta_full = A theta``, so its derivatives are ``A' score`` and
        ``A' H A``.

    Returns
    -------
    Derivatives
    """
    estep = e_step(stats, Z, params)
    tau = estep.tau
    ssr_, resid = ssr(stats, params.beta)
    pi = np.exp(estep.log_prior)
    grad = _class_gradients(stats, Z, params, tau, ssr_, resid, pi)
    score_obs = np.einsum("nk,nkp->np", tau, grad)
    n, k, n_params = grad.shape
    weighted = (np.sqrt(tau)[:, :, None] * grad).reshape(n * k, n_params)
    hessian = (
        weighted.T @ weighted
        - score_obs.T @ score_obs
        + _expected_second_derivative(stats, Z, params, tau, ssr_, resid, pi)
    )
    hessian = 0.5 * (hessian + hessian.T)
    if layout is not None:
        a = layout.restriction()
        score_obs = score_obs @ a
        hessian = a.T @ hessian @ a
    return Derivatives(score=score_obs.sum(axis=0), hessian=hessian, score_obs=score_obs)


def invert_information(information: np.ndarray, names: list[str]) -> np.ndarray:
    """Inverse of a symmetric information matrix, with a rank check.

    The matrix is first equilibrated (``D^-1/2 I D^-1/2`` with ``D`` its
    diagonal), so that parameters on very different scales do not pass for a
    singular direction. A positive definite matrix is inverted by Cholesky
    solves; otherwise a warning names the parameters in its (near) null
    space, whose variances and covariances are NaN (the rest is the
    pseudo-inverse).

    Parameters
    ----------
    information : ndarray, shape (P, P)
    names : list of str
        Parameter names, for the warning.

    Returns
    -------
    ndarray, shape (P, P)
    """
    diagonal = np.diag(information).copy()
    scale = np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    equilibrated = information / np.outer(scale, scale)
    w, v = np.linalg.eigh(equilibrated)
    cutoff = information.shape[0] * np.finfo(float).eps * max(np.max(np.abs(w)), 1e-300) * 1e2
    weak = w <= cutoff
    if np.any(weak) or np.any(diagonal <= 0):
        involved = sorted(
            {names[j] for col in v[:, weak].T for j in np.flatnonzero(np.abs(col) > 0.1)}
            | {names[j] for j in np.flatnonzero(diagonal <= 0)}
        )
        warn(
            "the information matrix is singular or not positive definite; standard "
            f"errors are unreliable for {involved}. A class share near 0, a collapsed "
            "variance or too many classes are the usual causes: try fewer classes.",
            SingularInformationWarning,
        )
        inv_w = np.where(weak, 0.0, 1.0 / np.where(weak, 1.0, w))
        cov = ((v * inv_w) @ v.T) / np.outer(scale, scale)
        # no standard error for a parameter in a singular direction (never a spurious 0)
        unidentified = [j for j, name in enumerate(names) if name in involved]
        cov[unidentified, :] = np.nan
        cov[:, unidentified] = np.nan
        return cov
    # positive definite: solve rather than invert
    half = np.linalg.solve(np.linalg.cholesky(equilibrated), np.eye(information.shape[0]))
    return (half.T @ half) / np.outer(scale, scale)


def oim_covariance(derivs: Derivatives, names: list[str]) -> np.ndarray:
    """Covariance from the inverse of the analytic observed information.

    ``(-H)^-1`` with ``H`` the Hessian of the observed-data log-likelihood
    (:func:`invert_information`: rank-checked, NaN in singular directions).

    Parameters
    ----------
    derivs : Derivatives
    names : list of str

    Returns
    -------
    ndarray, shape (P, P)
    """
    return invert_information(-derivs.hessian, names)


def opg_covariance(derivs: Derivatives, names: list[str]) -> np.ndarray:
    """Covariance from the inverse outer product of per-individual scores (OPG).

    ``(sum_i s_i s_i')^-1``, the BHHH estimator.

    Parameters
    ----------
    derivs : Derivatives
    names : list of str

    Returns
    -------
    ndarray, shape (P, P)
    """
    return invert_information(derivs.opg, names)


def sandwich_covariance(derivs: Derivatives, names: list[str]) -> np.ndarray:
    """Sandwich covariance, robust and clustered by individual.

    ``(-H)^-1 (sum_i s_i s_i') (-H)^-1``: valid under misspecification, with
    the individuals as the independent units.

    Parameters
    ----------
    derivs : Derivatives
    names : list of str

    Returns
    -------
    ndarray, shape (P, P)
    """
    bread = invert_information(-derivs.hessian, names)
    return bread @ derivs.opg @ bread


#: The covariance estimators by ``cov_type``; the first line of each docstring is the
#: description the summary prints.
COVARIANCES = {
    "oim": oim_covariance,
    "opg": opg_covariance,
    "robust": sandwich_covariance,
}
