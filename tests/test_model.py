"""LatentClassOLS as a statsmodels model: formulas, names, results, summary, tests, pickling."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula

import smlcr
import smlcr.formula.api as lcf


def test_one_class_is_ols(sim3):
    data = sim3.data
    res = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=1).fit()
    ols = sm.OLS.from_formula("y ~ x1 + x2", data).fit()
    np.testing.assert_allclose(res.params.iloc[:3].to_numpy(), ols.params.to_numpy(), rtol=1e-10)
    n = ols.nobs
    assert res.params["sigma2[1]"] == pytest.approx(ols.ssr / n, rel=1e-10)
    assert res.llf == pytest.approx(ols.llf, rel=1e-12)
    # observed-information SEs of a one-class Gaussian model are the ML OLS SEs
    np.testing.assert_allclose(
        res.bse.iloc[:3].to_numpy(), ols.bse.to_numpy() * np.sqrt((n - 3) / n), rtol=1e-8
    )
    assert res.bse["sigma2[1]"] == pytest.approx(np.sqrt(2 / n) * ols.ssr / n, rel=1e-8)


def test_param_names_and_pandas_output(fitted3):
    names = list(fitted3.params.index)
    assert names[:3] == ["Intercept[1]", "x1[1]", "x2[1]"]
    assert names[9:12] == ["sigma2[1]", "sigma2[2]", "sigma2[3]"]
    assert names[12:] == ["membership:Intercept[2]", "membership:Intercept[3]"]
    assert list(fitted3.bse.index) == names
    assert list(fitted3.cov_params().columns) == names
    assert list(fitted3.conf_int().index) == names
    assert fitted3.nobs == 1800 and fitted3.n_groups == 300 and fitted3.k_classes == 3


def test_posteriors_and_modal_class(fitted3, sim3):
    post = fitted3.posteriors
    assert post.shape == (300, 3)
    assert list(post.columns) == [1, 2, 3]
    assert post.index.name == "id"
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    assert (fitted3.modal_class == post.idxmax(axis=1)).all()
    # recovered classes match the truth up to a relabelling
    table = pd.crosstab(fitted3.modal_class, sim3.true_class)
    assert table.max(axis=1).sum() / table.to_numpy().sum() > 0.97


def test_class_shares_delta_method(fitted3):
    shares = fitted3.class_shares
    np.testing.assert_allclose(shares["share"].sum(), 1.0, rtol=1e-12)
    # numerical delta method on the membership block
    from statsmodels.tools.numdiff import approx_fprime

    eta = fitted3.params.iloc[12:].to_numpy()

    def share_of(e):
        full = np.concatenate([[0.0], e])
        return np.exp(full) / np.exp(full).sum()

    jac = approx_fprime(eta, share_of, centered=True)
    cov = fitted3.cov_params().iloc[12:, 12:].to_numpy()
    np.testing.assert_allclose(shares["bse"], np.sqrt(np.diag(jac @ cov @ jac.T)), rtol=1e-6)
    # the interval is the delta-method interval on the logit scale, mapped back
    s, half = shares["share"], 1.959964 * shares["bse"] / (shares["share"] * (1 - shares["share"]))
    logit = np.log(s / (1 - s))
    np.testing.assert_allclose(shares["upper"], 1 / (1 + np.exp(-(logit + half))), rtol=1e-5)
    np.testing.assert_allclose(shares["lower"], 1 / (1 + np.exp(-(logit - half))), rtol=1e-5)


def test_information_criteria(fitted3):
    k = len(fitted3.params)
    assert k == 14
    assert fitted3.aic == pytest.approx(-2 * fitted3.llf + 2 * k)
    assert fitted3.bic == pytest.approx(-2 * fitted3.llf + np.log(300) * k)


def test_summary_tables(fitted3):
    smry = fitted3.summary()
    text = smry.as_text()
    for piece in [
        "No. Individuals:",
        "300",
        "Class 1 (share",
        "Class 3 (share",
        "Class shares",
        "sigma2[2]",
        "Starts at best:",
        "Converged:",
        "oim",
        "x2",
        "membership:Intercept[3]",
    ]:
        assert piece in text, piece
    assert f"{fitted3.llf:#.6g}" in text
    latex = smry.as_latex()
    assert "\\begin{tabular}" in latex and "Class 2" in latex
    html = smry.as_html()
    assert "<table" in html and "No. Individuals:" in html


def test_t_test_and_wald_test_with_string_constraints(fitted3):
    tt = fitted3.t_test("x1[1] = x1[2]")
    diff = fitted3.params["x1[1]"] - fitted3.params["x1[2]"]
    cov = fitted3.cov_params()
    se = np.sqrt(
        cov.loc["x1[1]", "x1[1]"] + cov.loc["x1[2]", "x1[2]"] - 2 * cov.loc["x1[1]", "x1[2]"]
    )
    assert float(tt.effect[0]) == pytest.approx(diff)
    assert float(np.asarray(tt.sd).ravel()[0]) == pytest.approx(se)
    wt = fitted3.wald_test("x1[1] = x1[2], x1[2] = x1[3]", scalar=True)
    assert wt.df_denom == 2 or np.asarray(wt.df_num) == 2
    assert wt.pvalue < 1e-10
    # a true restriction is not rejected: x2 of class 3 is 0 in the truth
    assert fitted3.t_test("x2[3] = 0").pvalue > 0.001


def save_and_load(results, path):
    results.save(path)
    return smlcr.LatentClassOLSResults.load(path)


def test_pickle_round_trip(fitted3, tmp_path):
    loaded = save_and_load(fitted3, tmp_path / "fit.pickle")
    pd.testing.assert_series_equal(loaded.params, fitted3.params)
    pd.testing.assert_frame_equal(loaded.posteriors, fitted3.posteriors)
    assert loaded.llf == fitted3.llf

    def text(res):  # the summary without its clock time (the two may straddle a second)
        return re.sub(r"\d\d:\d\d:\d\d", "hh:mm:ss", res.summary().as_text())

    assert text(loaded) == text(fitted3)
    loaded_small = save_and_load_removed(fitted3, tmp_path / "small.pickle")
    pd.testing.assert_frame_equal(loaded_small.posteriors, fitted3.posteriors)
    assert loaded_small.bic == fitted3.bic


def save_and_load_removed(results, path):
    results.save(path, remove_data=True)
    return smlcr.LatentClassOLSResults.load(path)


def test_groups_as_array_and_smf_function(sim3):
    data = sim3.data
    a = lcf.latentclassols("y ~ x1 + x2", data, groups=data["id"].to_numpy(), k_classes=3).fit(
        rng=0
    )
    b = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=3).fit(rng=0)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params))


def test_array_interface_matches_formula(sim3):
    data = sim3.data
    exog = sm.add_constant(data[["x1", "x2"]])
    a = smlcr.LatentClassOLS(data["y"], exog, groups=data["id"], k_classes=3).fit(rng=0)
    b = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=3).fit(rng=0)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params))
    assert list(a.params.index)[:3] == ["const[1]", "x1[1]", "x2[1]"]
    c = smlcr.LatentClassOLS(
        data["y"].to_numpy(), exog.to_numpy(), groups=data["id"].to_numpy(), k_classes=3
    ).fit(rng=0)
    assert isinstance(c.params, np.ndarray)
    np.testing.assert_allclose(c.params, np.asarray(b.params))


def test_subset_and_missing_rows_drop_everywhere(sim3):
    data = sim3.data.copy()
    data.loc[[3, 10], "x1"] = np.nan
    data["id"] = data["id"].astype(float)
    data.loc[20, "id"] = np.nan
    res = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=2)
    assert res.nobs == len(data) - 3
    keep = data.dropna()
    ref = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", keep, groups="id", k_classes=2)
    np.testing.assert_allclose(ref.stats.rss, res.stats.rss)
    sub = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2",
        sim3.data,
        subset=sim3.data["id"] < 100,
        groups=sim3.data["id"].to_numpy(),
        k_classes=2,
    )
    assert sub.n_groups == 100 and sub.nobs == 600
    with pytest.raises(Exception, match="missing|NaN"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", data, groups="id", k_classes=2, missing="raise"
        )


def test_formulaic_engine_gives_the_same_fit(sim3):
    data = sim3.data
    previous = statsmodels.formula.options.formula_engine
    statsmodels.formula.options.formula_engine = "formulaic"
    try:
        mod = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=3)
        assert "formulaic" in type(mod.data.model_spec).__module__
        a = mod.fit(rng=0)
    finally:
        statsmodels.formula.options.formula_engine = previous
    b = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", k_classes=3).fit(rng=0)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params))
    assert a.t_test("x1[1] = x1[2]").pvalue == pytest.approx(b.t_test("x1[1] = x1[2]").pvalue)


def test_no_groups_is_a_plain_mixture():
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    cls = rng.random(600) < 0.4
    y = np.where(cls, 2 + 3 * x, -1 - x) + rng.normal(size=600) * 0.5
    res = smlcr.LatentClassOLS(y, sm.add_constant(x), k_classes=2).fit(rng=0)
    assert res.n_groups == 600
    assert res.posteriors.shape == (600, 2)
    coefs = sorted([tuple(np.round(res.params[s * 2 : s * 2 + 2], 0)) for s in range(2)])
    assert coefs == [(-1.0, -1.0), (2.0, 3.0)]


def test_basic_input_errors(sim3):
    data = sim3.data
    with pytest.raises(ValueError, match="k_classes"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id", k_classes=0)
    with pytest.raises(TypeError, match="k_classes"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id", k_classes=2.5)
    with pytest.raises(ValueError, match="k_classes"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data.iloc[:12], groups="id", k_classes=3)
    with pytest.raises(ValueError, match="groups"):
        smlcr.LatentClassOLS(data["y"], data[["x1"]], groups=data["id"].iloc[:-1])
    with pytest.raises(ValueError, match="groups"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="nope")
    twice = data.assign(x3=2 * data["x1"])
    with pytest.raises(ValueError, match="x1.*x3|x3.*x1"):
        smlcr.LatentClassOLS.from_formula("y ~ x1 + x3", twice, groups="id")
    with pytest.raises(ValueError, match="cov_type"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id").fit(cov_type="hc0")


def test_small_dense_work_runs_with_one_blas_thread_unless_overridden(monkeypatch):
    from threadpoolctl import threadpool_info

    from smlcr.threads import SMALL_DENSE_ENV, small_dense

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    outside = blas_threads()
    with small_dense():
        assert blas_threads() <= {1}
    assert blas_threads() == outside
    monkeypatch.setenv(SMALL_DENSE_ENV, "default")
    with small_dense():
        assert blas_threads() == outside
    monkeypatch.setenv(SMALL_DENSE_ENV, "many")
    with pytest.raises(ValueError, match=SMALL_DENSE_ENV):
        small_dense()


def test_constant_recorded_as_statsmodels_does():
    # the model finds the constant itself (statsmodels' own search is skipped): the
    # names, k_constant and const_idx are those statsmodels' OLS gives the same exog
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    y = rng.normal(size=n)
    groups = np.repeat(np.arange(100), 3)
    for exog in (
        sm.add_constant(pd.DataFrame({"x": x})),
        pd.DataFrame({"x": x}),
        np.column_stack([x, 2.0 * np.ones(n)]),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smlcr.LatentClassOLS(y, exog, groups=groups, k_classes=2)
        ols = sm.OLS(y, exog)
        assert model.k_constant == ols.k_constant
        assert model.data.const_idx == ols.data.const_idx
        assert model.exog_names == ols.exog_names
        assert "hasconst" not in model._get_init_kwds()  # not a keyword the user gave
