"""Monte Carlo: sampling weights on an unequal-probability sample with known classes.

Each replicate draws a population of individuals from a two-class model (true
shares 0.65 and 0.35), samples class 1 with probability 0.2 and class 2 with
probability 0.8 (:func:`smlcr.datasets.informative_sample`), and fits K = 2 with
and without the weights ``1 / probability``. Classes are matched to the truth by
their intercepts (2 and -2). Prints a markdown table: the mean estimate of the
class-1 share and of the class coefficients, their Monte Carlo standard
deviation, and the coverage of the 95% intervals (the share's, from
``class_shares``; the coefficients' from the sandwich).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/mc_sampling_weights.py [replicates]``
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

import smlcr
from smlcr.datasets import informative_sample, simulate_grouped

TRUTH = {"share[1]": 0.65, "Intercept[1]": 2.0, "x1[1]": 1.0, "Intercept[2]": -2.0, "x1[2]": -1.0}


def replicate(seed: int, weighted: bool, n_population: int = 1000) -> dict:
    """Estimates and 95% interval coverage of one replicate."""
    population = simulate_grouped(
        n_groups=n_population,
        rows_per_group=4,
        beta=((2.0, 1.0, 0.0), (-2.0, -1.0, 0.0)),
        sigma2=(1.0, 1.5),
        shares=(0.65, 0.35),
        seed=seed,
    )
    sample = informative_sample(population, inclusion=(0.2, 0.8), seed=seed + 1)
    options = {"weights": "weight"} if weighted else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smlcr.LatentClassOLS.from_formula(
            "y ~ x1", sample, groups="id", k_classes=2, **options
        ).fit(rng=seed, cov_type="robust")
    # class 1 of the truth is the one with the positive intercept
    order = np.argsort([-res.params["Intercept[1]"], -res.params["Intercept[2]"]])
    shares = res.class_shares.iloc[order]
    out = {"share[1]": shares["share"].iloc[0]}
    out["covered share[1]"] = shares["lower"].iloc[0] <= 0.65 <= shares["upper"].iloc[0]
    ci = res.conf_int()
    for truth_class, fitted in enumerate(order + 1, start=1):
        for term in ("Intercept", "x1"):
            name, fitted_name = f"{term}[{truth_class}]", f"{term}[{fitted}]"
            out[name] = res.params[fitted_name]
            low, high = ci.loc[fitted_name]
            out[f"covered {name}"] = low <= TRUTH[name] <= high
    return out


def monte_carlo(n_replicates: int, weighted: bool, first_seed: int = 0) -> pd.DataFrame:
    """One row per replicate (:func:`replicate`)."""
    return pd.DataFrame([replicate(first_seed + 10 * r, weighted) for r in range(n_replicates)])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"{n} replicates; population of 1000 individuals x 4 rows, sample of about 410\n")
    print("| estimate | truth | unweighted mean (sd) | weighted mean (sd) | weighted coverage |")
    print("| -------- | ----: | -------------------: | -----------------: | ----------------: |")
    runs = {w: monte_carlo(n, w) for w in (False, True)}
    for name, truth in TRUTH.items():
        plain, weighted = runs[False][name], runs[True][name]
        coverage = runs[True][f"covered {name}"].mean()
        print(
            f"| {name} | {truth:g} | {plain.mean():.3f} ({plain.std():.3f}) | "
            f"{weighted.mean():.3f} ({weighted.std():.3f}) | {coverage:.3f} |"
        )


if __name__ == "__main__":
    main()
