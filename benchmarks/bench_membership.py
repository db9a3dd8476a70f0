"""Cost of an EM iteration with a categorical membership model, against none.

3,000 individuals x 4 rows, K = 6, ``membership="~ C(genre)"`` with 30 levels (issue 10's
case: 0.42 s per iteration before; the target is within 5 times the cost without a
membership model). Prints one markdown table; ratios are the meaningful part.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_membership.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

import smlcr
from smlcr import em, starts


def data(seed: int = 0) -> pd.DataFrame:
    """Six classes, a 30-level membership variable."""
    rng = np.random.default_rng(seed)
    n_ind, rows = 3000, 4
    ids = np.repeat(np.arange(n_ind), rows)
    genre = rng.integers(0, 30, n_ind)
    cls = rng.integers(0, 6, n_ind)
    x = rng.normal(size=ids.size)
    y = cls[ids] * 1.0 + (1 + 0.3 * cls[ids]) * x + rng.normal(size=ids.size)
    return pd.DataFrame({"y": y, "x": x, "id": ids, "genre": genre[ids]})


def per_iteration(frame: pd.DataFrame, membership: str | None, n_iter: int = 30) -> float:
    """Seconds per plain EM iteration from random posteriors."""
    model = smlcr.LatentClassOLS.from_formula(
        "y ~ x", frame, groups="id", k_classes=6, membership=membership
    )
    stats, Z = model.stats, model._Z
    constraints = em.Constraints(var_floor=1e-4 * starts.pooled_variance(stats))
    work = em.Workspace.build(stats, Z)
    tau = np.random.default_rng(1).dirichlet(np.ones(6), size=stats.n_groups)
    start = em.params_from_posteriors(stats, Z, tau, constraints, work)
    t0 = time.perf_counter()
    run = em.run_em(stats, Z, start, n_iter, 0.0, 0.0, constraints, work, accelerate=False)
    return (time.perf_counter() - t0) / run.n_iter


def main() -> None:
    """Print the table."""
    warnings.simplefilter("ignore")
    frame = data()
    plain = per_iteration(frame, None)
    categorical = per_iteration(frame, "~ C(genre)")
    print("| membership | ms per EM iteration | ratio |")
    print("| :--------- | ------------------: | ----: |")
    print(f"| none       | {1000 * plain:19.2f} | {1.0:5.1f} |")
    print(f"| C(genre)   | {1000 * categorical:19.2f} | {categorical / plain:5.1f} |")


if __name__ == "__main__":
    main()
