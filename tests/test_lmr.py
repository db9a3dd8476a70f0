"""The Vuong-Lo-Mendell-Rubin test: Vuong's weights reduce to Wilks' chi-squared for
nested regular models, the adjustment is the published formula, and the test finds the
true number of classes."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import smlcr
from smlcr.datasets import simulate_grouped
from smlcr.lmr import lmr_adjusted, vuong_weights, weighted_chi2_sf


@pytest.mark.parametrize("seed", [0, 1])
def test_nested_regular_models_give_wilks_chi_squared(seed):
    """One class with and without a regressor whose true coefficient is 0: the weights
    are one 1 and zeros, and the p-value is chi-squared with 1 df (scipy)."""
    rng = np.random.default_rng(seed)
    n = 2000
    X = sm.add_constant(rng.normal(size=(n, 2)))
    y = X @ [1.0, 2.0, 0.0] + rng.normal(size=n)
    small = smlcr.LatentClassOLS(y, X[:, :2], k_classes=1).fit()
    big = smlcr.LatentClassOLS(y, X, k_classes=1).fit()
    weights = vuong_weights(small, big)
    assert weights[0] == pytest.approx(1.0, abs=0.06)
    assert np.all(np.abs(weights[1:]) < 0.02)
    lr = 2 * (big.llf - small.llf)
    assert weighted_chi2_sf(lr, weights) == pytest.approx(stats.chi2.sf(lr, 1), abs=0.02)


def test_weighted_chi_squared_is_chi_squared_for_unit_weights():
    for x in (0.5, 3.0, 7.8):
        assert weighted_chi2_sf(x, np.ones(3)) == pytest.approx(stats.chi2.sf(x, 3), abs=0.005)


def test_adjustment_is_the_published_formula():
    """tidySEM's lr_lmr(150, -741.02, 8, 1, -488.91, 13, 2): LR / (1 + 1 / (3 ln 150)), the
    3 being (3K - 1) - (3K0 - 1) of a univariate normal mixture."""
    lr = 2 * (-488.91 - -741.02)
    assert lmr_adjusted(lr, 3, 150) == pytest.approx(504.22 / (1 + 1 / (3 * np.log(150))))
    assert lmr_adjusted(lr, 3, 150) == pytest.approx(472.769, abs=1e-3)  # by hand


def test_compare_classes_reports_the_test_of_k_minus_one_against_k():
    sim = simulate_grouped(n_groups=200, rows_per_group=4, seed=1)  # three classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = smlcr.compare_classes(
            sim.formula, sim.data, groups="id", k_range=range(1, 5), rng=0
        )
    assert np.isnan(table.loc[1, "lmr_pvalue"])
    assert table.loc[2, "lmr_pvalue"] < 0.01 and table.loc[3, "lmr_pvalue"] < 0.01
    assert table.loc[4, "lmr_pvalue"] > 0.05
    assert table.loc[4, "lmr_pvalue"] >= table.loc[4, "vlmr_pvalue"]  # adjusted is smaller


def test_tests_of_k_against_k_plus_one_refuse_fits_of_different_data_or_models():
    """The bootstrap likelihood-ratio test had accepted two fits of different data and
    returned a p-value."""
    sim = simulate_grouped(n_groups=60, rows_per_group=4, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=1)
        res1 = one.fit(rng=0)
        res2 = one.with_k_classes(2).fit(rng=0, n_starts=3)
        fewer = sim.data[sim.data["id"] < 50]
        other = smlcr.LatentClassOLS.from_formula(sim.formula, fewer, groups="id", k_classes=2)
        res_other = other.fit(rng=0, n_starts=3)
        common = smlcr.LatentClassOLS.from_formula(
            sim.formula, sim.data, groups="id", k_classes=2, variance="common"
        ).fit(rng=0, n_starts=3)
    for test in (
        lambda a, b: smlcr.bootstrap_lrt(a, b, n_boot=2, rng=0, fit_kwds={"n_starts": 1}),
        lambda a, b: smlcr.lmr.lmr_test(a, b, n_sim=100),
    ):
        with pytest.raises(ValueError, match="fits of different models or data .*individuals"):
            test(res1, res_other)
        with pytest.raises(ValueError, match="variance option differ"):
            test(res1, common)
        with pytest.raises(TypeError, match="must be a fitted result"):
            test(one, res2)
        with pytest.raises(ValueError, match="(one class more|more classes) than"):
            test(res2, res1)
    assert smlcr.lmr.lmr_test(res1, res2, n_sim=100)["lr"] >= 0
    # the public helpers check what the test checks (they had returned numbers for swapped
    # fits, fits of another response, a NaN statistic or a count of zero draws)
    with pytest.raises(ValueError, match="must have more parameters than `small`"):
        vuong_weights(res2, res1)
    shifted = sim.data.assign(y=sim.data["y"] + np.arange(len(sim.data)) % 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res_shifted = smlcr.LatentClassOLS.from_formula(
            sim.formula, shifted, groups="id", k_classes=2
        ).fit(rng=0, n_starts=3)
    with pytest.raises(ValueError, match="different responses"):
        vuong_weights(res1, res_shifted)
    weights = vuong_weights(res1, res2)
    assert np.isnan(weighted_chi2_sf(np.nan, weights))
    for kwargs, message in [
        ({"n_sim": 0}, "`n_sim` must be an integer"),
        ({"n_sim": 1.5}, "`n_sim` must be an integer"),
        ({"seed": -1}, "`seed` must be an integer"),
    ]:
        with pytest.raises(ValueError, match=message):
            weighted_chi2_sf(3.0, weights, **kwargs)
    with pytest.raises(ValueError, match="`weights` must be finite"):
        weighted_chi2_sf(3.0, [1.0, np.nan])
    with pytest.raises(ValueError, match="`d` must be an integer"):
        lmr_adjusted(3.0, 0, 100)
    with pytest.raises(ValueError, match="`n` must be a number of individuals above 1"):
        lmr_adjusted(3.0, 2, 1)
    with pytest.raises(ValueError, match="`n_boot` must be an integer"):
        smlcr.bootstrap_lrt(res1, res2, n_boot=True)
    boot = smlcr.bootstrap_lrt(res1, res2, n_boot=np.int64(1), rng=0, fit_kwds={"n_starts": 1})
    assert boot["n_boot"] == 1


def test_the_test_is_nan_with_a_warning_at_a_boundary_or_a_singular_hessian():
    """Identical individuals with K = 2 (coinciding classes): the VLMR p-value had been 0.0,
    a rejection of K = 1 by a fit equal to it; a singular Hessian (a separated membership
    logit) had made compare_classes raise numpy's LinAlgError and lose its table (found by
    the Dask and persistence audit)."""
    x = np.tile([0.0, 1.0, 2.0], 20)
    df = pd.DataFrame(
        {"y": np.tile([1.0, 2.5, 2.9], 20), "x": x, "id": np.repeat(np.arange(20), 3)}
    )
    with pytest.warns(smlcr.exceptions.SmlcrWarning, match="no Vuong-Lo-Mendell-Rubin test"):
        table = smlcr.compare_classes("y ~ x", df, groups="id", k_range=[1, 2], rng=0)
    assert np.isnan(table.loc[2, "vlmr_pvalue"]) and np.isnan(table.loc[2, "lmr_pvalue"])
    assert np.isfinite(table.loc[2, "bic"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=1)
        res1, res2 = one.fit(rng=0), one.with_k_classes(2).fit(rng=0)
    with pytest.raises(ValueError, match="ends on the boundary"):
        smlcr.lmr.lmr_test(res1, res2)
    # a singular Hessian: a ValueError saying so, never numpy's LinAlgError
    singular = smlcr.lmr._check_vuong_pair  # (the pair is fine; the Hessian is made singular)
    singular(res1, res2)
    real = type(res2.model).derivatives

    def flat(self, params):
        out = real(self, params)
        return dataclasses.replace(out, hessian=np.zeros_like(out.hessian))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(res2.model), "derivatives", flat)
        with pytest.raises(ValueError, match="is singular"):
            vuong_weights(res1, res2)
