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
from smlcr.em import ClassParams, Layout, e_step, membership_information, ssr

__all__ = ["Derivatives", "derivatives"]


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
