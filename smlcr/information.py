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

import functools
from dataclasses import dataclass

import numpy as np

from smlcr.compress import CompressedData, upper_indices
from smlcr.em import (
    EStep,
    Workspace,
    e_step,
    membership_information,
    moment_block,
    moment_layout,
    unpack_gram,
)
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

    def restricted(self, keep: np.ndarray) -> Derivatives:
        """The derivatives in the parameters ``keep`` selects, the others held fixed.

        Parameters
        ----------
        keep : ndarray of bool, shape (P,)

        Returns
        -------
        Derivatives
        """
        return Derivatives(
            score=self.score[keep],
            hessian=self.hessian[np.ix_(keep, keep)],
            score_obs=self.score_obs[:, keep],
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


@functools.lru_cache(maxsize=64)
def _gram_map(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each entry of a packed upper triangle (:func:`smlcr.em.moment_layout`) enters
    ``G beta``: entry ``(j, l)`` adds ``G_jl beta_l`` to row ``j`` and, off the diagonal,
    ``G_jl beta_j`` to row ``l``. Returns the target rows, the packed entries and the
    coefficients' columns of these terms."""
    rows, cols = upper_indices(p)
    entry = np.arange(rows.size)
    off = rows != cols
    target = np.concatenate([rows, cols[off]])
    source = np.concatenate([entry, entry[off]])
    coef = np.concatenate([cols, rows[off]])
    for a in (target, source, coef):
        a.flags.writeable = False
    return target, source, coef


def _gram_times(beta: np.ndarray) -> np.ndarray:
    """The matrix ``M`` (K p, p (p + 1) / 2) with ``(M g)[s p + j] = (G beta_s)_j`` for the
    packed upper triangle ``g`` of a symmetric ``G``: one product gives ``G_i beta_s`` for
    every individual and class."""
    k, p = beta.shape
    target, source, coef = _gram_map(p)
    out = np.zeros((k, p, p * (p + 1) // 2))
    for s in range(k):
        np.add.at(out[s], (target, source), beta[s, coef])
    return out.reshape(k * p, -1)


def _accumulate_block(hessian, score_t, rows, stats, Z, params, estep, pi, moments):
    """Add one block of individuals' ``sum_s tau_is (D_is D_is' + grad^2 a_is)`` to ``hessian``.

    ``D_is = grad a_is`` is zero outside class ``s``'s coefficients and
    variance and the membership block, so the sum is assembled block by block
    (weighted cross products per class) without an (N, K, P) array. The
    block's columns of ``score_t`` (``sum_s tau_is D_is``, one row per
    parameter) are filled on the way. Everything is held one row per
    quantity, the individuals along the rows (as the E-step holds them), and
    read from the block's moments (:func:`smlcr.em.moment_block`): ``R_i'c_i -
    R_i'R_i beta_s`` is ``R_i'(c_i - R_i beta_s)`` with rounding errors of the same
    order (``eps ||R_i|| (||c_i|| + ||R_i|| ||beta_s||)``).
    """
    k, p = params.beta.shape
    q = Z.shape[1]
    blocks = Layout(k, p, q).slices
    eta = blocks["eta"]
    layout = moment_layout(p)
    packed, dof = moments[layout.gram], moments[layout.dof]
    tau, ssr_, pi = estep.tau[rows].T, estep.ssr[rows].T, pi[rows].T  # (K, m)
    m = dof.shape[0]
    w = None if stats.weight is None else stats.weight[rows]

    def weighted(a):
        return a if w is None else a * w

    w_tau = weighted(tau)
    if k > 1:
        # the membership part of D_is is (1[s = r] - pi_ir) z_i for r = 2..K, that is
        # E_is - P_i with P_i = pi_i[2..K] kron z_i and E_is = z_i in block s
        z = Z[rows].T  # (q, m)
        tz = (tau[1:, None, :] * z[None, :, :]).reshape(-1, m)  # tau_ir z_i, r = 2..K
        pz = (pi[1:, None, :] * z[None, :, :]).reshape(-1, m)
        np.subtract(tz, pz, out=score_t[eta, rows])  # sum_s tau_is (E_is - P_i)
        # sum_s tau_is (E_is - P_i)(E_is - P_i)', with sum_s tau_is = 1
        w_pz = weighted(pz)
        tzp = tz @ w_pz.T
        block = pz @ w_pz.T - tzp - tzp.T
        w_tz = weighted(tz)
        for r in range(1, k):
            own = slice((r - 1) * q, r * q)
            block[own, own] += w_tz[own] @ z.T
        hessian[eta, eta] += block
    # R_i'(c_i - R_i beta_s) for every class, one row per coefficient: (K, p, m)
    raws = moments[layout.moment] - (_gram_times(params.beta) @ packed).reshape(k, p, m)
    # sum_i w_i tau_is R_i'R_i for every class: one product with the packed triangles
    weighted_gram = unpack_gram(w_tau @ packed.T, p)
    u = np.empty((p + 1, m))
    for s in range(k):
        sigma2 = params.sigma2[s]
        beta, var = blocks["beta"][s], blocks["sigma2"].start + s
        cols = np.r_[beta, var]
        # d a_is / d beta_s = R_i'(c_i - R_i beta_s) / sigma2_s
        raw = raws[s]
        np.divide(raw, sigma2, out=u[:p])
        # d a_is / d sigma2_s = -d_i / (2 sigma2_s) + SSR_is / (2 sigma2_s^2)
        u[p] = -0.5 * dof / sigma2 + 0.5 * ssr_[s] / sigma2**2
        term = tau[s] * u  # tau_is u_is
        score_t[beta, rows] = term[:p]
        score_t[var, rows] = term[p]
        term = weighted(term)  # w_i tau_is u_is, in every sum below
        hessian[np.ix_(cols, cols)] += term @ u.T
        # sum_i tau_is grad^2 a_is within class s
        hessian[beta, beta] -= weighted_gram[s] / sigma2
        cross = -(raw @ w_tau[s]) / sigma2**2
        hessian[beta, var] += cross
        hessian[var, beta] += cross
        hessian[var, var] += w_tau[s] @ (0.5 * dof / sigma2**2 - ssr_[s] / sigma2**3)
        if k > 1:
            # sum_i tau_is u_is (E_is - P_i)'
            cross_m = -(term @ pz.T)
            if s > 0:
                cross_m[:, (s - 1) * q : s * q] += term @ z.T
            hessian[cols, eta] += cross_m
            hessian[eta, cols] += cross_m.T


def derivatives(
    stats: CompressedData,
    Z: np.ndarray,
    params: ClassParams,
    layout: Layout | None = None,
    estep: EStep | None = None,
    chunk: int | None = None,
    work: Workspace | None = None,
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
    work : Workspace, optional
        Its moments (the same numbers :func:`smlcr.em.moment_block` computes) are read
        instead of being formed from the statistics block by block.

    Returns
    -------
    Derivatives
        ``score_obs`` is the transpose of a (P, N) array.
    """
    estep = e_step(stats, Z, params) if estep is None else estep  # from the residuals
    pi = np.exp(estep.log_prior)
    n = stats.n_groups
    full = Layout(params.k_classes, stats.k_exog, Z.shape[1])
    score_t = np.empty((full.n_params, n))  # one row per parameter
    hessian = np.zeros((full.n_params, full.n_params))
    if chunk is None:
        k, p, q = params.k_classes, stats.k_exog, Z.shape[1]
        chunk = max(256, DERIVATIVE_BLOCK_FLOATS // (k * (p + 1 + (k - 1) * q) + p * p))
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        moments = moment_block(stats, rows) if work is None else work.moment_rows[:, rows]
        _accumulate_block(hessian, score_t, rows, stats, Z, params, estep, pi, moments)
    score_obs = score_t.T
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
        with np.errstate(over="ignore", invalid="ignore"):  # (information near 1e-300: an
            cov = ((v * inv_w) @ v.T) / np.outer(scale, scale)  # infinite variance, or NaN below)
        # no standard error for a parameter in a singular direction (never a spurious 0)
        unidentified = [j for j, name in enumerate(names) if name in involved]
        cov[unidentified, :] = np.nan
        cov[:, unidentified] = np.nan
        return cov
    # positive definite: solve rather than invert
    half = np.linalg.solve(np.linalg.cholesky(equilibrated), np.eye(information.shape[0]))
    with np.errstate(over="ignore"):  # information near 1e-300: an infinite variance
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
