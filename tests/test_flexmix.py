"""Agreement with R's flexmix (numbers stored in tests/results/, scripts beside them).

flexmix's Gaussian M-step divides the weighted residual sum of squares by a
degrees-of-freedom corrected weight (see each JSON's "notes"), so its fit is not
exactly the maximum-likelihood one. The checks are therefore:

1. our log-likelihood at flexmix's reported parameters equals flexmix's logLik;
2. our maximised log-likelihood is at least flexmix's best of 50 starts, and
   equals the exact ML value the R script reached by continuing EM by hand;
3. standard errors agree with flexmix's ``refit()`` (observed information by
   numerical differentiation) to 0.1% (they agree to about 3e-5 in practice).
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smlcr

RESULTS = Path(__file__).parent / "results"

CASES = {
    # case: (formula, groups, our names of flexmix's design columns)
    "flexmix_npreg": ("yn ~ x + I(x**2)", "id2", ["Intercept", "x", "I(x ** 2)"]),
    "flexmix_grouped_sim": ("y ~ x1 + x2", "id", ["Intercept", "x1", "x2"]),
}


def load(case):
    ref = json.loads((RESULTS / f"{case}.json").read_text())
    data = pd.read_csv(RESULTS / ref["data_file"])
    return ref, data


def flat_params(components, prior, model, sigma_key="sigma"):
    """flexmix components in our parameter layout (classes in the given order)."""
    k = len(components)
    beta = [list(c["coef"].values()) for c in components]
    sigma2 = [c[sigma_key] ** 2 for c in components]
    eta = [np.log(prior[s] / prior[0]) for s in range(1, k)]
    params = np.concatenate([np.ravel(beta), sigma2, eta])
    assert params.size == model.k_params
    return params


def matched(res, components, p):
    """Permutation of our classes that best matches the reference components."""
    ours = np.asarray(res.params)[: len(components) * p].reshape(len(components), p)
    theirs = np.array([list(c["coef"].values()) for c in components])
    return min(
        itertools.permutations(range(len(components))),
        key=lambda perm: np.sum((ours[list(perm)] - theirs) ** 2),
    )


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    name = request.param
    formula, groups, names = CASES[name]
    ref, data = load(name)
    model = smlcr.LatentClassOLS.from_formula(formula, data, groups=groups, k_classes=ref["k"])
    res = model.fit(n_starts=20, rng=0)
    return name, ref, model, res, names


def test_design_is_the_same(case):
    _, ref, model, _, names = case
    assert model.exog_names == names
    assert model.n_groups == ref["n_groups"] and model.nobs == ref["n_rows"]


def test_loglike_at_flexmix_parameters(case):
    _, ref, model, _, _ = case
    best = ref["best"]
    prior = [c["prior"] for c in best["components"]]
    params = flat_params(best["components"], prior, model)
    llf = model.loglike(params)
    assert llf == pytest.approx(ref["logLik_recomputed"], rel=1e-9)
    assert llf == pytest.approx(best["logLik"], rel=1e-7)


def test_maximised_loglike_reaches_flexmix_and_the_exact_maximum(case):
    _, ref, _, res, _ = case
    assert res.llf >= max(ref["start_logLiks"]) - 1e-9 * abs(res.llf)
    assert res.llf >= ref["best"]["logLik"]
    assert res.llf == pytest.approx(ref["mle_by_hand"]["logLik"], rel=1e-10)
    assert res.converged


def test_estimates_equal_the_exact_maximum(case):
    _, ref, model, res, _ = case
    mle = ref["mle_by_hand"]
    perm = matched(res, mle["components"], model.k_exog)
    components = [mle["components"][perm.index(s)] for s in range(len(perm))]
    prior = [c["prior_mean_posterior"] for c in components]
    np.testing.assert_allclose(
        np.asarray(res.params), flat_params(components, prior, model), rtol=1e-5, atol=1e-6
    )


def test_standard_errors_agree_with_refit(case):
    _, ref, model, res, names = case
    refit = ref["refit"]["components"]
    perm = matched(res, refit, model.k_exog)
    for ours_s, theirs_s in enumerate(perm):
        comp = refit[theirs_s]
        ours = [res.bse[f"{n}[{ours_s + 1}]"] for n in names]
        np.testing.assert_allclose(ours, list(comp["se"].values()), rtol=1e-3)
        # flexmix works with log(sigma): se(sigma2) = 2 sigma2 se(log sigma)
        sigma2 = res.params[f"sigma2[{ours_s + 1}]"]
        assert res.bse[f"sigma2[{ours_s + 1}]"] == pytest.approx(
            2 * sigma2 * comp["log_sigma_se"], rel=1e-3
        )
    alpha_se = ref["refit"]["concomitant_sorted"]["se"]["sorted.2.alpha"]
    assert res.bse["membership:Intercept[2]"] == pytest.approx(alpha_se, rel=1e-3)


def test_overlapping_case_really_overlaps():
    ref, _ = load("flexmix_grouped_sim")
    assert ref["posterior_mean_max"] < 0.9
