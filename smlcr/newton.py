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
from smlcr.em import Constraints, EMRun, Layout, Workspace, e_step, em_step
from smlcr.information import derivatives

__all__ = ["NewtonOutcome", "newton_phase", "relative_gradient"]


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


def _negative_definite(hessian: np.ndarray) -> bool:
    """Whether ``hessian`` is negative definite, judged on its equilibrated form."""
    diagonal = -np.diag(hessian)
    if np.any(diagonal <= 0):
        return False
    scale = np.sqrt(diagonal)
    w = np.linalg.eigvalsh(-hessian / np.outer(scale, scale))
    return bool(w[0] > hessian.shape[0] * np.finfo(float).eps * max(w[-1], 1.0) * 100)


@dataclass
class NewtonOutcome:
    """Where the Newton phase ended.

    Attributes
    ----------
    run : EMRun
        The run, continued (its ``llf_history`` extended by every step).
    gradient : float
        :func:`relative_gradient` at the final parameters (scaled units).
    negative_definite : bool
        Whether the Hessian is negative definite there.
    n_newton : int
        Newton steps taken.
    boundary : str or None
        Why the estimate is on the boundary of the parameter space (a
        degenerate class, a variance at the floor), where neither a zero
        gradient nor a negative definite Hessian is expected.
    """

    run: EMRun
    gradient: float
    negative_definite: bool
    n_newton: int
    boundary: str | None

    @property
    def converged(self) -> bool:
        """A zero gradient (to ``gtol``) and a negative definite Hessian."""
        return self.boundary is None and self.negative_definite and self.run.converged


def newton_phase(
    stats: CompressedData,
    Z: np.ndarray,
    run: EMRun,
    layout: Layout,
    constraints: Constraints,
    work: Workspace | None = None,
    gtol: float = 1e-9,
    max_steps: int = 50,
) -> NewtonOutcome:
    """Polish an EM run by safeguarded Newton steps until the gradient vanishes.

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
        Converged when :func:`relative_gradient` is below ``gtol`` and the
        Hessian is negative definite.
    max_steps : int
        Newton or EM steps at most.

    Returns
    -------
    NewtonOutcome
        ``run.converged`` is set from the gradient and Hessian.
    """
    work = Workspace.build(stats, Z) if work is None else work
    run = replace(run, llf_history=list(run.llf_history))
    boundary = run.degenerate
    if boundary is None and np.any(run.floor_hit):
        classes = [int(s) + 1 for s in np.flatnonzero(run.floor_hit)]
        boundary = f"the variance of class(es) {classes} is at the floor"
    n_newton = 0
    polished = False
    gradient, definite = np.inf, False
    for _ in range(max_steps + 1):
        theta = layout.flat(run.params)
        derivs = derivatives(stats, Z, run.params, layout)
        gradient = relative_gradient(derivs.score, theta, run.llf)
        definite = _negative_definite(derivs.hessian)
        if boundary is not None:
            break
        stepped = False
        if definite:
            direction = np.linalg.solve(-derivs.hessian, derivs.score)
            # the gain a full step promises: below the rounding of the log-likelihood a
            # comparison of log-likelihoods cannot judge the step, so one last full step is
            # taken on the strength of the Hessian alone (it moves the parameters by the
            # rounding error of the gradient, no more), and the phase ends
            if 0.5 * float(derivs.score @ direction) <= run.estep.rounding + 1e-15 * abs(run.llf):
                params = layout.unflat(theta + direction)
                if polished or not np.all(params.sigma2 > constraints.var_floor):
                    break
                run.params, run.estep = params, e_step(stats, Z, params, work)
                run.n_iter += 1
                run.llf_history.append(run.llf)
                n_newton += 1
                polished = True
                continue
            t = 1.0
            while t >= 1.0 / 64:
                params = layout.unflat(theta + t * direction)
                if np.all(params.sigma2 > constraints.var_floor) and np.all(
                    np.isfinite(params.beta)
                ):
                    estep = e_step(stats, Z, params, work)
                    if estep.llf >= run.llf:
                        run.params, run.estep = params, estep
                        stepped = True
                        n_newton += 1
                        break
                t /= 2
            if not stepped and gradient <= gtol:
                break  # at the maximum to rounding: no step raises the log-likelihood
        if not stepped:
            params, estep, info = em_step(stats, Z, run.params, run.estep, constraints, work)
            run.params, run.estep, run.floor_hit = params, estep, info.floor_hit
        run.n_iter += 1
        run.llf_history.append(run.llf)
    run.converged = boundary is None and gradient <= gtol and definite
    return NewtonOutcome(
        run=run,
        gradient=gradient,
        negative_definite=definite,
        n_newton=n_newton,
        boundary=boundary,
    )
