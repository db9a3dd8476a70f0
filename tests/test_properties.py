"""Invariances and monotonicity as properties over random data (hypothesis)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smlcr
from smlcr import em

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def separated_panel(seed, n_groups, max_rows, k=2, scale=1.0, shift=0.0):
    """Unbalanced panel (1..max_rows rows per individual) from well-separated classes."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_rows + 1, size=n_groups)
    ids = np.repeat(np.arange(n_groups), counts)
    n = ids.size
    x = rng.normal(size=n)
    cls = np.arange(n_groups) % k
    rng.shuffle(cls)
    coef = np.array([[2.0, 1.5], [-2.0, -1.0], [5.0, 0.0]])[:k]
    y = coef[cls[ids], 0] + coef[cls[ids], 1] * x + rng.normal(size=n) * 0.5
    return pd.DataFrame({"y": shift + scale * y, "x": x, "id": ids})


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 4),
    n_groups=st.integers(5, 60),
    max_rows=st.integers(1, 12),
    log_scale=st.integers(-3, 8),
)
def test_em_trace_never_decreases(seed, k, n_groups, max_rows, log_scale):
    rng = np.random.default_rng(seed)
    df = separated_panel(seed, n_groups, max_rows, k=min(k, 3), scale=10.0**log_scale)
    df["x2"] = rng.normal(size=len(df))
    k_fit = min(int(rng.integers(1, 5)), n_groups)
    try:
        model = smlcr.LatentClassOLS.from_formula("y ~ x + x2", df, groups="id", k_classes=k_fit)
    except ValueError:
        return  # too little data for this draw: the error is tested elsewhere
    tau = rng.dirichlet(np.ones(k_fit), size=model.n_groups)
    constraints = em.Constraints(var_floor=1e-8)
    start = em.params_from_posteriors(model.stats, model.membership_exog, tau, constraints)
    run = em.run_em(model.stats, model.membership_exog, start, maxiter=150, constraints=constraints)
    trace = np.asarray(run.llf_history)
    assert np.all(np.diff(trace) >= -1e-9 * (1 + np.abs(trace[1:])))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_groups=st.integers(20, 50), max_rows=st.integers(3, 8))
def test_shuffling_rows_and_relabelling_individuals(seed, n_groups, max_rows):
    """The likelihood and posteriors at given parameters are exactly invariant; a fit from
    scratch reaches the same maximum (starts depend on the individuals' order, so the data
    are kept large enough for the maximum to be found from any starts)."""
    rng = np.random.default_rng(seed)
    df = separated_panel(seed, n_groups, max_rows)
    model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2)
    res = model.fit(rng=0, n_starts=6)
    # relabel individuals (strings in scrambled order) and shuffle the rows
    names = np.array([f"artist {v}" for v in rng.permutation(n_groups)])
    other = df.assign(id=names[df["id"]]).sample(frac=1.0, random_state=int(seed % 2**31))
    model2 = smlcr.LatentClassOLS.from_formula("y ~ x", other, groups="id", k_classes=2)
    params = np.asarray(res.params)
    assert model2.loglike(params) == pytest.approx(model.loglike(params), rel=1e-11)
    post_at_params = model2.fit(start_params=params, maxiter=0).posteriors
    res2 = model2.fit(rng=0, n_starts=6)
    assert res2.llf == pytest.approx(res.llf, rel=1e-9)
    np.testing.assert_allclose(np.asarray(res2.params), params, rtol=1e-5, atol=1e-7)
    post = res.posteriors.set_axis(names[res.posteriors.index.to_numpy()])
    np.testing.assert_allclose(post_at_params.loc[post.index], post, atol=1e-12)
    np.testing.assert_allclose(res2.posteriors.loc[post.index], post, atol=1e-7)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    log_c=st.floats(-3, 7),
    shift_ratio=st.floats(-1e4, 1e4),
    x_scale=st.floats(1e-3, 1e3),
)
def test_affine_changes_of_units(seed, log_c, shift_ratio, x_scale):
    """y -> c y + a and x -> d x: posteriors and z statistics unchanged, estimates transformed.

    The shift is at most 10^4 times the new scale of y (the level of streams in the millions
    with noise in the hundreds); beyond that the data themselves lose the digits compared.
    """
    df = separated_panel(seed, 40, 6)
    res = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2).fit(
        rng=0, n_starts=4
    )
    c = 10.0**log_c
    shift = shift_ratio * c
    other = df.assign(y=c * df["y"] + shift, x=x_scale * df["x"])
    model2 = smlcr.LatentClassOLS.from_formula("y ~ x", other, groups="id", k_classes=2)
    res2 = model2.fit(rng=0, n_starts=4)
    p = res.params
    expected = p.copy()
    for s in (1, 2):
        expected[f"Intercept[{s}]"] = c * p[f"Intercept[{s}]"] + shift
        expected[f"x[{s}]"] = c * p[f"x[{s}]"] / x_scale
        expected[f"sigma2[{s}]"] = c**2 * p[f"sigma2[{s}]"]
    np.testing.assert_allclose(res2.params, expected, rtol=1e-5, atol=1e-6 * (abs(shift) + c))
    np.testing.assert_allclose(res2.posteriors, res.posteriors, atol=1e-7)
    slopes = ["x[1]", "x[2]", "sigma2[1]", "sigma2[2]", "membership:Intercept[2]"]
    # (a t-value near 0, equal shares, is compared to an absolute 1e-8: rounding)
    np.testing.assert_allclose(res2.tvalues[slopes], res.tvalues[slopes], rtol=1e-4, atol=1e-8)
    # the log-likelihood shifts by -sum(rows) log c
    assert res2.llf == pytest.approx(res.llf - len(df) * np.log(c), rel=1e-9, abs=1e-6)


def test_motivating_scale_from_a_poor_start():
    """Values around 1e7, log-likelihoods around 1e10 at the start: EM climbs monotonically
    and ends where the same data in units of 1 end."""
    df = separated_panel(7, 200, 10)
    big = df.assign(y=1e7 * df["y"] + 3e7)
    small_model = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2)
    big_model = smlcr.LatentClassOLS.from_formula("y ~ x", big, groups="id", k_classes=2)
    small = small_model.fit(rng=0)
    start = np.asarray(small.params) * np.array([1, 1, 1, 1, 1e14, 1e14, 1])
    start[[0, 2]] = 1e7 * start[[0, 2]] + 3e7
    start[[1, 3]] *= 1e7 * (1 + 0.3)  # slopes off by 30%
    start[[4, 5]] *= 1e-8  # variances far too small: a huge negative log-likelihood
    res = big_model.fit(start_params=start)
    trace = res.llf_history
    assert trace[0] < -1e9
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))
    np.testing.assert_allclose(res.posteriors, small.posteriors, atol=1e-7)
    slopes = ["x[1]", "x[2]", "sigma2[1]", "sigma2[2]", "membership:Intercept[2]"]
    np.testing.assert_allclose(res.tvalues[slopes], small.tvalues[slopes], rtol=1e-4)


@pytest.mark.parametrize("kind", ["str", "int", "category", "unsorted"])
def test_label_types_and_unbalanced_panels(kind):
    """1 to 1,000 rows per individual; labels as strings, integers, categories, unsorted rows."""
    rng = np.random.default_rng(11)
    counts = np.concatenate([[1, 1000], rng.integers(1, 40, size=58)])
    ids = np.repeat(np.arange(60), counts)
    x = rng.normal(size=ids.size)
    cls = np.arange(60) % 2
    y = np.where(cls[ids] == 1, 1 + 2 * x, -1 - x) + rng.normal(size=ids.size)
    base = pd.DataFrame({"y": y, "x": x, "id": ids})
    reference = smlcr.LatentClassOLS.from_formula("y ~ x", base, groups="id", k_classes=2).fit(
        rng=0
    )
    if kind == "str":
        df = base.assign(id="i" + base["id"].astype(str).str.zfill(3))
    elif kind == "int":
        df = base.assign(id=base["id"] * 7 + 1000)
    elif kind == "category":
        df = base.assign(id=pd.Categorical(base["id"].astype(str).str.zfill(3)))
    else:
        df = base.sample(frac=1.0, random_state=3)
    res = smlcr.LatentClassOLS.from_formula("y ~ x", df, groups="id", k_classes=2).fit(rng=0)
    assert res.llf == pytest.approx(reference.llf, rel=1e-10)
    np.testing.assert_allclose(np.asarray(res.params), np.asarray(reference.params), rtol=1e-6)
    np.testing.assert_allclose(
        np.sort(res.posteriors.to_numpy(), axis=0),
        np.sort(reference.posteriors.to_numpy(), axis=0),
        atol=1e-8,
    )
    assert res.n_groups == 60 and res.nobs == ids.size
