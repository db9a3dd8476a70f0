"""Shared fixtures: small simulated data sets with known truth."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_fprime

from smlcr.datasets import simulate_grouped


@pytest.fixture(scope="session")
def sim3():
    """Three well-separated classes, 300 individuals x 6 rows."""
    return simulate_grouped(n_groups=300, rows_per_group=6, seed=11)


@pytest.fixture(scope="session")
def fitted3(sim3):
    """LatentClassOLS fit with K = 3 on ``sim3``."""
    import smlcr

    model = smlcr.LatentClassOLS.from_formula(sim3.formula, sim3.data, groups="id", k_classes=3)
    return model.fit(rng=0)


@pytest.fixture
def tight_third():
    """300 ungrouped rows, 30% of them on ``y = -1 + 0.5 x`` with a residual sd of 1e-3 and
    the rest around ``y = 1 + 2 x`` with sd 1 (the tight class lowers the variance floor)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=300)
    tight = rng.random(300) < 0.3
    y = np.where(
        tight, -1 + 0.5 * x + 1e-3 * rng.normal(size=300), 1 + 2 * x + rng.normal(size=300)
    )
    return pd.DataFrame({"y": y, "x": x})


def random_grouped(rng, n_groups=40, max_rows=6, p=3, k=2, scale=1.0):
    """Unstructured random grouped data (for derivative and monotonicity checks)."""
    counts = rng.integers(1, max_rows + 1, size=n_groups)
    ids = np.repeat(np.arange(n_groups), counts)
    n = ids.size
    exog = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    cls = rng.integers(0, k, size=n_groups)[ids]
    coef = rng.normal(scale=2.0, size=(k, p))
    endog = scale * (np.einsum("np,np->n", exog, coef[cls]) + rng.normal(size=n) * (1 + cls))
    return (
        pd.Series(endog, name="y"),
        pd.DataFrame(exog, columns=["const"] + [f"x{j}" for j in range(1, p)]),
        ids,
    )


def assert_derivatives_match(model, params, rtol=1e-5, atol=1e-5):
    """The model's analytic score and Hessian equal central differences at ``params``."""
    np.testing.assert_allclose(
        model.score(params),
        approx_fprime(params, model.loglike, centered=True),
        rtol=rtol,
        atol=atol,
    )
    np.testing.assert_allclose(
        model.hessian(params),
        approx_fprime(params, model.score, centered=True),
        rtol=rtol,
        atol=atol,
    )
