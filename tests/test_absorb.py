"""Absorbed fixed effects (within transformation) and a common variance."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import smlcr
from smlcr.datasets import streams
from smlcr.exceptions import AbsorbedIndividualWarning, AbsorbedRegressorWarning
from tests.conftest import assert_derivatives_match


def panel(seed, n_artists=40, k=2, max_countries=3, days=(2, 8), shift=8.0):
    """Artist x country x day panel with cell effects and K classes (known truth)."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_artists):
        for c in rng.choice(6, size=rng.integers(1, max_countries + 1), replace=False):
            rows += [(a, c)] * int(rng.integers(days[0], days[1] + 1))
    df = pd.DataFrame(rows, columns=["artist", "country"])
    n = len(df)
    cell = df.groupby(["artist", "country"]).ngroup().to_numpy()
    cls = rng.integers(0, k, size=n_artists)[df["artist"]]
    beta = np.array([[2.0, -1.0], [0.5, 1.0], [-1.0, 0.0]])[:k]
    df["x1"] = rng.normal(size=n)
    df["x2"] = rng.normal(size=n) + 0.3 * df["x1"]
    gamma = rng.normal(scale=shift, size=cell.max() + 1)
    df["y"] = (
        3.0 * cls + beta[cls, 0] * df.x1 + beta[cls, 1] * df.x2 + gamma[cell] + rng.normal(size=n)
    )
    df["cell"] = cell
    return df, beta, cls


def test_one_class_reproduces_within_ols():
    df, _, _ = panel(0, k=1, days=(1, 6))  # some artists have one row per cell
    with pytest.warns(AbsorbedRegressorWarning, match="Intercept"):
        with pytest.warns(AbsorbedIndividualWarning):
            model = smlcr.LatentClassOLS.from_formula(
                "y ~ x1 + x2", df, groups="artist", absorb=["artist", "country"], k_classes=1
            )
    res = model.fit()
    dummies = sm.OLS.from_formula("y ~ x1 + x2 + C(cell)", df).fit()
    n, cells, p = len(df), df["cell"].nunique(), 2
    np.testing.assert_allclose(
        res.params[["x1[1]", "x2[1]"]], dummies.params[["x1", "x2"]], rtol=1e-10
    )
    # maximum likelihood divides by n - cells; OLS's unbiased scale by n - cells - p
    assert res.params["sigma2[1]"] == pytest.approx(dummies.ssr / (n - cells), rel=1e-10)
    assert dummies.scale == pytest.approx(dummies.ssr / (n - cells - p), rel=1e-12)
    np.testing.assert_allclose(
        res.bse[["x1[1]", "x2[1]"]],
        dummies.bse[["x1", "x2"]] * np.sqrt((n - cells - p) / (n - cells)),
        rtol=1e-8,
    )
    assert res.dropped_exog == ["Intercept"]
    # the dropped artists had as many cells as rows
    assert model.n_groups_no_dof > 0
    assert res.n_cells == cells - (n - res.nobs)
    assert "not identified, dropped: ['Intercept']" in res.summary().as_text()


def test_recovery_and_unbiased_variance_on_simulated_panels():
    """30 panels, K = 2 with cell effects: coverage and the variance's degrees of freedom."""
    covered, total, ratios, naive_factor = 0, 0, [], []
    for rep in range(30):
        df, beta, _ = panel(100 + rep, n_artists=80, k=2, days=(2, 6))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AbsorbedRegressorWarning)
            res = smlcr.LatentClassOLS.from_formula(
                "y ~ x1 + x2",
                df,
                groups="artist",
                absorb=["artist", "country"],
                k_classes=2,
                variance="common",
            ).fit(n_starts=4, rng=rep)
        est = np.asarray(res.params)[:4].reshape(2, 2)
        ci = np.asarray(res.conf_int())[:4].reshape(2, 2, 2)
        order = np.argsort(est[:, 0])[::-1]  # the class with x1 = 2 first
        truth = beta[[0, 1]]
        inside = (ci[order, :, 0] <= truth) & (truth <= ci[order, :, 1])
        covered += inside.sum()
        total += inside.size
        ratios.append(res.params["sigma2"] / 1.0)
        naive_factor.append((len(df) - df["cell"].nunique()) / len(df))
        assert np.all(np.diff(res.llf_history) >= -1e-9 * np.abs(res.llf_history[1:]))
    assert 0.88 <= covered / total <= 1.0
    # the ML variance with d_i = rows - cells is close to the truth (1) ...
    assert abs(np.mean(ratios) - 1) < 0.03
    # ... while ignoring the absorbed degrees of freedom would shrink it by a quarter or more
    assert np.mean(naive_factor) < 0.8


@pytest.mark.parametrize("variance", ["class", "common"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_derivatives_with_absorb_and_variance_options(variance, k):
    df, _, _ = panel(7, n_artists=25, k=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2",
            df,
            groups="artist",
            absorb=["artist", "country"],
            k_classes=k,
            variance=variance,
        )
    rng = np.random.default_rng(k)
    n_var = 1 if variance == "common" else k
    assert model.k_params == 2 * k + n_var + (k - 1)
    for _ in range(2):
        params = np.concatenate(
            [rng.normal(size=2 * k), rng.uniform(0.5, 3, size=n_var), rng.normal(size=k - 1)]
        )
        assert_derivatives_match(model, params)


def test_common_variance_names_and_summary():
    data = streams(n_artists=60, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        res = smlcr.LatentClassOLS.from_formula(
            data.formula,
            data.data,
            groups="artist",
            absorb=data.absorb,
            k_classes=2,
            variance="common",
        ).fit(rng=0)
    assert "sigma2" in res.params.index and "sigma2[1]" not in res.params.index
    assert list(res.params.index[:4]) == [
        "playlist_adds[1]",
        "social_posts[1]",
        "playlist_adds[2]",
        "social_posts[2]",
    ]
    text = res.summary().as_text()
    assert "sigma2 " in text and "Fixed effects absorbed" in text


def test_cell_not_nested_in_individual_is_an_error():
    df, _, _ = panel(1)
    df.loc[df.index[:3], "artist"] = 99  # give a few rows of one cell to another artist
    with pytest.raises(ValueError, match=r"absorb.*country.*nested within `groups`") as err:
        smlcr.LatentClassOLS.from_formula("y ~ x1 + x2 - 1", df, groups="artist", absorb="country")
    assert "spans more than one individual" in str(err.value)


def test_individuals_without_dof_are_dropped_with_a_warning():
    df, _, _ = panel(2, days=(2, 5))
    single = pd.DataFrame(
        {
            "artist": [500, 500, 501],
            "country": [0, 1, 0],
            "x1": [0.1, 0.2, 0.3],
            "x2": [1.0, 2.0, 3.0],
            "y": [1.0, 2.0, 3.0],
            "cell": [-1, -2, -3],
        }
    )
    both = pd.concat([df, single], ignore_index=True)
    with pytest.warns(AbsorbedIndividualWarning, match="2 individual"):
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2 - 1", both, groups="artist", absorb=["artist", "country"], k_classes=2
        )
    assert model.n_groups_no_dof == 2
    assert model.n_groups == df["artist"].nunique()
    assert model.nobs == len(df)
    res = model.fit(rng=0)
    assert res.n_groups_no_dof == 2
    assert "no degrees of freedom" in res.summary().as_text()


def test_absorb_argument_errors():
    df, _, _ = panel(3)
    with pytest.raises(ValueError, match="absorb.*groups"):
        smlcr.LatentClassOLS(df["y"], df[["x1"]], absorb=df["cell"])
    with pytest.raises(ValueError, match="absorb"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", df, groups="artist", absorb="nope")
    with pytest.raises(ValueError, match="variance"):
        smlcr.LatentClassOLS.from_formula("y ~ x1", df, groups="artist", variance="pooled")
    with pytest.raises(ValueError, match="every regressor"):
        smlcr.LatentClassOLS.from_formula("y ~ 1", df, groups="artist", absorb="cell")


def test_absorb_as_arrays_equals_column_names():
    df, _, _ = panel(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        a = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", df, groups="artist", absorb=["artist", "country"]
        )
        b = smlcr.LatentClassOLS(
            df["y"],
            df[["x1", "x2"]],
            groups=df["artist"],
            absorb=[df["artist"].to_numpy(), df["country"].to_numpy()],
        )
        c = smlcr.LatentClassOLS(df["y"], df[["x1", "x2"]], groups=df["artist"], absorb=df["cell"])
    for other in (b, c):
        np.testing.assert_allclose(other.stats.rss, a.stats.rss, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(other.stats.dof, a.stats.dof)


def test_missing_absorb_values_drop_rows_everywhere():
    df, _, _ = panel(5)
    df["country"] = df["country"].astype(float)
    df.loc[df.index[[0, 7]], "country"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        model = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", df, groups="artist", absorb=["artist", "country"]
        )
        ref = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", df.dropna(), groups="artist", absorb=["artist", "country"]
        )
    assert model.nobs == len(df) - 2
    np.testing.assert_allclose(model.stats.rss, ref.stats.rss, rtol=1e-12, atol=1e-12)
