"""Every bad input gets an error (or a warning and a record) naming the argument."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import MissingDataError

import smlcr
from smlcr.datasets import simulate_grouped
from smlcr.exceptions import DegenerateClassWarning, MissingRowsWarning


@pytest.fixture
def data():
    sim = simulate_grouped(n_groups=60, rows_per_group=4, seed=3)
    df = sim.data.copy()
    df["cell"] = df["id"] * 2 + (np.arange(len(df)) % 4 >= 2)
    df["w"] = np.repeat(np.random.default_rng(0).normal(size=60), 4)
    return df


def arrays(df):
    return df["y"].to_numpy(), sm.add_constant(df[["x1", "x2"]]).to_numpy()


@pytest.mark.parametrize(
    "column, argument",
    [
        ("y", "endog"),
        ("x1", "exog"),
        ("id", "groups"),
        ("cell", "absorb"),
        ("w", "membership"),
    ],
)
def test_nan_is_an_error_with_missing_none(data, column, argument):
    df = data.astype({"id": float, "cell": float})
    df.loc[5, column] = np.nan
    endog, exog = arrays(df)
    with pytest.raises(ValueError, match=rf"`{argument}` contains NaN.*missing='drop'"):
        smlcr.LatentClassOLS(
            endog,
            exog,
            groups=df["id"],
            absorb=df[["id", "cell"]],
            membership=df[["w"]],
            missing="none",
        )


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.AbsorbedRegressorWarning")
@pytest.mark.parametrize("column", ["y", "x1", "id", "cell", "w"])
def test_nan_rows_are_dropped_everywhere_and_counted(data, column):
    df = data.astype({"id": float, "cell": float})
    df.loc[[5, 9], column] = np.nan
    endog, exog = arrays(df)
    with pytest.warns(MissingRowsWarning, match="2 row"):
        model = smlcr.LatentClassOLS(
            endog,
            exog,
            groups=df["id"],
            absorb=df[["id", "cell"]],
            membership=sm.add_constant(df[["w"]]),
            missing="drop",
        )
    assert model.n_missing_dropped == 2 and model.nobs <= len(df) - 2
    clean = df.drop(index=[5, 9]).reset_index(drop=True)  # arrays: the rows' labels 0..n-1
    endog_c, exog_c = arrays(clean)
    ref = smlcr.LatentClassOLS(
        endog_c,
        exog_c,
        groups=clean["id"],
        absorb=clean[["id", "cell"]],
        membership=sm.add_constant(clean[["w"]]),
    )
    np.testing.assert_allclose(model.stats.rss, ref.stats.rss, atol=1e-12)
    np.testing.assert_allclose(model.membership_exog, ref.membership_exog)
    res = model.fit(rng=0, n_starts=2)
    assert "2 row(s) with missing values were dropped" in res.summary().as_text()
    with pytest.raises(MissingDataError):
        smlcr.LatentClassOLS(
            endog,
            exog,
            groups=df["id"],
            absorb=df[["id", "cell"]],
            membership=sm.add_constant(df[["w"]]),
            missing="raise",
        )


@pytest.mark.parametrize(
    "column, argument",
    [
        ("y", "endog"),
        ("x1", "exog"),
        ("w", "membership"),
    ],
)
def test_infinite_values_are_an_error_even_with_drop(data, column, argument):
    df = data.copy()
    df.loc[5, column] = np.inf
    endog, exog = arrays(df)
    with pytest.raises(ValueError, match=rf"`{argument}` contains infinite"):
        smlcr.LatentClassOLS(endog, exog, groups=df["id"], membership=df[["w"]], missing="drop")


@pytest.mark.parametrize("column, argument", [("id", "groups"), ("cell", "absorb")])
def test_infinite_labels_are_an_error(data, column, argument):
    df = data.astype({"id": float, "cell": float})
    df.loc[5, column] = np.inf
    endog, exog = arrays(df)
    with pytest.raises(ValueError, match=rf"`{argument}` contains infinite"):
        smlcr.LatentClassOLS(
            endog, exog, groups=df["id"], absorb=df[["id", "cell"]], missing="drop"
        )


def test_non_numeric_endog(data):
    with pytest.raises(ValueError, match="`endog` must be numeric"):
        smlcr.LatentClassOLS(
            ("a" + data["id"].astype(str)).to_numpy(), arrays(data)[1], groups=data["id"]
        )
    with pytest.raises(ValueError, match="non-numeric"):
        smlcr.LatentClassOLS.from_formula(
            "label ~ x1", data.assign(label=data["id"].astype(str)), groups="id"
        )


@pytest.mark.parametrize(
    "k, error, pattern",
    [
        (0, ValueError, "`k_classes` must be at least 1"),
        (-2, ValueError, "`k_classes` must be at least 1"),
        (2.0, TypeError, "`k_classes` must be an integer"),
        ("3", TypeError, "`k_classes` must be an integer"),
        (61, ValueError, r"`k_classes`=61 exceeds the number of individuals \(60\)"),
    ],
)
def test_bad_k_classes(data, k, error, pattern):
    with pytest.raises(error, match=pattern):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id", k_classes=k)


def test_collinear_regressors_are_named(data):
    df = data.assign(x3=data["x1"] - 2 * data["x2"])
    with pytest.raises(ValueError, match=r"`exog` is rank deficient.*\['x1', 'x2', 'x3'\]"):
        smlcr.LatentClassOLS.from_formula("y ~ x1 + x2 + x3", df, groups="id")


def test_fewer_usable_rows_than_parameters(data):
    small = data.iloc[:6]  # 6 rows; two classes of 3 coefficients and a variance each
    with pytest.raises(ValueError, match="usable rows.*fewer classes"):
        smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", small, groups="id", k_classes=2)


def test_constant_endog(data):
    with pytest.raises(ValueError, match="`endog` is constant"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data.assign(y=3.0), groups="id")
    cell_means = data.groupby("cell")["x1"].transform("mean")
    with pytest.raises(ValueError, match="`endog` is constant within every absorbed cell"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1", data.assign(y=cell_means), groups="id", absorb="cell"
        )


def test_wrong_length_start_params(data):
    model = smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id", k_classes=2)
    with pytest.raises(ValueError, match=r"`start_params` has shape \(3,\).*7 parameters"):
        model.fit(start_params=[0.0, 1.0, 2.0])


def test_groups_of_the_wrong_length(data):
    endog, exog = arrays(data)
    with pytest.raises(ValueError, match="`groups` has 239 labels but the data have 240 rows"):
        smlcr.LatentClassOLS(endog, exog, groups=data["id"].iloc[:-1])
    with pytest.raises(ValueError, match="`groups` has 10 values but `data` has 240 rows"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups=np.arange(10))


def test_degenerate_class_is_reported_and_kept():
    sim = simulate_grouped(
        n_groups=200,
        rows_per_group=5,
        beta=((1, 1, 0), (-2, 0, 1)),
        sigma2=(1, 1),
        shares=(0.9, 0.1),
        seed=1,
    )
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    with pytest.warns(DegenerateClassWarning, match=r"class\(es\) \[2\].*below min_share=0.2"):
        res = model.fit(rng=0, min_share=0.2)
    assert list(res.degenerate.index) == [2]
    assert (
        bool(res.degenerate.loc[2, "small_share"])
        and not res.degenerate.loc[2, "variance_at_floor"]
    )
    assert res.k_classes == 2 and res.posteriors.shape[1] == 2  # never dropped silently
    assert "Degenerate class(es) [2]" in res.summary().as_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateClassWarning)
        quiet = model.fit(rng=0)  # default min_share = 0.01: not degenerate
    assert quiet.degenerate.empty
    smaller = res.refit_fewer_classes(rng=0)
    assert smaller.k_classes == 1
    ols = sm.OLS.from_formula(sim.formula, sim.data).fit()
    assert smaller.llf == pytest.approx(ols.llf, rel=1e-10)


def test_refit_fewer_classes_keeps_the_model_options():
    from smlcr.datasets import streams

    data = streams(n_artists=40, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            data.formula,
            data.data,
            groups="artist",
            absorb=data.absorb,
            k_classes=3,
            variance="common",
        ).fit(rng=0)
        smaller = res.refit_fewer_classes(rng=0)
    assert smaller.k_classes == 2
    assert list(smaller.params.index) == [
        "playlist_adds[1]",
        "social_posts[1]",
        "playlist_adds[2]",
        "social_posts[2]",
        "sigma2",
        "membership:Intercept[2]",
    ]
    assert smaller.n_cells == res.n_cells
    assert smaller.predict(data.data.head(2), which="class").shape == (2, 2)


def test_refit_fewer_classes_keeps_the_fit_options():
    # it had fitted with fit()'s defaults: a clustered fit's refit came back with "oim"
    # standard errors, and without the fit's search options

    sim = simulate_grouped(n_groups=120, rows_per_group=4, seed=8)
    frame = sim.data.assign(region=sim.data["id"].astype(int) % 15)
    options = {"cluster": "region", "min_share": 0.03, "var_floor": 1e-3, "n_starts": 7}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smlcr.LatentClassOLS.from_formula(sim.formula, frame, groups="id", k_classes=3)
        res = model.fit(rng=4, **options)
        smaller = res.refit_fewer_classes()
        direct = model.with_k_classes(2).fit(rng=4, **options)
        plain = res.refit_fewer_classes(cov_type="oim", cluster=None)
    assert res.fit_options["cluster"] == "region" and res.fit_options["rng"] == 4
    assert smaller.cov_type == "robust" and smaller.cluster_name == "region"
    assert smaller.min_share == 0.03 and smaller.var_floor == 1e-3
    assert len(smaller.start_llfs) == 7
    np.testing.assert_array_equal(smaller.params, direct.params)
    np.testing.assert_array_equal(smaller.bse, direct.bse)
    assert plain.cov_type == "oim" and plain.cluster_name is None
    np.testing.assert_array_equal(plain.params, direct.params)
    assert not np.allclose(plain.bse, direct.bse)


def test_bad_fit_arguments(data):
    model = smlcr.LatentClassOLS.from_formula("y ~ x1", data, groups="id", k_classes=2)
    for floor in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="`var_floor` must be a positive"):
            model.fit(var_floor=floor)
    for share in (-0.1, 1.0, 5):
        with pytest.raises(ValueError, match="`min_share` must be in"):
            model.fit(min_share=share)
    start = np.array([1.0, 1.0, -1.0, 0.5, 1.0, -2.0, 0.0])
    with pytest.raises(ValueError, match=r"positive variances; check \['sigma2\[2\]'\]"):
        model.fit(start_params=start)
    start[0] = np.nan
    with pytest.raises(ValueError, match=r"check \['Intercept\[1\]'"):
        model.fit(start_params=start)


def test_one_individual_with_one_class_is_ols():
    # its stacked [R_i | c_i] has only p rows: the one-class residual variance had raised
    # an IndexError at construction (found by the API audit)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=8), "x1": rng.normal(size=8), "g": 0})
    res = smlcr.LatentClassOLS.from_formula("y ~ x1", df, groups="g", k_classes=1).fit()
    ols = sm.OLS.from_formula("y ~ x1", df).fit()
    np.testing.assert_allclose(res.params[["Intercept[1]", "x1[1]"]], ols.params, rtol=1e-10)
    assert res.llf == pytest.approx(ols.llf, rel=1e-12)


def test_no_rows_is_an_error_saying_so():
    empty = pd.DataFrame({"y": [], "x1": [], "g": []}, dtype=float)
    with pytest.raises(ValueError, match="no rows to fit"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", empty, groups="g")
    with pytest.raises(ValueError, match="no rows to fit"):
        smlcr.LatentClassOLS(np.empty(0), np.empty((0, 2)), groups=np.empty(0))
    missing = pd.DataFrame({"y": np.nan, "x1": np.arange(10.0), "g": np.repeat(range(5), 2)})
    with pytest.warns(smlcr.exceptions.MissingRowsWarning):
        with pytest.raises(ValueError, match="every row was dropped for a missing value"):
            smlcr.LatentClassOLS.from_formula("y ~ x1", missing, groups="g")


def test_an_unused_category_and_a_nearly_whole_frequency_weight_are_named_as_such():
    # an unused category's dummy had been called collinear ("combine them"), and a
    # frequency weight of 1 + 1e-12 had been printed as "got 1" (found by the API audit)
    sim = simulate_grouped(n_groups=30, rows_per_group=3, seed=4)
    df = sim.data.assign(c=pd.Categorical(np.where(sim.data["x1"] > 0, "a", "b"), list("abz")))
    with pytest.raises(ValueError, match=r"\['c\[T.z\]'\] of zeros .*remove_unused_categories"):
        smlcr.LatentClassOLS.from_formula("y ~ x1 + c", df, groups="id")
    with pytest.raises(ValueError, match=r"whole numbers .*got 1.000000000001;"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1", df.assign(w=1 + 1e-12), groups="id", freq_weights="w"
        )


def test_endog_and_exog_for_different_rows_are_named():
    # a response shorter than the regressors had been blamed on `groups` (found by the
    # API audit)
    sim = simulate_grouped(n_groups=30, rows_per_group=3, seed=4)
    df = sim.data
    exog = df[["x1", "x2"]].assign(const=1.0)
    with pytest.raises(ValueError, match="`endog` has 87 rows but `exog` has 90"):
        smlcr.LatentClassOLS(df["y"].iloc[:-3], exog, groups=df["id"])
    with pytest.raises(ValueError, match="`endog` and `exog` are pandas objects with different"):
        smlcr.LatentClassOLS(df["y"].set_axis(df.index + 1000), exog, groups=df["id"])
