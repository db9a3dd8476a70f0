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

from dataclasses import dataclass, field, replace

import numpy as np

from smlcr.compress import CompressedData

__all__ = [
    "ClassParams",
    "Constraints",
    "Layout",
    "EMDecreaseError",
    "EMRun",
    "MultiStartResult",
    "e_step",
    "m_step",
    "run_em",
    "multistart",
    "canonical_order",
    "membership_step",
    "membership_information",
]

LOG_2PI = np.log(2.0 * np.pi)


class EMDecreaseError(RuntimeError):
    """The observed log-likelihood fell during EM, which EM cannot do.

    Raised instead of silently accepting the step: it means the E-step and
    the M-step did not work on the same likelihood (a bug).
    """


@dataclass(frozen=True)
class ClassParams:
    """Parameters of the mixture in scaled units.

    Attributes
    ----------
    beta : ndarray, shape (K, p)
    sigma2 : ndarray, shape (K,)
    eta : ndarray, shape (q, K), column 0 zero
    """

    beta: np.ndarray
    sigma2: np.ndarray
    eta: np.ndarray

    @property
    def k_classes(self) -> int:
        """Number of classes K."""
        return self.beta.shape[0]

    def flat(self) -> np.ndarray:
        """Parameter vector ``[beta_1..beta_K, sigma2_1..sigma2_K, eta_2..eta_K]``."""
        return np.concatenate([self.beta.ravel(), self.sigma2, self.eta[:, 1:].T.ravel()])

    @classmethod
    def from_flat(cls, theta: np.ndarray, k: int, p: int, q: int) -> ClassParams:
        """Inverse of :meth:`flat`."""
        theta = np.asarray(theta, dtype=np.float64)
        beta = theta[: k * p].reshape(k, p)
        sigma2 = theta[k * p : k * p + k]
        eta = np.zeros((q, k))
        eta[:, 1:] = theta[k * p + k :].reshape(k - 1, q).T
        return cls(beta=beta.copy(), sigma2=sigma2.copy(), eta=eta)


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


@dataclass(frozen=True)
class Layout:
    """Order of the estimated parameter vector.

    ``[beta_1..beta_K (p each), delta (m, shared), sigma2 (K values, or 1 when
    common), eta_2..eta_K (q each)]``. The class-specific (unrestricted) layout
    is :meth:`ClassParams.flat` with coefficient vectors ``[beta_s, delta_s]``
    of length ``p + m``; :meth:`restriction` maps this layout into it.
    """

    k: int
    p: int
    q: int
    common_variance: bool = False
    m: int = 0

    @property
    def n_variances(self) -> int:
        """Number of variance parameters (1 or K)."""
        return 1 if self.common_variance else self.k

    @property
    def n_params(self) -> int:
        """Length of the parameter vector."""
        return self.k * self.p + self.m + self.n_variances + self.q * (self.k - 1)

    def flat(self, params: ClassParams) -> np.ndarray:
        """Parameter vector of ``params`` in this layout."""
        beta = params.beta[:, : self.p].ravel()
        common = params.beta[0, self.p :]
        sigma2 = params.sigma2[:1] if self.common_variance else params.sigma2
        return np.concatenate([beta, common, sigma2, params.eta[:, 1:].T.ravel()])

    def unflat(self, theta: np.ndarray) -> ClassParams:
        """:class:`ClassParams` from a vector in this layout."""
        full = self.restriction() @ np.asarray(theta, dtype=np.float64)
        return ClassParams.from_flat(full, self.k, self.p + self.m, self.q)

    def restriction(self) -> np.ndarray:
        """Matrix ``A`` with ``theta_class_specific = A @ theta`` (shape P_full x P)."""
        k, p, m, q = self.k, self.p, self.m, self.q
        width = p + m
        a = np.zeros((k * width + k + q * (k - 1), self.n_params))
        for s in range(k):
            a[s * width + np.arange(p), s * p + np.arange(p)] = 1.0
            a[s * width + p + np.arange(m), k * p + np.arange(m)] = 1.0
        var_row, var_col = k * width, k * p + m
        if self.common_variance:
            a[var_row : var_row + k, var_col] = 1.0
        else:
            a[var_row : var_row + k, var_col : var_col + k] = np.eye(k)
        eta_row, eta_col = var_row + k, var_col + self.n_variances
        a[eta_row:, eta_col:] = np.eye(q * (k - 1))
        return a


@dataclass
class Workspace:
    """Arrays derived once from the statistics and reused every iteration."""

    R_flat: np.ndarray  # (N * p, p)
    gram_flat: np.ndarray  # (N, p * p)
    moment: np.ndarray  # (N, p)
    Z: np.ndarray  # (N, q)

    @classmethod
    def build(cls, stats: CompressedData, Z: np.ndarray) -> Workspace:
        """Precompute the arrays for ``stats`` and membership design ``Z``."""
        n, p = stats.c.shape
        return cls(
            R_flat=stats.R.reshape(n * p, p),
            gram_flat=stats.gram.reshape(n, p * p),
            moment=stats.moment,
            Z=np.asarray(Z, dtype=np.float64),
        )


def ssr(stats: CompressedData, beta: np.ndarray, work: Workspace | None = None):
    """Sum of squared residuals of every individual under every class.

    Parameters
    ----------
    stats : CompressedData
    beta : ndarray, shape (K, p)
    work : Workspace, optional

    Returns
    -------
    ssr : ndarray, shape (N, K)
        ``rss_i + ||c_i - R_i beta_s||^2``.
    resid : ndarray, shape (N, p, K)
        ``c_i - R_i beta_s``, the rotated residual.
    """
    n, p = stats.c.shape
    R_flat = stats.R.reshape(n * p, p) if work is None else work.R_flat
    fitted = (R_flat @ beta.T).reshape(n, p, -1)
    resid = stats.c[:, :, None] - fitted
    return stats.rss[:, None] + np.einsum("npk,npk->nk", resid, resid), resid


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
    d = stats.dof[:, None]
    return -0.5 * d * (LOG_2PI + np.log(sigma2)) - 0.5 * ssr_ / sigma2


def log_sum_exp(a: np.ndarray) -> np.ndarray:
    """``log sum_s exp(a_is)`` over the last axis, shifted by the row maximum.

    Parameters
    ----------
    a : ndarray

    Returns
    -------
    ndarray
    """
    top = np.max(a, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(a - top), axis=-1)) + top[..., 0]


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
    """

    tau: np.ndarray
    llf_obs: np.ndarray
    ssr: np.ndarray
    log_prior: np.ndarray

    @property
    def llf(self) -> float:
        """Observed-data log-likelihood (scaled units)."""
        return float(np.sum(self.llf_obs))


def e_step(
    stats: CompressedData, Z: np.ndarray, params: ClassParams, work: Workspace | None = None
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

    Returns
    -------
    EStep
    """
    ssr_, _ = ssr(stats, params.beta, work)
    lp = log_prior(Z, params.eta)
    log_joint = lp + log_density(stats, params.sigma2, ssr_)
    llf_obs = log_sum_exp(log_joint)
    tau = np.exp(log_joint - llf_obs[:, None])
    return EStep(tau=tau, llf_obs=llf_obs, ssr=ssr_, log_prior=lp)


def _solve_psd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of ``a x = b`` for symmetric PSD ``a`` (stacked).

    Eigen-directions with eigenvalues below ``p * eps * max eigenvalue`` are
    treated as null (rank check); on a full-rank system this is the exact
    solve.
    """
    w, v = np.linalg.eigh(a)
    cutoff = a.shape[-1] * np.finfo(float).eps * np.max(np.abs(w), axis=-1, keepdims=True)
    inv_w = np.where(w > cutoff, 1.0 / np.where(w > cutoff, w, 1.0), 0.0)
    vtb = np.einsum("...ji,...j->...i", v, b)
    return np.einsum("...ij,...j->...i", v, inv_w * vtb)


def _coupled_coefficients(a, b, sigma2, m):
    """Class coefficients whose last ``m`` entries are shared, given the variances.

    Maximises ``-sum_s (1 / 2 sigma2_s) sum_i tau_is ||c_i - R_i [beta_s; delta]||^2``
    jointly over ``beta_1..beta_K`` and ``delta`` (a conditional maximisation
    step: the variances are held at their current values, so EM stays
    monotone). ``a[s]`` and ``b[s]`` are the class's weighted Gram matrix and
    moment vector over the full design ``[X | W]``.
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
    solution = _solve_psd(lhs, rhs)
    beta = np.empty((k, width))
    beta[:, :p] = solution[: k * p].reshape(k, p)
    beta[:, p:] = solution[k * p :]
    return beta


def membership_information(Z: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Negative Hessian of the multinomial-logit objective in ``eta``.

    ``sum_i (diag(pi_i) - pi_i pi_i') kron z_i z_i'`` over classes 2..K, laid out
    class-major like the membership block of the parameter vector. It does
    not depend on the posteriors.

    Parameters
    ----------
    Z : ndarray, shape (N, q)
    pi : ndarray, shape (N, K - 1)
        Class probabilities of classes 2..K.

    Returns
    -------
    ndarray, shape ((K - 1) q, (K - 1) q)
    """
    r = pi.shape[1]
    w = np.einsum("nr,rt->nrt", pi, np.eye(r)) - np.einsum("nr,nt->nrt", pi, pi)
    return np.einsum("nrt,na,nb->ratb", w, Z, Z).reshape(r * Z.shape[1], r * Z.shape[1])


def membership_step(
    Z: np.ndarray, tau: np.ndarray, eta: np.ndarray, max_newton: int = 50
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
        share = tau.mean(axis=0)
        if np.all(share > 0):
            return (np.log(share) - np.log(share[0]))[None, :] / Z[0, 0]

    def objective(e):
        return float(np.sum(tau * log_prior(Z, e)))

    eta = eta.copy()
    current = objective(eta)
    for _ in range(max_newton):
        pi = np.exp(log_prior(Z, eta))[:, 1:]
        grad = (Z.T @ (tau[:, 1:] - pi)).T.ravel()  # (K-1) * q, class-major
        step = _solve_psd(membership_information(Z, pi), grad)
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


def m_step(
    stats: CompressedData,
    Z: np.ndarray,
    tau: np.ndarray,
    previous: ClassParams,
    constraints: Constraints,
    work: Workspace | None = None,
) -> tuple[ClassParams, MStepInfo]:
    """Maximise the expected complete-data log-likelihood given posteriors.

    Coefficients: ``(sum_i tau_is R_i'R_i) beta_s = sum_i tau_is R_i'c_i``.
    Variances: ``sum_i tau_is SSR_is / sum_i tau_is d_i`` (pooled over classes
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

    Returns
    -------
    params : ClassParams
    info : MStepInfo
    """
    work = Workspace.build(stats, Z) if work is None else work
    n, p = stats.c.shape
    k = tau.shape[1]
    weight = tau.sum(axis=0)
    empty = weight <= 1e-12 * n

    a = (tau.T @ work.gram_flat).reshape(k, p, p)
    b = tau.T @ work.moment
    if constraints.n_common:
        beta = _coupled_coefficients(a, b, previous.sigma2, constraints.n_common)
    else:
        beta = _solve_psd(a, b)
    beta[empty] = previous.beta[empty]
    if constraints.n_common:
        beta[:, p - constraints.n_common :] = beta[~empty][0, p - constraints.n_common :]

    ssr_, _ = ssr(stats, beta, work)
    weighted_ssr = np.einsum("nk,nk->k", tau, ssr_)
    if constraints.common_variance:
        sigma2 = np.full(k, weighted_ssr.sum() / stats.dof.sum())
    else:
        dof_weight = tau.T @ stats.dof
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma2 = weighted_ssr / dof_weight
        sigma2 = np.where(empty | ~(dof_weight > 0), previous.sigma2, sigma2)
    floor_hit = sigma2 < constraints.var_floor
    sigma2 = np.maximum(sigma2, constraints.var_floor)

    eta = membership_step(Z, tau, previous.eta)
    return ClassParams(beta=beta, sigma2=sigma2, eta=eta), MStepInfo(floor_hit=floor_hit)


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
    """

    params: ClassParams
    estep: EStep
    llf_history: list = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    floor_hit: np.ndarray | None = None

    @property
    def llf(self) -> float:
        """Log-likelihood at :attr:`params`."""
        return self.estep.llf


def run_em(
    stats: CompressedData,
    Z: np.ndarray,
    start: ClassParams | EMRun,
    maxiter: int = 1000,
    tol: float = 1e-10,
    param_tol: float = 1e-7,
    constraints: Constraints = Constraints(),
    work: Workspace | None = None,
) -> EMRun:
    """Iterate E- and M-steps from ``start`` until convergence or ``maxiter``.

    Converged means the relative change of the log-likelihood is below
    ``tol`` and the largest change of a parameter (coefficients in scaled
    units, log variances, membership coefficients) is below ``param_tol``.
    Passing an :class:`EMRun` continues it (its history is extended).

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    start : ClassParams or EMRun
    maxiter, tol, param_tol : see above
    constraints : Constraints
    work : Workspace, optional

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
    for _ in range(maxiter):
        new_params, info = m_step(stats, Z, run.estep.tau, run.params, constraints, work)
        new_estep = e_step(stats, Z, new_params, work)
        old_llf, new_llf = run.llf, new_estep.llf
        rounding = 1e-9 * (1.0 + abs(old_llf))
        if not np.isfinite(new_llf) or new_llf < old_llf - rounding:
            raise EMDecreaseError(
                f"the log-likelihood fell from {old_llf!r} to {new_llf!r} at EM "
                f"iteration {run.n_iter + 1}; EM cannot decrease it, so this is a bug "
                "in smlcr: please report it with the data that trigger it."
            )
        change = _max_change(new_params, run.params)
        run.params, run.estep, run.floor_hit = new_params, new_estep, info.floor_hit
        run.n_iter += 1
        run.llf_history.append(new_llf)
        if new_llf - old_llf <= tol * (1.0 + abs(new_llf)) and change <= param_tol:
            run.converged = True
            break
    return run


# ----------------------------------------------------------------------------
# starts


def _random_partition(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    labels = rng.permutation(np.arange(n) % k) if n >= k else rng.integers(0, k, n)
    return np.eye(k)[labels]


def _random_posteriors(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.dirichlet(np.ones(k), size=n)


def individual_ols(stats: CompressedData) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients of every individual with enough rows.

    Returns
    -------
    coef : ndarray, shape (M, p)
        Coefficients (scaled units) of the usable individuals.
    usable : ndarray of bool, shape (N,)
        Individuals with more degrees of freedom than regressors and a
        well-conditioned ``R_i``.
    """
    p = stats.k_exog
    diag = np.abs(np.diagonal(stats.R, axis1=1, axis2=2))
    usable = (stats.dof > p) & (diag.min(axis=1) > 1e-8 * np.maximum(diag.max(axis=1), 1e-300))
    if not usable.any():
        return np.empty((0, p)), usable
    R = stats.R[usable]
    c = stats.c[usable]
    coef = np.linalg.solve(R, c[..., None])[..., 0]
    return coef, usable


def _kmeans(rng: np.random.Generator, points: np.ndarray, k: int, n_iter: int = 25):
    """Lloyd's k-means with k-means++ seeding; returns the centres."""
    n = points.shape[0]
    centres = [points[rng.integers(n)]]
    for _ in range(1, k):
        dist = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = dist.sum()
        probs = dist / total if total > 0 else np.full(n, 1.0 / n)
        centres.append(points[rng.choice(n, p=probs)])
    centres = np.array(centres)
    for _ in range(n_iter):
        labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        new = np.array(
            [points[labels == j].mean(0) if np.any(labels == j) else centres[j] for j in range(k)]
        )
        if np.allclose(new, centres):
            break
        centres = new
    return centres


def _kmeans_start(rng, stats, Z, k, ols_coef, constraints, work):
    """Class coefficients at k-means centres of per-individual OLS fits."""
    spread = ols_coef.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    centres = _kmeans(rng, ols_coef / spread, k) * spread
    ssr_, _ = ssr(stats, centres, work)
    tau = np.eye(k)[np.argmin(ssr_ / np.maximum(stats.dof, 1.0)[:, None], axis=1)]
    return params_from_posteriors(stats, Z, tau, constraints, work)


START_KINDS = ("kmeans", "partition", "posterior")


@dataclass
class MultiStartResult:
    """Outcome of :func:`multistart`.

    Attributes
    ----------
    best : EMRun
        The run with the highest log-likelihood, in canonical class order.
    start_llfs : ndarray
        Final log-likelihood of every start (short runs that were not
        continued keep the value they reached).
    start_kinds : list of str
        How each start was made.
    completed : ndarray of bool
        Starts run to convergence or ``maxiter`` (the rest stopped after the
        short phase).
    n_reached_best : int
        Number of starts within ``reach_tol`` of the best log-likelihood.
    reach_tol : float
    """

    best: EMRun
    start_llfs: np.ndarray
    start_kinds: list
    completed: np.ndarray
    n_reached_best: int
    reach_tol: float


def canonical_order(run: EMRun, order: np.ndarray | None = None) -> EMRun:
    """Relabel classes so that shares (mean posteriors) descend.

    Ties are broken by the first coefficient, then by the variance, so equal
    fits print identical labels. ``order`` overrides the permutation.

    Parameters
    ----------
    run : EMRun
    order : ndarray of int, optional

    Returns
    -------
    EMRun
    """
    tau = run.estep.tau
    if order is None:
        share = np.round(tau.mean(axis=0), 12)
        order = np.lexsort((run.params.sigma2, run.params.beta[:, 0], -share))
    p = run.params
    eta = p.eta[:, order] - p.eta[:, [order[0]]]
    params = ClassParams(beta=p.beta[order], sigma2=p.sigma2[order], eta=eta)
    estep = EStep(
        tau=tau[:, order],
        llf_obs=run.estep.llf_obs,
        ssr=run.estep.ssr[:, order],
        log_prior=run.estep.log_prior[:, order],
    )
    return replace(run, params=params, estep=estep, floor_hit=run.floor_hit[order])


def multistart(
    stats: CompressedData,
    Z: np.ndarray,
    k: int,
    rng: np.random.Generator,
    n_starts: int = 10,
    n_full: int | None = None,
    short_maxiter: int = 20,
    maxiter: int = 1000,
    tol: float = 1e-10,
    param_tol: float = 1e-7,
    constraints: Constraints = Constraints(),
    start_params: ClassParams | None = None,
) -> MultiStartResult:
    """Run EM from many starts and keep the best.

    Every start runs ``short_maxiter`` iterations; the ``n_full`` best are then
    run to convergence. Start kinds cycle through k-means on per-individual
    OLS coefficients (when at least ``k`` individuals have more rows than
    regressors), random partitions of individuals, and random posteriors.
    ``start_params`` replaces all of them by one start run to convergence.

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    k : int
    rng : numpy.random.Generator
    n_starts, n_full, short_maxiter, maxiter, tol, param_tol : see above
    constraints : Constraints
    start_params : ClassParams, optional

    Returns
    -------
    MultiStartResult
    """
    work = Workspace.build(stats, Z)
    n = stats.n_groups
    if start_params is not None:
        starts, kinds = [start_params], ["user"]
    else:
        ols_coef, _ = individual_ols(stats)
        kinds_cycle = START_KINDS if ols_coef.shape[0] >= k else START_KINDS[1:]
        starts, kinds = [], []
        for j in range(n_starts):
            kind = kinds_cycle[j % len(kinds_cycle)]
            if kind == "kmeans":
                start = _kmeans_start(rng, stats, Z, k, ols_coef, constraints, work)
            else:
                draw = _random_partition if kind == "partition" else _random_posteriors
                start = params_from_posteriors(stats, Z, draw(rng, n, k), constraints, work)
            starts.append(start)
            kinds.append(kind)

    n_full = len(starts) if n_full is None else max(1, min(n_full, len(starts)))
    short = []
    for start in starts:
        steps = maxiter if len(starts) == 1 else min(short_maxiter, maxiter)
        short.append(run_em(stats, Z, start, steps, tol, param_tol, constraints, work))
    llfs = np.array([r.llf for r in short])
    chosen = np.argsort(-llfs, kind="stable")[:n_full]
    runs = list(short)
    completed = np.array([r.converged for r in short])
    for j in chosen:
        if not runs[j].converged:
            remaining = maxiter - runs[j].n_iter
            runs[j] = run_em(stats, Z, runs[j], remaining, tol, param_tol, constraints, work)
        completed[j] = True
    llfs = np.array([r.llf for r in runs])
    best_index = int(np.argmax(np.where(completed, llfs, -np.inf)))
    best = canonical_order(runs[best_index])
    reach_tol = max(1e-6 * (1.0 + abs(best.llf)), 100 * tol * (1.0 + abs(best.llf)))
    n_reached = int(np.sum(llfs >= best.llf - reach_tol))
    return MultiStartResult(
        best=best,
        start_llfs=llfs,
        start_kinds=kinds,
        completed=completed,
        n_reached_best=n_reached,
        reach_tol=reach_tol,
    )
