"""Inputs that once gave a different model or a wrong answer without a word."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from statsmodels.tools.sm_exceptions import MissingDataError

import smlcr
from smlcr.datasets import simulate_grouped
from smlcr.exceptions import RowLabelsWarning


@pytest.fixture(scope="module")
def sim():
    return simulate_grouped(n_groups=60, rows_per_group=4, seed=5)


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [
        ("absrob", "absorb"),
        ("membrship", "membership"),
        ("varaince", "variance"),
        ("k_class", "k_classes"),
        ("K", None),
        ("n_jobs", None),
    ],
)
def test_misspelled_keywords_are_errors_naming_them(sim, keyword, suggestion):
    df = sim.data
    pattern = rf"'{keyword}'" + (rf".*did you mean '{suggestion}'" if suggestion else "")
    with pytest.raises(TypeError, match=pattern):
        smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id", **{keyword: 3})
    with pytest.raises(TypeError, match=rf"'{keyword}'"):
        smlcr.LatentClassOLS(df["y"], df[["x1", "x2"]], groups=df["id"], **{keyword: 3})
    if keyword != "n_jobs":  # compare_classes has n_jobs (its fits in parallel processes)
        with pytest.raises(TypeError, match=rf"compare_classes.*'{keyword}'"):
            smlcr.compare_classes(sim.formula, df, groups="id", k_range=[1], **{keyword: 3})
    model = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id")
    with pytest.raises(TypeError, match=rf"fit\(\).*'{keyword}'"):
        model.fit(**{keyword: 3})


def test_a_groups_series_is_aligned_by_index_not_position(sim):
    df = sim.data
    X = df[["x1", "x2"]].assign(const=1.0)
    reference = smlcr.LatentClassOLS(df["y"], X, groups=df["id"], k_classes=2).fit(rng=0)
    shuffled = df["id"].sample(frac=1.0, random_state=0)
    res = smlcr.LatentClassOLS(df["y"], X, groups=shuffled, k_classes=2).fit(rng=0)
    np.testing.assert_array_equal(np.asarray(res.params), np.asarray(reference.params))
    # the same for formulas
    res_f = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups=shuffled, k_classes=2).fit(
        rng=0
    )
    ref_f = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id", k_classes=2).fit(rng=0)
    np.testing.assert_array_equal(np.asarray(res_f.params), np.asarray(ref_f.params))
    # labels that are not the data's rows: an error, never read by position
    relabelled = df["id"].set_axis(df.index + 10_000)
    with pytest.raises(ValueError, match="`groups`.*index"):
        smlcr.LatentClassOLS(df["y"], X, groups=relabelled, k_classes=2)
    with pytest.raises(ValueError, match="`groups`.*index"):
        smlcr.LatentClassOLS.from_formula(sim.formula, df, groups=relabelled)
    # a MultiIndex on data with one level had given pandas' own isin error (API audit)
    two_levels = df["id"].set_axis(pd.MultiIndex.from_arrays([df.index, df.index]))
    with pytest.raises(ValueError, match="`groups` is a pandas object whose index has 2 level"):
        smlcr.LatentClassOLS(df["y"], X, groups=two_levels)


def test_membership_and_common_frames_are_aligned_by_index():
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(40), 3)
    df = pd.DataFrame(
        {"x": rng.normal(size=120), "id": ids, "w": np.repeat(rng.normal(size=40), 3)}
    )
    df["c"] = rng.normal(size=120)
    df["y"] = np.where(ids % 2, 1 + df["x"], -1 - df["x"]) + 0.5 * df["c"] + rng.normal(size=120)
    a = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", membership=df[["w"]], common=df[["c"]]
    ).fit(rng=0)
    shuffled = df.sample(frac=1.0, random_state=2)
    b = smlcr.LatentClassOLS.from_formula(
        "y ~ x", df, groups="id", membership=shuffled[["w"]], common=shuffled[["c"]]
    ).fit(rng=0)
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))


def test_a_two_column_endog_is_an_error(sim):
    df = sim.data
    with pytest.raises(ValueError, match="`endog` must be one column"):
        smlcr.LatentClassOLS(df[["y", "x1"]], df[["x2"]].assign(c=1.0), groups=df["id"])


def test_named_start_params_are_matched_by_name(sim):
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=3)
    res = model.fit(rng=0)
    reversed_names = res.params.iloc[::-1]
    again = model.fit(start_params=reversed_names)
    np.testing.assert_allclose(np.asarray(again.params), np.asarray(res.params), rtol=1e-8)
    with pytest.raises(
        ValueError, match=r"matched to the parameters by name.*missing \['x1\[1\]'\]"
    ):
        model.fit(start_params=res.params.drop("x1[1]"))


def test_a_regressor_named_like_a_variance_is_not_taken_for_one(sim):
    df = sim.data.assign(sigma2_shift=sim.data["x1"] - 10)
    model = smlcr.LatentClassOLS.from_formula("y ~ sigma2_shift + x2", df, groups="id")
    res = model.fit(rng=0)
    start = res.params.copy()
    assert start["sigma2_shift[1]"] != 0
    start["sigma2_shift[1]"] = -abs(start["sigma2_shift[1]"])  # negative: fine for a slope
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a poor start; only the validation is tested here
        model.fit(start_params=start)
    start["sigma2[1]"] = -1.0
    with pytest.raises(ValueError, match=r"positive variances.*\['sigma2\[1\]'\]"):
        model.fit(start_params=start)


def test_wald_test_terms_points_to_the_class_tests(sim):
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id").fit(rng=0)
    with pytest.raises(NotImplementedError, match="test_class_equality"):
        res.wald_test_terms()


def membership_panel(seed):
    rng = np.random.default_rng(seed)
    n_ind, rows = 150, 4
    ids = np.repeat(np.arange(n_ind), rows)
    z = rng.normal(size=n_ind)
    cls = (rng.random(n_ind) < 1 / (1 + np.exp(-1.2 * z))).astype(int)
    x = rng.normal(size=ids.size)
    c = rng.normal(size=ids.size)
    y = np.where(cls[ids] == 1, 1 + 2 * x, -1 - x) + 0.7 * c + rng.normal(size=ids.size)
    return pd.DataFrame({"y": y, "x": x, "c": c, "z": z[ids], "id": ids})


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example is a fit
)
@given(
    seed=st.integers(0, 2**31 - 1),
    z_scale=st.sampled_from([1e-8, 1e-3, 1.0, 7.0, 1e8]),
    z_shift=st.sampled_from([0.0, 1e4, 1.6e9, -3.0]),
    c_scale=st.sampled_from([1e-6, 1.0, 1e6]),
    c_shift=st.sampled_from([0.0, 1e7]),
)
def test_units_of_membership_and_common_variables_do_not_matter(
    seed, z_scale, z_shift, c_scale, c_shift
):
    # a shift far beyond the scale leaves fewer digits of the variable than a double holds
    # (1e7 + 1e-6 c keeps 3): only changes that keep 8 digits are a question of units
    assume(abs(z_shift) <= 1e8 * z_scale and abs(c_shift) <= 1e8 * c_scale)
    df = membership_panel(seed % 1000)
    other = df.assign(z=z_shift + z_scale * df["z"], c=c_shift + c_scale * df["c"])

    def fit(frame):
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x", frame, groups="id", k_classes=2, membership="~ z", common="~ c"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(rng=0, n_starts=10)

    a, b = fit(df), fit(other)
    assert b.llf == pytest.approx(a.llf, rel=1e-9, abs=1e-7)
    np.testing.assert_allclose(b.posteriors.to_numpy(), a.posteriors.to_numpy(), atol=1e-7)
    eta_a, eta_b = a.membership_params[2], b.membership_params[2]
    assert eta_b["z"] == pytest.approx(eta_a["z"] / z_scale, rel=1e-6)
    assert eta_b["Intercept"] + z_shift * eta_b["z"] == pytest.approx(
        eta_a["Intercept"], rel=1e-6, abs=1e-6
    )
    assert b.params["c"] == pytest.approx(a.params["c"] / c_scale, rel=1e-6)
    # z statistics of everything but the intercepts (which a shift moves) are unit-free
    slopes = [n for n in a.params.index if "Intercept" not in n]
    np.testing.assert_allclose(b.tvalues[slopes], a.tvalues[slopes], rtol=1e-5, atol=1e-6)


def test_a_timestamp_membership_variable_fits_as_one_in_units_of_one():
    df = membership_panel(3)
    stamped = df.assign(z=1.6e9 + 1e8 * df["z"])
    fits = [
        smlcr.LatentClassOLS.from_formula(
            "y ~ x", frame, groups="id", k_classes=2, membership="~ z"
        ).fit(rng=0)
        for frame in (df, stamped)
    ]
    assert fits[1].llf == pytest.approx(fits[0].llf, rel=1e-10)
    assert fits[1].membership_params[2]["z"] * 1e8 == pytest.approx(
        fits[0].membership_params[2]["z"], rel=1e-6
    )


def test_one_singular_direction_leaves_the_other_standard_errors():
    # a membership variable that separates the classes: its coefficient runs off, its
    # standard error is NaN, and the regression coefficients keep theirs
    rng = np.random.default_rng(4)
    ids = np.repeat(np.arange(80), 4)
    cls = np.arange(80) % 2
    x = rng.normal(size=ids.size)
    y = np.where(cls[ids] == 1, 2 + 2 * x, -2 - x) + 0.3 * rng.normal(size=ids.size)
    df = pd.DataFrame({"y": y, "x": x, "id": ids, "z": cls[ids].astype(float) + 5.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x", df, groups="id", k_classes=2, membership="~ z"
        ).fit(rng=0, n_starts=5)
    bse = res.bse
    assert np.all(np.isfinite(bse[["x[1]", "x[2]", "Intercept[1]", "Intercept[2]"]]))
    assert np.isnan(bse["membership:z[2]"])  # the separated direction, and only it and its kin
    np.testing.assert_allclose(res.class_shares["share"], [0.5, 0.5], atol=1e-6)
    assert res.test_class_equality().pvalue < 1e-6  # not spoiled by the NaN elsewhere
    with pytest.raises(ValueError, match=r"without a standard error.*membership:z\[2\]"):
        res.t_test("membership:z[2] = 0")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_starts": True}, "n_starts"),
        ({"n_full": -3}, "n_full"),
        ({"maxiter": -1}, "maxiter"),
        ({"tol": float("nan")}, "tol"),
        ({"param_tol": -1.0}, "param_tol"),
        ({"gtol": float("inf")}, "gtol"),
        ({"short_maxiter": 0}, "short_maxiter"),
    ],
)
def test_bad_fit_arguments_name_themselves(sim, kwargs, name):
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id")
    with pytest.raises(ValueError, match=f"`{name}`"):
        model.fit(**kwargs)


def test_bad_model_and_selection_arguments(sim):
    with pytest.raises(ValueError, match="`missing`.*'dropna'"):
        smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", missing="dropna")
    with pytest.raises(ValueError, match="`k_range`"):
        smlcr.compare_classes(sim.formula, sim.data, groups="id", k_range=[1.7, 2.2])
    with pytest.warns(smlcr.exceptions.SmlcrWarning, match="no bootstrap test for K = \\[1\\]"):
        table = smlcr.compare_classes(
            sim.formula,
            sim.data,
            groups="id",
            k_range=[1, 3],
            n_boot=1,
            fit_kwds={"n_starts": 2},
            boot_fit_kwds={"n_starts": 1},
        )
    assert np.isnan(table.loc[1, "boot_pvalue"])


def test_a_term_without_its_class_says_how_parameters_are_named(sim):
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id").fit(rng=0)
    with pytest.raises(ValueError, match=r"named '\{term\}\[k\]'.*'Intercept\[1\]'"):
        res.t_test("x1 = 0")
    with pytest.raises(ValueError, match=r"named '\{term\}\[k\]'"):
        res.wald_test("x1 = 0", scalar=True)
    assert res.t_test("x1[1] = x1[2]").pvalue < 1  # the named form works


def test_share_intervals_stay_inside_zero_and_one():
    rng = np.random.default_rng(8)
    ids = np.repeat(np.arange(200), 3)
    small = (np.arange(200) < 4)[ids]  # a 2% class
    x = rng.normal(size=ids.size)
    y = np.where(small, 6 - 3 * x, 1 + x) + 0.5 * rng.normal(size=ids.size)
    df = pd.DataFrame({"y": y, "x": x, "id": ids})
    res = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2).fit(rng=0)
    shares = res.class_shares
    assert shares["share"].min() < 0.05
    assert (shares["lower"] > 0).all() and (shares["upper"] < 1).all()
    assert (shares["lower"] < shares["share"]).all() and (shares["share"] < shares["upper"]).all()
    # the share minus 1.96 standard errors would have gone below 0
    assert (shares["share"] - 1.96 * shares["bse"]).min() < shares["lower"].min()
    # one class: a share of 1, exactly, whatever the weights (its computed value had rounded
    # to either side of 1, giving a NaN or a point interval below 1; found by the Dask audit)
    for weights in ({}, {"freq_weights": np.repeat(np.arange(200) % 3 + 1, 3)}):
        one = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=1, **weights)
        row = one.fit(rng=0).class_shares.iloc[0]
        assert row.tolist() == [1.0, 0.0, 1.0, 1.0]


def test_a_fit_without_groups_says_every_row_is_an_individual(sim):
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data).fit(rng=0, n_starts=3)
    assert "every row is its own individual" in res.summary().as_text()
    grouped = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id").fit(rng=0)
    assert "every row is its own individual" not in grouped.summary().as_text()


def test_without_groups_the_rows_are_labelled_by_their_row_labels():
    # every row its own individual: the individuals are the data's rows, so they carry the
    # rows' labels (they had been labelled 0..n-1 by position: on a shuffled index a join of
    # `posteriors` with the data matched rows at chance, and predict(groups=...) read labels
    # as positions)
    sim = simulate_grouped(
        n_groups=120,
        rows_per_group=1,
        beta=((1, 2, -1), (-2, 0.5, 1)),
        sigma2=(1, 0.5),
        shares=(0.6, 0.4),
        seed=0,
    )
    d = sim.data.sample(frac=1, random_state=0)
    d.index = d.index + 1000  # labels that are not positions
    model = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", d)
    res = model.fit(rng=0, n_starts=10)
    assert res.posteriors.index.equals(d.index)  # in the data's order, as `row_posteriors`
    rows = res.row_posteriors()
    joined = d.join(res.posteriors)
    np.testing.assert_array_equal(joined[[1, 2]].to_numpy(), rows[[1, 2]].to_numpy())
    assert res.modal_class.equals(rows["modal_class"].astype(np.int64).rename("modal_class"))
    new = d.iloc[[5, 0, 9]]
    np.testing.assert_allclose(
        res.predict(new, which="posterior", groups=new.index),
        np.asarray(res.fittedvalues)[[5, 0, 9]],
    )
    # a cluster given as a Series of the data is read by row (it had been refused), as the
    # same values per row
    cluster = d["x1"].rank().floordiv(4)
    clustered = model.fit(rng=0, n_starts=10, cluster=cluster)
    by_row = model.fit(rng=0, n_starts=10, cluster=cluster.to_numpy())
    np.testing.assert_allclose(clustered.bse, by_row.bse, rtol=1e-12)
    # the array API and a fit on data in the original order agree with the shuffled one
    design = np.column_stack([np.ones(len(d)), d[["x1", "x2"]].to_numpy()])
    arrays = smlcr.LatentClassOLS(d["y"].to_numpy(), design).fit(rng=0, n_starts=10)
    assert arrays.posteriors.index.equals(pd.RangeIndex(len(d)))
    np.testing.assert_allclose(np.asarray(arrays.params), res.params.to_numpy(), rtol=1e-8)
    # repeated row labels cannot label individuals: positions, with a warning saying so
    repeated = d.set_axis(np.repeat(np.arange(len(d) // 2), 2))
    with pytest.warns(RowLabelsWarning, match="repeat"):
        by_position = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", repeated)
    assert by_position.fit(rng=0, n_starts=10).posteriors.index.equals(pd.RangeIndex(len(d)))


def test_identical_individuals_give_a_named_boundary_and_no_raw_warnings():
    x = np.tile([0.0, 1.0, 2.0], 20)
    ids = np.repeat(np.arange(20), 3)
    df = pd.DataFrame({"y": np.tile([1.0, 2.5, 2.9], 20), "x": x, "id": ids})
    model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = model.fit(rng=0)
    categories = {w.category.__name__ for w in record}
    assert "RuntimeWarning" not in categories  # numpy's own warnings never reach the user
    assert {"DegenerateClassWarning", "SingularInformationWarning"} <= categories
    assert res.boundary is not None and not res.converged
    assert np.isnan(res.bse["membership:Intercept[2]"])
    assert res.class_shares["bse"].isna().all()  # never a share standard error of 8e6


def test_inputs_that_raised_internal_errors_now_name_the_argument(sim):
    df = sim.data
    X = df[["x1", "x2"]].assign(c=1.0)
    with pytest.raises(ValueError, match="`groups` must be one label per row"):
        smlcr.LatentClassOLS(df["y"], X, groups=np.column_stack([df["id"], df["id"]]))
    with pytest.raises(ValueError, match="`formula` must have the response"):
        smlcr.LatentClassOLS.from_formula("~ x1", df, groups="id")
    with pytest.raises(ValueError, match="`exog` must be numeric, but it holds strings"):
        smlcr.LatentClassOLS(df["y"], X.astype(str), groups=df["id"])
    with pytest.raises(ValueError, match="`endog` varies on a scale of 3.*e\\+200"):
        smlcr.LatentClassOLS(df["y"] * 1e200, X, groups=df["id"])
    # 1e60 is still representable (the variances' covariance near 1e240): the fit and its
    # standard errors scale exactly
    big = smlcr.LatentClassOLS(df["y"] * 1e60, X, groups=df["id"]).fit(rng=0)
    small = smlcr.LatentClassOLS(df["y"] * 1.0, X, groups=df["id"]).fit(rng=0)
    np.testing.assert_allclose(big.params.iloc[:3] / 1e60, small.params.iloc[:3], rtol=1e-8)
    np.testing.assert_allclose(big.bse.iloc[:3] / 1e60, small.bse.iloc[:3], rtol=1e-8)


def test_nullable_columns_with_pd_na_are_missing_values(sim):
    df = sim.data.copy()
    values = df["x1"].to_numpy().copy()
    masked = pd.array(np.where(np.arange(len(df)) == 3, None, values), dtype="Float64")
    with pytest.warns(smlcr.exceptions.MissingRowsWarning, match="1 row"):
        model = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", df.assign(x1=masked), groups="id")
    assert model.n_missing_dropped == 1
    plain = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", df.drop(index=df.index[3]), groups="id"
    )
    np.testing.assert_allclose(
        np.asarray(model.fit(rng=0).params), np.asarray(plain.fit(rng=0).params), rtol=1e-10
    )


def test_after_remove_data_row_outputs_say_the_data_were_removed(sim):
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2).fit(
        rng=0
    )
    new_rows = sim.data.head()
    expected = res.predict(new_rows)
    res.remove_data()
    for call in (
        lambda: res.fittedvalues,
        lambda: res.resid,
        lambda: res.predict(),
        lambda: res.refit_fewer_classes(),
    ):
        with pytest.raises(ValueError, match="removed by remove_data"):
            call()
    np.testing.assert_allclose(res.predict(new_rows), expected)  # new data still work
    assert np.isfinite(res.bse).all()


def test_duplicate_index_labels_with_a_missing_side_value_drop_the_row(sim):
    df = sim.data.copy()
    df.index = np.repeat(np.arange(len(df) // 2), 2)  # every label twice
    df["w"] = np.repeat(np.random.default_rng(0).normal(size=df["id"].nunique()), 4)
    df["c"] = np.random.default_rng(1).normal(size=len(df))
    df.iloc[5, df.columns.get_loc("w")] = np.nan
    df.iloc[9, df.columns.get_loc("c")] = np.nan
    with pytest.warns(smlcr.exceptions.MissingRowsWarning, match="2 row"):
        model = smlcr.LatentClassOLS.from_formula(
            sim.formula, df, groups="id", membership="~ w", common="~ c"
        )
    assert model.nobs == len(df) - 2


def test_refits_pickle_and_come_back_from_a_process_pool(sim):
    import pickle

    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=3).fit(
        rng=0, n_starts=3
    )
    smaller = res.refit_fewer_classes(rng=0, n_starts=3)
    back = pickle.loads(pickle.dumps(smaller))
    assert back.llf == smaller.llf and back.k_classes == 2
    np.testing.assert_array_equal(np.asarray(back.params), np.asarray(smaller.params))
    # unpickled by the pool's result thread, at a shallow stack
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        returned = pool.submit(_refit_in_a_worker, 5).result(timeout=120)
    assert returned.k_classes == 2 and np.isfinite(returned.llf)


def _refit_in_a_worker(seed):
    data = simulate_grouped(n_groups=60, rows_per_group=4, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            data.formula, data.data, groups="id", k_classes=3
        ).fit(rng=0, n_starts=3)
        return res.refit_fewer_classes(rng=0, n_starts=3)


def test_counts_and_test_distributions_are_consistent(sim):
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id").fit(rng=0)
    model = res.model
    assert res.nobs == model.nobs == len(sim.data)
    assert res.df_model == model.df_model == len(res.params)
    assert res.df_resid == model.df_resid == model.n_groups - len(res.params)
    f = res.f_test("x1[1] = x1[2], x2[1] = x2[2]")
    chi2 = res.wald_test("x1[1] = x1[2], x2[1] = x2[2]", scalar=True)
    assert f.distribution == "F" and f.df_denom == res.df_resid and f.df_num == 2
    assert chi2.distribution == "chi2"
    assert float(f.fvalue) == pytest.approx(float(chi2.statistic) / 2, rel=1e-10)
    assert res.t_test("x1[1] = x1[2]").distribution == "norm"


def test_colliding_parameter_names_are_an_error_naming_them(sim):
    df = sim.data.assign(sigma2=sim.data["x1"] * 2)
    with pytest.raises(ValueError, match=r"\['sigma2\[1\]', 'sigma2\[2\]'\] occur twice"):
        smlcr.LatentClassOLS.from_formula("y ~ sigma2 + x2", df, groups="id")
    X = pd.DataFrame(
        np.column_stack([np.ones(len(df)), df["x1"], df["x2"]]), columns=["c", "x", "x"]
    )
    with pytest.raises(ValueError, match=r"\['x\[1\]', 'x\[2\]'\] occur twice"):
        smlcr.LatentClassOLS(df["y"], X, groups=df["id"])


def test_the_layout_owns_names_blocks_and_table(sim):
    df = sim.data.assign(w=np.repeat(np.arange(60) % 3, 4).astype(float), c=sim.data["x2"] ** 2)
    res = smlcr.LatentClassOLS.from_formula(
        "y ~ x1", df, groups="id", k_classes=3, membership="~ w", common="~ c", variance="common"
    ).fit(rng=0, n_starts=3)
    layout = res.model.layout
    names = list(res.params.index)
    assert names == layout.names(["Intercept", "x1"], ["c"], ["Intercept", "w"])
    table = res.params_table
    for block, positions in (("common", layout.slices["common"]), ("eta", layout.slices["eta"])):
        expected = "membership" if block == "eta" else block
        assert set(table["block"].iloc[positions]) == {expected}
    assert list(table.index) == names
    assert table.loc["sigma2", "class"] == 0 and table.loc["x1[3]", "class"] == 3


def _subset_data(sim):
    df = sim.data.copy()
    n = df["id"].nunique()
    df["sw"] = np.random.default_rng(0).uniform(0.5, 2.0, n)[df["id"]]
    df["fw"] = np.random.default_rng(1).integers(1, 4, n)[df["id"]]
    df["region"] = df["id"] // 6
    return df, (df["id"] < 45).to_numpy()


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
@pytest.mark.parametrize("name", ["weights", "freq_weights"])
def test_a_per_row_weight_series_with_subset_is_read_per_row(sim, name):
    """A Series over all rows of `data` with `subset` had been taken for one indexed by
    individual (each row given the value at the row label equal to its individual)."""
    df, keep = _subset_data(sim)
    column = {"weights": "sw", "freq_weights": "fw"}[name]

    def fit(value):
        model = smlcr.LatentClassOLS.from_formula(
            sim.formula, df, subset=keep, groups="id", **{name: value}
        )
        return model.fit(rng=0, n_starts=3)

    by_name = fit(column)
    assert fit(df[column]).llf == by_name.llf
    assert fit(df[column].sample(frac=1, random_state=2)).llf == by_name.llf


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_a_cluster_given_per_row_with_subset_is_read_per_row(sim):
    df, keep = _subset_data(sim)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, df, subset=keep, groups="id")
    by_name = model.fit(rng=0, n_starts=3, cluster="region")
    assert by_name.n_clusters == 8
    for clusters in (
        df["region"],  # over all rows of `data`
        df["region"].sample(frac=1, random_state=3),
        df["region"].to_numpy(),
        df.loc[keep, "region"].to_numpy(),  # over the rows `subset` keeps
        df.groupby("id")["region"].first(),  # by individual
    ):
        res = model.fit(rng=0, n_starts=3, cluster=clusters)
        assert res.n_clusters == 8
        np.testing.assert_array_equal(res.bse, by_name.bse)


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_pandas_inputs_align_with_exog_when_endog_is_an_array(sim):
    """With `endog` an array and `exog` a DataFrame, pandas inputs were read by position."""
    df = sim.data
    exog = df[["x1", "x2"]].assign(const=1.0)
    shuffled = df.sample(frac=1, random_state=1)

    def llf(**kwargs):
        model = smlcr.LatentClassOLS(df["y"].to_numpy(), exog, k_classes=2, **kwargs)
        return model.fit(rng=0, n_starts=3).llf

    assert llf(groups=shuffled["id"]) == llf(groups=df["id"])
    # arrays everywhere: a Series with an index of its own cannot be matched to the rows
    with pytest.raises(ValueError, match="`groups` is a pandas object with its own index"):
        smlcr.LatentClassOLS(df["y"].to_numpy(), exog.to_numpy(), groups=shuffled["id"])
    plain = smlcr.LatentClassOLS(
        df["y"].to_numpy(), exog.to_numpy(), groups=df["id"].reset_index(drop=True)
    )
    assert plain.n_groups == df["id"].nunique()


def test_a_series_both_per_row_and_per_individual_that_disagree_is_an_error():
    """One row per individual, labelled by another order of the rows' labels: a Series
    indexed 0..n-1 may be per row or per individual, and the readings differ."""
    rng = np.random.default_rng(7)
    n = 60
    df = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "id": rng.permutation(n)})
    by_individual = pd.Series(rng.uniform(0.5, 3.0, n))
    with pytest.raises(ValueError, match="both the rows' labels and every individual's"):
        smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", weights=by_individual)
    model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id")
    with pytest.raises(ValueError, match="`cluster` is a Series whose index holds both"):
        model.fit(rng=0, n_starts=2, cluster=by_individual)
    # where the two readings agree (each row labelled like its individual) it is accepted
    same = df.assign(id=np.arange(n))
    weights = smlcr.LatentClassOLS.from_formula("y ~ x", same, groups="id", weights=by_individual)
    np.testing.assert_array_equal(weights.weights, by_individual.to_numpy())


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_new_rows_are_matched_by_column_name_and_groups_by_index(sim):
    """A model built from a DataFrame predicted from a DataFrame's columns by position, and
    `groups` of new rows was read by position."""
    df = sim.data
    exog = df[["x1", "x2"]].assign(const=1.0)
    res = smlcr.LatentClassOLS(df["y"], exog, groups=df["id"], k_classes=2).fit(rng=0, n_starts=3)
    new = exog.head(5)
    expected = res.predict(new.to_numpy())
    np.testing.assert_array_equal(res.predict(new[["const", "x2", "x1"]]), expected)
    with pytest.raises(ValueError, match=r"without the model's regressor\(s\) \['x1'\]"):
        res.predict(new.rename(columns={"x1": "z"}))
    formula = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id", k_classes=2)
    fit = formula.fit(rng=0, n_starts=3)
    rows = df.iloc[[0, 9, 13]]
    posterior = fit.predict(rows, groups=rows["id"], which="posterior")
    np.testing.assert_array_equal(
        fit.predict(rows, groups=rows["id"].iloc[::-1], which="posterior"), posterior
    )
    np.testing.assert_array_equal(fit.predict(rows, groups="id", which="posterior"), posterior)
    np.testing.assert_array_equal(
        fit.predict(rows, groups=rows["id"].to_numpy(), which="posterior"), posterior
    )
    with pytest.raises(ValueError, match="`groups` has 2 labels for 3 new rows"):
        fit.predict(rows, groups=rows["id"].to_numpy()[:2], which="posterior")
    with pytest.raises(ValueError, match="`groups` is used only with new `exog` and which="):
        fit.predict(rows, groups="id")


def test_side_values_of_new_rows_are_matched_by_name_and_index_and_never_ignored():
    """`common_exog` / `membership_exog` DataFrames were read by position (columns in another
    order moved predictions by up to 0.8; a reversed index paired values with other rows),
    they were ignored without new `exog` or with which='class', and one new row given as a
    labelled Series (``data.iloc[0]``) was read by position (found by the API audit)."""
    sim = simulate_grouped(
        n_groups=60,
        rows_per_group=6,
        beta=((1, 2, -1), (-2, 0.5, 1)),
        sigma2=(1, 0.5),
        shares=(0.6, 0.4),
        seed=0,
    )
    d = sim.data
    rng = np.random.default_rng(1)
    d["z"] = rng.standard_normal(60)[d["id"]]
    d["w"] = rng.standard_normal(len(d))
    X = d[["x1", "x2"]].assign(const=1.0)[["const", "x1", "x2"]]
    M = d[["z"]].assign(const=1.0)[["const", "z"]]
    res = smlcr.LatentClassOLS(d["y"], X, groups=d["id"], membership=M, common=d[["w"]]).fit(
        n_starts=10, rng=0
    )
    new = d.iloc[[3, 17, 40, 200]]
    Xn, Mn, Cn = X.loc[new.index], M.loc[new.index], new[["w"]]
    expected = res.predict(Xn.to_numpy(), membership_exog=Mn.to_numpy(), common_exog=Cn.to_numpy())
    # columns by name, rows by index
    for membership, common in [(Mn[["z", "const"]], Cn), (Mn.iloc[::-1], Cn.iloc[::-1])]:
        got = res.predict(Xn, membership_exog=membership, common_exog=common)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)
        mean = res.get_prediction(Xn, membership_exog=membership, common_exog=common)
        np.testing.assert_allclose(mean.predicted_mean, expected, rtol=1e-12)
    np.testing.assert_allclose(
        res.predict_membership(membership_exog=Mn[["z", "const"]]),
        res.predict_membership(membership_exog=Mn.to_numpy()),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="`common_exog` is a pandas object whose index"):
        res.predict(Xn, membership_exog=Mn, common_exog=Cn.set_axis([100, 101, 102, 103]))
    with pytest.raises(ValueError, match=r"`common_exog` is a DataFrame without .*\['w'\]"):
        res.predict(Xn, membership_exog=Mn, common_exog=Cn.rename(columns={"w": "v"}))
    # never ignored
    with pytest.raises(ValueError, match="`common_exog` is used only with new `exog`"):
        res.predict(common_exog=d[["w"]].to_numpy() + 100)
    with pytest.raises(ValueError, match="`membership_exog` is used only with new `exog`"):
        res.get_prediction(membership_exog=M.to_numpy())
    with pytest.raises(ValueError, match="`membership_exog` is not used with which='class'"):
        res.predict(Xn, which="class", common_exog=Cn, membership_exog=Mn)
    with pytest.raises(ValueError, match="either `data`"):
        res.predict_membership(new, membership_exog=Mn)
    # one new row as a Series labelled by the regressors: by name
    row = X.loc[[17]][["x2", "const", "x1"]].iloc[0]
    one = res.predict(row, membership_exog=Mn.loc[[17]], common_exog=Cn.loc[[17]])
    np.testing.assert_allclose(np.asarray(one), expected[[1]], rtol=1e-12)
    with pytest.raises(ValueError, match="Series whose index does not hold the model's"):
        res.predict(row.set_axis(["a", "b", "c"]), membership_exog=Mn.loc[[17]])
    # values the fit refuses are refused here too, naming the argument
    with pytest.raises(ValueError, match="`exog` holds complex numbers"):
        res.predict(Xn.to_numpy() + 0j, membership_exog=Mn.to_numpy(), common_exog=Cn.to_numpy())
    with pytest.raises(ValueError, match="`common_exog` contains infinite values"):
        res.predict(
            Xn.to_numpy(), membership_exog=Mn.to_numpy(), common_exog=np.full((4, 1), np.inf)
        )


def test_from_formula_checks_subset_drop_cols_data_and_missing(sim):
    """`subset` repeating a label put the row in the fit twice, a misspelled `drop_cols` was
    ignored, bad subsets gave IndexError / KeyError / numpy errors, a dict as `data` an
    AttributeError and missing='none' the formula engine's error (found by the API audit)."""
    df = sim.data
    build = smlcr.LatentClassOLS.from_formula
    with pytest.raises(ValueError, match=r"`subset` repeats the label\(s\) \[0\]"):
        build(sim.formula, df, groups="id", subset=[0, 0] + list(range(1, len(df))))
    bad = {
        "is a boolean mask of 10 values": np.ones(10, bool),
        r"label\(s\) \[1000000\] that are not": [0, 1, 10**6],
        "selects no rows": [],
        "boolean Series such as": "x1 > 0",
    }
    for message, subset in bad.items():
        with pytest.raises(ValueError, match=message):
            build(sim.formula, df, groups="id", subset=subset)
    mask = df["x1"] > 0
    by_mask = build(sim.formula, df, groups="id", subset=mask)
    by_labels = build(sim.formula, df, groups="id", subset=df.index[mask].to_numpy())
    shuffled = build(sim.formula, df, groups="id", subset=mask.sample(frac=1, random_state=0))
    assert by_mask.nobs == by_labels.nobs == shuffled.nobs == mask.sum()
    with pytest.raises(ValueError, match=r"`drop_cols` names \['x3'\], which are not columns"):
        build(sim.formula, df, groups="id", drop_cols=["x3"])
    assert build(sim.formula, df, groups="id", drop_cols=["x1"]).exog_names == ["Intercept", "x2"]
    with pytest.raises(TypeError, match="`data` must be a pandas"):
        build(sim.formula, dict(df), groups="id")
    # per-row values as a plain list had given `len()`'s TypeError (API audit)
    with pytest.raises(ValueError, match="`absorb` is a list, read as a list of variables"):
        build(sim.formula, df, groups="id", absorb=list(df["id"]))
    holed = df.assign(x1=df["x1"].mask(df.index == 3))
    with pytest.raises(ValueError, match="missing='none' makes them an error"):
        build(sim.formula, holed, groups="id", missing="none")
    with pytest.raises(MissingDataError, match="missing='raise'"):  # as for arrays
        build(sim.formula, holed, groups="id", missing="raise")
    # complex values through a formula, in the data or in new rows; text where the fit had
    # numbers (numpy's and statsmodels' internal errors before, found by the docs audit)
    with pytest.raises(ValueError, match="column 'x1' of `data` holds complex numbers"):
        build(sim.formula, df.assign(x1=df["x1"] + 1j), groups="id")
    res = build(sim.formula, df, groups="id").fit(rng=0, n_starts=2)
    new = df.head(3)
    with pytest.raises(ValueError, match="column 'x1' of `exog` holds complex numbers"):
        res.predict(new.assign(x1=new["x1"] + 1j))
    with pytest.raises(ValueError, match=r"column\(s\) \['x1'\] are not numeric"):
        res.predict(new.assign(x1=["a", "b", "c"]))


def _squared(x):
    return x**2


def test_compare_classes_sees_the_callers_names_and_checks_its_fit_arguments(sim):
    """compare_classes evaluated the formula in smlcr's namespace (a function of the
    caller's failed where from_formula took it), ignored a misspelled `boot_fit_kwds` with
    n_boot=0, and gave Python's own error for `rng` in `fit_kwds`; from_formula's
    `eval_env=0` did not reach the caller (found by the API audit)."""
    df = sim.data
    formula = "y ~ x1 + _squared(x2)"
    model = smlcr.LatentClassOLS.from_formula(formula, df, groups="id", eval_env=0)
    assert model.exog_names == ["Intercept", "x1", "_squared(x2)"]
    table = smlcr.compare_classes(
        formula, df, groups="id", k_range=[1, 2], rng=0, fit_kwds={"n_starts": 4}
    )
    # in worker processes too: the model is pickled there in a feeder thread, where
    # statsmodels' rebuilding of the formula's spec could not see the caller's function
    parallel = smlcr.compare_classes(
        formula, df, groups="id", k_range=[1, 2], rng=0, fit_kwds={"n_starts": 4}, n_jobs=2
    )
    assert parallel.equals(table)
    direct = model.with_k_classes(2).fit(
        rng=np.random.default_rng(np.random.SeedSequence(0, spawn_key=(2,))), n_starts=4
    )
    assert table.loc[2, "llf"] == pytest.approx(direct.llf, rel=1e-12)
    checks = [
        (dict(boot_fit_kwds={"n_starts": 3}), ValueError, "used only with a bootstrap"),
        (dict(n_boot=2, boot_fit_kwds={"n_startz": 3}), TypeError, "did you mean 'n_starts'"),
        (dict(fit_kwds={"rng": 1}), ValueError, "must not hold `rng`"),
        (dict(fit_kwds=[("n_starts", 3)]), TypeError, "`fit_kwds` must be a dict"),
        (dict(return_results="no"), TypeError, "`return_results` must be True or False"),
    ]
    for kwargs, error, message in checks:
        with pytest.raises(error, match=message):
            smlcr.compare_classes(sim.formula, df, groups="id", k_range=[1, 2], **kwargs)


def test_summary_table_of_an_array_model_with_common_and_its_arguments(sim):
    """summary_table raised an IndexError for a model built from arrays with `common`, read
    a string `model_names` letter by letter, took `reference=True` as fit 2 and failed late
    on `title=5` (found by the API audit)."""
    df = sim.data.assign(w=np.random.default_rng(0).standard_normal(len(sim.data)))
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    arrays = smlcr.LatentClassOLS(
        df["y"].to_numpy(), X, groups=df["id"].to_numpy(), common=df[["w"]].to_numpy()
    ).fit(rng=0, n_starts=4)
    frames = smlcr.LatentClassOLS(
        df["y"],
        df[["x1", "x2"]].assign(const=1.0)[["const", "x1", "x2"]],
        groups=df["id"],
        common=df[["w"]].rename(columns={"w": "common0"}),
    ).fit(rng=0, n_starts=4)
    table = smlcr.summary_table(arrays, model_names="Full")  # one name, not four
    assert table.as_text() == smlcr.summary_table(frames, model_names="Full").as_text()
    assert "Full class 1" in table.as_text()
    assert any("(common)" in str(row[0]) for row in table.tables[0].data)
    for kwargs, error in [
        (dict(reference=True), ValueError),
        (dict(reference=1.5), ValueError),
        (dict(title=5), TypeError),
    ]:
        with pytest.raises(error, match=next(iter(kwargs))):
            smlcr.summary_table([arrays, arrays], **kwargs)
    with pytest.raises(TypeError, match="`title` must be a string"):
        arrays.summary(title=123)


def test_cov_params_of_combinations_and_columns_and_inherited_methods(sim):
    """cov_params(r_matrix=...) and (column=...) failed on the results for every input (the
    wrapper labelled them as the full matrix), `scale` was ignored, and the inherited
    `initialize` replaced `params` while `bse` and `llf` stayed (found by the API audit)."""
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id").fit(
        rng=0, n_starts=4
    )
    cov = res.cov_params()
    assert list(cov.index) == list(res.params.index) == list(cov.columns)
    r = np.zeros((1, len(res.params)))
    r[0, [1, 4]] = [1.0, -1.0]
    expected = cov.loc["x1[1]", "x1[1]"] + cov.loc["x1[2]", "x1[2]"] - 2 * cov.loc["x1[1]", "x1[2]"]
    np.testing.assert_allclose(res.cov_params(r_matrix=r), [[expected]], rtol=1e-12)
    np.testing.assert_allclose(res.cov_params(r_matrix="x1[1] - x1[2]"), [[expected]], rtol=1e-12)
    np.testing.assert_allclose(res.t_test("x1[1] - x1[2]").sd ** 2, [[expected]], rtol=1e-12)
    block = res.cov_params(column=["x1[2]", "x1[1]"])
    assert list(block.index) == ["x1[2]", "x1[1]"]
    np.testing.assert_array_equal(block.to_numpy(), cov.loc[["x1[2]", "x1[1]"], ["x1[2]", "x1[1]"]])
    np.testing.assert_array_equal(res.cov_params(column=[4, 1]).to_numpy(), block.to_numpy())
    with pytest.raises(ValueError, match="`column` names unknown parameters"):
        res.cov_params(column=["x9[1]"])
    with pytest.raises(ValueError, match="`scale` does not apply"):
        res.cov_params(scale=4.0)
    with pytest.raises(NotImplementedError, match="not re-initialised"):
        res.initialize(res.model, np.zeros(len(res.params)))
    with pytest.raises(NotImplementedError, match="use the results' predict"):
        res.model.predict(res.params)
    with pytest.raises(NotImplementedError, match="-model.hessian"):
        res.model.information(res.params)


def test_array_side_arguments_that_raised_internal_errors_name_the_argument(sim):
    """`absorb="id"` and `membership=1.0` to the array API gave IndexErrors, `absorb=[]`
    numpy's error, text in `membership` / `common` a conversion error naming nothing, and
    numeric-looking strings there were converted silently (found by the API audit)."""
    df = sim.data.assign(z=sim.data["id"] % 3)
    X = df[["x1", "x2"]].assign(const=1.0)
    cases = [
        (dict(absorb="id"), "`absorb` must be one value per row.*works with `from_formula`"),
        (dict(absorb=[]), "`absorb` holds no variable"),
        (dict(membership=1.0), "`membership` must be one row of values per row"),
        (dict(membership="~ z"), "one-sided formula such as '~ z' works with `from_formula`"),
        (dict(membership=df[["z"]].assign(s="a")), "`membership` must be numeric"),
        (dict(membership=df[["z"]].astype(str)), "`membership` must be numeric"),
        (dict(common=df[["x1"]].assign(s="a")), "`common` must be numeric"),
        (dict(common=df[["x1"]] + 1j), "`common` holds complex numbers"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            smlcr.LatentClassOLS(df["y"], X, groups=df["id"], **kwargs)


def test_cluster_on_an_array_model_with_dropped_rows():
    """With arrays and missing='drop', a per-row `cluster` array gave a ValueError that
    miscounted the rows and a Series by individual an IndexError (found by the metamorphic
    fuzz): both now give the clustered covariance of the data without the dropped row."""
    rng = np.random.default_rng(3)
    n_groups = 60
    g = np.repeat(np.arange(n_groups), rng.integers(2, 6, n_groups))
    x = rng.normal(size=g.size)
    y = np.where(g % 2 == 0, 1 + 2 * x, -1 - x) + rng.normal(size=g.size)
    X = np.column_stack([np.ones(g.size), x])
    cluster = (np.arange(n_groups) // 2)[g]
    y[5] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smlcr.LatentClassOLS(y, X, groups=g, k_classes=2, missing="drop")
        per_row = model.fit(rng=0, cluster=cluster)
        by_individual = model.fit(rng=0, cluster=pd.Series(np.arange(n_groups) // 2))
        keep = np.arange(g.size) != 5
        reference = smlcr.LatentClassOLS(y[keep], X[keep], groups=g[keep], k_classes=2).fit(
            rng=0, cluster=cluster[keep]
        )
    np.testing.assert_allclose(per_row.bse, reference.bse, rtol=1e-10)
    np.testing.assert_allclose(by_individual.bse, reference.bse, rtol=1e-10)
    with pytest.raises(ValueError, match="`cluster` has 202 values but the data have 203 rows"):
        model.fit(rng=0, cluster=cluster[keep])


def test_in_sample_predictions_have_one_value_per_row_as_fittedvalues(sim):
    """With rows estimation did not use (a zero row weight), in-sample `predict()` and
    `get_prediction()` returned only the rows used while `fittedvalues` has every row: an
    array model's predictions were shorter than the data, and aligning them by position
    was off (found by the metamorphic fuzz)."""
    df = sim.data
    rw = np.ones(len(df))
    rw[[3, 10, 11]] = 0.0
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS(
            df["y"].to_numpy(), X, groups=df["id"].to_numpy(), row_weights=rw
        ).fit(rng=0, n_starts=4)
    fitted = np.asarray(res.fittedvalues)
    posterior = res.predict(which="posterior")
    assert posterior.shape == fitted.shape == (len(df),)
    np.testing.assert_array_equal(np.isnan(posterior), rw == 0)
    np.testing.assert_allclose(posterior, fitted, rtol=1e-12)  # NaN at the same rows
    mean = res.get_prediction()
    assert mean.predicted_mean.shape == (len(df),)
    np.testing.assert_allclose(mean.predicted_mean, res.predict(), rtol=1e-12)
    assert res.predict(which="class").shape == (len(df), 2)
    assert res.get_prediction(which="class").predicted_mean.shape == (2 * len(df),)


def test_new_rows_with_a_missing_side_variable_predict_nan():
    """NaN in a common variable of new rows had raised an error naming `common_exog`."""
    sim = simulate_grouped(n_groups=40, rows_per_group=4, seed=3)
    df = sim.data.assign(c=np.random.default_rng(0).normal(size=len(sim.data)))
    model = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id", common="~ c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(rng=0, n_starts=2)
    new = df.head(4).copy()
    new.loc[new.index[1], "c"] = np.nan
    predicted = np.asarray(res.predict(new))
    assert np.isnan(predicted[1]) and np.isfinite(predicted[[0, 2, 3]]).all()
    np.testing.assert_allclose(predicted[[0, 2, 3]], np.asarray(res.predict(df.head(4)))[[0, 2, 3]])
    # a formula model takes them from the DataFrame: values given besides are an error, not a
    # silent replacement of the formula's
    with pytest.raises(ValueError, match="`common_exog` is not used by this model"):
        res.predict(df.head(4), common_exog=np.ones((4, 1)))
    with pytest.raises(TypeError, match="`transform` must be True or False"):
        res.predict(df.head(4), transform="no")


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_named_params_to_loglike_score_and_hessian_are_matched_by_name(sim):
    """`loglike(params Series)` read a Series in another order by position."""
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    res = model.fit(rng=0, n_starts=3)
    shuffled = res.params.sample(frac=1, random_state=0)
    assert model.loglike(shuffled) == res.llf
    np.testing.assert_array_equal(model.score(shuffled), model.score(res.params.to_numpy()))
    np.testing.assert_array_equal(model.hessian(shuffled), model.hessian(res.params.to_numpy()))
    renamed = res.params.rename({"x1[1]": "x9[1]"})
    with pytest.raises(ValueError, match=r"`params` is matched .* missing \['x1\[1\]'\]"):
        model.loglike(renamed)
    negative = res.params.copy()
    negative["sigma2[1]"] = -1.0
    with pytest.raises(ValueError, match=r"positive variances; check \['sigma2\[1\]'\]"):
        model.loglike(negative)


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
@pytest.mark.parametrize("alpha", [1.5, 0, -0.1, 1, float("nan"), "0.05", True])
def test_alpha_outside_zero_and_one_is_an_error(sim, alpha):
    """Intervals with alpha = 1.5 had lower ends above upper ones, alpha = 2 infinite ones."""
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    res = model.fit(rng=0, n_starts=2)
    prediction = res.get_prediction(sim.data.head(3))
    for call in (
        lambda: res.conf_int(alpha=alpha),
        lambda: res.summary(alpha=alpha),
        lambda: res.class_means(alpha=alpha),
        lambda: res.average_effects(alpha=alpha),
        lambda: prediction.conf_int(alpha=alpha),
        lambda: prediction.summary_frame(alpha=alpha),
    ):
        with pytest.raises(ValueError, match="`alpha` must be a number strictly between 0 and 1"):
            call()
    np.testing.assert_allclose(np.diff(np.asarray(res.conf_int(alpha=0.1)), axis=1) > 0, True)


def test_labels_of_different_types_that_compare_equal_are_an_error(sim):
    """pandas merges the labels 1, 1.0 and True: two individuals had become one."""
    df = sim.data
    exog = df[["x1", "x2"]].assign(const=1.0)
    for other in (1.0, True):
        ids = df["id"].to_numpy().astype(object)
        ids[ids == 0] = other  # individual 0 labelled like individual 1
        with pytest.raises(ValueError, match="labels of different types that compare equal"):
            smlcr.LatentClassOLS(df["y"], exog, groups=ids)
    mixed = np.where(df["id"] % 2 == 0, df["id"], df["id"].astype(str)).astype(object)
    assert smlcr.LatentClassOLS(df["y"], exog, groups=mixed).n_groups == df["id"].nunique()


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        ({"z": 1.0, "z2": 1.0}, r"\['z', 'z2'\]"),  # a copy
        ({"z": 1.0, "c": 0.0, "one": None}, r"\['c', 'one'\]"),  # two constants
        ({"z": 1.0, "zero": 0.0}, r"\['zero'\]"),  # all zero
    ],
)
def test_collinear_membership_columns_are_named(sim, columns, named):
    """A collinear membership design had given a ConvergenceWarning advising a higher
    maxiter, and a singular information matrix."""
    df = sim.data
    z = np.random.default_rng(0).normal(size=df["id"].nunique())[df["id"]]
    membership = pd.DataFrame(
        {
            name: z * factor if factor else (np.ones(len(df)) if factor is None else 0.0 * z)
            for name, factor in columns.items()
        },
        index=df.index,
    )
    if "one" in membership:
        membership["c"] = 2.0
    exog = df[["x1", "x2"]].assign(const=1.0)
    # (an all-zero column is named as such)
    message = rf"`membership` (is rank deficient: the columns|has the column\(s\)) {named}"
    with pytest.raises(ValueError, match=message):
        smlcr.LatentClassOLS(df["y"], exog, groups=df["id"], k_classes=2, membership=membership)


def _mylog(x):  # a function of the caller's namespace in a formula
    return np.log(np.abs(x) + 1.0)


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_more_inputs_that_raised_internal_errors_now_name_the_argument(sim):
    df = sim.data
    X = df[["x1", "x2"]].assign(const=1.0)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, df, groups="id", k_classes=2)
    for rng in ("abc", -1, 1.5, True):
        with pytest.raises(ValueError, match="`rng` must be None, a non-negative integer"):
            model.fit(rng=rng)
    with pytest.raises(ValueError, match="`var_floor` must be a number"):
        model.fit(rng=0, var_floor="0.1")
    with pytest.raises(ValueError, match="`min_share` must be a number"):
        model.fit(rng=0, min_share="0.1")
    with pytest.raises(TypeError, match=r"'n_strats' \(did you mean 'n_starts'\?\)"):
        model.fit(n_strats=3)
    with pytest.raises(ValueError, match="got 'id'; a column name works with `from_formula`"):
        smlcr.LatentClassOLS(df["y"], X, groups="id")
    with pytest.raises(ValueError, match="`groups` must be one label per row, got 5"):
        smlcr.LatentClassOLS(df["y"], X, groups=5)
    with pytest.raises(ValueError, match="`endog` holds complex numbers"):
        smlcr.LatentClassOLS(df["y"] + 1j, X, groups=df["id"])
    with pytest.raises(ValueError, match="`exog` holds complex numbers"):
        smlcr.LatentClassOLS(df["y"], X.assign(x1=X["x1"] + 0j), groups=df["id"])
    with pytest.raises(ValueError, match="`exog` holds dates or times"):
        smlcr.LatentClassOLS(df["y"], X.assign(d=pd.Timestamp("2020-01-01")), groups=df["id"])
    nullable = X.assign(x1=X["x1"].astype("Float64"))
    nullable.loc[nullable.index[3], "x1"] = pd.NA
    with pytest.warns(smlcr.exceptions.MissingRowsWarning, match="1 row"):
        dropped = smlcr.LatentClassOLS(df["y"], nullable, groups=df["id"], missing="drop")
    assert dropped.nobs == len(df) - 1
    res = model.fit(rng=0, n_starts=2)
    with pytest.raises(ValueError, match="`names` is empty"):
        res.test_class_equality(names=[])
    with pytest.raises(ValueError, match="`r_matrix` must have one column per parameter"):
        res.wald_test(np.eye(3))
    with pytest.raises(ValueError, match="`digits` must be an integer of at least 0"):
        smlcr.summary_table(res, digits=-1)
    for k_range, message in ((3, "sequence of positive"), ([1, 1], "repeats")):
        with pytest.raises(ValueError, match=f"`k_range` .*{message}"):
            smlcr.compare_classes(sim.formula, df, groups="id", k_range=k_range)
    with pytest.raises(TypeError, match="`data` must be a pandas"):
        smlcr.compare_classes(sim.formula, df.to_numpy(), groups="id", k_range=[1])
    with pytest.raises(TypeError, match="did you mean 'k_range'"):
        smlcr.compare_classes(sim.formula, df, groups="id", k_rang=[1])
    with pytest.raises(TypeError, match="`res_k` must be a fitted result"):
        smlcr.bootstrap_lrt(model, res, n_boot=2)


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
def test_a_pickled_formula_with_a_local_function_says_how_to_predict(sim):
    import pickle

    df = sim.data
    res = smlcr.LatentClassOLS.from_formula(
        "y ~ _mylog(x1) + x2", df, groups="id", k_classes=2
    ).fit(rng=0, n_starts=2)
    expected = np.asarray(res.predict(df.head(3)))
    loaded = pickle.loads(pickle.dumps(res))
    with pytest.raises(ValueError, match="formula cannot be evaluated on new rows here"):
        loaded.predict(df.head(3))
    design = pd.DataFrame(
        {"x2": df["x2"].head(3), "_mylog(x1)": _mylog(df["x1"].head(3)), "Intercept": 1.0}
    )
    np.testing.assert_allclose(np.asarray(loaded.predict(design, transform=False)), expected)


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
@pytest.mark.filterwarnings("ignore::smlcr.exceptions.MissingRowsWarning")
def test_with_k_classes_on_data_with_labels_of_their_own(sim):
    """with_k_classes (and refit_fewer_classes) failed on data whose index is not 0..n-1:
    it passed the individuals as a Series with the default index."""
    df = sim.data.copy()
    df.index = df.index * 3 + 7
    df.loc[df.index[5], "x1"] = np.nan
    n = df["id"].nunique()
    df["z"] = np.random.default_rng(0).normal(size=n)[df["id"]]
    df["c"] = np.random.default_rng(1).normal(size=len(df))
    exog = df[["x1", "x2"]].assign(const=1.0)
    models = [
        smlcr.LatentClassOLS.from_formula(
            sim.formula, df, groups="id", k_classes=2, membership="~ z", common="~ c"
        ),
        smlcr.LatentClassOLS(
            df["y"].to_numpy(),
            exog,
            groups=df["id"],
            k_classes=2,
            membership=df[["z"]].assign(one=1.0),
            common=df[["c"]],
            missing="drop",
        ),
    ]
    for model in models:
        res = model.fit(rng=0, n_starts=2)
        three = model.with_k_classes(3)
        assert three.prepared is model.prepared  # the statistics serve every K
        again = three.with_k_classes(2).fit(rng=0, n_starts=2)
        assert again.llf == res.llf
        np.testing.assert_array_equal(np.asarray(again.params), np.asarray(res.params))
        assert res.refit_fewer_classes(rng=0).k_classes == 1
        with pytest.raises(ValueError, match="k_classes"):  # the checks that depend on K
            model.with_k_classes(10**6)


@pytest.mark.parametrize(
    ("y_scale", "x_scale", "message"),
    [
        (1e80, 1.0, "`endog` varies on a scale of .*fourth power"),
        (1.0, 1e-160, r"the regressor\(s\) \['x1'\] vary on scales"),
        (1.0, 1e160, r"the regressor\(s\) \['x1'\] vary on scales"),
    ],
)
def test_scales_whose_covariance_is_not_representable_are_an_error(sim, y_scale, x_scale, message):
    """The response at 1e80 or a regressor at 1e-160 gave infinite standard errors (a
    regressor at 1e160, standard errors wrong in the third digit) with only numpy's
    overflow warning."""
    df = sim.data
    X = df[["x1", "x2"]].assign(c=1.0)
    with pytest.raises(ValueError, match=message):
        smlcr.LatentClassOLS(df["y"] * y_scale, X.assign(x1=X["x1"] * x_scale), groups=df["id"])
    membership = pd.DataFrame({"z": df["id"] * 1e-150, "one": 1.0})
    with pytest.raises(ValueError, match=r"membership variable\(s\) \['z'\]"):
        smlcr.LatentClassOLS(df["y"], X, groups=df["id"], k_classes=2, membership=membership)


@pytest.mark.parametrize("absorb", [False, True])
def test_regressors_whose_squares_overflow_give_the_fit_in_other_units(sim, absorb):
    """A regressor near 1e160 (the response near 1e60, their ratio within the limits)
    overflowed in the within transformation's test for constant columns: it was dropped
    as "constant within every absorbed cell", with a wrong fit and a misleading warning."""
    df = sim.data.assign(
        cell=sim.data["id"].astype(str) + (np.arange(len(sim.data)) % 2).astype(str)
    )
    options = {"absorb": ["cell"]} if absorb else {}
    fits = []
    for x_scale, y_scale in [(1.0, 1.0), (1.0, 1e60), (1e160, 1e60)]:
        data = df.assign(x1=df["x1"] * x_scale, y=df["y"] * y_scale)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
            warnings.simplefilter("ignore", smlcr.exceptions.AbsorbedRegressorWarning)
            model = smlcr.LatentClassOLS.from_formula(
                "y ~ x1 + x2", data, groups="id", k_classes=2, **options
            )
            fits.append(model.fit(rng=0))
    small, response_only, big = fits
    assert list(big.params.index) == list(small.params.index)
    rescaled = big.params.copy()
    for name in rescaled.index:
        if name.startswith("x1"):
            rescaled[name] *= 1e100
        elif name.startswith("sigma2"):
            rescaled[name] /= 1e120
        elif not name.startswith("membership"):
            rescaled[name] /= 1e60
    np.testing.assert_allclose(rescaled, small.params, rtol=1e-8)
    assert big.llf == pytest.approx(response_only.llf, rel=1e-12)  # x's units do not matter


def test_a_formula_without_regressors_says_so_without_mentioning_absorb(sim):
    with pytest.raises(ValueError, match=r"at least one column \(or an intercept\)"):
        smlcr.LatentClassOLS.from_formula("y ~ 0", sim.data, groups="id")
    with pytest.raises(ValueError, match="constant within the absorbed cells"):
        smlcr.LatentClassOLS.from_formula("y ~ 1", sim.data, groups="id", absorb=["id"])


def test_post_estimation_helpers_check_their_arguments(sim):
    """``lmr_test(n_sim=0)`` had returned NaN p-values; a criterion given as one string was
    read letter by letter; a non-fit in ``summary_table`` gave an AttributeError."""
    from smlcr.lmr import lmr_test
    from smlcr.plot import plot_criteria

    model = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", sim.data, groups="id", k_classes=1)
    small, big = model.fit(), model.with_k_classes(2).fit(rng=0, n_starts=3)
    for kwargs, message in [
        ({"n_sim": 0}, "`n_sim` must be"),
        ({"n_sim": 10.5}, "`n_sim` must be"),
        ({"seed": "a"}, "`seed` must be"),
    ]:
        with pytest.raises((TypeError, ValueError), match=message):
            lmr_test(small, big, **kwargs)
    assert np.isfinite(lmr_test(small, big, n_sim=1000)["lmr_pvalue"])
    with pytest.raises(TypeError, match="fitted smlcr results"):
        smlcr.summary_table([big, 3])
    with pytest.raises(ValueError, match="repeats a regressor"):
        big.test_class_equality(names=["x1", "x1"])
    with pytest.raises(NotImplementedError, match="use test_class_equality"):
        big.t_test_pairwise("x1")
    pytest.importorskip("matplotlib")
    table = pd.DataFrame({"bic": [3.0, 2.0]}, index=[1, 2])
    figure = plot_criteria(table, criteria="bic")
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["BIC"]


@pytest.mark.filterwarnings("ignore::smlcr.exceptions.SingleBestStartWarning")
@pytest.mark.parametrize("name", ["freq_weights", "weights", "cluster"])
def test_the_full_datas_column_while_fitting_a_subset_is_never_read_by_individual(name):
    # individuals labelled 0..39 are row labels of the full data too: its per-row column,
    # given while a subset of the rows was fitted, had been read as one value per
    # individual (individual 10 got row 10's weight; the log-likelihood was 56 units
    # off, without a warning; found by the API audit)
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 5)
    x = rng.normal(size=ids.size)
    y = np.where(rng.integers(0, 2, 40)[ids] == 0, 1 + 2 * x, -1 - x)
    full = pd.DataFrame(
        {
            "y": y + rng.normal(scale=0.5, size=ids.size),
            "x": x,
            "g": ids,
            "w": np.repeat(rng.integers(1, 4, 40), 5).astype(float),
            "region": ids // 4,
            "const": 1.0,
        }
    )
    sub = full[full.g >= 10]
    column = "region" if name == "cluster" else "w"
    model = smlcr.LatentClassOLS(
        sub.y,
        sub[["const", "x"]],
        groups=sub.g,
        k_classes=2,
        **({} if name == "cluster" else {name: sub[column]}),
    )
    with pytest.raises(ValueError, match="both the rows' labels and every individual's label"):
        if name == "cluster":
            model.fit(rng=0, n_starts=3, cluster=full[column])
        else:
            smlcr.LatentClassOLS(
                sub.y, sub[["const", "x"]], groups=sub.g, k_classes=2, **{name: full[column]}
            )
    # exactly the rows fitted, or one value per individual, is read as meant
    by_individual = sub.groupby("g")[column].first()
    if name == "cluster":
        res = model.fit(rng=0, n_starts=3, cluster=sub[column])
        again = model.fit(rng=0, n_starts=3, cluster=by_individual)
        assert res.n_clusters == again.n_clusters == 8
        np.testing.assert_allclose(res.cov_params(), again.cov_params(), rtol=1e-10)
    else:
        again = smlcr.LatentClassOLS(
            sub.y, sub[["const", "x"]], groups=sub.g, k_classes=2, **{name: by_individual}
        )
        assert again.fit(rng=0, n_starts=3).llf == model.fit(rng=0, n_starts=3).llf


def _dated_panel():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 5)
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta((ids % 4) * 30, "D")
    return pd.DataFrame(
        {"y": rng.normal(size=200), "x1": rng.normal(size=200), "g": ids, "day": day}
    )


@pytest.mark.parametrize("where", ["formula", "membership", "common", "dask"])
def test_a_date_column_in_a_formula_is_an_error_naming_it(where):
    # the formula engine had made one dummy per distinct date, silently (the array
    # interface refuses dates); found by the API audit
    df = _dated_panel()
    kwds = {"groups": "g", "k_classes": 2}
    formula = "y ~ x1 + day" if where in ("formula", "dask") else "y ~ x1"
    if where in ("membership", "common"):
        kwds[where] = "~ day"
    data = df
    if where == "dask":
        dd = pytest.importorskip("dask.dataframe")
        data = dd.from_pandas(df, npartitions=2)
    with pytest.raises(ValueError, match=r"column 'day' of `data` holds dates or times"):
        smlcr.LatentClassOLS.from_formula(formula, data, **kwds)
    # as numbers (a trend) or as strings (one dummy per date) it fits
    df["day"] = df["day"].dt.day_of_year
    smlcr.LatentClassOLS.from_formula(formula, df, **kwds)
    # a column whose name is only part of another name is not taken for it
    df["d"] = pd.Timestamp("2020-01-01")
    smlcr.LatentClassOLS.from_formula(formula, df, **kwds)


def test_duplicated_column_names_are_an_error_naming_them():
    df = _dated_panel().drop(columns="day")
    twice = pd.concat([df, df[["x1"]]], axis=1)
    with pytest.raises(ValueError, match=r"more than one column named \['x1'\]"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", twice, groups="g")


def test_row_posteriors_warn_when_the_row_labels_repeat():
    # the documented `data.join(res.row_posteriors())` on data concatenated from two files
    # (labels 0..99 twice) gave 400 rows of 200, 100 of them with another individual's
    # posteriors, without a word (found by the API audit)
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 5)
    x = rng.normal(size=200)
    y = np.where(rng.integers(0, 2, 40)[ids] == 0, 1 + 2 * x, -1 - x) + rng.normal(size=200)
    whole = pd.DataFrame({"y": y, "x": x, "g": ids})
    data = pd.concat([whole.iloc[:100], whole.iloc[100:].reset_index(drop=True)])
    res = smlcr.LatentClassOLS.from_formula("y ~ x", data, groups="g").fit(rng=0, n_starts=3)
    with pytest.warns(RowLabelsWarning, match="assign them by position"):
        rows = res.row_posteriors()
    # by position, every row gets its own individual's posteriors
    expected = res.posteriors.loc[data["g"]].to_numpy()
    np.testing.assert_array_equal(rows[[1, 2]].to_numpy(), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RowLabelsWarning)
        smlcr.LatentClassOLS.from_formula("y ~ x", whole, groups="g").fit(
            rng=0, n_starts=3
        ).row_posteriors()


def test_bootstrap_lrt_checks_its_fit_arguments():
    # `rng` in fit_kwds had given Python's "multiple values for keyword argument", and a
    # misspelled keyword had failed only inside the replicates (found by the API audit)
    sim = simulate_grouped(n_groups=40, rows_per_group=4, seed=1)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=1)
    one, two = model.fit(), model.with_k_classes(2).fit(rng=0, n_starts=3)
    with pytest.raises(ValueError, match="`fit_kwds` must not hold `rng`"):
        smlcr.bootstrap_lrt(one, two, n_boot=1, fit_kwds={"rng": 3})
    with pytest.raises(TypeError, match="n_strats"):
        smlcr.bootstrap_lrt(one, two, n_boot=1, fit_kwds={"n_strats": 3})


def test_restrictions_and_columns_of_the_wrong_size_and_start_params_by_name():
    # cov_params(column=[99]) had raised an IndexError, a restriction matrix of the wrong
    # width numpy's or statsmodels' shape errors, and start_params as a dict a TypeError
    # from float() (found by the API audit)
    sim = simulate_grouped(n_groups=40, rows_per_group=4, seed=2)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    res = model.fit(rng=0, n_starts=3)
    n_params = len(res.params)
    with pytest.raises(ValueError, match=rf"positions 0..{n_params - 1}, got \[99\]"):
        res.cov_params(column=[99])
    for call in (res.cov_params, res.t_test, res.wald_test):
        with pytest.raises(ValueError, match=rf"one column per parameter \({n_params}\)"):
            call(r_matrix=np.ones((1, 3)))
    by_name = model.fit(start_params=dict(reversed(list(res.params.items()))))
    assert by_name.llf == pytest.approx(res.llf, abs=1e-8)
    with pytest.raises(ValueError, match="`start_params` must be numbers"):
        model.fit(start_params=["a"] * n_params)


def test_new_rows_without_a_formula_variable_are_an_error_not_the_callers_variable():
    # new rows without x2 had been predicted from the x2 of the namespace the model was
    # built in (the formula engine looks names up there), without a word; without the
    # membership variable the formula engine's NameError had leaked (found by the API audit)
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 5)
    x1, x2 = rng.normal(size=(2, 200))
    y = np.where(rng.integers(0, 2, 40)[ids] == 0, 1 + 2 * x1, -1 - x1) + 2 * x2
    df = pd.DataFrame({"y": y + rng.normal(size=200), "x1": x1, "x2": x2, "g": ids})
    df["z"] = rng.normal(size=40)[ids]
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", df, groups="g", membership="~ z", k_classes=2
    )
    res = model.fit(rng=0, n_starts=3)
    new = df.drop(columns="x2")
    with pytest.raises(ValueError, match=r"`exog` lacks the column\(s\) \['x2'\]"):
        res.predict(new)
    with pytest.raises(
        ValueError, match=r"`data` lacks the column\(s\) \['z'\] that the `membership`"
    ):
        res.predict_membership(df.drop(columns="z"))
    # the same after a pickle round trip, and on Dask data
    again = pickle.loads(pickle.dumps(res))
    with pytest.raises(ValueError, match="lacks the column"):
        again.predict(new)
    dd = pytest.importorskip("dask.dataframe")
    lazy = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", dd.from_pandas(df, npartitions=2), groups="g", k_classes=2
    ).fit(rng=0, n_starts=3)
    with pytest.raises(ValueError, match="lacks the column"):
        lazy.predict(new)


def test_summary_of_a_fit_without_an_interior_maximum_does_not_say_one_start_reached_it():
    # identical individuals, K = 2: every start ended at the same boundary point, and the
    # summary said both "Starts at best: none interior" and "Only one start reached the
    # best log-likelihood" (found by the audit of compare_classes)
    rng = np.random.default_rng(0)
    x, e = rng.normal(size=(2, 6))
    df = pd.DataFrame(
        {"id": np.repeat(np.arange(40), 6), "x": np.tile(x, 40), "y": np.tile(1 + x + e, 40)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2).fit(
            rng=0, n_starts=10
        )
        text = res.summary().as_text()
    assert res.n_reached_best == 0 and "none interior" in text
    assert "Only one start reached" not in text


def test_a_bootstrap_against_a_fit_on_the_boundary_says_so():
    # the bootstrap row had shown a statistic of 1e-13 and a p-value of 1 without a word,
    # where the Vuong-Lo-Mendell-Rubin columns are NaN with a warning (found by the audit
    # of compare_classes)
    rng = np.random.default_rng(0)
    x, e = rng.normal(size=(2, 6))
    df = pd.DataFrame(
        {"id": np.repeat(np.arange(40), 6), "x": np.tile(x, 40), "y": np.tile(1 + x + e, 40)}
    )
    model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one, two = model.fit(), model.with_k_classes(2).fit(rng=0, n_starts=4)
    assert two.boundary is not None
    with pytest.warns(smlcr.exceptions.SmlcrWarning, match="is on the boundary"):
        smlcr.bootstrap_lrt(one, two, n_boot=1, rng=0, fit_kwds={"n_starts": 2})


def test_runs_stopped_at_maxiter_are_named_as_the_cause():
    # with maxiter=5 every run stopped before converging, and the warning said too few
    # starts had reached the best, advising more starts; the summary printed a numpy repr
    # (found by the audit of summaries and warnings)
    sim = simulate_grouped(
        n_groups=200,
        rows_per_group=4,
        beta=((0, 1, 0), (0.4, 1.2, 0.1)),
        sigma2=(1, 1.2),
        shares=(0.5, 0.5),
        seed=2,
    )
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    with pytest.warns(smlcr.exceptions.SingleBestStartWarning, match="stopped at `maxiter`"):
        res = model.fit(rng=0, maxiter=5)
    assert (res.start_status["status"] == "maxiter").any()
    # two starts that both end with a variance at the floor: the note names the class plainly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held = model.fit(rng=0, n_starts=2)
    assert held.variance_floor_hit.any()
    assert "variance of class(es) [2] is held" in held.summary().as_text()
