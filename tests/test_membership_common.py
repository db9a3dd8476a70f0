"""Concomitant (membership) model and class-invariant (common) coefficients."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize

import smlcr
from smlcr.exceptions import AbsorbedRegressorWarning
from tests.conftest import assert_derivatives_match

RESULTS = Path(__file__).parent / "results"


# ----------------------------------------------------------------------------- flexmix NregFix
@pytest.fixture(scope="module")
def nregfix():
    ref = json.loads((RESULTS / "flexmix_nregfix.json").read_text())
    data = pd.read_csv(RESULTS / ref["data_file"])
    model = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, k_classes=3, membership="~ w")
    return ref, model, model.fit(n_starts=20, rng=0)


def _flexmix_params(components, concomitant):
    beta = [list(c["coef"].values()) for c in components]
    sigma2 = [c["sigma"] ** 2 for c in components]
    values = np.asarray(concomitant["values"])  # terms x sorted classes, column 1 zero
    eta = values[:, 1:].T.ravel()  # class 2 (Intercept, w), class 3 (Intercept, w)
    return np.concatenate([np.ravel(beta), sigma2, eta])


def test_nregfix_loglike_at_flexmix_parameters(nregfix):
    ref, model, _ = nregfix
    best = ref["best"]
    params = _flexmix_params(best["components"], best["concomitant_coef"])
    assert model.loglike(params) == pytest.approx(ref["logLik_recomputed"], rel=1e-9)
    assert model.loglike(params) == pytest.approx(best["logLik"], rel=1e-7)


def test_nregfix_maximum(nregfix):
    ref, model, res = nregfix
    assert res.llf >= ref["best"]["logLik"]
    assert res.llf >= max(ref["start_logLiks"])
    mle = ref["mle_by_hand"]
    assert res.llf == pytest.approx(mle["logLik"], rel=1e-10)
    expected = _flexmix_params(mle["components"], mle["concomitant_coef"])
    np.testing.assert_allclose(np.asarray(res.params), expected, rtol=1e-4, atol=1e-5)


def test_nregfix_standard_errors_agree_with_refit(nregfix):
    ref, _, res = nregfix
    for s, comp in enumerate(ref["refit"]["components"], start=1):
        ours = [res.bse[f"{n}[{s}]"] for n in ("Intercept", "x1", "x2")]
        np.testing.assert_allclose(ours, list(comp["se"].values()), rtol=1e-3)
        sigma2 = res.params[f"sigma2[{s}]"]
        assert res.bse[f"sigma2[{s}]"] == pytest.approx(2 * sigma2 * comp["log_sigma_se"], rel=1e-3)
    se = ref["refit"]["concomitant_sorted"]["se"]
    for s in (2, 3):
        assert res.membership_bse.loc["Intercept", s] == pytest.approx(
            se[f"sorted.{s}.(Intercept)"], rel=1e-3
        )
        assert res.membership_bse.loc["w", s] == pytest.approx(se[f"sorted.{s}.w"], rel=1e-3)


def test_membership_params_frames(nregfix):
    _, _, res = nregfix
    params = res.membership_params
    assert list(params.index) == ["Intercept", "w"] and list(params.columns) == [2, 3]
    assert params.loc["w", 3] == res.params["membership:w[3]"]
    assert res.membership_bse.loc["Intercept", 2] == res.bse["membership:Intercept[2]"]
    assert "membership:w[2]" in res.summary().as_text()


# ----------------------------------------------------------------------------- simulated
def membership_panel(seed, n=300, rows=6, eta=(-0.5, 1.5), weekday=(0, 0.3, -0.2, 0.5, 0.1, -0.4)):
    """Two classes; P(class 2) = logistic(eta0 + eta1 w_i); a weekday effect common to both."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n), rows)
    w = rng.normal(size=n)
    cls = (rng.random(n) < 1 / (1 + np.exp(-(eta[0] + eta[1] * w)))).astype(int)
    df = pd.DataFrame(
        {
            "id": ids,
            "x": rng.normal(size=n * rows),
            "w": w[ids],
            "weekday": np.tile(np.arange(rows), n),
        }
    )
    df["y"] = (
        np.where(cls[ids] == 1, 2 + df.x, -1 - df.x)
        + np.asarray(weekday)[df.weekday]
        + rng.normal(size=n * rows) * 0.8
    )
    return df


def test_membership_coefficients_recovered():
    """30 panels: eta (class 2 against class 1: intercept -0.5, w 1.5) inside its 95% intervals."""
    hits, total = 0, 0
    for rep in range(30):
        df = membership_panel(700 + rep)
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x", df, groups="id", k_classes=2, membership="~ w", common="~ C(weekday)"
        ).fit(n_starts=3, rng=rep)
        # the class with intercept 2 is the "class 2" of the simulation
        sign = 1.0 if res.params["Intercept[2]"] > res.params["Intercept[1]"] else -1.0
        truth = sign * np.array([-0.5, 1.5])
        ci = res.conf_int().loc[["membership:Intercept[2]", "membership:w[2]"]].to_numpy()
        hits += np.sum((ci[:, 0] <= truth) & (truth <= ci[:, 1]))
        total += 2
    assert hits / total >= 0.88


def test_common_coefficients_equal_a_direct_maximisation():
    df = membership_panel(1, n=200)
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", k_classes=2, membership="~ w", common="~ C(weekday)"
    )
    res = model.fit(rng=0)
    assert model.common_names == [f"C(weekday)[T.{d}]" for d in range(1, 6)]
    start = np.asarray(res.params) * (
        1 + 0.02 * np.random.default_rng(0).standard_normal(model.k_params)
    )
    direct = optimize.minimize(
        lambda p: -model.loglike(p),
        start,
        jac=lambda p: -model.score(p),
        method="BFGS",
        options={"gtol": 1e-8, "maxiter": 2000},
    )
    assert -direct.fun == pytest.approx(res.llf, abs=1e-6)
    np.testing.assert_allclose(direct.x, np.asarray(res.params), rtol=1e-4, atol=1e-5)
    # and against the truth
    np.testing.assert_allclose(
        res.params[model.common_names],
        [0.3, -0.2, 0.5, 0.1, -0.4],
        atol=4 * res.bse[model.common_names].max(),
    )


@pytest.mark.parametrize("variance", ["class", "common"])
def test_derivatives_with_membership_common_and_absorb(variance):
    df = membership_panel(2, n=40)
    df["cell"] = df["id"] * 2 + (df["weekday"] >= 3)
    df["z"] = np.random.default_rng(2).normal(size=len(df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x",
            df,
            groups="id",
            k_classes=3,
            membership="~ w",
            common="~ z",
            absorb=["id", "cell"],
            variance=variance,
        )
    assert model.class_exog_names == ["x"] and model.common_names == ["z"]
    rng = np.random.default_rng(5)
    n_var = 1 if variance == "common" else 3
    params = np.concatenate(
        [rng.normal(size=3 + 1), rng.uniform(0.5, 2, n_var), rng.normal(size=4)]
    )
    assert_derivatives_match(model, params)
    res = model.fit(rng=0)
    assert np.all(np.diff(res.llf_history) >= -1e-9 * np.abs(res.llf_history[1:]))


def test_one_class_with_common_and_absorb_is_fixed_effects_ols():
    df = membership_panel(3, n=60)
    df["cell"] = df["id"] * 2 + (df["weekday"] >= 3)
    df["z"] = np.random.default_rng(3).normal(size=len(df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x", df, groups="id", k_classes=1, common="~ z", absorb=["id", "cell"]
        ).fit()
    ols = sm.OLS.from_formula("y ~ x + z + C(cell)", df).fit()
    np.testing.assert_allclose(res.params[["x[1]", "z"]], ols.params[["x", "z"]], rtol=1e-9)
    np.testing.assert_allclose(res.fittedvalues, ols.fittedvalues, rtol=1e-9)


def test_membership_varying_within_an_individual_is_an_error():
    df = membership_panel(4, n=30)
    df.loc[7, "w"] += 1.0  # individual 1's w changes on one row
    with pytest.raises(ValueError, match=r"`membership` variable 'w' varies within individual 1"):
        smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", membership="~ w")


def test_missing_membership_values_follow_missing():
    df = membership_panel(5, n=40)
    df.loc[[3, 4], "w"] = np.nan  # individual 0 loses two rows
    model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", membership="~ w")
    assert model.nobs == len(df) - 2
    ref = smlcr.LatentClassOLS.from_formula("y ~ x", df.dropna(), groups="id", membership="~ w")
    np.testing.assert_allclose(model.membership_exog, ref.membership_exog)
    with pytest.raises(Exception, match="NaN|missing"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x", df, groups="id", membership="~ w", missing="raise"
        )
    arrays = smlcr.LatentClassOLS(
        df["y"],
        sm.add_constant(df[["x"]]),
        groups=df["id"],
        membership=sm.add_constant(df[["w"]]),
        missing="drop",
    )
    assert arrays.nobs == len(df) - 2
    np.testing.assert_allclose(arrays.stats.rss, model.stats.rss, atol=1e-12)
    with pytest.raises(ValueError, match="membership"):
        smlcr.LatentClassOLS(
            df["y"], sm.add_constant(df[["x"]]), groups=df["id"], membership=df[["w"]]
        )


def test_predict_membership_and_marginal_prediction():
    df = membership_panel(6, n=150)
    res = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", k_classes=2, membership="~ w", common="~ C(weekday)"
    ).fit(rng=0)
    new = pd.DataFrame({"w": [-1.0, 0.0, 2.0], "x": [0.5, 0.5, 0.5], "weekday": [0, 3, 5]})
    probs = res.predict_membership(new)
    eta = res.membership_params[2]
    p2 = 1 / (1 + np.exp(-(eta["Intercept"] + eta["w"] * new["w"])))
    np.testing.assert_allclose(probs[2], p2, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    in_sample = res.predict_membership()
    assert in_sample.shape == (150, 2)
    np.testing.assert_allclose(in_sample.mean(), res.class_shares["share"], rtol=1e-10)
    per_class = res.predict(new, which="class")
    common = res.params["C(weekday)[T.3]"]
    expected = res.params["Intercept[1]"] + 0.5 * res.params["x[1]"] + common
    assert per_class.loc[1, 1] == pytest.approx(expected)
    marginal = res.predict(new)
    np.testing.assert_allclose(marginal, np.sum(per_class.to_numpy() * probs.to_numpy(), axis=1))


def test_bootstrap_with_membership_and_common_runs():
    df = membership_panel(8, n=60, rows=4, weekday=(0, 0.3, -0.2, 0.5))
    table = smlcr.compare_classes(
        "y ~ x",
        df,
        groups="id",
        k_range=[1, 2],
        n_boot=2,
        rng=0,
        membership="~ w",
        common="~ C(weekday)",
        fit_kwds={"n_starts": 3},
        boot_fit_kwds={"n_starts": 2},
    )
    assert table.loc[2, "k_params"] == 2 * 2 + 3 + 2 + 2
    assert table.loc[1, "boot_pvalue"] == pytest.approx(1 / 3)


def test_pickle_with_side_formulas_and_remove_data(tmp_path):
    df = membership_panel(9, n=80)
    res = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", k_classes=2, membership="~ w", common="~ C(weekday)"
    ).fit(rng=0)
    path = tmp_path / "fit.pickle"
    res.save(path)
    loaded = smlcr.LatentClassOLSResults.load(path)
    pd.testing.assert_series_equal(loaded.params, res.params)
    new = df.head(3)
    pd.testing.assert_frame_equal(loaded.predict_membership(new), res.predict_membership(new))
    pd.testing.assert_series_equal(loaded.predict(new), res.predict(new))
    # without the data: the row-length arrays go too, the estimates stay
    full_size = path.stat().st_size
    res.save(path, remove_data=True)
    small = smlcr.LatentClassOLSResults.load(path)
    assert path.stat().st_size < full_size
    assert small.model.groups is None and small.model.prepared.rows.individual is None
    assert small.model.prepared.rows.keep is None and small.model.prepared.rows.labels is None
    assert small.model.membership_design.matrix is None and small.model._common_rows is None
    pd.testing.assert_frame_equal(small.posteriors, res.posteriors)
    assert small.summary().as_text().splitlines()[8:] == res.summary().as_text().splitlines()[8:]


def test_membership_step_on_distinct_rows_equals_the_step_on_every_individual():
    from smlcr import em

    rng = np.random.default_rng(2)
    levels = rng.integers(0, 7, size=500)
    Z = np.column_stack([np.ones(500), np.eye(7)[levels][:, 1:]])
    tau = rng.dirichlet(np.ones(4), size=500)
    eta = np.zeros((Z.shape[1], 4))
    patterns = em._patterns(Z)
    assert patterns is not None and patterns[0].shape[0] == 7
    full = em.membership_step(Z, tau, eta, max_newton=30)
    grouped = em.membership_step(Z, tau, eta, max_newton=30, patterns=patterns)
    np.testing.assert_allclose(grouped, full, rtol=1e-9, atol=1e-10)
    one = em.membership_step(Z, tau, eta, max_newton=1, patterns=patterns)
    objective = lambda e: np.sum(tau * em.log_prior(Z, e))  # noqa: E731
    assert objective(one) > objective(eta)  # a single step raises it (a GEM step)
