"""BLAS threads: small dense work and a whole fit, with the other core idle or busy.

Times (median and worst of repeated calls, milliseconds) of the small dense work a
fit does (``eigh`` and a solve of the 167 x 167 Hessian of a 6-class model with
p = 25, an ``eigh`` of 26 x 26) with BLAS's default threads and with one thread, and
of a whole fit (50,000 individuals x 6 rows, p = 4, K = 4) with the package's policy
(``SMLCR_SMALL_DENSE_THREADS=1``, the default) and without it (``default``); each
with the other core idle, then busy with a spinning process.

Run: ``python benchmarks/bench_threads.py`` (with BLAS's default threads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings

import numpy as np


def _times(f, k: int) -> tuple[float, float]:
    times = []
    for _ in range(k):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3, float(np.max(times)) * 1e3


def _small(label: str) -> str:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((26, 26))
    a = a @ a.T
    h = rng.standard_normal((167, 167))
    h = h @ h.T
    limit = threadpool_limits(1, user_api="blas") if label == "one thread" else None
    try:
        e26 = _times(lambda: np.linalg.eigh(a), 200)
        e167 = _times(lambda: np.linalg.eigh(h), 50)
        s167 = _times(lambda: np.linalg.solve(h, np.eye(167)), 50)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return (
        f"{e26[0]:.2f} / {e26[1]:.2f} | {e167[0]:.2f} / {e167[1]:.1f} | "
        f"{s167[0]:.2f} / {s167[1]:.1f}"
    )


def _fit(policy: str) -> float:
    os.environ["SMLCR_SMALL_DENSE_THREADS"] = policy
    import smlcr
    from smlcr.datasets import simulate_grouped

    rng = np.random.default_rng(1)
    sim = simulate_grouped(n_groups=50_000, rows_per_group=6, seed=1)
    data = sim.data.assign(x3=rng.standard_normal(len(sim.data)))
    model = smlcr.LatentClassOLS.from_formula("y ~ x1 + x2 + x3", data, groups="id", k_classes=4)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    model.fit(rng=0)
    return time.perf_counter() - start


def main() -> None:
    print("| other core | BLAS threads | eigh 26 | eigh 167 | solve 167 | fit (s) |")
    print("| ---------- | ------------ | ------: | -------: | --------: | ------: |")
    for busy in (False, True):
        spinner = None
        if busy:
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for label, policy in (("default", "default"), ("one thread", "1")):
                small = _small(label)
                done = subprocess.run(
                    [sys.executable, __file__, "--fit", policy],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                seconds = float(done.stdout.strip().splitlines()[-1])
                where = "busy" if busy else "idle"
                print(f"| {where} | {label} | {small} | {seconds:.1f} |")
        finally:
            if spinner is not None:
                spinner.kill()
    print("\nmedian / worst, milliseconds; the fit with the small dense work at that setting.")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--fit":
        print(_fit(sys.argv[2]))
    else:
        main()
