"""Dask data: statistics equal to the in-memory path for any partitioning, the same fits,
and a model without rows that says so."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import MissingDataError

import smlcr
from smlcr.datasets import simulate_grouped

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(autouse=True)
def threaded():
    with dask.config.set(scheduler="threads"):
        yield


def _panel(n_groups=80, seed=1):
    sim = simulate_grouped(n_groups=n_groups, rows_per_group=(1, 7), seed=seed)
    df = sim.data.copy()
    rng = np.random.default_rng(seed)
    df["cell"] = df["id"].astype(str) + "_" + (np.arange(len(df)) % 2).astype(str)
    df["kind"] = np.array(["a", "b", "c"])[df["id"] % 3]
    df["z"] = pd.Series(rng.standard_normal(n_groups)).reindex(df["id"]).to_numpy()
    df["x1"] = df["x1"] * 1e3 + 5e6  # a regressor on a large scale, far from zero
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _random_partitions(df, rng, n_parts):
    """Cut the rows at random points: individuals and cells split across partitions,
    partitions of one row, and empty partitions."""
    cuts = np.sort(rng.integers(0, len(df) + 1, n_parts - 1))
    cuts = np.concatenate([[0], cuts, [1, 1], [len(df)]])
    cuts = np.sort(cuts)
    parts = [df.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    parts.append(df.iloc[:0])
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=df.iloc[:0])


def _by_label(model):
    """Each individual's R'R, R'c, rss and dof, ordered by label."""
    stats = model.stats
    order = np.argsort(model.group_labels.to_numpy())
    gram = np.einsum("nji,njk->nik", stats.R(), stats.R())[order]
    moment = np.einsum("nji,nj->ni", stats.R(), stats.c)[order]
    return gram, moment, stats.rss[order], stats.dof[order]


OPTIONS = {
    "plain": ("y ~ x1 + x2", {}),
    "absorb": ("y ~ x1 + x2", {"absorb": ["cell"]}),
    "membership_common": ("y ~ x1", {"membership": "~ C(kind) + z", "common": "~ x2"}),
    "absorb_common_variance": ("y ~ x1 + x2", {"absorb": "cell", "variance": "common"}),
    "absorb_with_groups": ("y ~ x1 + x2", {"absorb": ["id", "cell"]}),
}


@pytest.mark.parametrize("case", list(OPTIONS))
@pytest.mark.parametrize("seed", [0, 1])
def test_statistics_and_fits_equal_the_in_memory_path_for_random_partitionings(case, seed):
    formula, options = OPTIONS[case]
    df = _panel(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = smlcr.LatentClassOLS.from_formula(formula, df, groups="id", k_classes=2, **options)
        ddf = _random_partitions(df, np.random.default_rng(seed), n_parts=6)
        lazy = smlcr.LatentClassOLS.from_formula(formula, ddf, groups="id", k_classes=2, **options)
    for a, b in zip(_by_label(memory), _by_label(lazy), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * np.max(np.abs(a)))
    for name in ("x_shift", "x_scale", "y_shift", "y_scale"):
        np.testing.assert_array_equal(getattr(lazy.stats, name), getattr(memory.stats, name))
    assert lazy.class_exog_names == memory.class_exog_names
    assert lazy.dropped_exog == memory.dropped_exog
    assert lazy.n_groups_no_dof == memory.n_groups_no_dof and lazy.n_cells == memory.n_cells
    assert lazy.nobs == memory.nobs
    res = memory.fit(rng=0)
    for model in (memory, lazy):
        same_start = model.fit(start_params=res.params)
        np.testing.assert_allclose(same_start.llf, res.llf, rtol=1e-10)
    lazy_res = lazy.fit(rng=0)
    np.testing.assert_allclose(lazy_res.llf, res.llf, rtol=1e-10)
    np.testing.assert_allclose(lazy_res.params, res.params, rtol=1e-6, atol=1e-8)
    for kind in ("oim", "opg", "robust"):
        np.testing.assert_allclose(
            np.sqrt(np.diag(getattr(lazy_res, f"cov_params_{kind}"))),
            np.sqrt(np.diag(getattr(res, f"cov_params_{kind}"))),
            rtol=1e-5,
        )


def test_a_model_of_dask_data_has_no_rows_and_says_so():
    df = _panel()
    lazy = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", dd.from_pandas(df, npartitions=4), groups="id", k_classes=2
    )
    memory = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", df, groups="id", k_classes=2)
    res, reference = lazy.fit(rng=0), memory.fit(rng=0)
    assert lazy.endog is None and lazy.exog is None
    for what in ("fittedvalues", "resid"):
        with pytest.raises(ValueError, match="built from Dask data"):
            getattr(res, what)
    with pytest.raises(ValueError, match="built from Dask data"):
        res.row_posteriors()
    # what needs only the statistics works, and predictions on new pandas data
    new = df.head(7)
    np.testing.assert_allclose(res.predict(new), reference.predict(new), rtol=1e-8)
    np.testing.assert_allclose(
        res.posteriors.to_numpy(), reference.posteriors.to_numpy(), rtol=1e-6, atol=1e-10
    )
    assert "Log-Likelihood" in str(res.summary())
    assert np.isfinite(res.test_class_equality().pvalue)
    np.testing.assert_allclose(res.info_criteria, reference.info_criteria, rtol=1e-10)
    loaded = pickle.loads(pickle.dumps(res))
    np.testing.assert_allclose(loaded.predict(new), reference.predict(new), rtol=1e-8)
    assert loaded.model.with_k_classes(3).k_classes == 3


def test_clusters_by_individual_on_a_model_without_rows_equal_the_pandas_clusters():
    df = _panel(n_groups=90)
    df["region"] = df["id"] % 13
    lazy = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", dd.from_pandas(df, npartitions=4), groups="id", k_classes=2
    )
    memory = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", df, groups="id", k_classes=2)
    reference = memory.fit(rng=0, cluster="region")
    by_individual = df.groupby("id")["region"].first().sample(frac=1.0, random_state=2)
    res = lazy.fit(rng=0, cluster=by_individual)
    assert (res.n_clusters, res.cluster_name) == (13, "region")
    np.testing.assert_allclose(res.cov_params(), reference.cov_params(), rtol=1e-8, atol=1e-14)
    # after remove_data() the same Series works, and nothing else says whose value is whose
    reference.remove_data()
    kept = reference.model.fit(rng=0, cluster=by_individual)
    np.testing.assert_allclose(kept.cov_params(), reference.cov_params(), rtol=1e-8, atol=1e-14)
    for cluster, message in [
        ("region", "must be a pandas Series indexed by the `groups` labels"),
        (df["region"].to_numpy(), "must be a pandas Series indexed by the `groups` labels"),
        (by_individual.iloc[1:], "no value for individual"),
        (pd.concat([by_individual, by_individual.iloc[:1] + 1]), "more than one value"),
        (by_individual * 0, "one cluster"),
        # per-row values indexed 0..n-1 hold the integer individuals' labels too: they had
        # been read as one value per individual (found by the API audit)
        (df["region"], "no individual of the model"),
    ]:
        with pytest.raises(ValueError, match=message):
            lazy.fit(rng=0, cluster=cluster)


def test_compare_classes_on_dask_data_equals_pandas():
    df = _panel(n_groups=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = smlcr.compare_classes(
            "y ~ x1 + x2", dd.from_pandas(df, npartitions=3), groups="id", k_range=[1, 2], rng=0
        )
        memory = smlcr.compare_classes("y ~ x1 + x2", df, groups="id", k_range=[1, 2], rng=0)
    np.testing.assert_allclose(lazy[["llf", "bic"]], memory[["llf", "bic"]], rtol=1e-10)
    with pytest.raises(ValueError, match="bootstrap"):
        smlcr.compare_classes(
            "y ~ x1", dd.from_pandas(df, npartitions=2), groups="id", k_range=[1, 2], n_boot=9
        )


def test_missing_values_and_weights_on_dask_data():
    df = _panel()
    df.loc[df.index[:5], "x2"] = np.nan
    ids = np.sort(df["id"].unique())
    df["fw"] = pd.Series(np.arange(ids.size) % 3 + 1, index=ids).reindex(df["id"]).to_numpy()
    df["rw"] = np.random.default_rng(0).uniform(0.5, 2.0, len(df))
    df.loc[df.index[10:14], "rw"] = 0.0  # rows of infinite variance, dropped and counted
    options = {"freq_weights": "fw", "row_weights": "rw"}
    with pytest.warns(smlcr.exceptions.MissingRowsWarning, match="5 row"):
        lazy = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", dd.from_pandas(df, npartitions=5), groups="id", k_classes=2, **options
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", df, groups="id", k_classes=2, **options
        )
    assert lazy.n_missing_dropped == memory.n_missing_dropped == 5
    assert lazy.n_rows_zero_weight == memory.n_rows_zero_weight == 4
    assert lazy.nobs == memory.nobs and lazy.n_individuals == memory.n_individuals
    np.testing.assert_allclose(lazy.fit(rng=0).llf, memory.fit(rng=0).llf, rtol=1e-10)
    with pytest.raises(ValueError, match="missing='drop'"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", dd.from_pandas(df, npartitions=2), groups="id", missing="none"
        )
    # statsmodels' MissingDataError with missing='raise', as on pandas data (it had been a
    # ValueError; found by the Dask/persistence audit)
    for data in (df, dd.from_pandas(df, npartitions=2)):
        with pytest.raises(MissingDataError):
            smlcr.LatentClassOLS.from_formula("y ~ x1 + x2", data, groups="id", missing="raise")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"groups": np.arange(3)}, "must be a column name"),
        ({"groups": "nope"}, "not a column"),
        ({"groups": "id", "membership": np.ones(3)}, "must be a formula"),
        ({"groups": "id", "subset": [1, 2]}, "filter the Dask DataFrame"),
        ({}, "pass `groups`"),
        ({"groups": "id", "missing": "dropp"}, "`missing` must be 'none', 'drop' or 'raise'"),
    ],
)
def test_bad_arguments_with_dask_data(kwargs, message):
    ddf = dd.from_pandas(_panel(n_groups=20), npartitions=2)
    with pytest.raises(ValueError, match=message):
        smlcr.LatentClassOLS.from_formula("y ~ x1", ddf, **kwargs)


@pytest.mark.parametrize(
    ("column", "options", "message"),
    [
        ("y", {}, "`endog` contains infinite values"),
        ("x1", {}, "`exog` contains infinite values"),
        ("x2", {"common": "~ x2"}, "`common` contains infinite values"),
        ("z", {"membership": "~ z"}, "`membership` contains infinite values"),
    ],
)
def test_infinite_values_in_dask_data_are_an_error_naming_the_argument(column, options, message):
    """They had given an internal LinAlgError ("SVD did not converge"), or for the response
    a model whose fit failed so; the membership variable was said to vary within an
    individual."""
    df = _panel(n_groups=20)
    df.loc[df["id"] == df["id"].iloc[5], column] = -np.inf
    formula = "y ~ x1" if "common" in options else "y ~ x1 + x2"
    with pytest.raises(ValueError, match=message):
        smlcr.LatentClassOLS.from_formula(
            formula, dd.from_pandas(df, npartitions=2), groups="id", **options
        )


def test_a_text_response_on_dask_data_is_an_error():
    df = _panel(n_groups=20).assign(y=lambda d: d["y"].round(1).astype(str))
    with pytest.raises(ValueError, match="the response must be one numeric column"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", dd.from_pandas(df, npartitions=2), groups="id")


@pytest.mark.parametrize("absorb", [False, True])
def test_regressors_near_1e160_on_dask_data_give_the_pandas_fit(absorb):
    """The columns' sums of squares overflowed: the units fell back to 1 and the fit
    failed with a rank error naming other columns (with absorb, the regressor was
    dropped as constant within the cells)."""
    df = _panel(n_groups=60).assign(x1=lambda d: d["x1"] * 1e157, y=lambda d: d["y"] * 1e60)
    options = {"absorb": ["cell"]} if absorb else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", smlcr.exceptions.AbsorbedRegressorWarning)
        warnings.simplefilter("ignore", smlcr.exceptions.AbsorbedIndividualWarning)
        warnings.simplefilter("error", RuntimeWarning)
        fits = [
            smlcr.LatentClassOLS.from_formula(
                "y ~ x1 + x2", data, groups="id", k_classes=2, **options
            ).fit(rng=0)
            for data in (df, dd.from_pandas(df, npartitions=3))
        ]
    np.testing.assert_allclose(fits[1].params, fits[0].params, rtol=1e-7)
    np.testing.assert_allclose(fits[1].bse, fits[0].bse, rtol=1e-6)
    assert fits[1].llf == pytest.approx(fits[0].llf, rel=1e-10)


def test_transforms_that_learn_from_the_data_are_refused():
    ddf = dd.from_pandas(_panel(n_groups=20), npartitions=2)
    with pytest.raises(ValueError, match="learns from the data"):
        smlcr.LatentClassOLS.from_formula("y ~ center(x1)", ddf, groups="id")


def test_categorical_levels_come_from_the_whole_data():
    df = _panel(n_groups=60).sort_values("id").reset_index(drop=True)
    df["late"] = np.where(df["id"] > 50, "late", "early")  # absent from the first rows
    formula = "y ~ x1 + C(late)"
    lazy = smlcr.LatentClassOLS.from_formula(
        formula, dd.from_pandas(df, npartitions=4), groups="id", k_classes=2
    )
    memory = smlcr.LatentClassOLS.from_formula(formula, df, groups="id", k_classes=2)
    assert lazy.class_exog_names == memory.class_exog_names
    np.testing.assert_allclose(lazy.fit(rng=0).llf, memory.fit(rng=0).llf, rtol=1e-10)


def test_a_distributed_local_cluster_gives_the_same_statistics():
    distributed = pytest.importorskip("distributed")
    df = _panel()
    memory = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", df, groups="id", absorb="cell", k_classes=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster),
        ):
            lazy = smlcr.LatentClassOLS.from_formula(
                "y ~ x1 + x2",
                dd.from_pandas(df, npartitions=4),
                groups="id",
                absorb="cell",
                k_classes=2,
            )
    for a, b in zip(_by_label(memory), _by_label(lazy), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * np.max(np.abs(a)))


def test_pickled_formula_results_load_at_a_scripts_top_level(tmp_path):
    script = tmp_path / "load.py"
    script.write_text(
        "import pickle, smlcr\n"
        "from smlcr.datasets import simulate_grouped\n"
        "sim = simulate_grouped(n_groups=40, rows_per_group=3, seed=1)\n"
        "res = smlcr.LatentClassOLS.from_formula('y ~ x1', sim.data, groups='id').fit(rng=0)\n"
        "back = pickle.loads(pickle.dumps(res))\n"
        "assert abs(back.predict(sim.data.head()).sum() - res.predict(sim.data.head()).sum()) "
        "< 1e-12\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_individual_variables_varying_within_an_individual_are_named_on_dask_data():
    df = _panel(n_groups=30)
    df["sw"] = 1.0 + (np.arange(len(df)) % 2)  # varies within individuals
    with pytest.raises(ValueError, match=r"`weights` variable 'sw' varies within individual"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1", dd.from_pandas(df, npartitions=3), groups="id", weights="sw"
        )
    with pytest.raises(ValueError, match=r"`membership` variable 'x2' varies within individual"):
        smlcr.LatentClassOLS.from_formula(
            "y ~ x1", dd.from_pandas(df, npartitions=3), groups="id", membership="~ x2"
        )


def test_messages_about_unnested_cells_and_dask_rows_to_predict():
    # an unnested cell had named the same individual twice, in numpy's repr (pandas: the
    # cell as b=np.False_); predict on the Dask frame had asked for `membership_exog` and
    # leaked statsmodels' DeprecationWarning (found by the API audit)
    df = _panel(n_groups=40)
    df["b"] = df["x2"] > 0
    for data in (df, dd.from_pandas(df, npartitions=3)):
        with pytest.raises(
            ValueError, match=r"spans more than one individual \((\d+) and (?!\1)\d+\)"
        ):
            smlcr.LatentClassOLS.from_formula("y ~ x2", data, groups="id", absorb="b")
    with pytest.raises(ValueError, match=r"cell \(b=False\)"):
        smlcr.LatentClassOLS.from_formula("y ~ x2", df, groups="id", absorb="b")
    lazy = dd.from_pandas(df, npartitions=3)
    res = smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", lazy, groups="id", membership="~ z", k_classes=2
    ).fit(rng=0, n_starts=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(ValueError, match="`exog` is a Dask DataFrame"):
            res.predict(lazy)
        with pytest.raises(ValueError, match="`data` is a Dask DataFrame"):
            res.predict_membership(lazy)
    assert len(res.predict(lazy.head(5))) == 5
