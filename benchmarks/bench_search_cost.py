"""Cost of the default search of LatentClassOLS: over K, on a million individuals, against flexmix.

Three parts, each printed as a markdown table and written (all parts of one run)
to ``benchmarks/results/search_cost_<label>.md``:

``compare``
    K = 1..6 on 100,000 rows (``simulate_grouped(n_groups=10_000,
    rows_per_group=10, seed=3)``, true K = 3), default ``fit(rng=0)``, every K
    timed on its own in a subprocess capped at 300 s.
``large``
    1,000,000 individuals x 6 rows (``--quick``: 100,000), K = 4, an intercept
    and 3 regressors, overlapping classes; against one statsmodels ``OLS`` fit
    on the same rows, in a subprocess capped at 900 s.
``flexmix``
    300,000 rows (5,000 individuals x 60 rows, K = 4, overlapping classes):
    default smlcr fit against flexmix's ``stepFlexmix(..., nrep = 3)`` plus
    ``refit()`` through ``Rscript``, in the same run.

Iterations are counted two ways: ``iter_sum`` is the sum of
``start_status.n_iter`` (code that has it), ``m_steps`` counts every call of
``smlcr.em.m_step`` during ``fit()`` (start values, EM, rejected SQUAREM
extrapolations, not Newton steps), so it exists for old and new code alike.
Every ratio is measured in one run (these machines are noisy; compare ratios,
not seconds across runs).

Run: ``python benchmarks/bench_search_cost.py [--part compare|large|flexmix|all]
[--label new] [--quick]``; set ``PYTHONPATH`` to benchmark another checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from bench_fit import flexmix_time  # the same flexmix call as the speed table

import smlcr
import smlcr.datasets
import smlcr.em

RESULTS = Path(__file__).resolve().parent / "results"
COMPARE_CAP_S = 300
LARGE_CAP_S = 900
FLEXMIX_CAP_S = 1800
MEMORY_CAP_BYTES = 20 * 2**30  # of a 24 GB machine

#: class coefficients (intercept, x1, x2, x3) of the ``large`` part: overlapping classes
LARGE_COEF = np.array(
    [[1.0, 1.0, 0.5, 0.0], [0.5, 1.3, 0.2, 0.3], [0.0, 0.7, 0.8, -0.2], [1.5, 0.5, 0.5, 0.3]]
)
#: class coefficients (intercept, x1, x2) of the ``flexmix`` part: with 60 rows per
#: individual these differences of 0.4 leave an average largest posterior near 0.9
FLEXMIX_COEF = np.array([[1.0, 0.5, -0.5], [1.4, 0.5, -0.5], [1.0, 0.9, -0.5], [1.0, 0.5, -0.1]])


# ----------------------------------------------------------------------------- helpers
def progress(message: str) -> None:
    """Print a time-stamped progress line to stderr.

    Parameters
    ----------
    message : str
        Text of the line.
    """
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class MStepCounter:
    """Count calls of ``smlcr.em.m_step`` (every M-step of old and new code).

    All callers look ``m_step`` up in the module ``smlcr.em``, so replacing
    that attribute sees every call; the wrapper costs one Python call.

    Parameters
    ----------
    report_every : int
        Print a progress line every ``report_every`` M-steps (0: never), so a
        run killed at its time cap still shows how far it got.
    """

    def __init__(self, report_every: int = 0) -> None:
        self.count = 0
        self._original = smlcr.em.m_step
        self._start = time.perf_counter()

        def counted(*args, **kwargs):
            self.count += 1
            if report_every and self.count % report_every == 0:
                elapsed = time.perf_counter() - self._start
                progress(f"  {self.count} M-steps, {elapsed:.0f} s")
            return self._original(*args, **kwargs)

        smlcr.em.m_step = counted


def fit_summary(res) -> dict:
    """Search statistics of a fit, with defaults where the code lacks them.

    Parameters
    ----------
    res : LatentClassOLSResults

    Returns
    -------
    dict
        ``llf``, ``iter_sum`` (sum of ``start_status.n_iter``, None without
        it), ``n_iter`` and ``n_newton`` of the final run, ``starts``,
        ``converged``, ``boundary``, ``gradient_norm`` and the average largest
        posterior.
    """
    status = getattr(res, "start_status", None)
    boundary = getattr(res, "boundary", "n/a")
    return {
        "llf": float(res.llf),
        "iter_sum": int(status["n_iter"].sum()) if status is not None else None,
        "n_iter": int(res.n_iter),
        "n_newton": getattr(res, "n_newton", None),
        "starts": len(res.start_llfs),
        "status_counts": (
            status["status"].value_counts().to_dict() if status is not None else None
        ),
        "converged": bool(res.converged),
        "boundary": "no" if boundary is None else str(boundary),
        "gradient_norm": getattr(res, "gradient_norm", None),
        "mean_max_posterior": float(np.asarray(res.posteriors).max(axis=1).mean()),
    }


def simulate_overlapping(n_groups: int, rows: int, coef: np.ndarray, seed: int = 0):
    """Grouped data from a K-class regression with equal shares and unit noise.

    Parameters
    ----------
    n_groups, rows : int
        Individuals and rows per individual.
    coef : ndarray, shape (K, p)
        Class coefficients; the first regressor is the constant.
    seed : int
        Seed of the generator.

    Returns
    -------
    endog : ndarray, shape (n,)
    exog : ndarray, shape (n, p)
    ids : ndarray of int, shape (n,)
    """
    rng = np.random.default_rng(seed)
    k, p = coef.shape
    ids = np.repeat(np.arange(n_groups), rows)
    n = ids.size
    exog = np.empty((n, p))
    exog[:, 0] = 1.0
    exog[:, 1:] = rng.standard_normal((n, p - 1))
    cls = rng.integers(0, k, size=n_groups)[ids]
    endog = np.einsum("np,np->n", exog, coef[cls]) + rng.standard_normal(n)
    return endog, exog, ids


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- workers
def worker_compare(k: int) -> dict:
    """Fit K classes to the ``compare`` data with default options, timed.

    Parameters
    ----------
    k : int
        Number of classes.

    Returns
    -------
    dict
    """
    sim = smlcr.datasets.simulate_grouped(n_groups=10_000, rows_per_group=10, seed=3)
    counter = MStepCounter(report_every=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=k)
        res = model.fit(rng=0)
        seconds = time.perf_counter() - t0
    return {"K": k, "seconds": seconds, "m_steps": counter.count, **fit_summary(res)}


def worker_large(n_groups: int) -> dict:
    """Time OLS, model construction, fit and the Hessian on the ``large`` data.

    Parameters
    ----------
    n_groups : int
        Individuals (6 rows each).

    Returns
    -------
    dict
    """
    endog, exog, ids = simulate_overlapping(n_groups, 6, LARGE_COEF, seed=0)
    progress(f"  large: {endog.size:,} rows simulated")
    t0 = time.perf_counter()
    sm.OLS(endog, exog).fit()
    t_ols = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=LARGE_COEF.shape[0])
    t_model = time.perf_counter() - t0
    progress(f"  large: model built in {t_model:.1f} s, fitting")

    counter = MStepCounter(report_every=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = model.fit(rng=0)
        t_fit = time.perf_counter() - t0
    m_steps = counter.count
    progress(f"  large: fit in {t_fit:.1f} s")

    # standard errors are computed inside fit(); one Hessian is their cost proxy
    t0 = time.perf_counter()
    model.hessian(np.asarray(res.params))
    t_hessian = time.perf_counter() - t0
    iteration_s, read_s = em_iteration_cost(model, res)
    return {
        "rows": int(endog.size),
        "individuals": n_groups,
        "ols_s": t_ols,
        "model_s": t_model,
        "fit_s": t_fit,
        "hessian_s": t_hessian,
        "m_steps": m_steps,
        "peak_rss_mb": peak_rss_mb(),
        "iteration_s": iteration_s,
        "read_stats_s": read_s,
        "search_sample": getattr(res, "search_sample", n_groups),
        "continued": (
            len(res.continued_maxima) if getattr(res, "continued_maxima", None) is not None else 0
        ),
        **fit_summary(res),
    }


def em_iteration_cost(model, res) -> tuple[float, float]:
    """Median seconds of one EM iteration on all individuals, and of reading the statistics.

    The EM iteration (M-step and E-step, ``smlcr.em.em_step``) starts at the estimate;
    reading the statistics once is a sum over ``R_i``, ``c_i`` and ``rss_i``.

    Parameters
    ----------
    model : LatentClassOLS
    res : LatentClassOLSResults

    Returns
    -------
    tuple of float
    """
    stats, z = model.stats, model._Z  # the scaled membership design EM works with
    work = smlcr.em.Workspace.build(stats, z)
    params = model.to_scaled(np.asarray(res.params))
    constraints = smlcr.em.Constraints(var_floor=1e-12)
    estep = smlcr.em.e_step(stats, z, params, work)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        smlcr.em.em_step(stats, z, params, estep, constraints, work)
        times.append(time.perf_counter() - t0)
    reads = []
    for _ in range(5):
        t0 = time.perf_counter()
        float(stats.R_upper.sum() + stats.c.sum() + stats.rss.sum())
        reads.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.median(reads))


def run_worker(args: list[str], timeout: float) -> dict | str:
    """Run a worker of this script in a subprocess under a time and memory cap.

    Parameters
    ----------
    args : list of str
        Worker arguments (``--worker ...``).
    timeout : float
        Seconds before the subprocess is killed.

    Returns
    -------
    dict or str
        The worker's result, or ``"timeout"`` / ``"failed: ..."``.
    """

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))

    cmd = [sys.executable, os.path.abspath(__file__), *args]
    try:
        out = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            preexec_fn=limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if out.returncode != 0:
        return f"failed: exit code {out.returncode}"
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- formatting
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return ""
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.7g}" if abs(value) >= 1e5 else f"{value:.2e}"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def markdown(rows: list[dict]) -> str:
    """Format rows (dicts with the same keys) as a markdown table.

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    str
    """
    columns = list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(3, len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float | np.number | None) for row in rows) for c in columns
    ]

    def pad(text, width, num):
        return text.rjust(width) if num else text.ljust(width)

    spec = list(zip(widths, numeric, strict=True))
    head = "| " + " | ".join(pad(c, w, n) for c, (w, n) in zip(columns, spec, strict=True)) + " |"
    rule = "| " + " | ".join(
        ("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric, strict=True)
    )
    body = [
        "| " + " | ".join(pad(v, w, n) for v, (w, n) in zip(r, spec, strict=True)) + " |"
        for r in cells
    ]
    return "\n".join([head, rule + " |", *body])


# ----------------------------------------------------------------------------- parts
def part_compare(skip_after_timeout: bool = False) -> str:
    """K = 1..6 on 100,000 rows, each K in its own capped subprocess.

    Parameters
    ----------
    skip_after_timeout : bool
        Do not run the larger K once one K has hit the cap (they are reported
        as not run).

    Returns
    -------
    str
        Markdown section.
    """
    results = {}
    for k in range(1, 7):
        timed_out = [j for j, r in results.items() if r == "timeout"]
        if skip_after_timeout and timed_out:
            results[k] = f"not run (K = {timed_out[0]} hit the cap)"
            continue
        progress(f"compare: K = {k}")
        results[k] = run_worker(["--worker", "compare", "--k", str(k)], COMPARE_CAP_S)
        shown = results[k] if isinstance(results[k], str) else f"{results[k]['seconds']:.1f} s"
        progress(f"compare: K = {k} done: {shown}")
    true_s = results[3]["seconds"] if isinstance(results[3], dict) else np.nan
    rows = []
    for k, r in results.items():
        if isinstance(r, str):
            seconds = f"> {COMPARE_CAP_S} s" if r == "timeout" else r
            rows.append({"K": k, "seconds": seconds})
            continue
        rows.append(
            {
                "K": k,
                "seconds": r["seconds"],
                "ratio to K=3": r["seconds"] / true_s,
                "llf": r["llf"],
                "iter_sum": r["iter_sum"],
                "m_steps": r["m_steps"],
                "starts": r["starts"],
                "final n_iter": r["n_iter"],
                "converged": r["converged"],
                "boundary": r["boundary"],
            }
        )
    columns = list(max(rows, key=len))
    rows = [{c: row.get(c) for c in columns} for row in rows]
    statuses = {
        k: r["status_counts"]
        for k, r in results.items()
        if isinstance(r, dict) and r["status_counts"]
    }
    lines = [
        "## compare: K = 1..6, 100,000 rows (10,000 individuals x 10), true K = 3",
        "",
        "Default `fit(rng=0)` per K, model construction included, each K in its own process "
        f"(cap {COMPARE_CAP_S} s). `iter_sum`: sum of `start_status.n_iter`; `m_steps`: "
        "every M-step of the fit (starts, EM, rejected extrapolations).",
        "",
        markdown(rows),
    ]
    if statuses:
        lines += [
            "",
            "Start status counts: " + "; ".join(f"K={k}: {v}" for k, v in statuses.items()),
        ]
    return "\n".join(lines)


def part_large(quick: bool) -> str:
    """A million individuals x 6 rows, K = 4, against one OLS fit.

    Parameters
    ----------
    quick : bool
        Use 100,000 individuals.

    Returns
    -------
    str
        Markdown section.
    """
    n_groups = 100_000 if quick else 1_000_000
    progress(f"large: {n_groups:,} individuals")
    r = run_worker(["--worker", "large", "--n-groups", str(n_groups)], LARGE_CAP_S)
    title = f"## large: {n_groups:,} individuals x 6 rows, K = 4, p = 4 (intercept + 3)"
    if isinstance(r, str):
        shown = f"> {LARGE_CAP_S} s (timeout)" if r == "timeout" else r
        return "\n".join([title, "", f"fit: {shown}"])
    ols = r["ols_s"]
    row = {
        "rows": r["rows"],
        "ols_s": ols,
        "model_s": r["model_s"],
        "fit_s": r["fit_s"],
        "hessian_s (SE proxy)": r["hessian_s"],
        "search+newton_s": r["fit_s"] - r["hessian_s"],
        "model/ols": r["model_s"] / ols,
        "fit/ols": r["fit_s"] / ols,
        "total/ols": (r["model_s"] + r["fit_s"]) / ols,
        "iter_sum": r["iter_sum"],
        "m_steps": r["m_steps"],
        "starts": r["starts"],
        "search_sample": r.get("search_sample", r["individuals"]),
        "EM iteration on all (s)": r.get("iteration_s"),
        "iteration / read stats": (
            r["iteration_s"] / r["read_stats_s"] if r.get("iteration_s") else None
        ),
        "final n_iter": r["n_iter"],
        "n_newton": r["n_newton"],
        "llf": r["llf"],
        "converged": r["converged"],
        "peak_rss_mb": r["peak_rss_mb"],
    }
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    lines = [
        title,
        "",
        f"OPENBLAS_NUM_THREADS={threads}. `total/ols` is model construction (compression) plus "
        "`fit()` (search, Newton phase, standard errors) over one statsmodels OLS fit; "
        "`hessian_s` times one `model.hessian(params)` as the cost of the standard errors; "
        "`search_sample` is the number of individuals the starts ran on (`iter_sum` counts "
        "their iterations); `EM iteration on all` is the median time of one EM iteration "
        "on all individuals at the estimate, and `iteration / read stats` divides it by the "
        "time to read the compressed statistics once.",
        "",
        markdown([row]),
    ]
    if r["status_counts"]:
        lines += ["", f"Start status counts: {r['status_counts']}"]
    return "\n".join(lines)


def part_flexmix() -> str:
    """300,000 overlapping rows: smlcr's default fit against flexmix.

    Returns
    -------
    str
        Markdown section.
    """
    k = FLEXMIX_COEF.shape[0]
    endog, exog, ids = simulate_overlapping(5_000, 60, FLEXMIX_COEF, seed=0)
    progress("flexmix: smlcr fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=k)
        res = model.fit(rng=0)
        t_smlcr = time.perf_counter() - t0
    summary = fit_summary(res)
    progress(f"flexmix: smlcr {t_smlcr:.1f} s; running flexmix")
    fm = flexmix_time(endog, exog, ids, k, timeout=FLEXMIX_CAP_S)
    row = {
        "rows": int(endog.size),
        "individuals": 5_000,
        "K": k,
        "mean max posterior": summary["mean_max_posterior"],
        "smlcr_s": t_smlcr,
        "smlcr starts": summary["starts"],
        "smlcr iter_sum": summary["iter_sum"],
        "smlcr llf": summary["llf"],
    }
    if isinstance(fm, str):
        row.update({"flexmix_s": fm})
    else:
        llf, fit_s, refit_s = fm
        row.update(
            {
                "flexmix_s": fit_s + refit_s,
                "flexmix refit_s": refit_s,
                "flexmix/smlcr": (fit_s + refit_s) / t_smlcr,
                "flexmix llf": llf,
                "smlcr - flexmix llf": summary["llf"] - llf,
            }
        )
    progress("flexmix: done")
    return "\n".join(
        [
            "## flexmix: 300,000 rows (5,000 individuals x 60), K = 4, overlapping classes",
            "",
            "smlcr: model construction plus default `fit(rng=0)` (standard errors included); "
            "flexmix: `stepFlexmix(y ~ x1 + x2 | id, k = 4, nrep = 3)` plus `refit()`. "
            "`mean max posterior` is the average largest posterior of smlcr's fit.",
            "",
            markdown([row]),
        ]
    )


# ----------------------------------------------------------------------------- main
def main(argv=None) -> None:
    """Run the chosen parts, print the tables and write them to ``benchmarks/results``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        nargs="+",
        choices=["compare", "large", "flexmix", "all"],
        default=["all"],
        help="parts to run (several allowed)",
    )
    parser.add_argument("--label", default="new", help="results/search_cost_<label>.md")
    parser.add_argument("--quick", action="store_true", help="100,000 individuals in `large`")
    parser.add_argument(
        "--skip-after-timeout",
        action="store_true",
        help="compare: skip the larger K once one K hits the 300 s cap",
    )
    parser.add_argument("--worker", choices=["compare", "large"], help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n-groups", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "compare":
        print(json.dumps(worker_compare(args.k), default=str))
        return
    if args.worker == "large":
        print(json.dumps(worker_large(args.n_groups), default=str))
        return

    parts = ["compare", "large", "flexmix"] if "all" in args.part else args.part
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    header = (
        f"# Search cost ({args.label})\n\nsmlcr from `{os.path.dirname(smlcr.__file__)}`; "
        f"OPENBLAS_NUM_THREADS={blas}; {time.strftime('%Y-%m-%d %H:%M')}."
    )
    sections = [header]
    for part in parts:
        if part == "compare":
            sections.append(part_compare(args.skip_after_timeout))
        elif part == "large":
            sections.append(part_large(args.quick))
        else:
            sections.append(part_flexmix())
        print(sections[-1] + "\n", flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"search_cost_{args.label}.md"
    path.write_text("\n\n".join(sections) + "\n")
    progress(f"written {path}")


if __name__ == "__main__":
    main()
