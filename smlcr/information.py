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
from smlcr.em import EStep, e_step, membership_information
from smlcr.exceptions import SingularInformationWarning, warn
from smlcr.params import ClassParams, Layout
from smlcr.threads import single_threaded

__all__ = [
    "COVARIANCES",
    "Derivatives",
    "derivatives",
    "invert_information",
    "oim_covariance",
    "opg_covariance",
    "sandwich_covariance",
    "score_outer",
]


@dataclass
class Derivatives:
    """Score and Hessian of the observed-data log-likelihood.

    Attributes
    ----------
    score : ndarray, shape (P,)
    hessian : ndarray, shape (P, P)
    score_obs : ndarray, shape (N, P)
        Per-individual scores ``s_i`` (individuals are the independent
        units), not multiplied by the weights.
    weight : ndarray, shape (N,), or None
        The individuals' weights ``w_i`` in the log-likelihood: ``score`` is
        ``sum_i w_i s_i`` and ``hessian`` the weighted sum of the
        individuals' Hessians. None for all ones.
    """

    score: np.ndarray
    hessian: np.ndarray
    score_obs: np.ndarray
    weight: np.ndarray | None = None

    def transformed(self, a: np.ndarray) -> Derivatives:
        """The derivatives in the parameters ``A theta`` (``A`` invertible).

        Parameters
        ----------
        a : ndarray, shape (P, P)

        Returns
        -------
        Derivatives
        """
        inverse = np.linalg.inv(a)
        return Derivatives(
            score=inverse.T @ self.score,
            hessian=inverse.T @ self.hessian @ inverse,
            score_obs=self.score_obs @ inverse,
            weight=self.weight,
        )

    @property
    def weighted_scores(self) -> np.ndarray:
        """``w_i s_i``, the individuals' terms of ``score``, shape (N, P)."""
        if self.weight is None:
            return self.score_obs
        return self.score_obs * self.weight[:, None]

    @property
    def opg(self) -> np.ndarray:
        """Outer product of per-individual scores, ``sum_i w_i s_i s_i'``.

        With frequency weights, that of the data with every individual
        repeated ``w_i`` times.
        """
        return self.score_obs.T @ self.weighted_scores

    def clustered_outer(self, clusters: np.ndarray) -> np.ndarray:
        """``sum_g S_g S_g'`` with ``S_g = sum_{i in g} w_i s_i`` the scores summed by cluster.

        Parameters
        ----------
        clusters : ndarray of int, shape (N,)
            Cluster of each individual, coded ``0..G-1``.

        Returns
        -------
        ndarray, shape (P, P)
        """
        clusters = np.asarray(clusters, dtype=np.int64)
        summed = np.zeros((int(clusters.max()) + 1, self.score_obs.shape[1]))
        np.add.at(summed, clusters, self.weighted_scores)
        return summed.T @ summed


#: Floats of temporaries per block of individuals in the derivative sums (8 MB; measured
#: faster than 32 MB at a million individuals): a block holds about
#: ``K (p + 1 + (K - 1) q) + p^2`` floats per individual, so memory beyond the
#: per-individual scores (N x P) does not grow with N.
DERIVATIVE_BLOCK_FLOATS = 2**20


def _accumulate_block(hessian, score_obs, rows, stats, Z, params, estep, pi):
    """Add one block of individuals' ``sum_s tau_is (D_is D_is' + grad^2 a_is)`` to ``hessian``.

    ``D_is = grad a_is`` is zero outside class ``s``'s coefficients and
    variance and the membership block, so the sum is assembled block by block
    (weighted cross products per class) without an (N, K, P) array. The
    block's rows of ``score_obs`` (``sum_s tau_is D_is``) are filled on the way.
    """
    k, p = params.beta.shape
    q = Z.shape[1]
    blocks = Layout(k, p, q).slices
    eta = blocks["eta"]
    R, c, z = stats.R(rows), stats.c[rows], Z[rows]
    tau, ssr_, pi = estep.tau[rows], estep.ssr[rows], pi[rows]
    dof = stats.dof[rows]
    m = c.shape[0]
    w = None if stats.weight is None else stats.weight[rows][:, None]

    def weighted(a):
        return a if w is None else a * w

    if k > 1:
        # the membership part of D_is is (1[s = r] - pi_ir) z_i for r = 2..K, that is
        # E_is - P_i with P_i = pi_i[2..K] kron z_i and E_is = z_i in block s
        tz = (tau[:, 1:, None] * z[:, None, :]).reshape(m, -1)  # tau_ir z_i, r = 2..K
        pz = (pi[:, 1:, None] * z[:, None, :]).reshape(m, -1)
        score_obs[rows, eta] = tz - pz  # sum_s tau_is (E_is - P_i)
        # sum_s tau_is (E_is - P_i)(E_is - P_i)', with sum_s tau_is = 1
        w_pz = weighted(pz)
        tzp = tz.T @ w_pz
        block = pz.T @ w_pz - tzp - tzp.T
        w_tz = weighted(tz)
        for r in range(1, k):
            own = slice((r - 1) * q, r * q)
            block[own, own] += w_tz[:, own].T @ z
        hessian[eta, eta] += block
    # R_i'(c_i - R_i beta_s) for every class: one product for the fits, one for R_i'
    fitted = (R.reshape(m * p, p) @ params.beta.T).reshape(m, p, k)
    raws = np.matmul(c[:, None, :] - fitted.transpose(0, 2, 1), R)  # (m, K, p)
    # sum_i tau_is R_i'R_i for every class: the block's R_i'R_i once, one product
    gram = np.matmul(np.ascontiguousarray(R.transpose(0, 2, 1)), R).reshape(m, p * p)
    w_tau = weighted(tau)
    weighted_gram = (w_tau.T @ gram).reshape(k, p, p)
    u = np.empty((m, p + 1))
    for s in range(k):
        sigma2 = params.sigma2[s]
        beta, var = blocks["beta"][s], blocks["sigma2"].start + s
        cols = np.r_[beta, var]
        # d a_is / d beta_s = R_i'(c_i - R_i beta_s) / sigma2_s
        raw = raws[:, s]
        np.divide(raw, sigma2, out=u[:, :p])
        # d a_is / d sigma2_s = -d_i / (2 sigma2_s) + SSR_is / (2 sigma2_s^2)
        u[:, p] = -0.5 * dof / sigma2 + 0.5 * ssr_[:, s] / sigma2**2
        term = tau[:, s : s + 1] * u  # tau_is u_is
        score_obs[rows, beta] = term[:, :p]
        score_obs[rows, var] = term[:, p]
        term = weighted(term)  # w_i tau_is u_is, in every sum below
        hessian[np.ix_(cols, cols)] += term.T @ u
        # sum_i tau_is grad^2 a_is within class s
        hessian[beta, beta] -= weighted_gram[s] / sigma2
        cross = -(w_tau[:, s] @ raw) / sigma2**2
        hessian[beta, var] += cross
        hessian[var, beta] += cross
        hessian[var, var] += np.sum(w_tau[:, s] * (0.5 * dof / sigma2**2 - ssr_[:, s] / sigma2**3))
        if k > 1:
            # sum_i tau_is u_is (E_is - P_i)'
            cross_m = -(term.T @ pz)
            if s > 0:
                cross_m[:, (s - 1) * q : s * q] += term.T @ z
            hessian[cols, eta] += cross_m
            hessian[eta, cols] += cross_m.T


def derivatives(
    stats: CompressedData,
    Z: np.ndarray,
    params: ClassParams,
    layout: Layout | None = None,
    estep: EStep | None = None,
    chunk: int | None = None,
) -> Derivatives:
    """Analytic score and Hessian of the observed log-likelihood (scaled units).

    The sums run over blocks of ``chunk`` individuals, so memory beyond the
    per-individual scores is bounded by the block size; the result does not
    depend on it beyond rounding.

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
    estep : EStep, optional
        The E-step at ``params`` when already computed.
    chunk : int, optional
        Individuals per block (default: as many as :data:`DERIVATIVE_BLOCK_FLOATS` allows).

    Returns
    -------
    Derivatives
    """
    estep = e_step(stats, Z, params) if estep is None else estep
    pi = np.exp(estep.log_prior)
    n = stats.n_groups
    full = Layout(params.k_classes, stats.k_exog, Z.shape[1])
    score_obs = np.empty((n, full.n_params))
    hessian = np.zeros((full.n_params, full.n_params))
    if chunk is None:
        k, p, q = params.k_classes, stats.k_exog, Z.shape[1]
        chunk = max(256, DERIVATIVE_BLOCK_FLOATS // (k * (p + 1 + (k - 1) * q) + p * p))
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        _accumulate_block(hessian, score_obs, rows, stats, Z, params, estep, pi)
    if params.k_classes > 1:
        # -sum_i (diag(pi_i) - pi_i pi_i') kron z_i z_i': the same for every class
        eta = full.slices["eta"]
        hessian[eta, eta] -= membership_information(Z, pi[:, 1:], stats.weight)
    hessian -= score_obs.T @ stats.weighted(score_obs)
    hessian = 0.5 * (hessian + hessian.T)
    if layout is not None and (layout.m or layout.common_variance):
        a = layout.restriction()
        score_obs = score_obs @ a
        hessian = a.T @ hessian @ a
    return Derivatives(
        score=stats.weighted(score_obs).sum(axis=0),
        hessian=hessian,
        score_obs=score_obs,
        weight=stats.weight,
    )


@single_threaded
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


def score_outer(
    derivs: Derivatives, clusters: np.ndarray | None = None, frequency: bool = True
) -> np.ndarray:
    """The meat of the sandwich: the outer product of the independent units' scores.

    - ``clusters`` given: ``sum_g S_g S_g'``, ``S_g = sum_{i in g} w_i s_i``
      (:meth:`Derivatives.clustered_outer`);
    - otherwise, with frequency weights (or none), each individual stands for
      ``w_i`` independent ones: ``sum_i w_i s_i s_i'`` (:attr:`Derivatives.opg`);
    - with sampling weights each individual is one independent unit whose
      score is ``w_i s_i``: ``sum_i w_i^2 s_i s_i'``.

    Parameters
    ----------
    derivs : Derivatives
    clusters : ndarray of int, shape (N,), optional
        Cluster of each individual, coded ``0..G-1``.
    frequency : bool
        Whether the weights count replicated individuals (False: sampling
        weights).

    Returns
    -------
    ndarray, shape (P, P)
    """
    if clusters is not None:
        return derivs.clustered_outer(clusters)
    if frequency or derivs.weight is None:
        return derivs.opg
    scores = derivs.weighted_scores
    return scores.T @ scores


def sandwich_covariance(
    derivs: Derivatives, names: list[str], meat: np.ndarray | None = None
) -> np.ndarray:
    """Sandwich covariance, robust and clustered by individual.

    ``(-H)^-1 M (-H)^-1`` with ``M`` the outer product of the independent
    units' scores (:func:`score_outer`): valid under misspecification and
    with sampling weights. No small-sample factor is applied (Stata
    multiplies by ``G / (G - 1)`` with ``G`` clusters).

    Parameters
    ----------
    derivs : Derivatives
    names : list of str
    meat : ndarray, shape (P, P), optional
        Default :func:`score_outer` with the individuals as clusters.

    Returns
    -------
    ndarray, shape (P, P)
    """
    bread = invert_information(-derivs.hessian, names)
    return bread @ (derivs.opg if meat is None else meat) @ bread


#: The covariance estimators by ``cov_type``; the first line of each docstring is the
#: description the summary prints.
COVARIANCES = {
    "oim": oim_covariance,
    "opg": opg_covariance,
    "robust": sandwich_covariance,
}
