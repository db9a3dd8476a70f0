"""Reference maxima for tests/test_search.py: the best log-likelihood of 1,000 starts.

Overlapping designs (``simulate_grouped(n_groups=50, rows_per_group=3, sigma2=(2, 2, 2))``,
where the default fit of an earlier version stopped at local maxima). Each case is fitted
with 1,000 starts, every one run to convergence (``n_full`` = all), from three seeds; the
largest log-likelihood is the reference the default ``fit()`` must reach.

Run: ``python tests/results/search_reference.py`` (writes ``search_reference.json``).
"""

import json
import subprocess
import warnings
from pathlib import Path

import smlcr
from smlcr.datasets import simulate_grouped

CASES = [(0, 2), (2, 2), (2, 3), (5, 3)]  # (data seed, classes)


def main():
    out = []
    for seed, k in CASES:
        data = simulate_grouped(n_groups=50, rows_per_group=3, sigma2=(2.0, 2.0, 2.0), seed=seed)
        model = smlcr.LatentClassOLS.from_formula(data.formula, data.data, groups="id", k_classes=k)
        best = []
        for rng in (101, 202, 303):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                best.append(model.fit(n_starts=1000, rng=rng).llf)
        out.append({"seed": seed, "k_classes": k, "best_llf": max(best), "llf_by_seed": best})
        print(out[-1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    path = Path(__file__).with_name("search_reference.json")
    path.write_text(json.dumps({"smlcr_commit": commit, "starts": 1000, "cases": out}, indent=1))


if __name__ == "__main__":
    main()
