"""EM for a latent-class linear regression on compressed statistics.

Pure numpy functions. Parameters are kept in the scaled units of
:class:`smlcr.compress.CompressedData`:

``beta`` (K, p)
    class-specific coefficients;
``sigma2`` (K,)
    class variances;
``eta`` (q, K)
    multinomial-logit membership coefficients, column 0 (the reference class)
    fixed at zero. With ``Z`` a column of ones they are the log-odds of the
    class shares.

One representation of the data feeds both steps: the E-step evaluates
``SSR_is = rss_i + ||c_i - R_i beta_s||^2`` and the M-step maximises the
expected complete-data log-likelihood written with the same quantities, so
the observed log-likelihood can never fall (a fall raises
:class:`EMDecreaseError`).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from smlcr.compress import CompressedData, unpack_upper, upper_indices, upper_row_spans
from smlcr.params import ClassParams, Layout
from smlcr.threads import single_threaded

__all__ = [
    "ClassParams",
    "column_sums",
    "Constraints",
    "Layout",
    "EMDecreaseError",
    "EMRun",
    "EStep",
    "MomentLayout",
    "MomentSums",
    "Workspace",
    "degeneracy",
    "boundary_advice",
    "flat_membership",
    "separated_class",
    "shrinking_class",
    "unidentified",
    "e_step",
    "em_step",
    "m_step",
    "rounding_bound",
    "run_em",
    "membership_step",
    "membership_information",
    "moment_block",
    "moment_layout",
]

LOG_2PI = np.log(2.0 * np.pi)


class EMDecreaseError(RuntimeError):
    """The observed log-likelihood fell during EM, which EM cannot do.

    Raised instead of silently accepting the step: it means the E-step and
    the M-step did not work on the same likelihood (a bug).
    """


@dataclass(frozen=True)
class Constraints:
    """Restrictions the M-step respects.

    Attributes
    ----------
    var_floor : float
        Lower bound on every variance (scaled units).
    common_variance : bool
        One variance shared by all classes.
    n_common : int
        The last ``n_common`` columns of the compressed design carry
        coefficients shared by all classes (``beta[:, -n_common:]`` equal
        across rows).
    """

    var_floor: float = 0.0
    common_variance: bool = False
    n_common: int = 0


@dataclass
class Workspace:
    """Arrays derived once from the statistics and reused every iteration.

    ``c_norm`` and ``R_norm`` (Euclidean norm of ``c_i``, Frobenius norm of
    ``R_i``) size the rounding error of each residual sum of squares, see
    :func:`rounding_bound`.
    """

    moment_rows: np.ndarray  # (rows, N): one row per moment, as moment_layout(p) says
    Z: np.ndarray  # (N, q)
    c_norm: np.ndarray  # (N,)
    R_norm: np.ndarray  # (N,)
    z_constant: bool = False  # every individual has the same membership row
    z_patterns: tuple | None = None  # distinct membership rows, when far fewer than N
    expansion_sums: tuple = (0.0, 0.0, 0.0)  # sums of c_square, ||R_i'c_i||, ||R_i||_F^2
    total_dof: float = 0.0  # sum d_i
    expand: bool = True  # whether the E- and M-steps may use :func:`expanded_ssr`
    buffers: list = field(default_factory=list)  # the fused E-step's reusable outputs

    @classmethod
    def build(cls, stats: CompressedData, Z: np.ndarray) -> Workspace:
        """Precompute the arrays for ``stats`` and membership design ``Z``.

        Parameters
        ----------
        stats : CompressedData
        Z : ndarray, shape (N, q)

        Returns
        -------
        Workspace
        """
        n, p = stats.c.shape
        # one row per moment, the individuals along it: a block of individuals is a
        # contiguous piece of every row, and the products with the classes' coefficients
        # (expanded sums of squares) and with the posteriors (M-step sums) take the
        # shapes BLAS does fastest, (K, columns) x (columns, n) and (columns, n) x (n, K)
        layout = moment_layout(p)
        rows_out = np.empty((layout.count + 1, n))
        # a block of individuals at a time (no (N, p, p) temporary)
        block = max(1, 2**22 // (p * p))
        for start in range(0, n, block):
            part = slice(start, min(start + block, n))
            rows_out[:, part] = moment_block(stats, part)
        weighted = stats.weighted
        c_square = np.einsum("np,np->n", stats.c, stats.c)
        R_norm = np.sqrt(np.einsum("nt,nt->n", stats.R_upper, stats.R_upper))
        return cls(
            moment_rows=rows_out,
            Z=np.asarray(Z, dtype=np.float64),
            c_norm=np.sqrt(c_square),
            R_norm=R_norm,
            z_constant=bool(np.all(Z == Z[:1])),
            z_patterns=_patterns(np.asarray(Z, dtype=np.float64), stats.weight),
            expansion_sums=(
                float(np.sum(weighted(rows_out[layout.square]))),
                float(np.sum(weighted(np.linalg.norm(rows_out[layout.moment], axis=0)))),
                float(np.sum(weighted(R_norm**2))),
            ),
            total_dof=float(np.sum(weighted(stats.dof))),
        )


@functools.lru_cache(maxsize=64)
def _upper(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``numpy.triu_indices(p)`` and the factors (1 on the diagonal, 2 above) that turn a
    packed upper triangle's products into a quadratic form; cached (read-only arrays)."""
    rows, cols = upper_indices(p)
    factor = np.where(rows == cols, 1.0, 2.0)
    factor.flags.writeable = False
    return rows, cols, factor


class MomentLayout(NamedTuple):
    """Rows of ``Workspace.moment_rows``, one owner of their layout.

    Attributes
    ----------
    gram : slice
        The upper triangle of ``R_i'R_i``, row by row (:func:`numpy.triu_indices`).
    moment : slice
        ``R_i'c_i``.
    square : int
        ``rss_i + ||c_i||^2``.
    dof : int
        ``d_i``.
    count : int
        1 (so that the product with the posteriors also sums them).
    """

    gram: slice
    moment: slice
    square: int
    dof: int
    count: int

    @property
    def expanded(self) -> slice:
        """The rows the expansion's coefficients multiply (:func:`_expansion_coef`)."""
        return slice(0, self.square + 1)


@functools.lru_cache(maxsize=64)
def moment_layout(p: int) -> MomentLayout:
    """The layout of ``Workspace.moment_rows`` for ``p`` regressors.

    Parameters
    ----------
    p : int

    Returns
    -------
    MomentLayout
    """
    t = p * (p + 1) // 2
    return MomentLayout(slice(0, t), slice(t, t + p), t + p, t + p + 1, t + p + 2)


def _moment_sums(product: np.ndarray, p: int) -> MomentSums:
    """The M-step's sums from the product of ``Workspace.moment_rows`` (or a block of
    its columns) with the weighted posteriors, shape (rows, K)."""
    rows = moment_layout(p)
    return MomentSums(
        moments=product[rows.expanded].T, dof=product[rows.dof], weight=product[rows.count]
    )


def moment_block(stats: CompressedData, part: slice) -> np.ndarray:
    """The moments of the individuals ``part``, one row per moment (:func:`moment_layout`):
    the columns ``part`` of ``Workspace.moment_rows``, which is built from these.

    Parameters
    ----------
    stats : CompressedData
    part : slice
        A block of individuals.

    Returns
    -------
    ndarray, shape (rows, n)
    """
    gram, moment, square, dof, count = moment_layout(stats.k_exog)
    R, c = stats.R(part), stats.c[part]
    out = np.empty((count + 1, c.shape[0]))
    rows, cols, _ = _upper(stats.k_exog)
    out[gram] = np.matmul(R.transpose(0, 2, 1), R)[:, rows, cols].T
    out[moment] = np.matmul(c[:, None, :], R)[:, 0, :].T
    out[square] = np.einsum("np,np->n", c, c)
    out[square] += stats.rss[part]
    out[dof] = stats.dof[part]
    out[count] = 1.0
    return out


def unpack_gram(packed: np.ndarray, p: int) -> np.ndarray:
    """Symmetric matrices from their packed upper triangles (the moments' layout).

    :func:`smlcr.compress.unpack_upper`, mirrored below the diagonal.

    Parameters
    ----------
    packed : ndarray, shape (..., p (p + 1) / 2)
    p : int

    Returns
    -------
    ndarray, shape (..., p, p)
    """
    out = unpack_upper(packed, p)
    rows, cols, _ = _upper(p)
    out[..., cols, rows] = packed
    return out


def _packed_outer(b: np.ndarray) -> np.ndarray:
    """``beta' G beta`` as a product with the packed upper triangle of ``G``: the
    coefficients ``beta_j^2`` and ``2 beta_j beta_l`` (j < l), one column per class."""
    rows, cols, factor = _upper(b.shape[1])
    return (b[:, rows] * b[:, cols] * factor).T


def _expansion_coef(beta: np.ndarray) -> np.ndarray:
    """``[beta beta' ; -2 beta ; 1]`` (packed), one column per class: its product with
    the moments (``Workspace.moment_rows``) is ``rss_i + ||c_i||^2 - 2 beta' R_i'c_i +
    beta' R_i'R_i beta``, the sums of squares by expansion."""
    return np.concatenate([_packed_outer(beta), -2.0 * beta.T, np.ones((1, beta.shape[0]))])


def _expansion_limit(work: Workspace) -> float:
    """The largest :func:`expansion_error` (log-likelihood units) of a class whose sums of
    squares may come from the expansion: :data:`EXPANSION_TOLERANCE` per degree of freedom."""
    return EXPANSION_TOLERANCE * max(work.total_dof, 1.0)


def _patterns(Z: np.ndarray, weight: np.ndarray | None = None) -> tuple | None:
    """``(distinct rows, each row's index among them, counts)`` when at most N/4 distinct;
    the counts are the individuals' summed weights when they are weighted."""
    if Z.shape[1] == 1 and np.all(Z == Z[:1]):
        return None
    unique, inverse = np.unique(Z, axis=0, return_inverse=True)
    if unique.shape[0] > Z.shape[0] // 4:
        return None
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, weights=weight, minlength=unique.shape[0])
    return unique, inverse, counts.astype(np.float64)


#: Floats of the residuals' temporary per block of :func:`ssr` (8 MB).
SSR_BLOCK_FLOATS = 2**20


def ssr(stats: CompressedData, beta: np.ndarray) -> np.ndarray:
    """Sum of squared residuals of every individual under every class, from the residuals.

    Row j of the residuals, ``c_ij - R_i[j, j:] beta_s[j:]``, comes from the packed
    triangles' row j (one product per row, half the work of a full ``R_i``), squared
    and added up, a block of individuals at a time: temporaries are bounded by
    :data:`SSR_BLOCK_FLOATS`, not by N, and no full ``R_i`` is formed.

    Parameters
    ----------
    stats : CompressedData
    beta : ndarray, shape (K, p)

    Returns
    -------
    ndarray, shape (N, K)
        ``rss_i + ||c_i - R_i beta_s||^2``.
    """
    n, p = stats.c.shape
    k = beta.shape[0]
    out = np.empty((n, k))
    block = max(1, SSR_BLOCK_FLOATS // (k * p))
    for begin in range(0, n, block):
        end = min(begin + block, n)
        total = out[begin:end]
        total[:] = stats.rss[begin:end, None]
        for j, (start, stop) in enumerate(upper_row_spans(p)):
            resid = stats.R_upper[begin:end, start:stop] @ beta[:, j:].T
            np.subtract(stats.c[begin:end, j : j + 1], resid, out=resid)
            np.square(resid, out=resid)
            total += resid
    return out


#: Bound on the change of the log-likelihood, per degree of freedom of the data, that
#: computing a class's residual sums of squares by expansion may cause; classes above it
#: (a small variance: a class that fits closely) are computed from their residuals.
EXPANSION_TOLERANCE = 1e-11


def expansion_error(stats: CompressedData, work: Workspace, beta: np.ndarray, sigma2):
    """Bound on the log-likelihood error of :func:`expanded_ssr`, per class.

    ``rss_i + ||c_i||^2 - 2 beta' R_i'c_i + beta' R_i'R_i beta`` cancels where
    the fit is close: its rounding error is about ``(p + 2)^2 eps`` times the
    sum of the magnitudes of its terms, bounded over all individuals by
    ``sum ||c_i||^2 + 2 ||beta|| sum ||R_i'c_i|| + ||beta||^2 sum ||R_i||_F^2``;
    it enters the log-likelihood divided by ``2 sigma2``.

    Parameters
    ----------
    stats : CompressedData
    work : Workspace
    beta : ndarray, shape (K, p)
    sigma2 : ndarray, shape (K,)

    Returns
    -------
    ndarray, shape (K,)
    """
    c_sum, m_sum, r_sum = work.expansion_sums
    size = np.sqrt(np.einsum("kp,kp->k", beta, beta))
    magnitude = c_sum + 2.0 * size * m_sum + size**2 * r_sum
    eps = np.finfo(np.float64).eps
    with np.errstate(divide="ignore", invalid="ignore"):
        error = (stats.k_exog + 2) ** 2 * eps * magnitude / (2.0 * np.asarray(sigma2))
    return np.where(np.isfinite(error), error, np.inf)


def expanded_ssr(
    stats: CompressedData, beta: np.ndarray, sigma2: np.ndarray, work: Workspace
) -> tuple[np.ndarray, float]:
    """:func:`ssr` by two matrix products where that is accurate enough, else exactly.

    ``SSR_is = rss_i + ||c_i||^2 - 2 beta_s' R_i'c_i + beta_s' R_i'R_i beta_s``
    for the classes whose :func:`expansion_error` is below
    ``EXPANSION_TOLERANCE * sum d_i`` (reading each individual's statistics
    once for all classes), and from the residuals ``c_i - R_i beta_s`` for
    the others.

    Parameters
    ----------
    stats : CompressedData
    beta : ndarray, shape (K, p)
    sigma2 : ndarray, shape (K,)
        The variances the log-likelihood will divide these sums by.
    work : Workspace

    Returns
    -------
    ssr : ndarray, shape (N, K)
        The transpose of a (K, N) array (the layout the fused E-step writes).
    error : ndarray, shape (K,)
        Bound on the resulting error of the log-likelihood, per class (0 for
        a class computed from its residuals).
    """
    error = expansion_error(stats, work, beta, sigma2)
    fast = work.expand & (error <= _expansion_limit(work))
    if not fast.any():
        return ssr(stats, beta), np.zeros(beta.shape[0])
    # one product of [beta beta' ; -2 beta ; 1] with the moments [R_i'R_i | R_i'c_i |
    # rss_i + ||c_i||^2] (moment_layout), class by row as the fused E-step forms it
    expanded = work.moment_rows[moment_layout(stats.k_exog).expanded]
    part = np.matmul(_expansion_coef(beta[fast]).T, expanded)
    # never below the individual's own residual sum (rounding can push it there)
    np.maximum(part, stats.rss, out=part)
    if fast.all():
        return part.T, error
    out = np.empty((beta.shape[0], stats.n_groups))
    out[fast] = part
    out[~fast] = ssr(stats, beta[~fast]).T
    return out.T, np.where(fast, error, 0.0)


def column_sums(a: np.ndarray) -> np.ndarray:
    """Sums of the columns of an (N, K) array, as one matrix-vector product.

    Several times faster than ``a.sum(axis=0)`` for a few long columns; the
    order of summation is fixed by the rows' order (the individuals' canonical
    order), not by their labels.

    Parameters
    ----------
    a : ndarray, shape (N, K)

    Returns
    -------
    ndarray, shape (K,)
    """
    return np.ones(a.shape[0]) @ a


def log_density(stats: CompressedData, sigma2: np.ndarray, ssr_: np.ndarray):
    """``log f_is``: Gaussian log-density of individual i's rows under class s.

    Parameters
    ----------
    stats : CompressedData
    sigma2 : ndarray, shape (K,)
    ssr_ : ndarray, shape (N, K)

    Returns
    -------
    ndarray, shape (N, K)
    """
    return _log_joint_rows(ssr_.T, stats.dof, _density_terms(sigma2)).T


def _density_terms(sigma2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``-1 / (2 sigma2_s)`` and ``-log(2 pi sigma2_s) / 2`` as (K, 1) columns: the
    factors of ``SSR_is`` and ``d_i`` in ``log f_is`` (:func:`_log_joint_rows`)."""
    sigma2 = np.asarray(sigma2, dtype=np.float64)[:, None]
    return -0.5 / sigma2, -0.5 * (LOG_2PI + np.log(sigma2))


def _log_joint_rows(ssr_t, dof, terms, log_prior_t=None, out=None) -> np.ndarray:
    """``log f_is`` (plus ``log pi_is`` when given), one row per class: the one place the
    Gaussian log-density is formed (whole arrays, the fused E-step's blocks, the rounding
    bound's blocks), so all give the same numbers.

    Parameters
    ----------
    ssr_t : ndarray, shape (K, n)
    dof : ndarray, shape (n,)
    terms : tuple
        :func:`_density_terms` of the variances.
    log_prior_t : ndarray, shape (K, n), optional
    out : ndarray, shape (K, n), optional

    Returns
    -------
    ndarray, shape (K, n)
    """
    half_precision, constant = terms
    out = np.multiply(ssr_t, half_precision, out=out)
    out += np.multiply(constant, dof)
    if log_prior_t is not None:
        out += log_prior_t
    return out


def _shifted_exp(joint_t: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``out[s] = exp(joint_t[s] - top)``, their sum over the classes, and ``top``.

    ``top = max_s joint_t[s]`` (0 where that is not finite). One row per class,
    so that every operation runs along the individuals (a short last axis makes
    numpy loop once per individual); the same operations in the same order for
    every individual.

    Parameters
    ----------
    joint_t : ndarray, shape (K, n)
        One row per class (may be a transposed view).
    out : ndarray, shape (K, n)
        Written (may be ``joint_t`` itself).

    Returns
    -------
    total, top : ndarray, shape (n,)
    """
    k = joint_t.shape[0]
    top = joint_t[0].copy() if k == 1 else np.maximum(joint_t[0], joint_t[1])
    for s in range(2, k):
        np.maximum(top, joint_t[s], out=top)
    if not np.isfinite(np.sum(top)):  # (a sum is cheaper than a test of each; it can
        top[~np.isfinite(top)] = 0.0  # overflow only where that test is then made)
    np.subtract(joint_t, top, out=out)
    np.exp(out, out=out)
    total = out[0].copy() if k == 1 else np.add(out[0], out[1])
    for s in range(2, k):
        total += out[s]
    return total, top


def _posteriors(
    joint_t: np.ndarray, tau_t: np.ndarray, lse: np.ndarray, overwrite: bool = False
) -> None:
    """Posteriors and log-sum-exp of log-joints held one row per class.

    The terms of :func:`_shifted_exp` are at most 1 and sum to at least 1, so
    dividing them by their sum gives the normalised probabilities to rounding:
    one exponential gives both.

    Parameters
    ----------
    joint_t : ndarray, shape (K, n)
        ``log pi_is + log f_is``, one row per class (may be a transposed view).
    tau_t : ndarray, shape (K, n)
        Written: the posteriors, one row per class.
    lse : ndarray, shape (n,)
        Written: ``log sum_s exp(joint_t[s])`` for each individual.
    overwrite : bool
        Whether ``joint_t`` may be overwritten (with the terms): then ``tau_t`` is
        written once, by the division, rather than by each of three operations.
    """
    if overwrite:  # the terms in place, in cache; tau written once
        total, top = _shifted_exp(joint_t, joint_t)
        np.divide(joint_t, total, out=tau_t)
    else:
        total, top = _shifted_exp(joint_t, tau_t)
        tau_t /= total
    np.log(total, out=lse)
    lse += top


def log_sum_exp(a: np.ndarray) -> np.ndarray:
    """``log sum_s exp(a_is)`` over the last axis, shifted by the row maximum.

    Parameters
    ----------
    a : ndarray

    Returns
    -------
    ndarray
    """
    if a.ndim != 2:
        top = np.max(a, axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        return np.log(np.sum(np.exp(a - top), axis=-1)) + top[..., 0]
    total, top = _shifted_exp(a.T, np.empty(a.shape[::-1]))
    return np.log(total) + top


def _normalised(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_sum_exp` of the rows of ``a`` (N, K) and ``exp(a - lse)``, see
    :func:`_posteriors`; the posteriors are the transpose of a (K, N) array."""
    tau_t, lse = np.empty(a.shape[::-1]), np.empty(a.shape[0])
    _posteriors(a.T, tau_t, lse)
    return lse, tau_t.T


def log_prior(Z: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """``log pi_is = log softmax(z_i' eta)_s``.

    Parameters
    ----------
    Z : ndarray, shape (N, q)
    eta : ndarray, shape (q, K)

    Returns
    -------
    ndarray, shape (N, K)
    """
    a = Z @ eta
    return a - log_sum_exp(a)[:, None]


@dataclass
class MomentSums:
    """Posterior-weighted sums over the individuals that an M-step needs.

    Gathered by the E-step's pass over the statistics (:func:`e_step`), so that
    the M-step does not read them again.

    Attributes
    ----------
    moments : ndarray, shape (K, columns)
        ``sum_i w_i tau_is m_i`` with ``m_i`` individual i's column of
        ``Workspace.moment_rows``.
    dof : ndarray, shape (K,)
        ``sum_i w_i tau_is d_i``.
    weight : ndarray, shape (K,)
        ``sum_i w_i tau_is``.
    """

    moments: np.ndarray
    dof: np.ndarray
    weight: np.ndarray


@dataclass
class EStep:
    """Output of an E-step.

    Attributes
    ----------
    tau : ndarray, shape (N, K)
        Posterior class probabilities.
    llf_obs : ndarray, shape (N,)
        Each individual's log-likelihood contribution.
    ssr : ndarray, shape (N, K)
    log_prior : ndarray, shape (N, K)
    log_joint : ndarray, shape (N, K), or None
        ``log pi_is + log f_is``; None where the E-step did not keep it (the
        fused pass), see :meth:`joint`.
    ssr_error : float
        Bound on the error of the log-likelihood from sums of squares computed
        by expansion (:func:`expanded_ssr`); 0 when computed from residuals.
    weight : ndarray, shape (N,), or None
        The individuals' weights in the log-likelihood (``CompressedData.weight``).
    sums : MomentSums or None
        The M-step's sums at ``tau``, when the E-step gathered them on its pass.
    """

    tau: np.ndarray
    llf_obs: np.ndarray
    ssr: np.ndarray
    log_prior: np.ndarray
    log_joint: np.ndarray | None
    ssr_error: float = 0.0
    weight: np.ndarray | None = None
    sums: MomentSums | None = None

    @property
    def llf(self) -> float:
        """Observed-data log-likelihood ``sum_i w_i l_i`` (scaled units)."""
        if self.weight is None:
            return float(np.sum(self.llf_obs))
        return float(self.weight @ self.llf_obs)

    def joint(self, stats: CompressedData, params: ClassParams) -> np.ndarray:
        """``log pi_is + log f_is`` at ``params`` (the parameters of this E-step).

        Parameters
        ----------
        stats : CompressedData
        params : ClassParams

        Returns
        -------
        ndarray, shape (N, K)
        """
        if self.log_joint is not None:
            return self.log_joint
        return log_density(stats, params.sigma2, self.ssr) + self.log_prior

    @property
    def weighted_tau(self) -> np.ndarray:
        """``w_i tau_is``: the posteriors counted as many times as each individual's weight."""
        return self.tau if self.weight is None else self.tau * self.weight[:, None]

    @property
    def class_weight(self) -> np.ndarray:
        """Posterior weight of every class, ``sum_i w_i tau_is``: the M-step's sums'
        (:class:`MomentSums`) where the E-step gathered them, so no pass over ``tau``."""
        if self.sums is not None:
            return self.sums.weight
        return column_sums(self.weighted_tau)

    @property
    def shares(self) -> np.ndarray:
        """Posterior share of every class, ``sum_i w_i tau_is / sum_i w_i``."""
        weight = self.class_weight
        return weight / weight.sum()


def _summation_rounding(estep: EStep) -> float:
    """The part of :func:`rounding_bound` that comes from summing the individuals' terms."""
    llf_obs = estep.llf_obs if estep.weight is None else estep.llf_obs * estep.weight
    eps = np.finfo(np.float64).eps
    return float(4 * eps * llf_obs.size * np.max(np.abs(llf_obs))) if llf_obs.size else 0.0


def rounding_bound(
    stats: CompressedData, params: ClassParams, estep: EStep, work: Workspace
) -> float:
    """Bound on the floating-point error of the log-likelihood of ``estep`` at ``params``.

    The residual ``c_i - R_i beta_s`` is computed with an error of at most
    about ``(p + 1) eps (||c_i|| + ||R_i|| ||beta_s||)`` per component, so its
    sum of squares ``||r||^2`` errs by about twice ``||r||`` times that; the
    log-density ``a_is`` then errs by that over ``2 sigma2_s``, plus ``eps``
    relative in each of its terms. A log-sum-exp moves by the
    posterior-weighted average of its terms' errors. Summed over
    individuals, with a safety factor of 4. Two log-likelihoods computed on
    the same statistics can differ by rounding alone by up to the sum of
    their bounds; when a fit is nearly exact (residual variances tiny
    against the data) this is far more than ``eps |llf|``. Computed only
    where a comparison needs it (a step that seems to lower the
    log-likelihood, the end of the Newton phase).

    Parameters
    ----------
    stats : CompressedData
    params : ClassParams
    estep : EStep
        The E-step at ``params``.
    work : Workspace

    Returns
    -------
    float
    """
    n, p = stats.c.shape
    eps = np.finfo(np.float64).eps
    # one row per class, as the E-step holds them (see _posteriors)
    ssr_t, tau_t, llf_obs = estep.ssr.T, estep.tau.T, estep.llf_obs
    sigma2 = np.asarray(params.sigma2, dtype=np.float64)[:, None]
    beta_norm = np.sqrt(np.einsum("kp,kp->k", params.beta, params.beta))[:, None]
    terms = _density_terms(params.sigma2)
    per_individual = np.empty(n)
    # a block of individuals at a time, so that the temporaries stay in cache
    for start in range(0, n, E_STEP_BLOCK):
        part = slice(start, min(start + E_STEP_BLOCK, n))
        ssr_part = ssr_t[:, part]
        if estep.log_joint is not None:
            joint = estep.log_joint[part].T
        else:  # EStep.joint's numbers, on the block
            joint = _log_joint_rows(ssr_part, stats.dof[part], terms, estep.log_prior[part].T)
        resid_norm = np.maximum(ssr_part - stats.rss[part], 0.0)
        np.sqrt(resid_norm, out=resid_norm)
        scale = work.c_norm[part] + work.R_norm[part] * beta_norm
        with np.errstate(all="ignore"):
            error = (p + 1) * eps / sigma2 * scale * resid_norm
            error += 8 * eps * np.abs(joint)
            error += 4 * eps / sigma2 * ssr_part
        error[~np.isfinite(error)] = 0.0
        per_individual[part] = np.einsum("kn,kn->n", tau_t[:, part], error)
    per_individual += 4 * eps * np.abs(llf_obs)
    return float(
        4.0 * np.sum(stats.weighted(per_individual)) + _summation_rounding(estep) + estep.ssr_error
    )


def e_step(
    stats: CompressedData,
    Z: np.ndarray,
    params: ClassParams,
    work: Workspace | None = None,
    ssr_: np.ndarray | None = None,
    ssr_error: float = 0.0,
) -> EStep:
    """Posterior probabilities and log-likelihood, normalised in log space.

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
        Membership design, one row per individual.
    params : ClassParams
    work : Workspace, optional
        Arrays precomputed from ``stats``.
    ssr_ : ndarray, shape (N, K), optional
        The residual sums of squares at ``params.beta`` when already computed
        (by the M-step that produced ``params``).
    ssr_error : float
        The bound on the log-likelihood error of ``ssr_`` (see
        :func:`expanded_ssr`).

    Returns
    -------
    EStep
    """
    lp = _log_prior(Z, params.eta, work)
    if ssr_ is None and work is not None and work.expand:
        errors = expansion_error(stats, work, params.beta, params.sigma2)
        if np.all(errors <= _expansion_limit(work)):
            return _fused_e_step(stats, params, work, lp, float(errors.sum()))
    if ssr_ is None:
        if work is None:
            ssr_, ssr_error = ssr(stats, params.beta), 0.0
        else:
            ssr_, errors = expanded_ssr(stats, params.beta, params.sigma2, work)
            ssr_error = float(errors.sum())
    log_joint = log_density(stats, params.sigma2, ssr_)
    log_joint += lp
    llf_obs, tau = _normalised(log_joint)
    return EStep(
        tau=tau,
        llf_obs=llf_obs,
        ssr=ssr_,
        log_prior=lp,
        log_joint=log_joint,
        ssr_error=ssr_error,
        weight=stats.weight,
    )


#: Individuals per block of the fused E-step: the block's statistics and (N, K) arrays
#: stay in cache between their uses (measured at a million individuals).
E_STEP_BLOCK = 8192


#: Sets of output arrays the fused E-steps of one workspace keep for reuse.
BUFFER_SETS = 4


def _references(arrays: tuple) -> int:
    """The largest reference count among ``arrays`` (CPython's count, as seen here)."""
    return max(sys.getrefcount(a) for a in arrays)


#: What :func:`_references` returns for arrays held by nothing but their tuple.
_UNREFERENCED = _references((np.empty(1), np.empty(1)))


def _buffers(work: Workspace, n: int, k: int) -> tuple:
    """Output arrays of a fused E-step: a set kept in ``work.buffers`` that nothing else
    refers to any more (no E-step, view or frame holds it), else new arrays.

    Reusing them saves the page faults of fresh large arrays (a fifth of an iteration at
    a million individuals); a set that anything still refers to is never overwritten.
    """
    for arrays in work.buffers:
        if (
            arrays[0].shape == (k, n)
            and arrays[1].shape[1] == E_STEP_BLOCK
            and _references(arrays) <= _UNREFERENCED
        ):
            return arrays
    # sums of squares, a block's log-joints, posteriors (one row per class), and the
    # individuals' log-likelihoods
    arrays = (np.empty((k, n)), np.empty((k, E_STEP_BLOCK)), np.empty((k, n)), np.empty(n))
    if len(work.buffers) < BUFFER_SETS:
        work.buffers.append(arrays)
    return arrays


@single_threaded
def _fused_e_step(
    stats: CompressedData, params: ClassParams, work: Workspace, lp: np.ndarray, ssr_error
) -> EStep:
    """The E-step in one pass over ``work.moment_rows``, a block of individuals at a time.

    Per block: the expanded sums of squares (:func:`expanded_ssr`, every class
    accurate enough), the log-densities, the posteriors and the log-likelihood,
    and the M-step's sums at those posteriors (:class:`MomentSums`) while the
    block's statistics are still in cache. One row per class throughout, as
    :func:`_posteriors` needs; elementwise the same operations as the unblocked
    E-step, so the arrays are identical; the sums differ from one product over
    all individuals by rounding only.
    """
    n, k = stats.n_groups, params.k_classes
    coef_t = np.ascontiguousarray(_expansion_coef(params.beta).T)
    terms = _density_terms(params.sigma2)
    ssr_t, joint_block, tau_t, llf_obs = _buffers(work, n, k)
    lp_t = lp.T
    layout = moment_layout(stats.k_exog)
    sums = np.zeros((work.moment_rows.shape[0], k))
    for start in range(0, n, E_STEP_BLOCK):
        part = slice(start, min(start + E_STEP_BLOCK, n))
        moments = work.moment_rows[:, part]
        block = np.matmul(coef_t, moments[layout.expanded], out=ssr_t[:, part])
        np.maximum(block, stats.rss[part], out=block)
        joint = _log_joint_rows(
            block, moments[layout.dof], terms, lp_t[:, part], joint_block[:, : block.shape[1]]
        )
        tau = tau_t[:, part]
        _posteriors(joint, tau, llf_obs[part], overwrite=True)
        if stats.weight is not None:
            tau = tau * stats.weight[part]
        sums += moments @ tau.T  # with the dof and count rows: the weights' sums too
    return EStep(
        tau=tau_t.T,
        llf_obs=llf_obs,
        ssr=ssr_t.T,
        log_prior=lp,
        log_joint=None,  # formed again where a rounding bound needs it (EStep.joint)
        ssr_error=ssr_error,
        weight=stats.weight,
        sums=_moment_sums(sums, stats.k_exog),
    )


def _log_prior(Z, eta, work):
    """:func:`log_prior`, computed once per class where every individual has the same ``z``."""
    if work is not None and work.z_constant:
        row = log_prior(Z[:1], eta)
        return np.broadcast_to(row, (Z.shape[0], eta.shape[1]))
    return log_prior(Z, eta)


@single_threaded
def _solve_psd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of ``a x = b`` for symmetric PSD ``a`` (stacked).

    Eigen-directions with eigenvalues below ``p * eps * max eigenvalue`` are
    treated as null (rank check); on a full-rank system this is the exact
    solve.
    """
    w, v = np.linalg.eigh(a)
    cutoff = a.shape[-1] * np.finfo(float).eps * np.max(np.abs(w), axis=-1, keepdims=True)
    # (and below tiny / eps: a matrix of a class with next to no weight, whose inverse
    # eigenvalues would overflow, is null; the M-step keeps such a class's coefficients)
    cutoff = np.maximum(cutoff, np.finfo(float).tiny / np.finfo(float).eps)
    inv_w = np.where(w > cutoff, 1.0 / np.where(w > cutoff, w, 1.0), 0.0)
    vtb = np.einsum("...ji,...j->...i", v, b)
    return np.einsum("...ij,...j->...i", v, inv_w * vtb)


#: A weighted Gram matrix is solved directly only below this condition number; above
#: it, or when forced, the coefficients come from an orthogonal factorisation of the
#: stacked weighted ``[R_i | c_i]`` (whose condition number is the square root).
GRAM_CONDITION_LIMIT = 1e10


@single_threaded
def _well_conditioned(a: np.ndarray) -> np.ndarray:
    """Which of the stacked symmetric matrices ``a`` are positive definite with a
    condition number below :data:`GRAM_CONDITION_LIMIT`."""
    w = np.linalg.eigvalsh(a)
    return (w[..., 0] > 0) & (w[..., 0] * GRAM_CONDITION_LIMIT > w[..., -1])


#: Rank tolerance of :func:`_stacked_lstsq`: a direction is determined when its singular
#: value is at least ``sqrt(eps)`` times the largest, so that its coefficient keeps at
#: least half of the digits (a Gram matrix eigenvalue of ``eps`` relative). With ``10 p
#: eps``, a coefficient that only rows of next to no posterior weight inform (a dummy for
#: one row, in a class its individual is almost surely not in: a weight near ``1e-21``)
#: counted as determined when the weight was positive, was solved to a few digits, and
#: fell back to the minimum-norm solution when the weight underflowed to zero; the two
#: alternated, and EM's runs never converged (100-start fits of 200 rows took ten times
#: as long).
LSTSQ_RCOND = float(np.sqrt(np.finfo(np.float64).eps))


def _stacked_lstsq(blocks: np.ndarray, rhs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted least squares on stacked blocks by an orthogonal factorisation (SVD).

    Minimises ``sum_i weight_i ||rhs_i - blocks_i x||^2``; individuals with zero
    weight are left out. Directions with singular values below
    :data:`LSTSQ_RCOND` times the largest are not determined by the data and
    get the minimum-norm solution (any value maximises the objective there).
    """
    used = weight > 0
    if not used.any():
        return np.zeros(blocks.shape[-1])
    if not used.all():
        blocks, rhs, weight = blocks[used], rhs[used], weight[used]
    root = np.sqrt(weight)
    lhs = (blocks * root[:, None, None]).reshape(-1, blocks.shape[-1])
    target = (rhs * root[:, None]).reshape(-1)
    return np.linalg.lstsq(lhs, target, rcond=LSTSQ_RCOND)[0]


def _class_coefficients(stats, tau, a, b, exact):
    """``beta_s`` maximising ``-sum_i tau_is ||c_i - R_i beta_s||^2`` for every class.

    The normal equations ``a_s beta_s = b_s`` are solved where they are well
    conditioned (and ``exact`` is false); other classes use
    :func:`_stacked_lstsq` on the statistics themselves.
    """
    k, p, _ = a.shape
    beta = np.empty((k, p))
    direct = np.zeros(k, dtype=bool) if exact else _well_conditioned(a)
    if direct.any():
        beta[direct] = np.linalg.solve(a[direct], b[direct][..., None])[..., 0]
    for s in np.flatnonzero(~direct):
        used = tau[:, s] > 0  # (only their triangles unpacked)
        beta[s] = _stacked_lstsq(stats.R(used), stats.c[used], tau[used, s])
    return beta


def _coupled_coefficients(stats, tau, a, b, sigma2, m, exact):
    """Class coefficients whose last ``m`` entries are shared, given the variances.

    Maximises ``-sum_s (1 / 2 sigma2_s) sum_i tau_is ||c_i - R_i [beta_s; delta]||^2``
    jointly over ``beta_1..beta_K`` and ``delta`` (a conditional maximisation
    step: the variances are held at their current values, so EM stays
    monotone). ``a[s]`` and ``b[s]`` are the class's weighted Gram matrix and
    moment vector over the full design ``[X | W]``; an ill-conditioned (or,
    with ``exact``, any) system is solved on the stacked statistics instead.
    """
    k, width, _ = a.shape
    p = width - m
    weight = 1.0 / np.asarray(sigma2, dtype=np.float64)
    size = k * p + m
    lhs = np.zeros((size, size))
    rhs = np.zeros(size)
    shared = slice(k * p, size)
    for s in range(k):
        own = slice(s * p, (s + 1) * p)
        lhs[own, own] = weight[s] * a[s, :p, :p]
        lhs[own, shared] = weight[s] * a[s, :p, p:]
        lhs[shared, own] = weight[s] * a[s, p:, :p]
        lhs[shared, shared] += weight[s] * a[s, p:, p:]
        rhs[own] = weight[s] * b[s, :p]
        rhs[shared] += weight[s] * b[s, p:]
    if not exact and _well_conditioned(lhs):
        solution = np.linalg.solve(lhs, rhs)
    else:
        # every (individual, class) pair is a block of rows [R_i in class s's columns | R_i's
        # shared columns], weighted by tau_is / sigma2_s
        n = stats.n_groups
        blocks = np.zeros((n, k, width, size))
        R = stats.R()
        for s in range(k):
            blocks[:, s, :, s * p : (s + 1) * p] = R[:, :, :p]
            blocks[:, s, :, k * p :] = R[:, :, p:]
        targets = np.broadcast_to(stats.c[:, None, :], (n, k, width))
        solution = _stacked_lstsq(
            blocks.reshape(n * k, width, size),
            targets.reshape(n * k, width),
            (tau * weight[None, :]).reshape(-1),
        )
    beta = np.empty((k, width))
    beta[:, :p] = solution[: k * p].reshape(k, p)
    beta[:, p:] = solution[k * p :]
    return beta


#: Newton steps of the membership model per M-step. A generalised M-step only has to
#: raise the objective; warm-started from the previous coefficients, one step converges
#: quadratically as EM does, at a fraction of the cost of solving to the end each time.
MEMBERSHIP_NEWTON = 1


def membership_information(
    Z: np.ndarray, pi: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Negative Hessian of the multinomial-logit objective in ``eta``.

    ``sum_i (diag(pi_i) - pi_i pi_i') kron z_i z_i'`` over classes 2..K, laid out
    class-major like the membership block of the parameter vector. It does
    not depend on the posteriors.

    Parameters
    ----------
    Z : ndarray, shape (N, q)
    pi : ndarray, shape (N, K - 1)
        Class probabilities of classes 2..K.
    weights : ndarray, shape (N,), optional
        How many individuals each row stands for.

    Returns
    -------
    ndarray, shape ((K - 1) q, (K - 1) q)
    """
    r = pi.shape[1]
    q = Z.shape[1]
    out = np.empty((r, q, r, q))
    # one weighted cross product Z' diag(w_rt) Z per pair of classes (BLAS, not einsum)
    for a in range(r):
        for b in range(a, r):
            w = pi[:, a] * ((a == b) - pi[:, b])
            if weights is not None:
                w = w * weights
            block = Z.T @ (w[:, None] * Z)
            out[a, :, b, :] = block
            out[b, :, a, :] = block.T
    return out.reshape(r * q, r * q)


def membership_step(
    Z: np.ndarray,
    tau: np.ndarray,
    eta: np.ndarray,
    max_newton: int = 50,
    patterns: tuple | None = None,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise ``sum_i sum_s tau_is log softmax(z_i' eta)_s`` over eta.

    Newton steps on the weighted multinomial logit with step halving, starting
    from the current ``eta``; every accepted step raises the objective, so this
    is a valid (generalised) M-step. Column 0 of eta stays zero.

    Parameters
    ----------
    Z : ndarray, shape (N, q)
    tau : ndarray, shape (N, K)
    eta : ndarray, shape (q, K)
    max_newton : int
    patterns : tuple, optional
        ``(Z_u, inverse, counts)``: the distinct rows of ``Z``, each
        individual's row among them, and how many individuals share each.
        The objective depends on the posteriors only through their sums over
        individuals with the same row, so with categorical membership
        variables the Newton steps work on a handful of rows instead of N.
        With weights, the counts are the summed weights.
    weight : ndarray, shape (N,), optional
        The individuals' weights; ``tau`` must already be multiplied by them
        (``EStep.weighted_tau``).

    Returns
    -------
    ndarray, shape (q, K)
    """
    n, q = Z.shape
    k = tau.shape[1]
    if k == 1:
        return eta
    if q == 1 and np.all(Z == Z[0, 0]) and Z[0, 0] != 0:
        # shares only: the maximiser is closed-form, log(share_s / share_1)
        share = column_sums(tau) / tau.shape[0]
        if np.all(share > 0):
            return (np.log(share) - np.log(share[0]))[None, :] / Z[0, 0]
    counts = weight
    if patterns is not None:
        Z, inverse, counts = patterns
        summed = np.zeros((Z.shape[0], k))
        np.add.at(summed, inverse, tau)
        tau = summed

    def objective(e):
        return float(np.sum(tau * log_prior(Z, e)))

    eta = eta.copy()
    current = objective(eta)
    for _ in range(max_newton):
        pi = np.exp(log_prior(Z, eta))[:, 1:]
        weight = 1.0 if counts is None else counts[:, None]
        grad = (Z.T @ (tau[:, 1:] - weight * pi)).T.ravel()  # (K-1) * q, class-major
        step = _solve_psd(membership_information(Z, pi, counts), grad)
        if not np.all(np.isfinite(step)):
            break
        t = 1.0
        while t > 1e-10:
            trial = eta.copy()
            trial[:, 1:] += t * step.reshape(k - 1, q).T
            value = objective(trial)
            if value >= current:
                break
            t *= 0.5
        else:
            break
        gain = value - current
        eta, current = trial, value
        if np.max(np.abs(t * step)) < 1e-10 or gain <= 1e-14 * (1.0 + abs(current)):
            break
    return eta


@dataclass
class MStepInfo:
    """What the M-step had to constrain."""

    floor_hit: np.ndarray  # (K,) bool: variance set to the floor
    ssr: np.ndarray | None = None  # (N, K) at the new coefficients, for the next E-step
    ssr_error: float = 0.0  # its bound on the log-likelihood error (expanded_ssr)


def m_step(
    stats: CompressedData,
    Z: np.ndarray,
    tau: np.ndarray,
    previous: ClassParams,
    constraints: Constraints,
    work: Workspace | None = None,
    exact: bool = False,
    sums: MomentSums | None = None,
) -> tuple[ClassParams, MStepInfo]:
    """Maximise the expected complete-data log-likelihood given posteriors.

    Coefficients: ``(sum_i tau_is R_i'R_i) beta_s = sum_i tau_is R_i'c_i``.
    Variances: ``sum_i tau_is SSR_is / sum_i tau_is d_i``. With weighted
    individuals (``stats.weight``) every sum over ``i`` is weighted by ``w_i``. (pooled over classes
    with ``constraints.common_variance``), not below ``constraints.var_floor``
    (the constrained maximiser, so EM stays monotone).
    Membership: :func:`membership_step`. A class with no posterior weight
    keeps its previous coefficients and variance (they do not enter the
    objective).

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    tau : ndarray, shape (N, K)
        Posteriors from the E-step.
    previous : ClassParams
        Current parameters (the variances weight the coupled solve).
    constraints : Constraints
    work : Workspace, optional
    exact : bool
        Solve for the coefficients on the stacked statistics by an orthogonal
        factorisation even where the weighted Gram matrices are well
        conditioned (slower; used to retry a step that lowered the
        log-likelihood beyond rounding).
    sums : MomentSums, optional
        The sums at ``tau`` that the E-step gathered (:func:`e_step`); with
        them the M-step reads no per-individual statistics (the variances come
        from the summed moments where that expansion is accurate), and the
        next E-step computes the sums of squares on its own pass.

    Returns
    -------
    params : ClassParams
    info : MStepInfo
    """
    work = Workspace.build(stats, Z) if work is None else work
    n, p = stats.c.shape
    k = tau.shape[1]
    tau = stats.weighted(tau)  # each individual counted as many times as its weight
    gathered = sums is not None  # by the E-step
    if not gathered:  # one pass over the statistics for a, b and the weights
        sums = _moment_sums(work.moment_rows @ tau, p)
    weighted, weight, dof_weight = sums.moments, sums.weight, sums.dof
    empty = weight <= 1e-12 * n
    gram, moment = moment_layout(p)[:2]
    a = unpack_gram(weighted[:, gram], p)
    b = weighted[:, moment]
    if constraints.n_common:
        beta = _coupled_coefficients(stats, tau, a, b, previous.sigma2, constraints.n_common, exact)
    else:
        beta = _class_coefficients(stats, tau, a, b, exact)
    beta[empty] = previous.beta[empty]
    if constraints.n_common:
        beta[:, p - constraints.n_common :] = beta[~empty][0, p - constraints.n_common :]

    def from_sums(weighted_ssr):
        if constraints.common_variance:
            return np.full(k, weighted_ssr.sum() / work.total_dof)
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma2 = weighted_ssr / dof_weight
        return np.where(empty | ~(dof_weight > 0), previous.sigma2, sigma2)

    def variances(ssr_):
        return from_sums(np.einsum("nk,nk->k", tau, ssr_))

    if gathered and work.expand:
        # sum_i w_i tau_is SSR_is(beta_s) from the summed moments, where the expansion is
        # accurate for every class at the previous and at the new variances
        limit = _expansion_limit(work)
        if np.all(expansion_error(stats, work, beta, previous.sigma2) <= limit):
            sigma2 = from_sums(np.einsum("kc,ck->k", weighted, _expansion_coef(beta)))
            if np.all(expansion_error(stats, work, beta, sigma2) <= limit):
                floor_hit = sigma2 < constraints.var_floor
                sigma2 = np.maximum(sigma2, constraints.var_floor)
                eta = _membership(Z, tau, previous, work, stats, weight)
                info = MStepInfo(floor_hit=floor_hit)  # the next E-step forms the sums
                return ClassParams(beta=beta, sigma2=sigma2, eta=eta), info

    ssr_, errors = expanded_ssr(stats, beta, previous.sigma2, work)
    sigma2 = variances(ssr_)
    if errors.any():
        # the expansion was judged on the previous variances; where a variance fell far
        # enough for it to be too coarse, that class's sums come from the residuals
        errors = np.where(errors > 0, expansion_error(stats, work, beta, sigma2), 0.0)
        coarse = ~(errors <= _expansion_limit(work))
        if coarse.any():
            ssr_[:, coarse] = ssr(stats, beta[coarse])
            errors[coarse] = 0.0
            sigma2 = variances(ssr_)
    ssr_error = float(errors.sum())
    floor_hit = sigma2 < constraints.var_floor
    sigma2 = np.maximum(sigma2, constraints.var_floor)

    eta = _membership(Z, tau, previous, work, stats, weight)
    info = MStepInfo(floor_hit=floor_hit, ssr=ssr_, ssr_error=ssr_error)
    return ClassParams(beta=beta, sigma2=sigma2, eta=eta), info


def _membership(Z, tau, previous, work, stats, weight=None):
    """The M-step's membership coefficients (:func:`membership_step`); from the classes'
    summed posterior ``weight`` alone when every individual has the same constant ``z``."""
    if weight is not None and work.z_constant and Z.shape[1] == 1 and tau.shape[1] > 1:
        z = float(Z[0, 0])
        if z != 0 and np.all(weight > 0):
            return (np.log(weight) - np.log(weight[0]))[None, :] / z
    return membership_step(
        Z,
        tau,
        previous.eta,
        max_newton=MEMBERSHIP_NEWTON,
        patterns=work.z_patterns,
        weight=stats.weight,
    )


def params_from_posteriors(
    stats: CompressedData,
    Z: np.ndarray,
    tau: np.ndarray,
    constraints: Constraints,
    work: Workspace | None = None,
) -> ClassParams:
    """Parameters from an initial posterior matrix (one M-step from scratch).

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    tau : ndarray, shape (N, K)
    constraints : Constraints
    work : Workspace, optional

    Returns
    -------
    ClassParams
    """
    k = tau.shape[1]
    p = stats.k_exog
    blank = ClassParams(
        beta=np.zeros((k, p)),
        sigma2=np.full(k, max(constraints.var_floor, 1.0)),
        eta=np.zeros((Z.shape[1], k)),
    )
    params, _ = m_step(stats, Z, tau, blank, constraints, work)
    return params


def _max_change(a: ClassParams, b: ClassParams) -> float:
    return float(
        max(
            np.max(np.abs(a.beta - b.beta)),
            np.max(np.abs(np.log(a.sigma2) - np.log(b.sigma2))),
            np.max(np.abs(a.eta - b.eta)),
        )
    )


#: A class whose posterior weight ``sum_i tau_is`` falls below this many individuals
#: is empty: EM would only creep towards a zero share.
EMPTY_CLASS_WEIGHT = 0.5

#: Iterations before a run is judged degenerate (random starts begin with classes close
#: together and may empty a class before the others settle).
MIN_ITER_DEGENERATE = 20

#: Two classes whose coefficients (scaled units) and log variances differ by less than
#: this coincide: the likelihood is flat along the split of their shares.
COINCIDENT_CLASSES = 1e-4


#: A class is separated by the membership variables when every individual's prior
#: probability of it is within this of 0 or 1, some of each: its membership coefficients
#: then grow without bound (the likelihood rises ever more slowly along them), as a logit
#: model's do under complete separation.
SEPARATED_PRIOR = 1e-9


def separated_class(log_prior: np.ndarray) -> int | None:
    """The first class (0-based) that the membership variables separate, or None.

    Parameters
    ----------
    log_prior : ndarray, shape (N, K)
        ``log pi_is`` (``EStep.log_prior``).

    Returns
    -------
    int or None
    """
    if log_prior.shape[1] < 2:
        return None
    certain_out = log_prior < np.log(SEPARATED_PRIOR)
    certain_in = log_prior > np.log1p(-SEPARATED_PRIOR)
    separated = (
        np.all(certain_out | certain_in, axis=0) & certain_in.any(axis=0) & certain_out.any(axis=0)
    )
    found = np.flatnonzero(separated)
    return int(found[0]) if found.size else None


#: A membership coefficient that moves some individual's logit by more than this across
#: the range of its variable is tested for a flat direction (:func:`flat_membership`).
FLAT_LOGIT = 30.0


def flat_membership(
    stats, Z: np.ndarray, params: ClassParams, estep: EStep, tolerance: float, work=None
) -> tuple[int, int] | None:
    """A membership coefficient with no finite maximum: ``(j, s)``, or None.

    Quasi-complete separation (one individual alone at a level of a
    categorical membership variable, all of it in one class): the other
    individuals keep :func:`separated_class` from seeing it, but the
    coefficient grows without bound. A coefficient ``eta[j, s]`` that moves
    some individual's logit by more than :data:`FLAT_LOGIT` across the range
    of ``z_j`` is doubled, with the intercept keeping the logit of the
    individual at the median of ``z_j``; when the log-likelihood does not fall
    by more than ``tolerance``, the direction is flat. A finite maximum with
    such a large coefficient has individuals in its transition, whose fit
    doubling spoils.

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    params : ClassParams
    estep : EStep
        The E-step at ``params``.
    tolerance : float
        The rounding error of the log-likelihood.
    work : Workspace, optional

    Returns
    -------
    tuple of int or None
        The membership column ``j`` and the class ``s`` (0-based).
    """
    eta = params.eta
    spread = Z.max(axis=0) - Z.min(axis=0)
    constant = np.flatnonzero(spread == 0)
    for s in range(1, eta.shape[1]):
        for j in range(eta.shape[0]):
            if not abs(eta[j, s]) * spread[j] > FLAT_LOGIT:
                continue
            doubled = eta.copy()
            doubled[j, s] *= 2.0
            if constant.size:
                # the logit of the median individual kept, so that only the individuals
                # the coefficient sets apart move (the columns may be centred)
                c = constant[0]
                doubled[c, s] -= eta[j, s] * np.median(Z[:, j]) / Z[0, c]
            trial = e_step(stats, Z, replace(params, eta=doubled), work)
            if trial.llf >= estep.llf - tolerance:
                return j, s
    return None


def boundary_advice(reason: str | None) -> str:
    """What to do about an estimate on the boundary for ``reason`` (of :func:`degeneracy`).

    Parameters
    ----------
    reason : str or None

    Returns
    -------
    str
        A sentence, without the final stop.
    """
    if reason is not None and "the membership variables separate" in reason:
        return (
            "The membership variables predict that class exactly (complete separation, as in "
            "a logit model): drop or coarsen them, or fit fewer classes"
        )
    return (
        "The model likely has more classes than the data support; consider `refit_fewer_classes()`"
    )


def degeneracy(
    params: ClassParams,
    weight: np.ndarray,
    floor_hit: np.ndarray | None = None,
    log_prior: np.ndarray | None = None,
) -> str | None:
    """Why the classes of ``params`` no longer form K distinct classes, or None.

    A class is empty when its posterior weight is below
    :data:`EMPTY_CLASS_WEIGHT` individuals; two classes coincide when their
    coefficients and log variances differ by less than
    :data:`COINCIDENT_CLASSES`. Either way EM converges only sublinearly,
    towards a model with fewer classes. A class whose variance is held at
    the floor has collapsed onto individuals it fits exactly: a spurious
    maximum of a likelihood that is unbounded there. A class that the
    membership variables separate (:func:`separated_class`) has membership
    coefficients with no finite maximum.

    Parameters
    ----------
    params : ClassParams
    weight : ndarray, shape (K,)
        The classes' posterior weights, ``sum_i w_i tau_is`` (``EStep.class_weight``).
    floor_hit : ndarray of bool, shape (K,), optional
        Classes whose variance the last M-step set to the floor.
    log_prior : ndarray, shape (N, K), optional
        ``EStep.log_prior``, for :func:`separated_class`.

    Returns
    -------
    str or None
        A readable reason naming the classes (1-based, in the order given).
    """
    if floor_hit is not None and np.any(floor_hit):
        classes = [int(s) + 1 for s in np.flatnonzero(floor_hit)]
        return f"the variance of class(es) {classes} is at the floor"
    k = params.k_classes
    if k < 2:
        return None
    empty = np.flatnonzero(_empty_classes(weight))
    if empty.size:
        return f"class {int(empty[0]) + 1} is empty (posterior weight {weight[empty[0]]:.2g})"
    pair = _coinciding_pair(params)
    if pair is not None:
        return f"classes {pair[0] + 1} and {pair[1] + 1} coincide"
    separated = None if log_prior is None else separated_class(log_prior)
    if separated is not None:
        return (
            f"the membership variables separate class {separated + 1} (every individual's "
            f"prior probability of it is within {SEPARATED_PRIOR:g} of 0 or 1), so its "
            "membership coefficients have no finite maximum"
        )
    return None


def shrinking_class(share: np.ndarray, before: float, min_share: float) -> str | None:
    """Why a run is heading for a class below ``min_share``, or None.

    A class whose share is below ``min_share`` and fell since the run's last
    look (a round of EM or Newton steps earlier): with K above what the data
    support, such a class usually ends on a few individuals it fits almost
    exactly, a degenerate end the run would otherwise reach only after
    hundreds of slow iterations.

    Parameters
    ----------
    share : ndarray, shape (K,)
        The class shares now.
    before : float
        The smallest share at the last look.
    min_share : float

    Returns
    -------
    str or None
        A readable reason naming the class (1-based).
    """
    low = int(np.argmin(share))
    if share[low] < min_share and share[low] < before:
        return (
            f"class {low + 1} has a share of {share[low]:.3g}, below min_share and falling "
            "(stopped early)"
        )
    return None


def _empty_classes(weight: np.ndarray) -> np.ndarray:
    """Classes with a posterior weight below :data:`EMPTY_CLASS_WEIGHT` individuals."""
    return weight < EMPTY_CLASS_WEIGHT


def _coinciding_pair(params: ClassParams) -> tuple[int, int] | None:
    """The first two classes whose coefficients and log variances differ by less than
    :data:`COINCIDENT_CLASSES`, or None."""
    k = params.k_classes
    log_var = np.log(params.sigma2)
    for s in range(k):
        for t in range(s + 1, k):
            gap = max(
                float(np.max(np.abs(params.beta[s] - params.beta[t]))),
                abs(float(log_var[s] - log_var[t])),
            )
            if gap < COINCIDENT_CLASSES:
                return s, t
    return None


def unidentified(
    params: ClassParams,
    weight: np.ndarray,
    layout: Layout,
    log_prior: np.ndarray | None = None,
    floor_hit: np.ndarray | None = None,
) -> np.ndarray:
    """Parameters the likelihood does not identify at a degenerate estimate, or that
    sit on the boundary of the parameter space.

    With an empty class (posterior weight below :data:`EMPTY_CLASS_WEIGHT`)
    its coefficients and (class-specific) variance are not identified, and
    with an empty class or two coinciding classes
    (:data:`COINCIDENT_CLASSES`) neither are the membership coefficients
    (how the share is split between coinciding classes is arbitrary). Their
    information is zero in theory and rounding noise in practice, which
    would give huge, meaningless standard errors. The membership coefficients of
    a class the membership variables separate (:func:`separated_class`; all of
    them when it is the first class, the reference) grow without bound. A
    (class-specific) variance held at the floor is on the boundary: the score
    does not vanish there, and a standard error from the curvature would
    describe an interior maximum that is not there.

    Parameters
    ----------
    params : ClassParams
    weight : ndarray, shape (K,)
        The classes' posterior weights, ``sum_i w_i tau_is`` (``EStep.class_weight``).
    layout : Layout
    log_prior : ndarray, shape (N, K), optional
        ``EStep.log_prior``, for :func:`separated_class`.
    floor_hit : ndarray of bool, shape (K,), optional
        Classes whose variance is held at the floor.

    Returns
    -------
    ndarray of bool, shape (layout.n_params,)
    """
    k = layout.k
    mask = np.zeros(layout.n_params, dtype=bool)
    blocks = layout.slices
    if floor_hit is not None and not layout.common_variance:
        mask[blocks["sigma2"].start + np.flatnonzero(floor_hit)] = True
    if k < 2:
        return mask
    empty = _empty_classes(weight)
    coincide = _coinciding_pair(params) is not None
    for s in np.flatnonzero(empty):
        mask[blocks["beta"][s]] = True
        if not layout.common_variance:
            mask[blocks["sigma2"].start + s] = True
    if empty.any() or coincide:
        mask[blocks["eta"]] = True
    separated = None if log_prior is None else separated_class(log_prior)
    if separated == 0:
        mask[blocks["eta"]] = True  # the reference class: every contrast grows
    elif separated is not None:
        mask[layout.membership_slices[separated - 1]] = True
    return mask


@dataclass
class EMRun:
    """State and history of one EM run.

    Attributes
    ----------
    params : ClassParams
        Parameters at the last E-step.
    estep : EStep
        E-step at ``params`` (posteriors and log-likelihood).
    llf_history : list of float
        Log-likelihood at every E-step, starting at the start values.
    converged : bool
    n_iter : int
        Number of M-steps taken.
    floor_hit : ndarray of bool, shape (K,)
        Classes whose variance was set to the floor at the last M-step.
    degenerate : str or None
        Why the run stopped before converging because its classes stopped
        being K distinct classes (see :func:`degeneracy`).
    """

    params: ClassParams
    estep: EStep
    llf_history: list = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    floor_hit: np.ndarray | None = None
    degenerate: str | None = None

    @property
    def llf(self) -> float:
        """Log-likelihood at :attr:`params`."""
        return self.estep.llf


def em_step(
    stats: CompressedData,
    Z: np.ndarray,
    params: ClassParams,
    estep: EStep,
    constraints: Constraints,
    work: Workspace,
) -> tuple[ClassParams, EStep, MStepInfo]:
    """One M-step from ``estep`` and the E-step at the new parameters, checked.

    A log-likelihood that falls by more than the rounding bound of the two
    values (:func:`rounding_bound`) is retried with the coefficients solved
    by an orthogonal factorisation; a fall that remains is a defect and
    raises.

    Raises
    ------
    EMDecreaseError
    """
    old_llf = estep.llf
    old_rounding = None
    for exact in (False, True):
        new_params, info = m_step(
            stats, Z, estep.tau, params, constraints, work, exact=exact, sums=estep.sums
        )
        new_estep = e_step(stats, Z, new_params, work, info.ssr, info.ssr_error)
        new_llf = new_estep.llf
        if np.isfinite(new_llf) and new_llf >= old_llf:
            return new_params, new_estep, info
        if np.isfinite(new_llf) and old_llf - new_llf <= _summation_rounding(
            estep
        ) + _summation_rounding(new_estep):
            # within the rounding of summing the individuals' terms alone (a part of
            # rounding_bound, which costs several passes over the data)
            return new_params, new_estep, info
        if old_rounding is None:
            old_rounding = rounding_bound(stats, params, estep, work)
        allowed = old_rounding + rounding_bound(stats, new_params, new_estep, work)
        if np.isfinite(new_llf) and new_llf >= old_llf - allowed:
            return new_params, new_estep, info
    raise EMDecreaseError(
        f"the log-likelihood fell from {old_llf!r} to {new_llf!r} in an EM step, by more "
        f"than its rounding error ({allowed:.3g}); EM cannot decrease it, so this is a bug "
        "in smlcr: please report it with the data that trigger it."
    )


def _vector(params: ClassParams) -> np.ndarray:
    """Parameters as one unconstrained vector: coefficients, log variances, eta."""
    return np.concatenate([params.beta.ravel(), np.log(params.sigma2), params.eta.ravel()])


def _from_vector(v: np.ndarray, like: ClassParams, var_floor: float) -> ClassParams:
    """Inverse of :func:`_vector` (variances kept at or above ``var_floor``)."""
    k, p = like.beta.shape
    beta = v[: k * p].reshape(k, p)
    sigma2 = np.maximum(np.exp(v[k * p : k * p + k]), var_floor)
    eta = v[k * p + k :].reshape(like.eta.shape)
    return ClassParams(beta=beta, sigma2=sigma2, eta=eta)


def _squarem_step(stats, Z, run, constraints, work):
    """One SQUAREM cycle (Varadhan and Roland, 2008): two EM steps, an extrapolation
    along them, and an EM step from the extrapolated point, kept only if it ends above
    the second EM step. Returns the accepted states, each an EM step's output."""
    p1, e1, i1 = em_step(stats, Z, run.params, run.estep, constraints, work)
    p2, e2, i2 = em_step(stats, Z, p1, e1, constraints, work)
    states = [(p1, e1, i1), (p2, e2, i2)]
    x0, x1, x2 = _vector(run.params), _vector(p1), _vector(p2)
    r = x1 - x0
    v = x2 - x1 - r
    norm_v = float(np.sqrt(v @ v))
    if norm_v == 0.0 or not np.isfinite(norm_v):
        return states
    alpha = min(-float(np.sqrt(r @ r)) / norm_v, -1.0)
    # the step from the extrapolated point is kept only if it ends above the second EM
    # step, so it needs no retry: a wild extrapolation just leaves the plain steps
    with np.errstate(all="ignore"):
        jump = _from_vector(x0 - 2 * alpha * r + alpha**2 * v, run.params, constraints.var_floor)
        if not np.all(np.isfinite(jump.sigma2)):
            return states
        e_jump = e_step(stats, Z, jump, work)
        if not np.isfinite(e_jump.llf) or not np.all(np.isfinite(jump.beta)):
            return states
        try:
            p3, i3 = m_step(stats, Z, e_jump.tau, jump, constraints, work, sums=e_jump.sums)
        except np.linalg.LinAlgError:
            return states
        e3 = e_step(stats, Z, p3, work, i3.ssr, i3.ssr_error)
    if np.isfinite(e3.llf) and e3.llf >= e2.llf:
        states.append((p3, e3, i3))
    return states


def run_em(
    stats: CompressedData,
    Z: np.ndarray,
    start: ClassParams | EMRun,
    maxiter: int = 1000,
    tol: float = 1e-10,
    param_tol: float = 1e-7,
    constraints: Constraints = Constraints(),
    work: Workspace | None = None,
    stop_degenerate: bool = True,
    accelerate: bool = True,
) -> EMRun:
    """Iterate E- and M-steps from ``start`` until convergence or ``maxiter``.

    Converged means the relative change of the log-likelihood is below
    ``tol`` and the largest change of a parameter (coefficients in scaled
    units, log variances, membership coefficients) is below ``param_tol``.
    Passing an :class:`EMRun` continues it (its history is extended). With
    ``stop_degenerate``, a run whose classes become degenerate (an empty
    class, two coinciding classes, a variance at the floor:
    :func:`degeneracy`) stops there, not converged, with the reason in
    ``degenerate``. With ``accelerate``, EM steps come in SQUAREM cycles (two
    steps, an extrapolation along them and a step from there, kept only when
    it ends higher), so every recorded log-likelihood is still that of an EM
    step and the trace never falls.

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    start : ClassParams or EMRun
    maxiter, tol, param_tol : see above
        ``maxiter`` counts M-steps.
    constraints : Constraints
    work : Workspace, optional
    stop_degenerate : bool
    accelerate : bool

    Returns
    -------
    EMRun

    Raises
    ------
    EMDecreaseError
        If the log-likelihood falls by more than rounding.
    """
    work = Workspace.build(stats, Z) if work is None else work
    if isinstance(start, EMRun):
        run = replace(start, llf_history=list(start.llf_history))
    else:
        estep = e_step(stats, Z, start, work)
        run = EMRun(params=start, estep=estep, llf_history=[estep.llf])
    k = run.params.k_classes
    if run.floor_hit is None:
        run.floor_hit = np.zeros(k, dtype=bool)
    target = run.n_iter + maxiter
    while run.n_iter < target and not (run.converged or run.degenerate):
        if accelerate and target - run.n_iter >= 3:
            states = _squarem_step(stats, Z, run, constraints, work)
        else:
            states = [em_step(stats, Z, run.params, run.estep, constraints, work)]
        for new_params, new_estep, info in states:
            old_llf = run.llf
            new_llf = new_estep.llf
            change = _max_change(new_params, run.params)
            run.params, run.estep, run.floor_hit = new_params, new_estep, info.floor_hit
            run.n_iter += 1
            run.llf_history.append(new_llf)
            if new_llf - old_llf <= tol * (1.0 + abs(new_llf)) and change <= param_tol:
                run.converged = True
                break
        if not run.converged and stop_degenerate and run.n_iter >= MIN_ITER_DEGENERATE:
            run.degenerate = degeneracy(
                run.params, run.estep.class_weight, run.floor_hit, run.estep.log_prior
            )
    return run
