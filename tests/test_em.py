"""The EM engine: monotone traces, a loud failure on a fall, reproducible starts."""

import warnings

import numpy as np
import pandas as pd
import pytest

import smlcr
from smlcr import em
from smlcr.exceptions import SingleBestStartWarning
from smlcr.newton import newton_phase
from tests.conftest import random_grouped


@pytest.mark.parametrize("seed", range(25))
def test_trace_never_decreases_on_random_data(seed):
    rng = np.random.default_rng(seed)
    k_true, k_fit = rng.integers(1, 4), rng.integers(2, 5)
    endog, exog, ids = random_grouped(
        rng,
        n_groups=int(rng.integers(k_fit, 80)),
        max_rows=int(rng.integers(1, 10)),
        p=int(rng.integers(1, 4)),
        k=k_true,
        scale=10.0 ** rng.integers(-3, 8),
    )
    model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=int(k_fit))
    stats = model.stats
    Z = model.membership_exog
    for _ in range(3):
        tau = rng.dirichlet(np.ones(k_fit), size=model.n_groups)
        start = em.params_from_posteriors(stats, Z, tau, em.Constraints(var_floor=1e-6))
        run = em.run_em(stats, Z, start, maxiter=200, constraints=em.Constraints(var_floor=1e-6))
        steps = np.diff(run.llf_history)
        assert np.all(steps >= -1e-9 * (1 + np.abs(run.llf_history[1:]))), steps.min()


def test_a_falling_loglikelihood_raises(monkeypatch, sim3):
    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    real_m_step = em.m_step

    def broken_m_step(stats, Z, tau, previous, constraints, work=None, exact=False, sums=None):
        params, info = real_m_step(stats, Z, tau, previous, constraints, work, exact, sums)
        # a variance update from another residual than the E-step's: too small
        return em.ClassParams(params.beta, params.sigma2 * 0.3, params.eta), info

    monkeypatch.setattr(em, "m_step", broken_m_step)
    with pytest.raises(em.EMDecreaseError, match="fell"):
        model.fit(n_starts=2, rng=0)


def test_same_seed_same_result(sim3):
    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    a = model.fit(n_starts=4, rng=5)
    b = model.fit(n_starts=4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))
    np.testing.assert_array_equal(a.start_llfs, b.start_llfs)
    np.testing.assert_array_equal(a.posteriors.to_numpy(), b.posteriors.to_numpy())


def test_canonical_order_is_descending_share_and_label_free(sim3):
    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    fits = [model.fit(n_starts=3, rng=seed) for seed in (1, 2, 3)]
    for res in fits:
        shares = res.class_shares["share"].to_numpy()
        assert np.all(np.diff(shares) < 0)
        np.testing.assert_allclose(res.posteriors.mean().to_numpy(), shares, atol=1e-6)
    for res in fits[1:]:
        np.testing.assert_allclose(
            np.asarray(res.params), np.asarray(fits[0].params), rtol=1e-5, atol=1e-6
        )


def test_start_bookkeeping(sim3):
    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    res = model.fit(n_starts=10, rng=0)
    assert len(res.start_llfs) == 10
    assert set(res.start_kinds) == {"subset", "kmeans", "partition", "posterior", "perturb"}
    assert res.start_kinds.count("perturb") == 2
    assert res.llf >= res.start_llfs.max() - 1e-9 * abs(res.llf)
    assert 1 <= res.n_reached_best <= res.n_completed_starts <= 10
    assert list(res.start_status["status"].unique()) != []
    assert res.local_maxima["n_starts"].sum() == res.n_completed_starts
    assert res.local_maxima["same_point_as_best"].iloc[0]
    assert res.llf_history[-1] == pytest.approx(res.llf, rel=1e-12)
    assert res.llf_history[0] < res.llf


def test_single_best_start_warns():
    # two starts on data with two clear local optima: warn when only one reaches the best
    rng = np.random.default_rng(3)
    endog, exog, ids = random_grouped(rng, n_groups=30, max_rows=2, p=2, k=3)
    model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=4)
    seen = False
    for seed in range(20):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            res = model.fit(n_starts=2, rng=seed, short_maxiter=3)
        warned = any(issubclass(w.category, SingleBestStartWarning) for w in record)
        if res.n_completed_starts == 0:
            # no interior maximum at all: said by its own warning instead
            assert not warned
            assert any("none of the 2 starts" in str(w.message) for w in record)
            continue
        assert warned == (res.n_reached_best < 2)
        seen |= warned
    assert seen


def test_start_params_are_used(fitted3):
    model = fitted3.model
    res = model.fit(start_params=np.asarray(fitted3.params))
    assert res.start_kinds == ["user"]
    assert res.n_iter <= 5
    np.testing.assert_allclose(
        np.asarray(res.params), np.asarray(fitted3.params), rtol=1e-6, atol=1e-8
    )
    with pytest.raises(ValueError, match="params"):
        model.fit(start_params=np.ones(3))


def test_a_start_stopped_above_the_best_warns(sim3):
    # the rule: a start that stopped before completing (degenerate, pruned, screened) with a
    # log-likelihood above the reported maximum is reported, never passed over
    from dataclasses import replace

    from smlcr import starts
    from smlcr.exceptions import LocalMaximumWarning

    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    outcome = starts.multistart(
        model.stats, model.membership_exog, 3, np.random.default_rng(0), n_starts=4
    )
    polished = newton_phase(
        model.stats, model.membership_exog, outcome.best, model.layout, em.Constraints()
    )
    assert outcome.stopped_above_best == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMaximumWarning)
        model._warn_about_search(outcome, polished, 100, 1e-9)
    outcome.records[1] = replace(
        outcome.records[1], status="degenerate", llf=outcome.best.llf + 1.0
    )
    assert outcome.stopped_above_best == 1
    with pytest.warns(LocalMaximumWarning, match="1 start"):
        model._warn_about_search(outcome, polished, 100, 1e-9)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_expanded_ssr_is_within_its_bound_and_exact_for_close_fits(scale):
    """The sums of squares by expansion differ from those formed from the residuals
    by less than their stated bound; a class that fits closely is computed exactly."""
    rng = np.random.default_rng(3)
    endog, exog, ids = random_grouped(rng, n_groups=400, max_rows=8, p=3, k=2, scale=scale)
    model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=3)
    stats, work = model.stats, em.Workspace.build(model.stats, model.membership_exog)
    beta = rng.normal(size=(3, stats.k_exog))
    exact = em.ssr(stats, beta)  # from the residuals
    sigma2 = np.array([1.0, 0.5, 1e-12])  # the last class "fits" far too closely
    fast, error = em.expanded_ssr(stats, beta, sigma2, work)
    assert error[2] == 0.0
    np.testing.assert_allclose(fast[:, 2], exact[:, 2], rtol=1e-13)  # from its residuals
    assert error[0] > 0 and error[1] > 0  # these two were expanded
    llf_change = np.abs(fast[:, :2] - exact[:, :2]).sum(axis=0) / (2 * sigma2[:2])
    assert np.all(llf_change <= error[:2])
    # with expansion switched off, every class is exact
    off, none = em.expanded_ssr(stats, beta, sigma2, em.replace(work, expand=False))
    np.testing.assert_allclose(off, exact, rtol=1e-13)
    assert not none.any()


def test_trust_region_step_solves_its_subproblem():
    """The step maximises the quadratic model over the (scaled) ball, also where the
    Hessian is indefinite, and is the Newton step when that lies inside."""
    from scipy.optimize import minimize

    from smlcr.newton import _equilibration, trust_region_step

    rng = np.random.default_rng(0)
    for definite in (True, False):
        a = rng.normal(size=(5, 5))
        hessian = -(a @ a.T + 0.1 * np.eye(5)) if definite else (a + a.T) / 2
        score = rng.normal(size=5)
        scale = _equilibration(hessian)
        for radius in (0.05, 0.5, 100.0):
            step, predicted = trust_region_step(score, hessian, radius)
            model = score @ step + 0.5 * step @ hessian @ step
            assert np.isclose(predicted, model, rtol=1e-10, atol=1e-14)
            assert np.linalg.norm(scale * step) <= radius * (1 + 1e-8)
            constraint = {
                "type": "ineq",
                "fun": lambda d, r=radius, s=scale: r**2 - np.sum((s * d) ** 2),
            }
            best = -np.inf
            for _ in range(5):
                trial = minimize(
                    lambda d, g=score, h=hessian: -(g @ d + 0.5 * d @ h @ d),
                    rng.normal(size=5) * radius / scale / 5,
                    constraints=[constraint],
                    method="SLSQP",
                    options={"ftol": 1e-12, "maxiter": 500},
                )
                best = max(best, -trial.fun)
            assert model >= best - 1e-6 * max(1.0, abs(best))
            if definite and radius == 100.0:
                np.testing.assert_allclose(step, np.linalg.solve(-hessian, score), rtol=1e-8)


def _weighted_model(sim3, weights):
    data = sim3.data
    keywords = {} if weights is None else {"freq_weights": weights}
    return smlcr.LatentClassOLS.from_formula(
        sim3.formula, data, groups="id", k_classes=3, **keywords
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_the_fused_e_step_equals_the_e_step_in_passes(sim3, monkeypatch, weighted):
    """The E-step in one blocked pass gives the arrays of the E-step in whole-array passes
    and the M-step's sums at its posteriors; the M-step from those sums gives the M-step's
    parameters; several blocks (a small block size) change nothing beyond rounding."""
    weights = None
    if weighted:
        ids = sim3.data["id"].unique()
        weights = pd.Series(np.arange(len(ids)) % 3 + 1.0, index=ids)
    model = _weighted_model(sim3, weights)
    res = model.fit(rng=0, n_starts=2)
    params = model.to_scaled(np.asarray(res.params))
    stats, Z = model.stats, model._Z
    monkeypatch.setattr(em, "E_STEP_BLOCK", 64)  # several blocks
    work = em.Workspace.build(stats, Z)
    fused = em.e_step(stats, Z, params, work)
    assert fused.sums is not None
    ssr_, _ = em.expanded_ssr(stats, params.beta, params.sigma2, work)
    plain = em.e_step(stats, Z, params, work, ssr_)
    assert plain.sums is None
    for name in ("ssr", "tau", "llf_obs"):
        np.testing.assert_allclose(getattr(fused, name), getattr(plain, name), rtol=1e-13)
    assert fused.log_joint is None  # not kept by the fused pass; formed where needed
    np.testing.assert_allclose(fused.joint(stats, params), plain.log_joint, rtol=1e-13)
    bound = em.rounding_bound(stats, params, plain, work)
    fused_bound = em.rounding_bound(stats, params, fused, work) - fused.ssr_error
    assert fused_bound == pytest.approx(bound, rel=1e-6)  # plain was given exact sums
    tau = stats.weighted(plain.tau)
    expanded = work.moment_rows[em.moment_layout(stats.k_exog).expanded]
    np.testing.assert_allclose(fused.sums.moments, (expanded @ tau).T, rtol=1e-12)
    np.testing.assert_allclose(fused.sums.dof, tau.T @ stats.dof, rtol=1e-12)
    np.testing.assert_allclose(fused.sums.weight, tau.sum(axis=0), rtol=1e-12)
    constraints = em.Constraints(var_floor=1e-12)
    a, info_a = em.m_step(stats, Z, fused.tau, params, constraints, work, sums=fused.sums)
    b, info_b = em.m_step(stats, Z, plain.tau, params, constraints, work)
    assert info_a.ssr is None and info_b.ssr is not None  # the next E-step forms the sums
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.sigma2, b.sigma2, rtol=1e-10)
    np.testing.assert_allclose(a.eta, b.eta, rtol=1e-10, atol=1e-12)


def test_the_e_steps_reused_arrays_never_overwrite_a_live_one(sim3):
    """The fused E-step reuses the arrays of E-steps nothing refers to any more (no page
    faults for fresh arrays each iteration), and never those of one still in use."""
    model = _weighted_model(sim3, None)
    res = model.fit(rng=0, n_starts=2)
    params = model.to_scaled(np.asarray(res.params))
    other = em.ClassParams(params.beta * 1.1, params.sigma2 * 2.0, params.eta)
    stats, Z = model.stats, model._Z
    work = em.Workspace.build(stats, Z)
    first = em.e_step(stats, Z, params, work)
    kept = first.tau.copy(), first.ssr.copy(), first.llf_obs.copy()
    view = first.ssr[:5]  # a view keeps its array alive too
    second = em.e_step(stats, Z, other, work)
    np.testing.assert_array_equal(first.tau, kept[0])
    np.testing.assert_array_equal(first.ssr, kept[1])
    np.testing.assert_array_equal(first.llf_obs, kept[2])
    address = second.tau.__array_interface__["data"][0]
    del second
    third = em.e_step(stats, Z, other, work)
    assert third.tau.__array_interface__["data"][0] == address  # reused
    del first
    fourth = em.e_step(stats, Z, params, work)
    assert not np.shares_memory(fourth.ssr, view)  # the view's array is kept
    np.testing.assert_array_equal(fourth.tau, kept[0])
    assert not np.shares_memory(fourth.tau, third.tau)


def test_tied_shares_are_labelled_free_of_column_order_and_the_sign_of_the_response():
    """Three classes of exactly 10 individuals: their labels had depended on the order of
    the regressors and the sign of y (ties were broken by the first coefficient; found by
    the metamorphic fuzz)."""
    rng = np.random.default_rng(1)
    n_groups = 30
    g = np.repeat(np.arange(n_groups), 6)
    cls = np.repeat(np.arange(n_groups) % 3, 6)
    x1, x2 = rng.normal(size=g.size), rng.normal(size=g.size)
    coef = np.array([[0.0, 1, -1], [5, -2, 0.5], [-5, 0.3, 2]])
    y = coef[cls, 0] + coef[cls, 1] * x1 + coef[cls, 2] * x2 + 0.1 * rng.normal(size=g.size)
    X = pd.DataFrame({"const": 1.0, "x1": x1, "x2": x2})
    fits = [
        smlcr.LatentClassOLS(y, X, groups=g, k_classes=3).fit(rng=0),
        smlcr.LatentClassOLS(y, X[["x2", "x1", "const"]], groups=g, k_classes=3).fit(rng=0),
        smlcr.LatentClassOLS(-3 * y + 7, X, groups=g, k_classes=3).fit(rng=0),
    ]
    np.testing.assert_allclose(fits[0].class_shares["share"], 1 / 3, rtol=1e-9)
    for res in fits[1:]:
        assert res.modal_class.equals(fits[0].modal_class)


def test_a_gram_matrix_of_next_to_no_weight_solves_to_zero_without_raw_warnings():
    """A class with next to no weight left a Gram matrix near 1e-310 whose inverse
    eigenvalues overflowed with numpy's warning (found by the metamorphic fuzz)."""
    from smlcr.em import _solve_psd

    a = np.array([[[1e-310, 0.0], [0.0, 1e-311]], [[2.0, 0.5], [0.5, 1.0]]])
    b = np.array([[1.0, 1.0], [1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = _solve_psd(a, b)
    np.testing.assert_array_equal(x[0], 0.0)
    np.testing.assert_allclose(x[1], np.linalg.solve(a[1], b[1]), atol=1e-14)
