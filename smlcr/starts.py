"""Starts for EM, the multi-start search, and the canonical order of classes.

Pure numpy on compressed statistics (:class:`smlcr.compress.CompressedData`).
The individuals are expected in an order defined by their data
(:func:`smlcr.compress.canonical_order_of_individuals`), so that the starts
drawn for a seed, and every sum over individuals, do not depend on how the
individuals are labelled or on the order of the rows.

Start kinds
-----------
``"subset"``
    Each class is the least-squares fit to its own small random subset of
    individuals (just enough rows for one residual degree of freedom), with
    that subset's residual variance. Small subsets land inside tight
    components (a class that fits a third of the rows almost exactly), which
    starts near the pooled fit never reach.
``"kmeans"``
    k-means on the coefficients of individuals with enough rows for their
    own least-squares fit.
``"partition"``
    A random partition of the individuals.
``"posterior"``
    Random (Dirichlet) posterior probabilities.
``"perturb"``
    The posteriors of one of the best maxima found so far, with a random
    fifth of the individuals reassigned at random.
``"floor"``
    A run that a search with a higher variance floor stopped with a class held
    at that floor (:attr:`MultiStartResult.floor_runs`), continued from where
    it stopped: a real class tighter than the floor converges from there.

The search runs every start for a few iterations, then continues the runs,
best first, in rounds. A run stops when it converges, when its classes
become degenerate (:func:`smlcr.em.degeneracy`) or a class's share falls
below ``min_share`` (:func:`smlcr.em.shrinking_class`), when it reaches a
maximum that another run has already found (same parameters), or when even an
optimistic extrapolation of its log-likelihood stays below the best maximum
found by a margin; these looks come before each round. A run that EM would
finish only slowly, or that creeps along a ridge or near a saddle point
(its log-likelihood flat while its parameters move), is given trust-region
Newton steps first (:func:`smlcr.newton.newton_phase`). Every run's outcome is
kept, and the distinct maxima the completed runs reached are tabulated
(:func:`distinct_maxima`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import gammaln

from smlcr.compress import CompressedData, pooled_residual_variance, upper_indices
from smlcr.em import (
    Constraints,
    EMRun,
    MomentSums,
    Workspace,
    _stacked_lstsq,
    degeneracy,
    e_step,
    moment_block,
    params_from_posteriors,
    run_em,
    shrinking_class,
    ssr,
)
from smlcr.newton import NewtonOutcome, newton_phase
from smlcr.params import ClassParams, Layout
from smlcr.progress import progress_bar

__all__ = [
    "SAMPLE_CLASS_SIZE",
    "SEARCH_SAMPLE",
    "START_KINDS",
    "VAR_FLOORS",
    "FLOOR_RUNS",
    "FloorEvidence",
    "MultiStartResult",
    "canonical_order",
    "class_order",
    "default_n_starts",
    "search_size",
    "TIGHT_CHANCE",
    "chance_sets",
    "distinct_share",
    "chance_classes",
    "tight_at_floor",
    "tight_classes_are_real",
    "distinct_maxima",
    "individual_ols",
    "multistart",
    "pooled_variance",
]

START_KINDS = ("subset", "kmeans", "subset", "partition", "subset", "posterior")

#: The default variance floor (a fraction of the one-class residual variance) and the
#: lower floors ``fit`` tries, in turn, while runs stop above the best maximum with a class
#: at the floor that may be tighter than it (:meth:`MultiStartResult.floor_candidates`).
VAR_FLOORS = (1e-4, 1e-8, 1e-12)
"""The cycle of start kinds (``"kmeans"`` is skipped without enough usable
individuals); ``"perturb"`` starts are added after the first round."""

#: Share of the starts (after the first round) that perturb the best maxima found.
PERTURB_SHARE = 0.2

#: Runs stopped at the variance floor (:attr:`MultiStartResult.floor_runs`, best first)
#: that a search with a lower floor continues.
FLOOR_RUNS = 5

#: Iterations of every run between two looks at the whole search: short, so that a
#: run creeping along a ridge is handed to Newton steps, and one heading for a tiny class
#: is stopped, within a few iterations (rounds of 25 took 515 instead of 386 iterations
#: for K = 4 on the 100,000-row ``compare`` design of ``bench_search_cost.py``, and
#: reached the same maxima of ``bench_starts.py``'s hard designs).
ROUND_ITERATIONS = 5

#: Iterations of the first round after which a run with a class below ``min_share`` is
#: stopped (the first round runs ``short_maxiter`` iterations).
FIRST_LOOK = 10

#: Newton steps tried on a slowly converging run between two rounds.
NEWTON_STEPS = 30

#: A run is given Newton steps when EM would need more than this many more iterations
#: (a Hessian costs about as much as tens of EM iterations).
NEWTON_WORTH = 50

#: After a Newton attempt in which no step rose, the run goes on with EM for this many
#: rounds (100 iterations) before Newton is tried again.
NEWTON_COOLDOWN = 20

#: Two maxima are the same point when their parameters (scaled units, classes in
#: canonical order) differ by at most this much.
SAME_POINT = 1e-4

#: Individuals of a class at the smallest share (``min_share``, at least 1%) that a search
#: sample should hold for the search on it to stand for the search on all individuals.
SAMPLE_CLASS_SIZE = 200

#: Individuals the multi-start search runs on by default when there are more than twice
#: as many (see :func:`multistart`'s ``sample``): enough that every class of a share
#: above 1% holds about :data:`SAMPLE_CLASS_SIZE` of them.
SEARCH_SAMPLE = 100 * SAMPLE_CLASS_SIZE

#: The distinct maxima of a search on a sample that are continued on all individuals:
#: at most this many, best first ...
SAMPLE_CANDIDATES = 3

#: ... and only those within this many log-likelihood units (on the sample) of its best:
#: a maximum that far below on the sample is expected about ``N / n`` times as far below
#: on all N individuals.
SAMPLE_MARGIN = 10.0


def search_size(n_groups: int, sample: int | None) -> int:
    """How many individuals the starts run on: ``sample`` when there are more than twice
    as many individuals (see :func:`multistart`), all of them otherwise.

    Parameters
    ----------
    n_groups : int
    sample : int or None

    Returns
    -------
    int
    """
    return int(sample) if sample is not None and n_groups > 2 * sample else n_groups


def default_n_starts(n_groups: int, k: int, p: int) -> int:
    """Number of starts when ``n_starts`` is not given.

    The cost of a start is proportional to ``N K p^2``; small problems, where
    local maxima are most common and a start costs little, get up to 100
    starts, large ones 10 (about ``4e6 / (N K p^2)`` in between).

    Parameters
    ----------
    n_groups, k, p : int
        Individuals, classes and regressors.

    Returns
    -------
    int
    """
    if k == 1:
        return 1
    budget = 4e6 / (max(n_groups, 1) * k * max(p, 1) ** 2)
    return int(np.clip(np.round(budget), 10, 100))


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
    rows, cols = upper_indices(p)
    diag = np.abs(stats.R_upper[:, rows == cols])
    usable = (stats.dof > p) & (diag.min(axis=1) > 1e-8 * np.maximum(diag.max(axis=1), 1e-300))
    if not usable.any():
        return np.empty((0, p)), usable
    coef = np.linalg.solve(stats.R(usable), stats.c[usable][..., None])[..., 0]
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


def _tau_kmeans(rng, stats, Z, k, ols_coef, constraints, work, pooled):
    """Hard posteriors: each individual to the nearest k-means centre of the OLS fits."""
    spread = ols_coef.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    centres = _kmeans(rng, ols_coef / spread, k) * spread
    ssr_ = ssr(stats, centres)
    return np.eye(k)[np.argmin(ssr_ / np.maximum(stats.dof, 1.0)[:, None], axis=1)]


def _tau_partition(rng, stats, Z, k, ols_coef, constraints, work, pooled):
    n = stats.n_groups
    labels = rng.permutation(np.arange(n) % k) if n >= k else rng.integers(0, k, n)
    return np.eye(k)[labels]


def _tau_posterior(rng, stats, Z, k, ols_coef, constraints, work, pooled):
    return rng.dirichlet(np.ones(k), size=stats.n_groups)


def _tau_subset(rng, stats, Z, k, ols_coef, constraints, work, pooled):
    """Posteriors at classes fitted to small random subsets of individuals."""
    n, p = stats.c.shape
    beta = np.empty((k, p))
    sigma2 = np.empty(k)
    for s in range(k):
        candidates = rng.choice(n, size=min(n, p + 1), replace=False)
        cumulative = np.cumsum(stats.dof[candidates])
        size = min(int(np.searchsorted(cumulative, p + 1)) + 1, candidates.size)
        chosen = candidates[:size]
        R = stats.R(chosen)
        beta[s] = _stacked_lstsq(R, stats.c[chosen], np.ones(size))
        resid = stats.c[chosen] - np.einsum("nij,j->ni", R, beta[s])
        ssr_sub = float(np.sum(stats.rss[chosen]) + np.sum(resid * resid))
        dof = float(cumulative[size - 1]) - p
        sigma2[s] = ssr_sub / dof if dof > 0 else pooled
    sigma2 = np.maximum(sigma2, max(constraints.var_floor, 1e-12 * pooled))
    params = ClassParams(beta=beta, sigma2=sigma2, eta=np.zeros((Z.shape[1], k)))
    return e_step(stats, Z, params, work).tau


_DRAWS = {
    "subset": _tau_subset,
    "kmeans": _tau_kmeans,
    "partition": _tau_partition,
    "posterior": _tau_posterior,
}


def _tau_perturb(rng, tau: np.ndarray) -> np.ndarray:
    """``tau`` with a random fifth of the individuals given random hard posteriors."""
    n, k = tau.shape
    out = tau.copy()
    moved = rng.random(n) < 0.2
    out[moved] = np.eye(k)[rng.integers(0, k, int(moved.sum()))]
    return out


def canonical_order(run: EMRun, order: np.ndarray | None = None) -> EMRun:
    """Relabel classes so that shares (mean posteriors) descend.

    Ties are broken as :func:`class_order` says, so equal fits print identical
    labels. ``order`` overrides the permutation.

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
        order = class_order(run)
    params = run.params.relabel(order)
    sums = run.estep.sums
    estep = replace(
        run.estep,
        tau=tau[:, order],
        ssr=run.estep.ssr[:, order],
        log_prior=run.estep.log_prior[:, order],
        log_joint=None if run.estep.log_joint is None else run.estep.log_joint[:, order],
        sums=None
        if sums is None
        else MomentSums(sums.moments[order], sums.dof[order], sums.weight[order]),
    )
    floor_hit = run.floor_hit[order]
    degenerate = run.degenerate and degeneracy(
        params, estep.class_weight, floor_hit, estep.log_prior
    )
    return replace(run, params=params, estep=estep, floor_hit=floor_hit, degenerate=degenerate)


def class_order(run: EMRun) -> np.ndarray:
    """Descending share; ties broken by the variance, then the size of the coefficients
    (scaled units), then the first coefficient: the first two keys depend neither on the
    order of the regressors nor on the sign or units of the response."""
    share = np.round(run.estep.shares, 12)
    beta = run.params.beta
    size = np.round(np.einsum("kp,kp->k", beta, beta), 12)
    return np.lexsort((beta[:, 0], size, np.round(run.params.sigma2, 12), -share))


def _point(run: EMRun) -> np.ndarray:
    """The parameters of a run in canonical class order, as one vector (scaled units).

    The order is :func:`canonical_order`'s, without reordering the
    per-individual arrays.
    """
    p = run.params.relabel(class_order(run))
    return np.concatenate([p.beta.ravel(), np.log(p.sigma2), p.eta.ravel()])


def _same_point(a: np.ndarray, b: np.ndarray, tol: float = SAME_POINT) -> bool:
    return bool(np.max(np.abs(a - b)) <= tol * (1.0 + max(np.max(np.abs(a)), 1.0)))


@dataclass
class StartRecord:
    """What happened to one start.

    Attributes
    ----------
    kind : str
    llf : float
        Log-likelihood where the run stopped (scaled units).
    n_iter : int
    status : str
        ``"converged"``; ``"maxiter"``; ``"degenerate"`` (see ``reason``);
        ``"joined"`` (stopped on reaching a maximum another run had already
        converged to); ``"pruned"`` (stopped because even an optimistic
        extrapolation stayed below the best maximum); ``"screened"`` (not
        continued after the first round, only with ``n_full``).
    reason : str
    floor_rows : float
        Rows (residual degrees of freedom, posterior-weighted) of the class
        held at the variance floor where the run stopped (the one with the
        most, when several); 0 when none.
    floor_candidate : bool
        Whether a class held at the floor holds at least ``max(p, 3)`` rows
        beyond the ``p`` that fix its plane: it may be a real class tighter
        than the floor (a collapse holds about ``p``), so a lower floor is
        tried; its maximum is kept only if chance does not explain its classes
        below the default floor (:func:`tight_classes_are_real`, judged at
        their own variances: a small class far tighter than the floor can be
        real where chance at the floor's variance would explain it). Rows and
        individuals are counted once however often identical individuals
        repeat them (:func:`distinct_share`).
    floor_tight : bool
        Whether that class is real even at the floor's variance
        (:func:`tight_at_floor`): a lower floor is then tried wherever the run
        stopped, also below the best maximum (a run stops when it first
        reaches the floor, often long before it would rise above the others).
    """

    kind: str
    llf: float
    n_iter: int
    status: str
    reason: str = ""
    floor_rows: float = 0.0
    floor_candidate: bool = False
    floor_tight: bool = False

    @property
    def completed(self) -> bool:
        """Whether the run reached a maximum (its own or one already found)."""
        return self.status in ("converged", "maxiter", "joined")


@dataclass
class MultiStartResult:
    """Outcome of :func:`multistart`.

    Attributes
    ----------
    best : EMRun
        The completed run with the highest log-likelihood, in canonical class
        order.
    records : list of StartRecord
        One per start, in the order the starts were drawn.
    maxima : pandas.DataFrame
        The distinct maxima reached by the completed runs
        (:func:`distinct_maxima`), best first, scaled units.
    reach_tol : float
        Log-likelihoods within this of the best count as reaching it.
    leaders : list of EMRun
        The highest run at each distinct maximum, in the order of ``maxima``.
    sample : ndarray of int or None
        When the search ran on a sample of the individuals (see
        :func:`multistart`), their positions; ``records``, ``maxima`` and
        ``reach_tol`` then refer to that sample.
    continued : pandas.DataFrame or None
        With a sample: the sample's maxima continued on all individuals
        (``sample_llf``, ``llf``, ``n_iter``, ``status``, ``reason``), best
        sample maximum first; ``best`` is the best of them.
    polished : NewtonOutcome or None
        With a sample: the Newton phase that finished ``best`` on all
        individuals (None when EM had to take over).
    floor_runs : list of ClassParams
        Where the runs counted by :attr:`floor_candidates` stopped (at most
        :data:`FLOOR_RUNS`, highest log-likelihood first): a search with a lower
        floor continues them (start kind ``"floor"``).
    """

    best: EMRun
    records: list
    maxima: pd.DataFrame
    reach_tol: float
    leaders: list = field(default_factory=list)
    sample: np.ndarray | None = None
    continued: pd.DataFrame | None = None
    polished: NewtonOutcome | None = None
    floor_runs: list = field(default_factory=list)

    @property
    def start_llfs(self) -> np.ndarray:
        """Final log-likelihood of every start."""
        return np.array([r.llf for r in self.records])

    @property
    def start_kinds(self) -> list:
        """How each start was made."""
        return [r.kind for r in self.records]

    @property
    def completed(self) -> np.ndarray:
        """Which starts reached a maximum."""
        return np.array([r.completed for r in self.records])

    @property
    def _best_llf(self) -> float:
        """The best maximum's log-likelihood on the individuals the starts ran on."""
        if self.sample is None:
            return self.best.llf
        return float(self.maxima["llf"].iloc[0]) if len(self.maxima) else -np.inf

    @property
    def n_reached_best(self) -> int:
        """Completed starts at the best maximum's log-likelihood."""
        llfs = self.start_llfs
        return int(np.sum(self.completed & (llfs >= self._best_llf - self.reach_tol)))

    @property
    def stopped_above_best(self) -> int:
        """Starts stopped before completing whose log-likelihood was already above the best."""
        llfs = self.start_llfs
        return int(np.sum(~self.completed & (llfs > self._best_llf + self.reach_tol)))

    def _asks_for_lower_floor(self, record: StartRecord) -> bool:
        """Whether a start stopped with a class at the variance floor that may be tighter
        than the floor (:attr:`StartRecord.floor_candidate`), above the best maximum, where
        no run reached an interior one, or wherever it stopped when chance does not explain
        that class even at the floor's variance (:attr:`StartRecord.floor_tight`)."""
        return (
            not record.completed
            and record.floor_candidate
            and (
                not self.completed.any()
                or record.floor_tight
                or record.llf > self._best_llf + self.reach_tol
            )
        )

    @property
    def floor_candidates(self) -> int:
        """Starts that a lower floor may let reach a higher maximum (see
        :meth:`_asks_for_lower_floor`)."""
        return sum(1 for r in self.records if self._asks_for_lower_floor(r))


#: A class at (or below) a variance floor is taken for a real class that tight when fewer
#: than this many sets of its size are expected to fit that closely by chance
#: (:func:`chance_sets`).
TIGHT_CHANCE = 0.01


def chance_sets(individuals, rows, p: int, n_groups: int, ratio) -> np.ndarray:
    """Log of how many sets of ``individuals`` of the ``n_groups``, holding ``rows`` rows,
    are expected to lie within ``sqrt(ratio)`` residual standard deviations (of the
    one-class fit) of some regression plane by chance.

    ``log C(N, k) + (m - p) log(ratio) / 2``: each of the ``m - p`` rows beyond the
    ``p`` that fix a plane falls that close with a probability of about
    ``sqrt(ratio)``. A class collapsed onto a handful of rows it happens to fit
    (likely among many rows: hundreds of ungrouped rows hold many sets of eight
    within 1% of a plane) has a large value; a real class that tight (half the
    individuals) a hugely negative one.

    Parameters
    ----------
    individuals, rows : float or ndarray
        Posterior-weighted individuals and rows (residual degrees of freedom) of the class.
    p : int
        Regressors of a class.
    n_groups : int
    ratio : float or ndarray
        The class variance (or the floor) over the one-class residual variance.

    Returns
    -------
    ndarray
        ``inf`` where ``rows <= p``.
    """
    k = np.clip(np.asarray(individuals, dtype=float), 0.0, n_groups)
    m = np.asarray(rows, dtype=float)
    log_sets = gammaln(n_groups + 1.0) - gammaln(k + 1.0) - gammaln(n_groups - k + 1.0)
    with np.errstate(divide="ignore"):
        out = log_sets + (m - p) * 0.5 * np.log(np.asarray(ratio, dtype=float))
    return np.where(m > p, out, np.inf)


def tight_at_floor(individuals, rows, p: int, n_groups: int, ratio) -> np.ndarray:
    """Whether classes held at a variance floor ``ratio`` (of the one-class residual
    variance) are real classes that tight rather than collapses onto rows they happen to
    fit (:func:`chance_sets` below ``log(TIGHT_CHANCE)``); a lower floor lets a real one
    converge inside, unless its rows repeat a response exactly.

    Parameters
    ----------
    individuals, rows : float or ndarray
    p, n_groups : int
    ratio : float or ndarray

    Returns
    -------
    ndarray of bool
    """
    return chance_sets(individuals, rows, p, n_groups, ratio) < np.log(TIGHT_CHANCE)


def distinct_share(stats: CompressedData) -> np.ndarray:
    """One over the number of individuals whose data are the same as each one's.

    Individuals with the same sums of squares and products (``R_i'R_i``,
    ``R_i'c_i``, ``rss_i + ||c_i||^2`` and ``d_i``, to 12 digits of each
    column's largest value) contribute the same likelihood: copies (duplicated
    records, or an individual and its replicates) are one piece of evidence that
    a class is tight, not several. Weighting an individual by this share counts
    each distinct one once, so that the variance floor's rule judges replicated
    data as it judges the same data with frequency weights.

    Parameters
    ----------
    stats : CompressedData

    Returns
    -------
    ndarray, shape (N,)
    """
    moments = moment_block(stats, slice(None)).T
    scale = np.max(np.abs(moments), axis=0)
    key = np.round(moments / np.where(scale > 0, scale, 1.0), 12)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse.ravel()]


def chance_classes(
    run: EMRun,
    stats: CompressedData,
    pooled: float,
    below: float,
    share: np.ndarray | None = None,
) -> np.ndarray:
    """The classes of ``run`` whose variance is below ``below`` times ``pooled`` (the
    one-class residual variance) and that chance explains (:func:`tight_at_floor` at
    their own variance, each distinct individual counted once: :func:`distinct_share`):
    a handful of rows that happen to lie on a plane, not a real class that tight.

    Parameters
    ----------
    run : EMRun
    stats : CompressedData
        The individuals ``run`` was fitted to.
    pooled : float
    below : float
    share : ndarray, optional
        :func:`distinct_share` of ``stats``, when already computed.

    Returns
    -------
    ndarray of bool, shape (K,)
    """
    ratio = run.params.sigma2 / pooled
    low = ratio < below
    out = np.zeros(ratio.shape, dtype=bool)
    if not low.any():
        return out
    share = distinct_share(stats) if share is None else share
    tau = run.estep.tau[:, low] * share[:, None]
    p = run.params.beta.shape[1]
    out[low] = ~tight_at_floor(tau.sum(axis=0), stats.dof @ tau, p, share.sum(), ratio[low])
    return out


def tight_classes_are_real(
    run: EMRun,
    stats: CompressedData,
    pooled: float,
    below: float,
    share: np.ndarray | None = None,
) -> bool:
    """Whether every class of ``run`` whose variance is below ``below`` times ``pooled`` is
    a real class that tight (none is one of :func:`chance_classes`).

    Parameters
    ----------
    run : EMRun
    stats : CompressedData
    pooled, below : float
    share : ndarray, optional

    Returns
    -------
    bool
    """
    return not chance_classes(run, stats, pooled, below, share).any()


def _group_maxima(runs: list, reach_tol: float) -> list[list]:
    """``[llf, point, n_runs, run]`` for each distinct maximum of ``runs``, best first
    (``run`` is the highest run that reached it)."""
    groups: list[list] = []
    for run in sorted(runs, key=lambda r: -r.llf):
        point = _point(run)
        for group in groups:
            if abs(group[0] - run.llf) <= max(reach_tol, 1e-6 * (1 + abs(run.llf))) and (
                _same_point(group[1], point)
            ):
                group[2] += 1
                break
        else:
            groups.append([run.llf, point, 1, run])
    return groups


def distinct_maxima(runs: list, reach_tol: float) -> pd.DataFrame:
    """Group completed runs by the maximum they reached.

    Two runs reached the same maximum when their parameters are the same
    point (within :data:`SAME_POINT`, classes in canonical order); runs at
    equal log-likelihoods but different points are separate rows.

    Parameters
    ----------
    runs : list of EMRun
        Completed runs.
    reach_tol : float

    Returns
    -------
    pandas.DataFrame
        One row per maximum, best first: ``llf``, ``n_starts``,
        ``same_llf_as_best`` and ``same_point_as_best``.
    """
    groups = _group_maxima(runs, reach_tol)
    if not groups:
        return pd.DataFrame(columns=["llf", "n_starts", "same_llf_as_best", "same_point_as_best"])
    best_llf, best_point = groups[0][0], groups[0][1]
    frame = pd.DataFrame(
        {
            "llf": [g[0] for g in groups],
            "n_starts": [g[2] for g in groups],
            "same_llf_as_best": [g[0] >= best_llf - reach_tol for g in groups],
            "same_point_as_best": [_same_point(g[1], best_point) for g in groups],
        }
    )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="maximum")
    return frame


#: Increments per half of the window :func:`_slow` judges EM's rate on.
SLOW_WINDOW = 5


def _slow(history: list, tol: float) -> bool:
    """Whether EM still needs many iterations: more than :data:`NEWTON_WORTH` at the rate
    its increments shrink, before they fall below ``tol`` relative.

    The rate is that of the sums of the last two windows of :data:`SLOW_WINDOW`
    increments, not of single increments: near a saddle point or along a ridge
    (typical with more classes than the data support) single increments stall
    and jump (SQUAREM's extrapolations), while EM needs hundreds of iterations.
    """
    steps = np.diff(np.asarray(history[-(2 * SLOW_WINDOW + 1) :]))
    if steps.size < 2 * SLOW_WINDOW:
        return False
    target = tol * (1.0 + abs(history[-1]))
    earlier, later = float(steps[:SLOW_WINDOW].sum()), float(steps[SLOW_WINDOW:].sum())
    if later <= SLOW_WINDOW * target or earlier <= 0 or later >= earlier:
        # the log-likelihood has stopped rising but the run has not converged (its
        # parameters still move: a ridge or a saddle), or its increments do not shrink
        return True
    if target <= 0.0:
        return True  # tol=0: EM's shrinking increments never reach it
    rate = (later / earlier) ** (1.0 / SLOW_WINDOW)
    last = later / SLOW_WINDOW
    return bool(np.log(target / last) / np.log(rate) > NEWTON_WORTH)


def _degenerate_at_end(run: EMRun, min_share: float) -> str | None:
    """Why a finished run is not an interior maximum of K classes, or None.

    :func:`smlcr.em.degeneracy` (an empty class, coinciding classes, a variance
    at the floor), or a class whose share is below ``min_share``: with K above
    what the data support, the highest maxima often give a class to one or
    two individuals it fits almost exactly (spurious maxima).
    """
    reason = degeneracy(run.params, run.estep.class_weight, run.floor_hit, run.estep.log_prior)
    if reason:
        return reason
    share = run.estep.shares
    small = np.flatnonzero(share < min_share)
    if small.size:
        return f"class {int(small[0]) + 1} has a share of {share[small[0]]:.3g}, below min_share"
    return None


def _chance_collapse(run: EMRun, stats, pooled: float, below: float, share) -> str | None:
    """Why a finished run below the default variance floor (``below`` times ``pooled``) is
    not an interior maximum (:func:`chance_classes`), or None."""
    explained = chance_classes(run, stats, pooled, below, share)
    if not explained.any():
        return None
    classes = [int(s) + 1 for s in np.flatnonzero(explained)]
    return (
        f"class(es) {classes} have a variance below {below:g} x the one-class residual "
        "variance that chance explains (a handful of rows that happen to lie on a plane)"
    )


def _projected_gain(history: list, remaining: int) -> float:
    """An optimistic guess of how much more a run's log-likelihood can rise.

    EM's increments shrink about geometrically; with the largest recent ratio
    ``r`` of consecutive increments, the rest of the series sums to
    ``last r / (1 - r)``, inflated tenfold. Where the increments do not
    shrink, the run still has only ``remaining`` iterations: twice the
    largest recent increment for each of them.
    """
    steps = np.diff(np.asarray(history[-6:]))
    if steps.size < 3:
        return np.inf
    if np.all(steps[-3:] <= 0):
        return 0.0
    linear = 2.0 * float(np.max(steps)) * remaining
    if steps[-1] <= 0:
        return linear
    ratios = steps[1:] / np.where(steps[:-1] > 0, steps[:-1], np.nan)
    r = float(np.nanmax(ratios)) if np.any(np.isfinite(ratios)) else np.inf
    if not r < 1.0:
        return linear
    return min(10.0 * steps[-1] * r / (1.0 - r), linear)


def multistart(
    stats: CompressedData,
    Z: np.ndarray,
    k: int,
    rng: np.random.Generator,
    n_starts: int | None = None,
    n_full: int | None = None,
    short_maxiter: int = 20,
    maxiter: int = 1000,
    tol: float = 1e-10,
    param_tol: float = 1e-7,
    constraints: Constraints | None = None,
    start_params: ClassParams | None = None,
    prune_margin: float = 1.0,
    layout: Layout | None = None,
    min_share: float = 0.0,
    work: Workspace | None = None,
    sample: int | None = None,
    gtol: float = 1e-9,
    max_newton: int = 50,
    progress=None,
    pooled: float | None = None,
    continued: list | None = None,
    real_below: float | None = None,
) -> MultiStartResult:
    """Run EM from many starts and keep the best maximum.

    Parameters
    ----------
    stats : CompressedData
        Individuals in canonical order (see the module notes).
    Z : ndarray, shape (N, q)
    k : int
    rng : numpy.random.Generator
    n_starts : int, optional
        Default :func:`default_n_starts`. A fifth of them (after the first
        round) perturb the best maxima found by the others.
    n_full : int, optional
        Continue at most this many runs (the best after ``short_maxiter``
        iterations) after the first round; default all of them, each until it
        converges, joins a known maximum, turns degenerate or is pruned.
    short_maxiter : int
        Iterations of the first round.
    maxiter : int
        Maximum EM iterations of a run.
    tol, param_tol : float
        Convergence criteria of :func:`smlcr.em.run_em`.
    constraints : Constraints, optional
    start_params : ClassParams, optional
        One start run to convergence instead of the search.
    prune_margin : float
        A run is pruned when its log-likelihood plus an optimistic projection
        of its remaining gain is below the best maximum by more than
        ``prune_margin + 1e-8 |llf|``.
    layout : Layout, optional
        The parameter vector of the model. When given, a run whose EM
        increments shrink slowly (by less than half per iteration) is
        finished by safeguarded Newton steps (:func:`smlcr.newton.newton_phase`)
        where its Hessian is negative definite, instead of by hundreds of EM
        iterations.
    min_share : float
        A run that ends with a class share below ``min_share`` is recorded as
        degenerate (not an interior maximum), as is one that ends degenerate
        in the sense of :func:`smlcr.em.degeneracy`. The best run is the best
        interior one; degenerate runs are candidates only when no run is
        interior.
    work : Workspace, optional
        Arrays precomputed from ``stats`` and ``Z`` (built when not given).
    sample : int, optional
        With more than twice this many individuals, the starts run on a
        random sample of ``sample`` individuals (drawn with ``rng`` over the
        individuals' canonical order, so it does not depend on their labels),
        and the best distinct maxima found there (:data:`SAMPLE_CANDIDATES`,
        within :data:`SAMPLE_MARGIN`) are continued on all individuals by
        Newton steps (EM where they do not converge); the best of those is
        the estimate. The search then costs about as much as on ``sample``
        individuals, and all individuals only the few iterations from a
        point already near their maximum.
    gtol, max_newton : float, int
        Convergence criterion and steps of the Newton phase that continues
        the maxima of a sample on all individuals.
    progress : object, optional
        A :func:`smlcr.progress.progress_bar` display, advanced as runs finish.
    pooled : float, optional
        Residual variance of the one-class fit of ``stats`` (scaled units), when
        already computed (``PreparedData.pooled_variance``);
        computed here otherwise (and always for a sample's search).
    continued : list of ClassParams, optional
        Where runs of a search with a higher variance floor stopped at it
        (:attr:`MultiStartResult.floor_runs`): started as well (kind
        ``"floor"``), after the random starts, which they leave as they are.
    real_below : float, optional
        With a variance floor below the default one: a run that ends with a class
        whose variance is below ``real_below`` times ``pooled`` and that chance
        explains (:func:`tight_classes_are_real`: a handful of rows that happen to lie
        on a plane) is degenerate, not an interior maximum, so that the search's best
        maximum is the best one whose tight classes are real.

    Returns
    -------
    MultiStartResult
    """
    work = Workspace.build(stats, Z) if work is None else work
    constraints = Constraints() if constraints is None else constraints
    progress = progress_bar(0, "", False) if progress is None else progress
    size = search_size(stats.n_groups, sample)
    if start_params is None and size < stats.n_groups:
        pick = np.sort(rng.choice(stats.n_groups, size=size, replace=False))
        # the same search on the sample, then its maxima on all individuals
        search = {
            "n_starts": n_starts,
            "n_full": n_full,
            "short_maxiter": short_maxiter,
            "maxiter": maxiter,
            "tol": tol,
            "param_tol": param_tol,
            "constraints": constraints,
            "prune_margin": prune_margin,
            "layout": layout,
            "min_share": min_share,
            "continued": continued,
            "real_below": real_below,
        }
        found = multistart(stats.take(pick), Z[pick], k, rng, progress=progress, **search)
        return _continue_on_all(stats, Z, found, pick, work, search, gtol, max_newton)
    p = stats.k_exog
    if n_starts is None:
        n_starts = default_n_starts(stats.n_groups, k, p)

    def run(start, steps, kind=None):
        return run_em(stats, Z, start, steps, tol, param_tol, constraints, work)

    def first_round(start):
        # a look halfway: a class already below min_share stops the run (at K above what
        # the data support, most starts give a class to a few individuals at once)
        steps = min(short_maxiter, maxiter)
        first = run(start, min(FIRST_LOOK, steps))
        if first.converged or first.degenerate or first.n_iter >= steps:
            return first
        share = first.estep.shares
        tiny = shrinking_class(share, np.inf, min_share)
        if tiny:
            return replace(first, degenerate=tiny)
        return run(first, steps - first.n_iter)

    if start_params is not None:
        only = run(start_params, maxiter, "user")
        return _finish([only], ["user"], maxiter, tol)
    min_share = float(min_share)

    pooled = pooled_variance(stats) if pooled is None else pooled
    distinct = distinct_share(stats)
    ols_coef, _ = individual_ols(stats)
    cycle = [kind for kind in START_KINDS if kind != "kmeans" or ols_coef.shape[0] >= k]
    n_perturb = int(PERTURB_SHARE * n_starts) if n_starts >= 5 else 0
    kinds = [cycle[j % len(cycle)] for j in range(n_starts - n_perturb)]
    runs = []
    for kind in kinds:
        tau = _DRAWS[kind](rng, stats, Z, k, ols_coef, constraints, work, pooled)
        start = params_from_posteriors(stats, Z, tau, constraints, work)
        runs.append(first_round(start))
    if n_perturb:
        # perturb the best distinct solutions of the first round
        order = list(np.argsort([-r.llf for r in runs], kind="stable"))
        order = [j for j in order if not runs[j].degenerate] or order
        seeds = [runs[j] for j in order[: max(1, min(3, n_perturb))]]
        for j in range(n_perturb):
            tau = _tau_perturb(rng, seeds[j % len(seeds)].estep.tau)
            start = params_from_posteriors(stats, Z, tau, constraints, work)
            runs.append(first_round(start))
            kinds.append("perturb")
    for params in continued or []:
        # (the constraints' floor is below these variances: they were held at a higher one)
        runs.append(first_round(params))
        kinds.append("floor")

    status = ["" for _ in runs]
    if n_full is not None:
        order = np.argsort([-r.llf for r in runs], kind="stable")
        for j in order[n_full:]:
            if not (runs[j].converged or runs[j].degenerate):
                status[j] = "screened"
    found: list[tuple[np.ndarray, float]] = []  # points and llfs of completed runs
    joined_llf: dict[int, float] = {}

    def settle(j):
        r = runs[j]
        if r.converged or r.n_iter >= maxiter:
            # a run can converge (nothing moves) at a degenerate point, or with a class
            # below min_share: such a solution is recorded, but is not an interior maximum
            reason = r.degenerate or _degenerate_at_end(r, min_share)
            if not reason and real_below is not None:
                reason = _chance_collapse(r, stats, pooled, real_below, distinct)
            if reason:
                runs[j] = replace(r, degenerate=reason)
                status[j] = "degenerate"
                return
            status[j] = "converged" if r.converged else "maxiter"
            found.append((_point(r), r.llf))
        elif r.degenerate:
            status[j] = "degenerate"

    for j in range(len(runs)):
        if not status[j]:
            settle(j)
    cooldown = [0] * len(runs)
    smallest = [np.inf] * len(runs)  # each run's smallest class share at its last look
    shown = 0  # runs finished and shown on the progress display
    while True:
        finished = sum(bool(st) for st in status)
        progress.update(finished - shown)
        shown = finished
        active = [j for j in range(len(runs)) if not status[j]]
        if not active:
            break
        active.sort(key=lambda j: -runs[j].llf)
        for j in active:
            # a look at the run before its next round: heading for a tiny class, unable
            # to reach the best maximum found, or at a maximum already found
            share = runs[j].estep.shares
            shrinking = shrinking_class(share, smallest[j], min_share)
            smallest[j] = float(share.min())
            if shrinking:
                runs[j] = replace(runs[j], degenerate=shrinking)
                status[j] = "degenerate"
                continue
            best = max((llf for _, llf in found), default=-np.inf)
            margin = prune_margin + 1e-8 * abs(best)
            remaining = maxiter - runs[j].n_iter
            if runs[j].llf + _projected_gain(runs[j].llf_history, remaining) < best - margin:
                status[j] = "pruned"
                continue
            point = _point(runs[j])
            for other, llf in found:
                if _same_point(other, point, 10 * SAME_POINT) and runs[j].llf <= llf:
                    status[j] = "joined"
                    joined_llf[j] = llf
                    break
            if status[j]:
                continue
            cooldown[j] -= 1
            if (
                layout is not None
                and cooldown[j] <= 0
                and _slow(runs[j].llf_history, tol)
                and not runs[j].floor_hit.any()
            ):
                tried = newton_phase(
                    stats,
                    Z,
                    runs[j],
                    layout,
                    constraints,
                    work,
                    tol,
                    NEWTON_STEPS,
                    False,
                    min_share,
                )
                runs[j] = tried.run
                if tried.n_newton == 0:
                    cooldown[j] = NEWTON_COOLDOWN
                settle(j)
                if status[j]:
                    continue
            steps = min(ROUND_ITERATIONS, maxiter - runs[j].n_iter)
            runs[j] = run(runs[j], steps, kinds[j])
            settle(j)

    evidence = FloorEvidence(stats.dof, distinct, constraints.var_floor / pooled)
    return _finish(runs, kinds, maxiter, tol, status, joined_llf, evidence)


def _continue_on_all(stats, Z, found, pick, work, search, gtol, max_newton) -> MultiStartResult:
    """Continue the best maxima of a search on a sample on all individuals: the Newton
    phase of the fit (:func:`smlcr.newton.newton_phase` to ``gtol``), EM where it
    does not converge. ``search`` holds :func:`multistart`'s options."""
    maxiter, tol, param_tol = search["maxiter"], search["tol"], search["param_tol"]
    # (search["continued"] was started by the search on the sample)
    constraints, layout, min_share = search["constraints"], search["layout"], search["min_share"]
    leaders = found.leaders or [found.best]
    top = leaders[0].llf
    candidates = [r for r in leaders if r.llf >= top - SAMPLE_MARGIN][:SAMPLE_CANDIDATES]
    exact = replace(work, expand=False)  # Newton judges on sums from the residuals
    runs, rows, outcomes = [], [], []
    for leader in candidates:
        estep = e_step(stats, Z, leader.params, exact)
        run = canonical_order(
            EMRun(
                params=leader.params,
                estep=estep,
                llf_history=[estep.llf],
                floor_hit=leader.floor_hit,
            )
        )
        outcome = None
        if layout is not None and not run.floor_hit.any():
            outcome = newton_phase(stats, Z, run, layout, constraints, exact, gtol, max_newton)
            run = outcome.run
        if not run.converged and run.n_iter < maxiter:
            outcome = None
            run = run_em(stats, Z, run, maxiter - run.n_iter, tol, param_tol, constraints, work)
        reason = run.degenerate or _degenerate_at_end(run, min_share)
        status = "degenerate" if reason else "converged" if run.converged else "maxiter"
        runs.append(replace(run, degenerate=reason or None))
        outcomes.append(outcome)
        rows.append(
            {
                "sample_llf": leader.llf,
                "llf": run.llf,
                "n_iter": run.n_iter,
                "status": status,
                "reason": reason or "",
            }
        )
        _keep_best_derivatives(outcomes, runs, [row["status"] for row in rows])
    continued = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="maximum"))
    interior = [j for j, row in enumerate(rows) if row["status"] != "degenerate"]
    chosen = max(interior or range(len(runs)), key=lambda j: runs[j].llf)
    return replace(
        found,
        best=canonical_order(runs[chosen]),
        sample=pick,
        continued=continued,
        polished=outcomes[chosen],
    )


def _keep_best_derivatives(outcomes: list, runs: list, statuses: list) -> None:
    """Keep the derivatives (with their (N, P) scores) of one continued maximum only: the
    one the estimate will be, interior before degenerate, then by log-likelihood. The
    others' are dropped (the fit recomputes them if it needs them)."""

    def rank(j):
        return (statuses[j] != "degenerate", runs[j].llf)

    held = [j for j, out in enumerate(outcomes) if out is not None and out.derivatives is not None]
    best = max(held, key=rank, default=None)
    for j in held:
        if j != best:
            outcomes[j] = replace(outcomes[j], derivatives=None)


@dataclass(frozen=True)
class FloorEvidence:
    """What :attr:`StartRecord.floor_rows` and its neighbours are judged from.

    Attributes
    ----------
    dof : ndarray, shape (N,)
        The individuals' residual degrees of freedom.
    share : ndarray, shape (N,)
        :func:`distinct_share`.
    ratio : float
        The variance floor over the one-class residual variance.
    """

    dof: np.ndarray
    share: np.ndarray
    ratio: float

    def record(self, run: EMRun) -> dict:
        """``floor_rows``, ``floor_candidate`` and ``floor_tight`` of :class:`StartRecord`
        for ``run`` (its held class with the most distinct rows)."""
        if not np.any(run.floor_hit):
            return {}
        tau = run.estep.tau[:, run.floor_hit] * self.share[:, None]
        rows = self.dof @ tau
        held = int(np.argmax(rows))
        p = run.params.beta.shape[1]
        candidate = bool(rows[held] - p >= max(p, 3))
        tight = tight_at_floor(tau[:, held].sum(), rows[held], p, self.share.sum(), self.ratio)
        return {
            "floor_rows": float(rows[held]),
            "floor_candidate": candidate,
            "floor_tight": candidate and bool(tight),
        }


def _finish(
    runs, kinds, maxiter, tol, status=None, joined_llf=None, evidence=None
) -> MultiStartResult:
    """The best completed run, the records and the table of maxima (``evidence``: for
    :attr:`StartRecord.floor_rows` and its neighbours)."""
    if status is None:
        status = [
            "converged" if r.converged else "degenerate" if r.degenerate else "maxiter"
            for r in runs
        ]
    joined_llf = joined_llf or {}
    records = [
        StartRecord(
            kind=kind,
            llf=float(joined_llf.get(j, r.llf)),
            n_iter=int(r.n_iter),
            status=st,
            reason=r.degenerate or "",
            **({} if evidence is None else evidence.record(r)),
        )
        for j, (r, kind, st) in enumerate(zip(runs, kinds, status, strict=True))
    ]
    # the best interior maximum; a degenerate run above it (an empty class, coinciding
    # classes, a variance at the floor: a spurious maximum of the unbounded likelihood) is
    # reported by `stopped_above_best`, and only when no run reached an interior maximum
    # is the best degenerate run the estimate (on the boundary)
    candidates = [
        r for r, rec in zip(runs, records, strict=True) if rec.status in ("converged", "maxiter")
    ] or list(runs)
    best = canonical_order(max(candidates, key=lambda r: r.llf))
    reach_tol = max(1e-6 * (1.0 + abs(best.llf)), 100 * tol * (1.0 + abs(best.llf)))
    # a joined run is counted at the maximum it joined
    completed = [
        r for r, rec in zip(runs, records, strict=True) if rec.status in ("converged", "maxiter")
    ]
    maxima = distinct_maxima(completed, reach_tol)
    for llf in joined_llf.values():
        row = int(np.argmin(np.abs(maxima["llf"].to_numpy() - llf)))
        maxima.iloc[row, maxima.columns.get_loc("n_starts")] += 1
    leaders = [group[3] for group in _group_maxima(completed, reach_tol)]
    result = MultiStartResult(
        best=best, records=records, maxima=maxima, reach_tol=reach_tol, leaders=leaders
    )
    asking = [r for r, rec in zip(runs, records, strict=True) if result._asks_for_lower_floor(rec)]
    result.floor_runs = [r.params for r in sorted(asking, key=lambda r: -r.llf)[:FLOOR_RUNS]]
    return result


def pooled_variance(stats: CompressedData) -> float:
    """Residual variance of the one-class least-squares fit (scaled units).

    :func:`smlcr.compress.pooled_residual_variance`: the pooled R factor of the
    stacked ``sqrt(w_i) [R_i | c_i]`` built a block of individuals at a time.

    Parameters
    ----------
    stats : CompressedData

    Returns
    -------
    float
    """
    return pooled_residual_variance(stats)
