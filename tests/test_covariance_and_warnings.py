"""Covariance types against their definitions, and the warnings that guard degenerate fits."""

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_fprime

import smlcr
from smlcr.exceptions import (
    DegenerateClassWarning,
    SingularInformationWarning,
    VarianceFloorWarning,
)
from smlcr.results import invert_information


@pytest.fixture(scope="module")
def small_fit():
    from smlcr.datasets import simulate_grouped

    sim = simulate_grouped(n_groups=150, rows_per_group=(1, 6), seed=4)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=3)
    return model, model.fit(rng=0)


def _numerical_scores(model, params):
    return approx_fprime(params, model.loglikeobs, centered=True)


def test_opg_and_robust_match_their_definitions(small_fit):
    model, res = small_fit
    params = np.asarray(res.params)
    scores = _numerical_scores(model, params)  # (n_groups, k_params)
    opg = scores.T @ scores
    hessian = approx_fprime(params, model.score, centered=True)
    bread = np.linalg.inv(-hessian)
    res_opg = model.fit(start_params=params, cov_type="opg")
    res_rob = model.fit(start_params=params, cov_type="robust")
    np.testing.assert_allclose(np.asarray(res_opg.cov_params()), np.linalg.inv(opg), rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(res_rob.cov_params()), bread @ opg @ bread, rtol=1e-4, atol=1e-12
    )
    np.testing.assert_allclose(np.asarray(res.cov_params()), bread, rtol=1e-5, atol=1e-12)
    assert "opg" in res_opg.summary().as_text()
    # correctly specified model: the three agree closely
    ratio = np.asarray(res_rob.bse) / np.asarray(res.bse)
    assert np.all(np.abs(ratio - 1) < 0.35), ratio


def test_variance_floor_binds_with_a_warning_and_a_record():
    # five individuals share exactly the same value: a class can sit on them with zero variance
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(5), rng.normal(size=60)])
    exog = np.ones((y.size, 1))
    model = smlcr.LatentClassOLS(y, exog, k_classes=2)
    start = np.array([0.0, 0.0, 1e-6, 1.0, np.log(5 / 60)])
    with pytest.warns(VarianceFloorWarning, match="floor"):
        # the collapsed variance also leaves the information matrix singular: named
        with pytest.warns(SingularInformationWarning, match=r"sigma2\[2\]"):
            # and the estimate is on the boundary, not a converged interior maximum
            with pytest.warns(DegenerateClassWarning, match="boundary"):
                res = model.fit(start_params=start)
    assert res.boundary == "the variance of class(es) [2] is at the floor"
    assert not res.converged
    assert "on the boundary" in res.summary().as_text()
    assert res.variance_floor_hit.tolist() == [False, True]
    assert np.isnan(res.bse[3])  # no standard error in the singular direction
    pooled = np.var(y)
    # the start's variance (1e-6) is below the default floor, which then starts below it
    assert res.var_floor == 1e-8
    assert res.params[3] == pytest.approx(1e-8 * pooled * y.size / (y.size - 1), rel=1e-6)
    assert "variance floor" in res.summary().as_text()
    assert np.all(np.diff(res.llf_history) >= -1e-9 * np.abs(res.llf_history[1:]))


def test_singular_information_warns_with_parameter_names():
    info = np.diag([4.0, 1.0, 0.0])
    with pytest.warns(SingularInformationWarning, match="c"):
        cov = invert_information(info, ["a", "b", "c"])
    # the unidentified parameter gets no standard error (NaN), never a spurious 0
    expected = np.diag([0.25, 1.0, np.nan])
    expected[2, :2] = expected[:2, 2] = np.nan
    np.testing.assert_allclose(cov, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cov = invert_information(np.array([[2.0, 1.0], [1.0, 2.0]]), ["a", "b"])
    np.testing.assert_allclose(cov, np.linalg.inv([[2.0, 1.0], [1.0, 2.0]]), rtol=1e-12)


def test_not_converged_warns(small_fit):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    model, _ = small_fit
    # one EM iteration and one Newton step from a random start rarely reach the maximum
    seen = False
    for seed in range(10):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            res = model.fit(n_starts=1, maxiter=1, rng=seed)
        warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
        assert warned == (not res.converged and res.boundary is None)
        if warned:
            seen = True
            assert "did not converge" in res.summary().as_text().lower()
    assert seen


def test_warnings_point_at_the_callers_line():
    from smlcr.datasets import streams

    data = streams(n_artists=20, seed=1)
    with pytest.warns(smlcr.exceptions.AbsorbedRegressorWarning) as record:
        smlcr.LatentClassOLS.from_formula(
            data.formula, data.data, groups="artist", absorb=data.absorb
        )
    assert record[0].filename == __file__


def test_three_covariances_agree_in_a_large_correctly_specified_sample():
    from smlcr.datasets import simulate_grouped

    sim = simulate_grouped(n_groups=4000, rows_per_group=5, seed=4)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=3)
    oim = model.fit(rng=0, n_starts=3)
    params = np.asarray(oim.params)
    for cov_type in ("opg", "robust"):
        other = model.fit(start_params=params, cov_type=cov_type)
        ratio = np.asarray(other.bse) / np.asarray(oim.bse)
        assert np.all(np.abs(ratio - 1) < 0.08), (cov_type, ratio)


def test_all_three_covariances_are_exposed_and_the_default_is_the_chosen_one(small_fit):
    from smlcr import information

    model, _ = small_fit
    fits = {kind: model.fit(rng=0, n_starts=3, cov_type=kind) for kind in ("oim", "opg", "robust")}
    for kind, res in fits.items():
        np.testing.assert_array_equal(
            np.asarray(res.cov_params()), getattr(res, f"cov_params_{kind}")
        )
        for other in ("oim", "opg", "robust"):
            np.testing.assert_allclose(
                getattr(res, f"cov_params_{other}"), getattr(fits[other], f"cov_params_{other}")
            )
        first_line = information.COVARIANCES[kind].__doc__.splitlines()[0]
        assert first_line in res.summary().as_text()
    assert not np.allclose(fits["oim"].cov_params_oim, fits["oim"].cov_params_opg)


def test_information_near_1e_300_gives_infinite_variances_without_raw_warnings():
    """A separated membership logit left information near 1e-300 for its coefficients, and
    numpy's 'overflow encountered in divide' reached the user (found by the metamorphic
    fuzz); the variances there are infinite (or NaN in a singular direction), silently."""

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cov = invert_information(np.diag([2.0, 1e-310]), ["a", "b"])
        assert cov[0, 0] == pytest.approx(0.5) and np.isinf(cov[1, 1])
        singular = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1e-310]])
        with pytest.warns(smlcr.exceptions.SingularInformationWarning):
            cov = invert_information(singular, ["a", "b", "c"])
    assert np.isnan(cov[0, 0]) and np.isnan(cov[1, 1])


def test_classes_that_the_newton_phase_moves_together_are_a_boundary():
    """One true class, K = 2: the Newton phase moved the two classes together after the
    boundary check at its start, and the fit said converged, boundary None, with a
    SingularInformationWarning about 'an empty class' (found by the Dask/persistence audit)."""
    from smlcr.datasets import simulate_grouped

    rng = np.random.default_rng(15)
    sim = simulate_grouped(
        n_groups=50,
        rows_per_group=(2, 8),
        beta=((1.0, 2.0, -1.0),),
        sigma2=(2.0,),
        shares=(1.0,),
        seed=15,
    )
    df = sim.data
    df["cell"] = df["id"].astype(str) + "_" + rng.integers(0, 3, len(df)).astype(str)
    df["w"] = rng.normal(size=len(df))
    df["y"] = df["y"] + 0.7 * df["w"]
    df["rw"] = rng.uniform(0.3, 3, len(df))
    options = dict(absorb=["id", "cell"], common="~ w", variance="common", row_weights="rw")
    model = smlcr.LatentClassOLS.from_formula("y ~ x1", df, groups="id", k_classes=2, **options)
    with pytest.warns(DegenerateClassWarning, match="classes 1 and 2 coincide"):
        res = model.fit(rng=0)
    assert res.boundary == "classes 1 and 2 coincide" and not res.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = model.with_k_classes(1).fit(rng=0)
    assert res.llf == pytest.approx(one.llf, rel=1e-12)  # the fit is the one-class fit


def test_membership_that_separates_the_classes_is_a_boundary_not_a_maximum():
    # z > 0 exactly for the individuals of one class: the membership coefficients grow
    # without bound. The fit had reported converged=True, no warning, and standard errors
    # of 1e16 to 1e22 (found by the local-maxima audit)
    rng = np.random.default_rng(5)
    cls = rng.integers(0, 2, 120)
    ids = np.repeat(np.arange(120), 4)
    x = rng.standard_normal(480)
    y = np.where(cls[ids] == 1, 3 + 2 * x, -3 - x) + 0.5 * rng.standard_normal(480)
    z = np.where(cls == 1, 1, -1) * (0.2 + np.abs(rng.standard_normal(120)))
    df = pd.DataFrame({"y": y, "x": x, "id": ids, "z": z[ids]})
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", k_classes=2, membership="~ z"
    )
    for seed in range(3):
        with pytest.warns(DegenerateClassWarning, match="complete separation"):
            res = model.fit(rng=seed)
        assert not res.converged
        assert "membership variables separate" in res.boundary
        assert res.bse.filter(like="membership").isna().all()
        assert res.bse.filter(like="x[").notna().all()  # the regressions are identified
    # a membership variable that only shifts the shares is not separation
    df["z"] = rng.standard_normal(120)[ids]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x", df, groups="id", k_classes=2, membership="~ z"
        ).fit(rng=0)
    assert res.converged and res.boundary is None


def test_one_individual_alone_at_a_membership_level_is_a_boundary():
    # quasi-complete separation: the level's coefficient grows without bound while the other
    # individuals keep every prior away from 0 and 1; the fit had said converged=True with
    # a standard error of 2.4e7 (found by the audit of the separation check)
    rng = np.random.default_rng(10)
    level = rng.integers(0, 2, 200).astype(str).astype(object)
    level[0] = "solo"
    cls = (rng.random(200) < 0.5).astype(int)
    cls[0] = 1
    ids = np.repeat(np.arange(200), 5)
    x1 = rng.normal(size=1000)
    y = np.where(cls[ids] == 1, 6.0 + x1, -x1) + rng.normal(size=1000)
    df = pd.DataFrame({"id": ids, "y": y, "x1": x1, "z": level[ids]})
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x1", df, groups="id", k_classes=2, membership="~ C(z)"
    )
    with pytest.warns(DegenerateClassWarning, match="complete separation"):
        res = model.fit(rng=0)
    assert not res.converged and "separate class" in res.boundary and "in part" in res.boundary
    assert np.isnan(res.membership_bse.loc["C(z)[T.solo]"]).all()
    assert np.isfinite(res.membership_bse.loc["C(z)[T.1]"]).all()


def test_variances_held_at_the_floor_have_no_standard_error(tight_third):
    # a variance held at the floor is on the boundary: one of two such variances had a
    # finite standard error (an interval below zero) and the other NaN, depending on the
    # curvature (found by the audit of compare_classes); both are now held fixed, and the
    # other parameters' covariance is that of the block that remains
    model = smlcr.LatentClassOLS.from_formula("y ~ x", tight_third, k_classes=3)
    seed = np.random.SeedSequence(np.random.SeedSequence(0).entropy, spawn_key=(3,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(rng=np.random.default_rng(seed), var_floor=1e-4)
    held = [f"sigma2[{s + 1}]" for s in np.flatnonzero(res.variance_floor_hit)]
    assert len(held) == 2
    assert res.bse[held].isna().all() and res.bse.drop(held).notna().all()
    singular = [
        w for w in caught if issubclass(w.category, smlcr.exceptions.SingularInformationWarning)
    ]
    assert len(singular) == 1 and "held at the variance floor" in str(singular[0].message)
