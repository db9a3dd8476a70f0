"""Estimates against known truth on simulated data."""

import numpy as np
import pytest

import smlcr
from smlcr.datasets import simulate_grouped

DESIGN = dict(
    n_groups=200,
    rows_per_group=(2, 8),
    beta=((1.0, 1.0, -0.5), (0.0, 0.3, 0.5)),
    sigma2=(1.0, 0.6),
    shares=(0.65, 0.35),
)


def test_confidence_intervals_cover_at_the_nominal_rate():
    """Coverage of 95% intervals over 60 simulated panels (540 intervals).

    Design: 200 individuals with 2 to 8 rows, two classes with shares 0.65 and
    0.35 (so the canonical order equals the true order), coefficients
    (1, 1, -0.5) and (0, 0.3, 0.5), variances 1 and 0.6.
    """
    hits, total, within_cls = 0, 0, []
    for rep in range(60):
        sim = simulate_grouped(seed=1000 + rep, **DESIGN)
        res = smlcr.LatentClassOLS.from_formula(
            sim.formula, sim.data, groups="id", k_classes=2
        ).fit(n_starts=4, rng=rep)
        truth = sim.true_params().to_numpy()
        ci = np.asarray(res.conf_int())
        covered = (ci[:, 0] <= truth) & (truth <= ci[:, 1])
        hits += covered.sum()
        total += covered.size
        within_cls.append(covered)
    rate = hits / total
    # binomial standard error at 540 intervals is about 0.0094
    assert 0.92 <= rate <= 0.98, rate
    per_param = np.mean(within_cls, axis=0)
    assert per_param.min() >= 0.83, per_param


@pytest.mark.parametrize("seed", [1, 2])
def test_large_sample_estimates_are_close_to_truth(seed):
    sim = simulate_grouped(n_groups=3000, rows_per_group=5, seed=seed)
    res = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=3).fit(
        n_starts=3, rng=seed
    )
    truth = sim.true_params()
    # classes in canonical (share) order match the simulated order 0.5 / 0.3 / 0.2
    z = (res.params - truth) / res.bse
    assert np.max(np.abs(z)) < 4.5, z
