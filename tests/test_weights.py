"""Frequency, sampling and row weights, and standard errors clustered above the individual.

Frequency weights against the replicated data; row and sampling weights against
statsmodels' WLS for one class; the clustered sandwich against its definition; bad
weights against their messages.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.numdiff import approx_fprime

import smlcr
from smlcr.datasets import informative_sample, simulate_grouped
from smlcr.exceptions import FewClustersWarning, ZeroWeightWarning

FORMULA = "y ~ x1 + x2"


def _panel(n_groups=90, k=2, seed=3):
    """Two well-separated classes, a cell variable nested in individuals, a membership
    variable constant within individuals, and positive weights of every kind."""
    beta = ((1.0, 2.0, -1.0), (-1.0, 0.5, 1.0), (2.5, -1.0, 0.0))[:k]
    sim = simulate_grouped(
        n_groups=n_groups,
        rows_per_group=(3, 6),
        beta=beta,
        sigma2=(1.0, 0.5, 0.8)[:k],
        shares=(0.6, 0.4) if k == 2 else (0.4, 0.35, 0.25),
        seed=seed,
    )
    df = sim.data.copy()
    rng = np.random.default_rng(seed)
    df["cell"] = df["id"].astype(str) + "_" + (np.arange(len(df)) % 2).astype(str)
    ids = df["id"].unique()
    df["z"] = pd.Series(rng.standard_normal(ids.size), index=ids).reindex(df["id"]).to_numpy()
    df["fw"] = pd.Series(rng.integers(1, 4, ids.size), index=ids).reindex(df["id"]).to_numpy()
    df["sw"] = pd.Series(rng.uniform(0.3, 3.0, ids.size), index=ids).reindex(df["id"]).to_numpy()
    df["rw"] = rng.uniform(0.2, 3.0, len(df))
    df["kind"] = df["id"] % 3
    return df


def _replicated(df, weight="fw"):
    """Every individual repeated as many times as its frequency weight, under new labels."""
    copies = df.loc[df.index.repeat(df[weight])].copy()
    copy_number = copies.groupby(level=0).cumcount()
    copies["id"] = copies["id"].astype(str) + "_" + copy_number.astype(str)
    copies["cell"] = copies["cell"] + "_" + copy_number.astype(str)
    return copies.reset_index(drop=True)


OPTIONS = {
    "plain": {},
    "absorb_common_variance": {"absorb": ["cell"], "variance": "common"},
    "membership_and_common": {"membership": "~ z", "common": "~ x2"},
    # few distinct membership rows: the M-step works on the patterns' summed weights
    "categorical_membership": {"membership": "~ C(kind)"},
}


def _formula(options):
    return "y ~ x1" if "common" in options else FORMULA


@pytest.mark.parametrize("case", list(OPTIONS))
def test_frequency_weights_equal_the_replicated_data(case):
    df = _panel()
    options = OPTIONS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = smlcr.LatentClassOLS.from_formula(
            _formula(options), df, groups="id", k_classes=2, freq_weights="fw", **options
        ).fit(rng=0)
        replicated = smlcr.LatentClassOLS.from_formula(
            _formula(options), _replicated(df), groups="id", k_classes=2, **options
        ).fit(rng=0)
    np.testing.assert_allclose(weighted.llf, replicated.llf, rtol=1e-10)
    np.testing.assert_allclose(weighted.params, replicated.params, rtol=1e-6, atol=1e-8)
    for kind in ("oim", "opg", "robust"):
        ours = np.sqrt(np.diag(getattr(weighted, f"cov_params_{kind}")))
        theirs = np.sqrt(np.diag(getattr(replicated, f"cov_params_{kind}")))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    np.testing.assert_allclose(weighted.info_criteria, replicated.info_criteria, rtol=1e-10)
    np.testing.assert_allclose(
        weighted.class_shares.to_numpy(), replicated.class_shares.to_numpy(), rtol=1e-6
    )
    assert weighted.n_groups == replicated.n_groups == df.groupby("id")["fw"].first().sum()
    assert weighted.nobs == replicated.nobs == df["fw"].sum()
    assert weighted.df_resid == replicated.df_resid
    np.testing.assert_allclose(
        weighted.classification.table.to_numpy(),
        replicated.classification.table.to_numpy(),
        rtol=1e-6,
    )


def test_weighted_derivatives_match_numerical_ones():
    df = _panel(n_groups=60)
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x1",
        df,
        groups="id",
        k_classes=2,
        weights="sw",
        row_weights="rw",
        membership="~ z",
        common="~ x2",
    )
    res = model.fit(rng=0)
    params = np.asarray(res.params) * 1.01  # away from the maximum, where the score is 0
    np.testing.assert_allclose(
        model.score(params),
        approx_fprime(params, model.loglike, centered=True),
        rtol=1e-5,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        model.hessian(params),
        approx_fprime(params, model.score, centered=True),
        rtol=1e-5,
        atol=1e-3,
    )
    # the log-likelihood is the weighted sum of the individuals' contributions
    weight = model.stats.weight
    np.testing.assert_allclose(model.loglike(params), weight @ model.loglikeobs(params), rtol=1e-12)


def _one_class(df, **weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", k_classes=1, **weights)


def test_row_weights_equal_statsmodels_wls_for_one_class():
    df = _panel()
    res = _one_class(df, row_weights="rw").fit(rng=0)
    X = sm.add_constant(df[["x1", "x2"]])
    wls = sm.WLS(df["y"], X, weights=df["rw"]).fit()
    np.testing.assert_allclose(res.params.to_numpy()[:3], wls.params.to_numpy(), rtol=1e-10)
    # the log-likelihood counts the weights' Jacobian as WLS does: 0.5 sum log w
    np.testing.assert_allclose(res.llf, wls.llf, rtol=1e-10)
    # the maximum-likelihood variance of the weighted residuals
    np.testing.assert_allclose(res.params["sigma2[1]"], wls.ssr / wls.nobs, rtol=1e-10)


def test_row_weights_with_absorbed_cells_equal_wls_with_cell_dummies():
    df = _panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            FORMULA, df, groups="id", absorb="cell", k_classes=1, row_weights="rw"
        ).fit(rng=0)
    wls = sm.WLS.from_formula("y ~ x1 + x2 + C(cell)", df, weights=df["rw"]).fit()
    np.testing.assert_allclose(res.params[["x1[1]", "x2[1]"]], wls.params[["x1", "x2"]], rtol=1e-9)
    # the residual variance on the degrees of freedom left after the cells
    np.testing.assert_allclose(
        res.params["sigma2[1]"], wls.ssr / (len(df) - df["cell"].nunique()), rtol=1e-9
    )
    # the fitted values and residuals include the cell effects WLS estimates (the cells'
    # weighted means; the unweighted ones had been used, off by up to 1.7 here)
    np.testing.assert_allclose(res.fittedvalues, wls.fittedvalues, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.resid, wls.resid, rtol=1e-10, atol=1e-10)


def test_row_weights_with_absorbed_cells_give_a_log_likelihood_free_of_their_scale():
    """With absorb, the log-likelihood moved by 0.5 n_cells log c when every row weight was
    multiplied by c (found by the metamorphic fuzz): the within-cell contrasts' Jacobian
    lacked each cell's -0.5 log(mean weight). It is now the contrasts' log-likelihood,
    computed here from statsmodels' WLS with cell dummies."""
    df = _panel()
    n_cells = df["cell"].nunique()

    def fit(data, **weights):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return smlcr.LatentClassOLS.from_formula(
                FORMULA, data, groups="id", absorb="cell", k_classes=1, **weights
            ).fit(rng=0)

    res = fit(df, row_weights="rw")
    wls = sm.WLS.from_formula("y ~ x1 + x2 + C(cell)", df, weights=df["rw"]).fit()
    dof = len(df) - n_cells
    sigma2 = wls.ssr / dof
    mean_weight = df.groupby("cell")["rw"].mean()
    contrasts = (
        -0.5 * dof * np.log(2 * np.pi * sigma2)
        - 0.5 * dof
        + 0.5 * np.log(df["rw"]).sum()
        - 0.5 * np.log(mean_weight).sum()
    )
    assert res.llf == pytest.approx(contrasts, rel=1e-10)
    for c in (1e-3, 7.5):
        assert fit(df.assign(rw=c * df["rw"]), row_weights="rw").llf == pytest.approx(
            res.llf, rel=1e-10
        )
    assert fit(df.assign(rw=4.0), row_weights="rw").llf == pytest.approx(fit(df).llf, rel=1e-10)
    # the Dask statistics (cells split across partitions) carry the same term
    dd = pytest.importorskip("dask.dataframe")
    lazy = fit(dd.from_pandas(df, npartitions=7), row_weights="rw")
    assert lazy.llf == pytest.approx(res.llf, rel=1e-10)


def test_sampling_weights_equal_wls_with_standard_errors_clustered_by_individual():
    df = _panel()
    res = _one_class(df, weights="sw").fit(rng=0)
    assert res.cov_type == "robust"
    X = sm.add_constant(df[["x1", "x2"]])
    groups = df["id"].to_numpy()
    plain = sm.WLS(df["y"], X, weights=df["sw"]).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
    )
    coef = ["Intercept[1]", "x1[1]", "x2[1]"]
    np.testing.assert_allclose(res.params[coef], plain.params, rtol=1e-10)
    np.testing.assert_allclose(res.bse[coef], plain.bse, rtol=1e-9)
    # statsmodels' default small-sample factor, G / (G - 1) (n - 1) / (n - k), as documented
    corrected = sm.WLS(df["y"], X, weights=df["sw"]).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    g, n, k = df["id"].nunique(), len(df), 3
    factor = np.sqrt(g / (g - 1) * (n - 1) / (n - k))
    np.testing.assert_allclose(res.bse[coef] * factor, corrected.bse, rtol=1e-9)


def test_sampling_weights_do_not_depend_on_their_scale():
    df = _panel()
    first = _one_class(df, weights="sw").fit(rng=0)
    scaled = _one_class(df.assign(sw=df["sw"] * 1e6), weights="sw").fit(rng=0)
    np.testing.assert_allclose(first.params, scaled.params, rtol=1e-12)
    np.testing.assert_allclose(first.bse, scaled.bse, rtol=1e-10)
    np.testing.assert_allclose(first.llf, scaled.llf, rtol=1e-12)
    # rescaled to sum to the number of individuals, and the factor recorded
    assert np.isclose(first.model.stats.weight.sum(), df["id"].nunique())
    assert np.isclose(scaled.weighting.scale, first.weighting.scale * 1e-6)


@pytest.mark.parametrize("weights", [{"weights": "sw"}, {"freq_weights": "fw"}, {}])
def test_cluster_sums_weighted_scores_within_clusters(weights):
    df = _panel().assign(region=lambda d: d["id"] % 7)
    model = smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", k_classes=2, **weights)
    with pytest.warns(FewClustersWarning, match="only 7 clusters for"):
        res = model.fit(rng=0, cluster="region")  # (the arithmetic holds all the same)
    assert res.n_clusters == 7 and res.cluster_name == "region"
    params = np.asarray(res.params)
    # by hand, in the data's units: scores of each individual times its weight, summed
    # over the individuals of a region
    scores = model.score_obs(params) * (
        1.0 if model.stats.weight is None else model.stats.weight[:, None]
    )
    region = pd.Series(df.groupby("id")["region"].first()).reindex(model.group_labels)
    summed = pd.DataFrame(scores).groupby(region.to_numpy()).sum().to_numpy()
    bread = np.linalg.inv(-model.hessian(params))
    expected = bread @ summed.T @ summed @ bread
    np.testing.assert_allclose(res.cov_params(), expected, rtol=1e-6)


def test_clusters_of_one_individual_reproduce_the_robust_covariance():
    df = _panel()
    model = smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", k_classes=2)
    robust = model.fit(rng=0, cov_type="robust")
    # a cluster per individual, given as a Series indexed by individual
    clusters = pd.Series(np.arange(df["id"].nunique()), index=np.sort(df["id"].unique()))
    clustered = model.fit(rng=0, cluster=clusters)
    np.testing.assert_allclose(clustered.cov_params(), robust.cov_params(), rtol=1e-10)


def test_an_individual_in_two_clusters_is_an_error():
    df = _panel()
    df["bad"] = df["id"] % 5
    first = df.index[df["id"] == df["id"].iloc[0]][0]
    df.loc[first, "bad"] = 99
    model = smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", k_classes=2)
    with pytest.raises(ValueError, match=r"individual .* two clusters of `cluster`"):
        model.fit(rng=0, cluster="bad")
    with pytest.raises(ValueError, match="cov_type='robust'"):
        model.fit(rng=0, cluster=df["id"] % 5, cov_type="oim")
    with pytest.raises(ValueError, match="not a column"):
        model.fit(rng=0, cluster="nope")


@pytest.mark.parametrize("cov_type", ["oim", "opg"])
def test_sampling_weights_allow_only_the_sandwich(cov_type):
    model = _one_class(_panel(), weights="sw")
    with pytest.raises(ValueError, match="not valid with sampling `weights`"):
        model.fit(rng=0, cov_type=cov_type)
    res = model.fit(rng=0)
    assert np.isnan(res.cov_params_oim).all()
    assert "sandwich" in str(res.summary()) and "Sampling weights" in str(res.summary())


def _bad(df, column, values):
    out = df.copy()
    out[column] = values
    return out


@pytest.mark.parametrize(
    "argument, column, make, message",
    [
        ("freq_weights", "fw", lambda d: -d["fw"], "negative"),
        ("weights", "sw", lambda d: d["sw"].where(d.index != 3, np.nan), "NaN"),
        ("row_weights", "rw", lambda d: d["rw"].where(d.index != 3, np.inf), "infinite"),
        ("freq_weights", "fw", lambda d: d["fw"] + 0.5, "whole numbers"),
        ("weights", "sw", lambda d: d["sw"] + 0.01 * (d.index % 2), "varies within individual"),
        ("weights", "sw", lambda d: 0 * d["sw"], "zero for every individual"),
        ("row_weights", "rw", lambda d: 0 * d["rw"], "zero for every row"),
        ("freq_weights", "fw", lambda d: d["fw"].astype(str), "numeric"),
    ],
)
def test_bad_weights_are_errors_naming_the_argument(argument, column, make, message):
    df = _panel()
    df = _bad(df, column, make(df))
    with pytest.raises(ValueError, match=message) as err:
        smlcr.LatentClassOLS.from_formula(
            FORMULA, df, groups="id", k_classes=2, **{argument: column}
        )
    assert f"`{argument}`" in str(err.value)


def test_both_kinds_of_individual_weights_and_wrong_lengths_are_errors():
    df = _panel()
    with pytest.raises(ValueError, match="not both"):
        smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", freq_weights="fw", weights="sw")
    with pytest.raises(ValueError, match="`row_weights` has 5 values"):
        smlcr.LatentClassOLS(df["y"], df[["x1"]], groups=df["id"], row_weights=np.ones(5))
    # a Series indexed by individual must have every individual's weight
    partial = df.groupby("id")["sw"].first().iloc[:-1]
    with pytest.raises(ValueError, match="no value for individual"):
        smlcr.LatentClassOLS(df["y"], df[["x1"]], groups=df["id"], weights=partial)


def test_zero_weights_drop_individuals_and_rows_with_a_warning_and_a_count():
    df = _panel()
    ids = df["id"].unique()
    df.loc[df["id"].isin(ids[:3]), "fw"] = 0
    with pytest.warns(ZeroWeightWarning, match="3 individual"):
        model = smlcr.LatentClassOLS.from_formula(
            FORMULA, df, groups="id", k_classes=2, freq_weights="fw"
        )
    assert model.n_groups_zero_weight == 3 and model.n_groups == ids.size - 3
    kept = smlcr.LatentClassOLS.from_formula(
        FORMULA, df[~df["id"].isin(ids[:3])], groups="id", k_classes=2, freq_weights="fw"
    )
    np.testing.assert_allclose(model.fit(rng=0).llf, kept.fit(rng=0).llf, rtol=1e-12)
    rows = _panel()
    rows.loc[rows.index[:4], "rw"] = 0.0
    with pytest.warns(ZeroWeightWarning, match="4 row"):
        model = smlcr.LatentClassOLS.from_formula(
            FORMULA, rows, groups="id", k_classes=2, row_weights="rw"
        )
    assert model.n_rows_zero_weight == 4 and model.nobs == len(rows) - 4
    assert model.fit(rng=0).n_rows_zero_weight == 4


def test_weighted_fits_do_not_depend_on_row_order_label_type_or_how_weights_are_given():
    df = _panel()
    model = smlcr.LatentClassOLS.from_formula(
        FORMULA, df, groups="id", k_classes=2, weights="sw", row_weights="rw"
    )
    first = model.fit(rng=0)
    shuffled = df.sample(frac=1.0, random_state=1).assign(id=lambda d: "p" + d["id"].astype(str))
    per_individual = shuffled.groupby("id")["sw"].first()  # a Series indexed by individual
    other = smlcr.LatentClassOLS.from_formula(
        FORMULA, shuffled, groups="id", k_classes=2, weights=per_individual, row_weights="rw"
    ).fit(rng=0)
    # (the same statistics up to the rounding of an individual's QR in another row order)
    np.testing.assert_allclose(first.llf, other.llf, rtol=1e-12)
    np.testing.assert_allclose(first.params, other.params, rtol=1e-8)
    np.testing.assert_allclose(first.bse, other.bse, rtol=1e-7)
    # arrays, without a formula, give the same fit
    arrays = smlcr.LatentClassOLS(
        df["y"],
        sm.add_constant(df[["x1", "x2"]]),
        groups=df["id"],
        k_classes=2,
        weights=df["sw"].to_numpy(),
        row_weights=df["rw"].to_numpy(),
    ).fit(rng=0)
    np.testing.assert_allclose(arrays.llf, first.llf, rtol=1e-12)


def test_weights_with_missing_rows_pickling_and_the_summary():
    df = _panel()
    df.loc[df.index[5], "x1"] = np.nan
    with pytest.warns(smlcr.exceptions.MissingRowsWarning):
        model = smlcr.LatentClassOLS.from_formula(
            FORMULA, df, groups="id", k_classes=2, freq_weights="fw", row_weights="rw"
        )
    res = model.fit(rng=0)
    complete = smlcr.LatentClassOLS.from_formula(
        FORMULA, df.dropna(), groups="id", k_classes=2, freq_weights="fw", row_weights="rw"
    ).fit(rng=0)
    np.testing.assert_allclose(res.llf, complete.llf, rtol=1e-12)
    text = str(res.summary())
    assert "Frequency weights" in text and "Row weights" in text
    loaded = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(loaded.params, res.params)
    assert loaded.weighting.kind == "frequency"
    np.testing.assert_allclose(loaded.model.loglike(res.params), res.llf, rtol=1e-12)


def test_compare_classes_with_frequency_weights_equals_the_replicated_data():
    df = _panel(n_groups=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = smlcr.compare_classes(
            FORMULA, df, groups="id", k_range=range(1, 3), rng=0, freq_weights="fw"
        )
        replicated = smlcr.compare_classes(
            FORMULA, _replicated(df), groups="id", k_range=range(1, 3), rng=0
        )
    columns = ["llf", "aic", "bic", "sabic", "caic", "icl"]
    np.testing.assert_allclose(weighted[columns], replicated[columns], rtol=1e-9)


def test_bootstrap_draws_frequency_weighted_individuals_as_independent_ones():
    from smlcr.selection import _simulate_model

    df = _panel(n_groups=50)
    res = smlcr.LatentClassOLS.from_formula(
        FORMULA, df, groups="id", k_classes=1, freq_weights="fw", row_weights="rw"
    ).fit(rng=0)
    drawn = _simulate_model(res, 1, np.random.default_rng(0))
    # every copy of an individual is a separate individual with its own draw
    assert drawn.n_groups == df.groupby("id")["fw"].first().sum()
    assert drawn.weighting.kind is None and drawn.weighting.rows
    # the draws' noise has variance sigma2 / row weight
    refit = drawn.fit(rng=0)
    assert abs(refit.params[-1] / res.params["sigma2[1]"] - 1) < 0.15
    sampled = smlcr.LatentClassOLS.from_formula(
        FORMULA, df, groups="id", k_classes=1, weights="sw"
    ).fit(rng=0)
    drawn = _simulate_model(sampled, 1, np.random.default_rng(0))
    assert drawn.weighting.kind == "sampling" and drawn.n_groups == df["id"].nunique()
    np.testing.assert_allclose(np.sort(drawn.stats.weight), np.sort(sampled.model.stats.weight))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two = sampled.model.with_k_classes(2).fit(rng=0)
        test = smlcr.bootstrap_lrt(sampled, two, n_boot=3, rng=0, fit_kwds={"n_starts": 5})
    assert test["n_boot"] == 3 and 0 < test["pvalue"] <= 1


def test_sampling_weights_correct_an_informative_sample_and_intervals_cover():
    """A small run of benchmarks/mc_sampling_weights.py (500 replicates in docs/weights.md)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mc_sampling_weights.py"
    spec = importlib.util.spec_from_file_location("mc_sampling_weights", path)
    mc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mc)
    weighted = mc.monte_carlo(30, weighted=True)
    unweighted = mc.monte_carlo(30, weighted=False)
    # the sample over-represents class 2 (0.35 of the population, 0.68 of the sample)
    assert abs(weighted["share[1]"].mean() - 0.65) < 0.03
    assert unweighted["share[1]"].mean() < 0.45
    for name, truth in mc.TRUTH.items():
        assert abs(weighted[name].mean() - truth) < 4 * weighted[name].std() / np.sqrt(30)
    # 150 sandwich intervals at 95%: at least 88% cover (binomial sd 1.8%)
    coverage = weighted[[c for c in weighted if c.startswith("covered")]].to_numpy().mean()
    assert coverage >= 0.88


def test_informative_sample_draws_independently_of_the_population_and_checks_arguments():
    """With equal seeds the inclusion draws reused the population's class draws: stated
    rates (0.2, 0.5, 0.8) were realised as (0.41, 0, 0) (found by the API audit)."""
    population = simulate_grouped(n_groups=20_000, rows_per_group=1, seed=0)
    for seed in (0, 5):
        sample = informative_sample(population, inclusion=(0.2, 0.5, 0.8), seed=seed)
        counts = population.true_class.value_counts().sort_index()
        kept = sample.groupby("true_class")["id"].nunique().reindex(counts.index, fill_value=0)
        rates = (kept / counts).to_numpy()
        # binomial sd below 0.007 at these counts
        np.testing.assert_allclose(rates, [0.2, 0.5, 0.8], atol=0.03)
    # the defaults work together: evenly spaced rates, one per class
    assert set(informative_sample(population)["weight"].round(12)) == {5.0, 2.0, 1.25}
    bad = [
        (dict(inclusion=(0.2, 0.8)), "`inclusion` must have one value per class"),
        (dict(inclusion=(0.2, 0.5, 1.5)), "`inclusion` must be probabilities"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            informative_sample(population, **kwargs)
    for kwargs, message in [
        (dict(sigma2=(1.0, -1.0, 2.0)), "`sigma2` must be positive"),
        (dict(shares=(0.5, 0.5)), "`shares` must have one value per class"),
        (dict(rows_per_group=2.7), "`rows_per_group` must be an integer"),
        (dict(rows_per_group=(2, 5, 9)), "a \\(fewest, most\\) pair"),
        (dict(rows_per_group=(5, 2)), "fewest above most"),
        (dict(beta=((1.0, 2.0),)), "`beta` must hold one"),
        (dict(n_groups=0), "`n_groups` must be an integer"),
        # NaN or infinite truths had given NaN responses, strings had been read as numbers
        (dict(sigma2=(np.nan, 1.0, 2.0)), "`sigma2` must be finite numbers"),
        (dict(sigma2=(np.inf, 1.0, 2.0)), "`sigma2` must be finite numbers"),
        (dict(beta=((np.nan, 1, 1), (1, 1, 1), (1, 1, 1))), "`beta` must be finite numbers"),
        (dict(beta=(("1", 1, 1), (1, 1, 1), (1, 1, 1))), "`beta` must be numbers"),
        (dict(shares=(np.nan, 0.5, 0.5)), "`shares` must be finite numbers"),
        # numpy's SeedSequence errors had leaked (found by the API audit)
        (dict(seed=-1), "`seed` must be an integer of at least 0"),
        (dict(seed=1.5), "`seed` must be an integer of at least 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            simulate_grouped(**kwargs)
    with pytest.raises(TypeError, match="`population` must be what simulate_grouped returns"):
        informative_sample(population.data)
    for kwargs, message in [
        (dict(n_artists=0), "`n_artists` must be an integer of at least 1"),
        (dict(n_artists=3.5), "`n_artists` must be an integer of at least 1"),
        (dict(seed=-1), "`seed` must be an integer of at least 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            smlcr.datasets.streams(**kwargs)


def test_class_means_and_average_effects_with_frequency_weights_equal_the_replicated_data():
    df = _panel(n_groups=60)
    options = {"membership": "~ z"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = smlcr.LatentClassOLS.from_formula(
            FORMULA, df, groups="id", k_classes=2, freq_weights="fw", **options
        ).fit(rng=0)
        replicated = smlcr.LatentClassOLS.from_formula(
            FORMULA, _replicated(df), groups="id", k_classes=2, **options
        ).fit(rng=0)
    for method in ("class_means", "average_effects"):
        np.testing.assert_allclose(
            getattr(weighted, method)().to_numpy(),
            getattr(replicated, method)().to_numpy(),
            rtol=1e-6,
        )


def test_one_cluster_is_an_error_and_few_clusters_warn():
    """One cluster gave standard errors of 1e-17 without a word; G clusters give a
    clustered covariance of rank G - 1 at most."""
    df = _panel().assign(one=0, many=lambda d: d["id"] % 40)
    model = smlcr.LatentClassOLS.from_formula(FORMULA, df, groups="id", k_classes=2)
    with pytest.raises(ValueError, match="`cluster` puts every individual in one cluster"):
        model.fit(rng=0, cluster="one")
    with pytest.raises(ValueError, match="one cluster"):
        model.fit(rng=0, cluster=np.zeros(len(df)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        res = model.fit(rng=0, cluster="many")  # 40 clusters: no warning
    assert res.n_clusters == 40


@pytest.mark.parametrize("dask", [False, True])
def test_row_weights_on_an_extreme_scale_are_an_error_naming_them(dask):
    # equal row weights of 1e-120 had raised numpy's LinAlgError (the Hessian's eigenvalues),
    # 1e120 a fit that had not converged, with raw overflow warnings (found by the API
    # audit); multiplying every row weight by a constant changes only the variances' units
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 5)
    x = rng.normal(size=200)
    y = np.where(rng.integers(0, 2, 40)[ids] == 0, 1 + 2 * x, -1 - x) + rng.normal(size=200)
    df = pd.DataFrame({"y": y, "x": x, "g": ids})
    fits = []
    for scale in (1e-120, 1e120, 1e-20, 1.0):
        data = df.assign(w=scale)
        if dask:
            dd = pytest.importorskip("dask.dataframe")
            data = dd.from_pandas(data, npartitions=2)
        if abs(np.log10(scale)) > 30:
            with pytest.raises(ValueError, match="`row_weights` are on a scale of 1e"):
                smlcr.LatentClassOLS.from_formula("y ~ x", data, groups="g", row_weights="w")
            continue
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x", data, groups="g", row_weights="w", k_classes=2
        )
        fits.append(model.fit(rng=0, n_starts=5))
    assert fits[0].llf == pytest.approx(fits[1].llf, rel=1e-9)
    np.testing.assert_allclose(fits[0].params["x[1]"], fits[1].params["x[1]"], rtol=1e-8)
