"""Predictions, class means, average effects and row posteriors: delta-method standard
errors against numerical derivatives, hand computations and statsmodels OLS."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.numdiff import approx_fprime

import smlcr
from smlcr.datasets import simulate_grouped


@pytest.fixture(scope="module")
def fitted():
    sim = simulate_grouped(n_groups=150, rows_per_group=4, seed=5)
    df = sim.data.copy()
    rng = np.random.default_rng(1)
    df["z"] = df.groupby("id")["x1"].transform(lambda v: rng.normal())
    df["w"] = rng.normal(size=len(df))
    df["y"] = df["y"] + 0.5 * df["w"]
    model = smlcr.LatentClassOLS.from_formula(
        sim.formula, df, groups="id", k_classes=3, membership="~ z", common="~ w"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(rng=0)
    return res, df


def _with_params(res, params):
    """A copy of the results' prediction machinery at other parameter values."""
    other = res._results if hasattr(res, "_results") else res
    clone = object.__new__(type(other))
    clone.__dict__.update(other.__dict__)
    clone.params = np.asarray(params, dtype=np.float64)
    return clone


@pytest.mark.parametrize("which", ["marginal", "class"])
def test_prediction_standard_errors_are_the_delta_method(fitted, which):
    res, df = fitted
    new = df.iloc[[0, 7, 33, 120]]
    pred = res.get_prediction(new, which=which)
    params = np.asarray(res.params)

    def predicted(p):
        values = _with_params(res, p).predict(new, which=which)
        return np.asarray(values, dtype=np.float64).ravel()

    np.testing.assert_allclose(pred.predicted_mean, predicted(params), rtol=1e-12)
    jacobian = approx_fprime(params, predicted, centered=True)
    cov = np.asarray(res.cov_params())
    expected = np.sqrt(np.einsum("np,pq,nq->n", jacobian, cov, jacobian))
    np.testing.assert_allclose(pred.se_mean, expected, rtol=1e-5)
    frame = pred.summary_frame(alpha=0.1)
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    half = 1.6448536269514722 * pred.se_mean
    np.testing.assert_allclose(frame["mean_ci_upper"] - frame["mean"], half, rtol=1e-9)
    if which == "class":
        assert frame.index.names == ["row", "class"] and len(frame) == 4 * 3


def test_one_class_prediction_is_ols_get_prediction():
    """K = 1 is OLS: the same predicted means; standard errors from the maximum-likelihood
    variance (divisor n) instead of OLS's (divisor n - p)."""
    rng = np.random.default_rng(3)
    n = 120
    X = sm.add_constant(rng.normal(size=(n, 2)))
    y = X @ [1.0, 2.0, -0.5] + rng.normal(size=n)
    res = smlcr.LatentClassOLS(y, X, k_classes=1).fit()
    ols = sm.OLS(y, X).fit()
    new = sm.add_constant(rng.normal(size=(5, 2)))
    mine, theirs = res.get_prediction(new), ols.get_prediction(new)
    np.testing.assert_allclose(mine.predicted_mean, theirs.predicted_mean, rtol=1e-10)
    np.testing.assert_allclose(mine.se_mean, theirs.se_mean * np.sqrt((n - 3) / n), rtol=1e-7)


def test_class_means_and_average_effects_by_hand(fitted):
    res, df = fitted
    params = np.asarray(res.params)
    names = list(res.params.index)
    cov = np.asarray(res.cov_params())
    terms = ["Intercept", "x1", "x2"]
    x_bar = df[["x1", "x2"]].mean().to_numpy()
    w_bar = df["w"].mean()

    def means(p):
        p = pd.Series(p, index=names)
        return np.array(
            [
                p[f"Intercept[{s}]"]
                + p[f"x1[{s}]"] * x_bar[0]
                + p[f"x2[{s}]"] * x_bar[1]
                + p["w"] * w_bar
                for s in (1, 2, 3)
            ]
        )

    table = res.class_means()
    np.testing.assert_allclose(table["mean"], means(params), rtol=1e-12)
    g = approx_fprime(params, means, centered=True)
    np.testing.assert_allclose(table["bse"], np.sqrt(np.diag(g @ cov @ g.T)), rtol=1e-6)

    z = res.model.membership_exog  # (intercept, z) per individual

    def averages(p):
        p = pd.Series(p, index=names)
        eta = np.zeros((2, 3))
        for s in (2, 3):
            eta[:, s - 1] = [p[f"membership:Intercept[{s}]"], p[f"membership:z[{s}]"]]
        a = z @ eta
        pi = np.exp(a - a.max(axis=1, keepdims=True))
        share = (pi / pi.sum(axis=1, keepdims=True)).mean(axis=0)
        return np.array([sum(share[s - 1] * p[f"{t}[{s}]"] for s in (1, 2, 3)) for t in terms])

    effects = res.average_effects()
    average = effects.xs("average", level="class")
    np.testing.assert_allclose(average["effect"], averages(params), rtol=1e-10)
    g = approx_fprime(params, averages, centered=True)
    np.testing.assert_allclose(average["bse"], np.sqrt(np.diag(g @ cov @ g.T)), rtol=1e-5)
    per_class = effects.xs(2, level="class")
    np.testing.assert_allclose(per_class["effect"], res.params[[f"{t}[2]" for t in terms]])
    np.testing.assert_allclose(per_class["bse"], res.bse[[f"{t}[2]" for t in terms]])


def test_row_posteriors_join_back_onto_the_rows(fitted):
    res, df = fitted
    rows = res.row_posteriors()
    assert rows.index.equals(df.index)
    by_individual = res.posteriors.loc[df["id"]].to_numpy()
    np.testing.assert_array_equal(rows[[1, 2, 3]].to_numpy(), by_individual)
    np.testing.assert_array_equal(
        rows["modal_class"].to_numpy(dtype=int), res.modal_class.loc[df["id"]].to_numpy()
    )


def test_row_posteriors_are_missing_for_rows_estimation_dropped():
    """Individuals without degrees of freedom after absorbing have NaN posteriors."""
    rng = np.random.default_rng(4)
    frame = simulate_grouped(n_groups=60, rows_per_group=4, seed=4).data
    frame["cell"] = frame["id"].astype(str) + "_" + (np.arange(len(frame)) % 2).astype(str)
    lonely = frame.groupby("id").head(1).assign(id=999, cell="lonely")
    frame = pd.concat([frame, lonely.iloc[:1]], ignore_index=True)
    frame["x1"] = frame["x1"] + rng.normal(scale=0.1, size=len(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x1 + x2", frame, groups="id", absorb="cell", k_classes=2
        ).fit(rng=0, n_starts=5)
    rows = res.row_posteriors()
    assert res.n_groups_no_dof == 1
    assert rows.iloc[-1].isna().all()
    assert rows.iloc[:-1].notna().all().all()


def test_posterior_weighted_predictions_have_no_standard_errors_here(fitted):
    res, df = fitted
    with pytest.raises(ValueError, match="posterior"):
        res.get_prediction(df.head(), which="posterior")
