"""Safeguarded Newton-Raphson on the observed log-likelihood, after EM.

EM converges linearly, slowly where classes overlap. Near a maximum the
analytic Hessian (:mod:`smlcr.information`) gives Newton steps that converge
quadratically. A Newton step is taken only where the Hessian is negative
definite and the step (or a halved one) raises the log-likelihood; otherwise
an EM step is taken, so the log-likelihood never falls. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from smlcr.compress import CompressedData
from smlcr.em import (
    Constraints,
    EMRun,
    Workspace,
    degeneracy,
    e_step,
    em_step,
    flat_membership,
    rounding_bound,
    shrinking_class,
)
from smlcr.information import Derivatives, derivatives
from smlcr.params import Layout
from smlcr.threads import single_threaded, small_dense

__all__ = ["NewtonOutcome", "newton_phase", "relative_gradient", "trust_region_step"]

#: Trust-region steps tried (the radius shrinking fourfold after each failure) before
#: the phase falls back to an EM step.
TRUST_TRIES = 6


def relative_gradient(score: np.ndarray, theta: np.ndarray, llf: float) -> float:
    """``max_j |g_j| max(1, |theta_j|) / max(1, |llf|)``: a scale-free size of the gradient.

    Parameters
    ----------
    score, theta : ndarray, shape (P,)
    llf : float

    Returns
    -------
    float
    """
    if score.size == 0:
        return 0.0
    return float(np.max(np.abs(score) * np.maximum(1.0, np.abs(theta))) / max(1.0, abs(llf)))


@single_threaded
def _negative_definite(hessian: np.ndarray) -> bool:
    """Whether ``hessian`` is negative definite, judged on its equilibrated form."""
    diagonal = -np.diag(hessian)
    if np.any(diagonal <= 0):
        return False
    scale = np.sqrt(diagonal)
    w = np.linalg.eigvalsh(-hessian / np.outer(scale, scale))
    return bool(w[0] > hessian.shape[0] * np.finfo(float).eps * max(w[-1], 1.0) * 100)


def _equilibration(hessian: np.ndarray) -> np.ndarray:
    """Scales ``D`` (square roots of ``|diag H|``, floored) that make ``-H / (D D')`` O(1)."""
    diagonal = np.abs(np.diag(hessian))
    floor = np.finfo(float).eps * max(float(diagonal.max(initial=0.0)), 1e-300)
    return np.sqrt(np.maximum(diagonal, floor))


@single_threaded
def trust_region_step(score: np.ndarray, hessian: np.ndarray, radius: float):
    """The step that maximises the quadratic model within a trust region.

    Maximises ``g'd + d'Hd / 2`` over ``||D d|| <= radius`` (``D`` from the
    equilibrated Hessian, so the radius is in units of about one standard
    error of each parameter), whatever the signs of ``H``'s eigenvalues: the
    solution is ``d = (-H + lambda D^2)^-1 g`` with ``lambda >= 0`` large
    enough for a positive definite system and a step inside the region
    (Moré and Sorensen's characterisation, solved on the eigendecomposition).
    Where the gradient has no component along a direction of positive
    curvature (the "hard case" at a saddle), the step is completed along that
    direction to the boundary.

    Parameters
    ----------
    score, hessian : ndarray
        Gradient ``g`` (P,) and Hessian ``H`` (P, P) of the log-likelihood.
    radius : float

    Returns
    -------
    step : ndarray, shape (P,)
    predicted : float
        The gain the quadratic model predicts, ``g'd + d'Hd / 2``.
    """
    scale = _equilibration(hessian)
    g = score / scale
    w, v = np.linalg.eigh(-hessian / np.outer(scale, scale))
    gv = v.T @ g

    def length(lam):
        return float(np.linalg.norm(gv / (w + lam)))

    low = max(0.0, -float(w[0]))
    tiny = 1e-12 * max(1.0, float(np.abs(w).max()))
    if w[0] > tiny and length(0.0) <= radius:
        lam = 0.0
    elif length(low + tiny) <= radius:
        # the hard case: the gradient is (nearly) orthogonal to the most negative
        # curvature; go to the boundary along that direction
        lam = low + tiny
        inner = gv / (w + lam)
        extra = np.sqrt(max(radius**2 - float(inner @ inner), 0.0))
        sign = 1.0 if gv[0] >= 0 else -1.0
        d = v @ inner + sign * extra * v[:, 0]
        return d / scale, float(g @ d - 0.5 * d @ ((v * w) @ (v.T @ d)))
    else:
        high = low + max(tiny, float(np.linalg.norm(g)) / radius)
        while length(high) > radius:
            high = low + 2.0 * (high - low)
        lo = low + tiny
        for _ in range(100):
            lam = 0.5 * (lo + high)
            if length(lam) > radius:
                lo = lam
            else:
                high = lam
            if high - lo <= 1e-10 * high:
                break
        lam = high
    d = v @ (gv / (w + lam))
    return d / scale, float(g @ d - 0.5 * d @ ((v * w) @ (v.T @ d)))


@dataclass
class NewtonOutcome:
    """Where the Newton phase ended.

    Attributes
    ----------
    run : EMRun
        The run, continued (its ``llf_history`` extended by every step).
    gradient : float
        :func:`relative_gradient` at the final parameters (scaled units).
    decrement : float
        Half the Newton decrement ``g' (-H)^-1 g / 2``: what a Newton step
        would still add to the log-likelihood (NaN where the Hessian is not
        negative definite).
    rounding : float
        Bound on the rounding error of the log-likelihood there
        (:func:`smlcr.em.rounding_bound`).
    negative_definite : bool
        Whether the Hessian is negative definite there.
    n_newton : int
        Newton steps taken.
    boundary : str or None
        Why the estimate is on the boundary of the parameter space (a
        degenerate class, a variance at the floor), where neither a zero
        gradient nor a negative definite Hessian is expected.
    converged : bool
        Inside the parameter space, a negative definite Hessian, and a
        decrement below ``gtol`` or below the rounding error of the
        log-likelihood (no step could then be judged to raise it).
    derivatives : Derivatives or None
        The score and Hessian at the final parameters (None when the phase
        ended with a step, after its last derivatives).
    """

    run: EMRun
    gradient: float
    decrement: float
    rounding: float
    negative_definite: bool
    n_newton: int
    boundary: str | None
    converged: bool
    derivatives: Derivatives | None = None


def newton_phase(
    stats: CompressedData,
    Z: np.ndarray,
    run: EMRun,
    layout: Layout,
    constraints: Constraints,
    work: Workspace | None = None,
    gtol: float = 1e-9,
    max_steps: int = 50,
    fallback_em: bool = True,
    min_share: float = 0.0,
) -> NewtonOutcome:
    """Polish an EM run by safeguarded Newton steps until no step can gain more.

    Each step solves ``(-H) d = g``; it is taken (or halved, up to six times)
    only if the log-likelihood does not fall, otherwise an EM step is taken.
    Newton converges quadratically, so the phase goes on until half the
    Newton decrement ``g'd / 2`` (the gain a step promises) is below the
    rounding error of the log-likelihood; there one last full step is taken
    on the strength of the Hessian (it moves the parameters by the rounding
    error of the gradient, and the log-likelihood by less than its rounding
    error), unless the log-likelihood falls by more than the rounding of the
    two values: along a nearly flat direction such a step can be long.

    Parameters
    ----------
    stats : CompressedData
    Z : ndarray, shape (N, q)
    run : EMRun
    layout : Layout
        The parameter vector Newton works on (with its restrictions).
    constraints : Constraints
    work : Workspace, optional
    gtol : float
        Converged when the Hessian is negative definite and the remaining gain
        ``g'd / 2`` is below ``gtol`` (log-likelihood units) or below the
        rounding error, when the steps run out.
    max_steps : int
        Newton or EM steps at most.
    fallback_em : bool
        Where no Newton step can be taken, take an EM step and try again;
        false ends the phase there instead (the multi-start search then goes
        on with plain EM, which is cheaper per step than a Hessian).
    min_share : float
        The phase stops, with the run marked degenerate, when a class share
        falls below ``min_share`` and below the smallest share at the start
        (:func:`smlcr.em.shrinking_class`): the steps are then heading for a
        spurious maximum with a class on a few individuals.

    Returns
    -------
    NewtonOutcome
        ``run.converged`` is set to ``NewtonOutcome.converged``.
    """
    work = Workspace.build(stats, Z) if work is None else work
    run = replace(run, llf_history=list(run.llf_history))
    if not work.expand and run.estep.ssr_error > 0:
        run.estep = e_step(stats, Z, run.params, work)  # from the residuals
    # judged at the final point too: a run can converge (nothing moves) with a class
    # already empty, before the check in EM would have stopped it
    boundary = run.degenerate or degeneracy(
        run.params, run.estep.class_weight, run.floor_hit, run.estep.log_prior
    )
    n_newton = 0
    radius = None  # of the trust region, in units of about one standard error
    polished = False
    gradient, decrement, definite = np.inf, np.nan, False
    smallest = float(run.estep.shares.min())
    for _ in range(max_steps + 1):
        theta = layout.flat(run.params)
        derivs = final = None  # the last step's (N, P) scores are freed before the new ones
        derivs = final = derivatives(stats, Z, run.params, layout, estep=run.estep, work=work)
        definite = _negative_definite(derivs.hessian)
        gradient = relative_gradient(derivs.score, theta, run.llf)
        decrement = np.nan
        if definite:
            with small_dense():
                direction = np.linalg.solve(-derivs.hessian, derivs.score)
            decrement = 0.5 * float(derivs.score @ direction)
        if boundary is not None:
            break
        stepped = False
        rounding = rounding_bound(stats, run.params, run.estep, work)
        if definite:
            if decrement <= rounding:
                params = layout.unflat(theta + direction)
                if polished or not np.all(params.sigma2 > constraints.var_floor):
                    break
                estep = e_step(stats, Z, params, work)
                if not estep.llf >= run.llf - rounding - rounding_bound(stats, params, estep, work):
                    # a step along a nearly flat direction can be long while the gain it
                    # promises is below rounding: taken only when the log-likelihood agrees
                    break
                run.params, run.estep = params, estep
                run.n_iter += 1
                run.llf_history.append(run.llf)
                n_newton += 1
                polished = True
                continue
        if not stepped:
            # a trust-region step: the Newton step where the Hessian is negative definite
            # and the step is inside the region; otherwise (a ridge or a saddle, typical
            # with more classes than the data support, or a quadratic model that does not
            # hold that far) the best step of the model within the region; in log
            # variances, where the log-likelihood is closer to quadratic
            var = layout.slices["sigma2"]
            jac = np.ones_like(theta)
            jac[var] = theta[var]
            score_log = derivs.score * jac
            hessian_log = derivs.hessian * np.outer(jac, jac)
            hessian_log[var, var] += np.diag(derivs.score[var] * theta[var])
            if radius is None:
                # the first step: the whole Newton step where there is one, else one unit
                radius = 1.0
                if _negative_definite(hessian_log):
                    with small_dense():
                        newton_log = np.linalg.solve(-hessian_log, score_log)
                    radius = max(
                        1.0, float(np.linalg.norm(newton_log * _equilibration(hessian_log)))
                    )
            for _ in range(TRUST_TRIES):
                step, predicted = trust_region_step(score_log, hessian_log, radius)
                if not predicted > rounding:
                    break
                trial = theta + step * jac
                trial[var] = theta[var] * np.exp(step[var])
                params = layout.unflat(trial)
                if np.all(params.sigma2 > constraints.var_floor) and np.all(
                    np.isfinite(params.beta)
                ):
                    estep = e_step(stats, Z, params, work)
                    gain = estep.llf - run.llf
                    if gain > 0:
                        run.params, run.estep = params, estep
                        stepped = True
                        n_newton += 1
                        length = float(np.linalg.norm(step * _equilibration(hessian_log)))
                        if gain > 0.75 * predicted and length > 0.99 * radius:
                            radius *= 2.0
                        elif gain < 0.25 * predicted:
                            radius = length / 4.0
                        break
                radius /= 4.0
        if not stepped:
            if not fallback_em:
                break
            params, estep, info = em_step(stats, Z, run.params, run.estep, constraints, work)
            run.params, run.estep, run.floor_hit = params, estep, info.floor_hit
        run.n_iter += 1
        run.llf_history.append(run.llf)
        final = None  # the parameters moved after the last derivatives
        shrinking = shrinking_class(run.estep.shares, smallest, min_share)
        if shrinking:
            boundary = run.degenerate = shrinking
            break
    rounding = rounding_bound(stats, run.params, run.estep, work)
    if boundary is None:
        # and at the point the steps ended: they can move two classes together
        boundary = degeneracy(
            run.params, run.estep.class_weight, run.floor_hit, run.estep.log_prior
        )
        if boundary is None:
            flat = flat_membership(stats, Z, run.params, run.estep, rounding, work)
            if flat is not None:
                boundary = (
                    f"the membership variables separate class {flat[1] + 1} in part (doubling "
                    f"its coefficient of membership column {flat[0] + 1} leaves the "
                    "log-likelihood unchanged), so that coefficient has no finite maximum"
                )
        if boundary is not None:
            run.degenerate = boundary
    converged = boundary is None and definite and decrement <= max(gtol, rounding, 0.0)
    run.converged = converged
    return NewtonOutcome(
        run=run,
        gradient=gradient,
        decrement=decrement,
        rounding=rounding,
        negative_definite=definite,
        n_newton=n_newton,
        boundary=boundary,
        converged=converged,
        derivatives=final,
    )
