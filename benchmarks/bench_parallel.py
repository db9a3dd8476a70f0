"""compare_classes over K = 1..6 on 100,000 rows in one process and in two.

Prints a markdown table: seconds with ``n_jobs=1`` and ``n_jobs=2`` (the same
run, in that order) and whether the two tables are identical. The machine
has 2 cores; run with ``OPENBLAS_NUM_THREADS=1`` so that each process uses
one.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_parallel.py``
"""

from __future__ import annotations

import time
import warnings

import smlcr
from smlcr.datasets import simulate_grouped


def main() -> None:
    """Time both and print the table."""
    sim = simulate_grouped(n_groups=10_000, rows_per_group=10, seed=3)
    times, tables = {}, {}
    for jobs in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            tables[jobs] = smlcr.compare_classes(
                sim.formula, sim.data, groups="id", k_range=range(1, 7), rng=0, n_jobs=jobs
            )
            times[jobs] = time.perf_counter() - start
    same = tables[1].equals(tables[2])
    print("| n_jobs | seconds | speed-up | table identical to n_jobs=1 |")
    print("| -----: | ------: | -------: | --------------------------- |")
    print(f"| 1 | {times[1]:.1f} | 1.00 | |")
    print(f"| 2 | {times[2]:.1f} | {times[1] / times[2]:.2f} | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    main()
