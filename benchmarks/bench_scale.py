"""Scale on one machine: memory and cost of each step on three large designs.

Each case runs in its own process (peak memory from ``ru_maxrss``):

- ``a``: N = 200,000 individuals x 10 rows, p = 25 (24 regressors and an intercept),
  K = 6: model construction, EM per iteration, standard errors, and the fit with
  standard errors (target: peak under 3 GB, read right after the fit: the timings of one
  iteration and of the derivatives that follow build their own workspace and scores);
- ``b``: N = 1,000,000 x 6 rows, p = 4 (3 regressors and an intercept), K = 4: one EM
  iteration (E- and M-step) against reading the compressed statistics once (summing
  every array of the workspace; target: at most 3 times);
- ``c``: 10 million rows in random order x 11 columns (y, an intercept and 9 regressors), 1,000,000
  individuals: building the model against compressing the same arrays (target: at
  most 2 times), and the same with the rows sorted by individual.

Prints a markdown table. Run with and without ``OPENBLAS_NUM_THREADS=1``.

Run: ``python benchmarks/bench_scale.py [a|b|c ...]``
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np


def _simulate(n_groups: int, rows: int, p: int, k: int, seed: int = 0, shuffle: bool = False):
    rng = np.random.default_rng(seed)
    n = n_groups * rows
    ids = np.repeat(np.arange(n_groups), rows)
    x = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = rng.normal(0.0, 1.0, (k, p))
    classes = rng.integers(0, k, n_groups)[ids]
    y = np.einsum("np,np->n", x, beta[classes]) + rng.standard_normal(n)
    if shuffle:
        order = rng.permutation(n)
        ids, x, y = ids[order], x[order], y[order]
    return y, x, ids


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _median_time(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def case_a() -> dict:
    import smlcr
    from smlcr import em, information

    y, x, ids = _simulate(200_000, 10, 25, 6)
    start = time.perf_counter()
    model = smlcr.LatentClassOLS(y, x, groups=ids, k_classes=6)
    construct = time.perf_counter() - start
    start = time.perf_counter()
    res = model.fit(rng=0)
    fit = time.perf_counter() - start
    peak_fit = _peak_gb()  # model construction and fit with standard errors, nothing else
    best = model.to_scaled(np.asarray(res.params))
    work = em.Workspace.build(model.stats, model._Z)
    estep = em.e_step(model.stats, model._Z, best, work)
    constraints = em.Constraints(var_floor=1e-12)
    iteration = _median_time(
        lambda: em.em_step(model.stats, model._Z, best, estep, constraints, work)
    )
    errors = _median_time(
        lambda: information.derivatives(model.stats, model._Z, best, model.layout), repeat=2
    )
    return {
        "construct": construct,
        "fit": fit,
        "iteration": iteration,
        "errors": errors,
        "converged": bool(res.converged),
        "peak": peak_fit,
        "peak_all": _peak_gb(),
    }


def case_b() -> dict:
    import smlcr
    from smlcr import em

    y, x, ids = _simulate(1_000_000, 6, 4, 4)
    model = smlcr.LatentClassOLS(y, x, groups=ids, k_classes=4)
    res = model.fit(rng=0)
    best = model.to_scaled(np.asarray(res.params))
    work = em.Workspace.build(model.stats, model._Z)
    estep = em.e_step(model.stats, model._Z, best, work)
    constraints = em.Constraints(var_floor=1e-12)
    iteration = _median_time(
        lambda: em.em_step(model.stats, model._Z, best, estep, constraints, work), repeat=9
    )
    # the compressed statistics as stored (R_i packed, c_i, rss_i, d_i), and with the
    # workspace's moments (R_i'R_i packed, R_i'c_i, ||c_i||^2 + rss_i), which an iteration
    # reads in their place
    stored = [model.stats.R_upper, model.stats.c, model.stats.rss, model.stats.dof]
    read = _median_time(lambda: [float(a.sum()) for a in stored], repeat=9)
    both = stored + [work.moment_rows]
    read_both = _median_time(lambda: [float(a.sum()) for a in both], repeat=9)
    return {"iteration": iteration, "read": read, "read_both": read_both, "peak": _peak_gb()}


def case_c() -> dict:
    import smlcr
    from smlcr.compress import compress

    out = {}
    for label, shuffle in (("unsorted", True), ("sorted", False)):
        y, x, ids = _simulate(1_000_000, 10, 10, 2, shuffle=shuffle)  # y and 10 columns
        start = time.perf_counter()
        compress(y, x, ids)
        out[f"compress_{label}"] = time.perf_counter() - start
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            smlcr.LatentClassOLS(y, x, groups=ids, k_classes=2)
        out[f"construct_{label}"] = time.perf_counter() - start
    out["peak"] = _peak_gb()
    return out


CASES = {"a": case_a, "b": case_b, "c": case_c}


def _run(name: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    names = [a for a in sys.argv[1:] if a in CASES] or list(CASES)
    print("| case | step | seconds | ratio | peak memory (GB) | target |")
    print("| ---- | ---- | ------: | ----: | ---------------: | ------ |")
    for name in names:
        r = _run(name)
        if name == "a":
            print(f"| a | build the model (compression included) | {r['construct']:.2f} | | | |")
            print(f"| a | one EM iteration | {r['iteration']:.3f} | | | |")
            print(f"| a | standard errors (score and Hessian) | {r['errors']:.2f} | | | |")
            print(
                f"| a | fit with standard errors | {r['fit']:.1f} | | {r['peak']:.2f} | "
                "peak under 3 GB |"
            )
            print(
                f"| a | (peak of the case, with the benchmark's own second workspace and "
                f"derivatives) | | | {r['peak_all']:.2f} | |"
            )
        elif name == "b":
            print(
                f"| b | read the compressed statistics once (R_i packed, c_i, rss_i, d_i) | "
                f"{r['read']:.3f} | 1.00 | | |"
            )
            print(
                f"| b | read them and the workspace's moments once | {r['read_both']:.3f} | "
                f"{r['read_both'] / r['read']:.2f} | | |"
            )
            print(
                f"| b | one EM iteration | {r['iteration']:.3f} | "
                f"{r['iteration'] / r['read']:.1f} | {r['peak']:.2f} | at most 3 |"
            )
        else:
            for label in ("unsorted", "sorted"):
                ratio = r[f"construct_{label}"] / r[f"compress_{label}"]
                print(f"| c | compress, rows {label} | {r[f'compress_{label}']:.2f} | 1.00 | | |")
                print(
                    f"| c | build the model, rows {label} | {r[f'construct_{label}']:.2f} | "
                    f"{ratio:.2f} | | at most 2 |"
                )
            print(f"| c | (peak of the case) | | | {r['peak']:.2f} | |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        print(json.dumps(CASES[sys.argv[2]]()))
    else:
        main()
