"""Analytic score and Hessian against numerical derivatives of the log-likelihood."""

import numpy as np
import pytest

import smlcr
from smlcr import em
from tests.conftest import assert_derivatives_match, random_grouped


def _random_params(model, rng):
    k, p = model.k_classes, model.k_exog
    return np.concatenate(
        [rng.normal(size=k * p), rng.uniform(0.5, 3.0, size=k), rng.normal(size=k - 1)]
    )


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_score_and_hessian_match_numerical(grouped, k):
    rng = np.random.default_rng(10 * k + grouped)
    endog, exog, ids = random_grouped(rng, n_groups=30, p=3, k=2)
    model = smlcr.LatentClassOLS(endog, exog, groups=ids if grouped else None, k_classes=k)
    for _ in range(3):
        params = _random_params(model, rng)
        assert_derivatives_match(model, params)
        per_individual = model.score_obs(params)
        assert per_individual.shape == (model.n_groups, model.k_params)
        np.testing.assert_allclose(
            per_individual.sum(0), model.score(params), rtol=1e-10, atol=1e-10
        )


def test_loglikeobs_sums_to_loglike(fitted3):
    model = fitted3.model
    params = np.asarray(fitted3.params)
    assert model.loglikeobs(params).shape == (model.n_groups,)
    np.testing.assert_allclose(model.loglikeobs(params).sum(), model.loglike(params), rtol=1e-12)


def test_score_vanishes_at_estimate(fitted3):
    score = np.asarray(fitted3.model.score(np.asarray(fitted3.params)))
    scaled = score * np.asarray(fitted3.bse)  # score in units of one standard error
    assert np.max(np.abs(scaled)) < 1e-3


@pytest.mark.parametrize("membership", [False, True])
def test_chunked_derivatives_equal_one_block(membership):
    """The sums over blocks of individuals do not depend on the block size, and reading
    the moments from a workspace gives the same numbers as forming them per block."""
    from smlcr.information import derivatives

    rng = np.random.default_rng(7)
    endog, exog, ids = random_grouped(rng, n_groups=257, p=3, k=3)
    z = rng.normal(size=257)[ids]
    model = smlcr.LatentClassOLS(
        endog, exog, groups=ids, k_classes=3, membership=z[:, None] if membership else None
    )
    params = model.to_scaled(
        np.concatenate(
            [
                rng.normal(size=model.k_params - 3 - 2 * model._Z.shape[1]),
                rng.uniform(0.5, 3.0, size=3),
                rng.normal(size=2 * model._Z.shape[1]),
            ]
        )
    )
    whole = derivatives(model.stats, model._Z, params, model.layout, chunk=10**6)
    hessian_scale = np.max(np.abs(whole.hessian))
    work = em.Workspace.build(model.stats, model._Z)
    estep = em.e_step(model.stats, model._Z, params)
    for chunk in (1, 16, 100, 256):
        part = derivatives(model.stats, model._Z, params, model.layout, estep, chunk)
        # the moments read from a workspace are the numbers formed block by block
        read = derivatives(model.stats, model._Z, params, model.layout, estep, chunk, work)
        np.testing.assert_array_equal(read.hessian, part.hessian)
        np.testing.assert_array_equal(read.score_obs, part.score_obs)
        assert np.max(np.abs(part.hessian - whole.hessian)) <= 1e-12 * hessian_scale
        np.testing.assert_allclose(
            part.score_obs, whole.score_obs, rtol=0, atol=1e-12 * np.max(np.abs(whole.score_obs))
        )


@pytest.mark.parametrize("options", [{}, {"membership": True}, {"variance": "common"}])
def test_derivatives_carry_over_to_relabelled_classes(options):
    """Relabelling classes is a linear map of the parameter vector
    (``Layout.relabelling``); the derivatives carried over by it equal the
    derivatives computed at the relabelled parameters."""
    from smlcr.information import derivatives

    rng = np.random.default_rng(11)
    endog, exog, ids = random_grouped(rng, n_groups=120, p=2, k=3)
    z = rng.normal(size=120)[ids][:, None] if options.get("membership") else None
    model = smlcr.LatentClassOLS(
        endog,
        exog,
        groups=ids,
        k_classes=3,
        membership=z,
        variance=options.get("variance", "class"),
    )
    theta = model.layout.flat(model.layout.unflat(rng.normal(size=model.k_params)))
    theta[model.layout.slices["sigma2"]] = rng.uniform(0.5, 2.0, size=model.layout.n_variances)
    params = model.layout.unflat(theta)
    for order in ([2, 0, 1], [1, 0, 2]):
        order = np.array(order)
        here = derivatives(model.stats, model._Z, params, model.layout)
        there = derivatives(model.stats, model._Z, params.relabel(order), model.layout)
        carried = here.transformed(model.layout.relabelling(order))
        np.testing.assert_allclose(
            carried.hessian, there.hessian, rtol=1e-9, atol=1e-9 * np.abs(there.hessian).max()
        )
        np.testing.assert_allclose(
            carried.score_obs, there.score_obs, rtol=1e-9, atol=1e-9 * np.abs(there.score_obs).max()
        )
