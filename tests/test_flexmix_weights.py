"""Frequency weights agree with R's flexmix ``weights = ~ w`` (replication weights).

Reference: tests/results/flexmix_freq_weights.{R,csv,json}. The R script fits
the grouped data with integer weights constant within ``id`` and, to check that
flexmix's weights mean replication of whole groups, the data with every group
repeated ``w`` times; both log-likelihood functions agree at the same
parameters and both exact maxima agree (``replication_check`` in the JSON).

flexmix's Gaussian M-step uses a degrees-of-freedom corrected sigma with N =
number of rows it was given (see the JSON's "notes"), so its EM fixed point is
not the maximum-likelihood one (its logLik is about 6e-6 relative below the
maximum, its sigmas about 0.3% too large). The estimates are therefore compared
with ``mle_by_hand``: the exact maximum the R script reached by continuing EM
with the exact M-step, checked with flexmix's own log-likelihood and score
functions. flexmix's reported parameters are checked through the
log-likelihood evaluated at them.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smlcr

RESULTS = Path(__file__).parent / "results"
NAMES = ["Intercept", "x1", "x2"]


@pytest.fixture(scope="module")
def ref():
    return json.loads((RESULTS / "flexmix_freq_weights.json").read_text())


@pytest.fixture(scope="module")
def data(ref):
    return pd.read_csv(RESULTS / ref["data_file"])


@pytest.fixture(scope="module")
def model(data):
    return smlcr.LatentClassOLS.from_formula(
        "y ~ x1 + x2", data, groups="id", k_classes=2, freq_weights="w"
    )


@pytest.fixture(scope="module")
def res(model):
    return model.fit(rng=0)


def coef_matrix(res, k):
    return np.array([[res.params[f"{n}[{s + 1}]"] for n in NAMES] for s in range(k)])


def matched(res, components):
    """Reference components in the order of our classes (minimal coefficient distance)."""
    theirs = np.array([list(c["coef"].values()) for c in components])
    ours = coef_matrix(res, len(components))
    perm = min(
        itertools.permutations(range(len(components))),
        key=lambda perm: np.sum((ours - theirs[list(perm)]) ** 2),
    )
    return [components[j] for j in perm]


def test_reference_is_consistent(ref, data):
    """The stored reference: weights = replication, and the maximum was reached."""
    check = ref["replication_check"]
    assert check["max_rel_diff_loglikfun"] < 1e-14
    assert check["mle_logLik_weighted"] == pytest.approx(check["mle_logLik_replicated"], rel=1e-14)
    assert check["mle_max_abs_param_diff"] < 1e-10
    assert ref["mle_by_hand"]["max_abs_score_flexmix_FLXgradlogLikfun"] < 1e-8
    assert ref["best"]["n_starts_within_1e_6_of_best"] == ref["nrep"]
    weights = data.groupby("id")["w"].agg(["min", "max"])
    assert (weights["min"] == weights["max"]).all()
    assert weights["min"].sum() == ref["sum_weights"]
    assert len(weights) == ref["n_groups"]


def test_n_groups_is_the_sum_of_weights(ref, model, res):
    assert model.exog_names == NAMES
    assert res.n_groups == ref["sum_weights"]


def test_loglike_at_flexmix_parameters(ref, model):
    best = ref["best"]["components"]
    beta = [list(c["coef"].values()) for c in best]
    sigma2 = [c["sigma"] ** 2 for c in best]
    eta = [np.log(best[1]["prior"] / best[0]["prior"])]
    params = np.concatenate([np.ravel(beta), sigma2, eta])
    assert params.size == model.k_params
    llf = model.loglike(params)
    assert llf == pytest.approx(ref["logLik_recomputed"], rel=1e-9)
    assert llf == pytest.approx(ref["best"]["logLik"], rel=1e-9)


def test_loglike_equals_flexmix_maximum(ref, res):
    assert res.converged
    assert res.llf == pytest.approx(ref["mle_by_hand"]["logLik"], rel=1e-6)
    # flexmix's own EM stops at a slightly lower value (weighted and replicated)
    assert res.llf >= ref["best"]["logLik"]
    assert res.llf >= ref["replicated"]["logLik"]


def test_estimates_equal_flexmix_maximum(ref, res):
    components = matched(res, ref["mle_by_hand"]["components"])
    theirs = np.array([list(c["coef"].values()) for c in components])
    np.testing.assert_allclose(coef_matrix(res, 2), theirs, rtol=1e-4, atol=1e-6)
    sigma2 = [res.params[f"sigma2[{s + 1}]"] for s in range(2)]
    np.testing.assert_allclose(sigma2, [c["sigma"] ** 2 for c in components], rtol=1e-4)
    np.testing.assert_allclose(
        res.class_shares["share"].to_numpy(), [c["prior"] for c in components], rtol=1e-4
    )


def test_standard_errors_agree_with_flexmix(ref, res):
    """SEs at the maximum from flexmix's weighted log-likelihood (numerical Hessian)."""
    mle = ref["mle_by_hand"]
    components = matched(res, mle["components"])
    for s, comp in enumerate(components):
        ours = [res.bse[f"{n}[{s + 1}]"] for n in NAMES]
        np.testing.assert_allclose(ours, list(comp["se"].values()), rtol=1e-4)
        # flexmix works with log(sigma): se(sigma2) = 2 sigma2 se(log sigma)
        sigma2 = res.params[f"sigma2[{s + 1}]"]
        assert res.bse[f"sigma2[{s + 1}]"] == pytest.approx(
            2 * sigma2 * comp["log_sigma_se"], rel=1e-4
        )
    # alpha = log(pi_sorted.2 / pi_sorted.1); our reference class is class 1
    alpha = mle["alpha_sorted"]
    same_reference = components[0] is mle["components"][0]
    assert res.params["membership:Intercept[2]"] == pytest.approx(
        alpha["estimate"] if same_reference else -alpha["estimate"], rel=1e-4
    )
    assert res.bse["membership:Intercept[2]"] == pytest.approx(alpha["se"], rel=1e-4)
