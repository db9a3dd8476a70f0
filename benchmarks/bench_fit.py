"""Speed of LatentClassOLS: compression, EM and standard errors against one OLS fit.

Prints a table, one row per problem size. Every ratio is measured in this one
run (these machines are noisy; compare ratios, not seconds across runs).
The 300,000-row case is also fitted by R's flexmix (``stepFlexmix`` with
``nrep = 3``) through ``Rscript`` when R and flexmix are installed.

Run: ``python benchmarks/bench_fit.py`` (add ``--quick`` to skip 10M rows).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm

import smlcr

FLEXMIX_SCRIPT = r"""
suppressPackageStartupMessages(library(flexmix))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
set.seed(1)
t <- system.time(
  fit <- stepFlexmix(y ~ x1 + x2 | id, data = d, k = as.integer(args[2]), nrep = 3,
                     verbose = FALSE)
)
t2 <- system.time(rf <- refit(fit))
cat(sprintf("%.17g %.6f %.6f\n", as.numeric(logLik(fit)), t[["elapsed"]], t2[["elapsed"]]))
"""


def simulate(n_groups: int, rows: int, p: int, k: int, seed: int = 0):
    """Grouped data from a K-class regression with p regressors (incl. constant)."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_groups), rows)
    n = ids.size
    exog = np.empty((n, p))
    exog[:, 0] = 1.0
    exog[:, 1:] = rng.standard_normal((n, p - 1))
    coef = rng.normal(scale=1.5, size=(k, p))
    cls = rng.integers(0, k, size=n_groups)[ids]
    endog = np.einsum("np,np->n", exog, coef[cls]) + rng.standard_normal(n)
    return endog, exog, ids


def flexmix_time(endog, exog, ids, k, timeout=None):
    """Fit flexmix ``stepFlexmix(..., nrep = 3)`` and ``refit()`` through Rscript.

    Parameters
    ----------
    endog, exog, ids : ndarray
        Data (``exog`` has the constant first, then ``x1``, ``x2``).
    k : int
        Number of classes.
    timeout : float, optional
        Seconds before R is stopped.

    Returns
    -------
    tuple of float or str
        ``(logLik, fit seconds, refit seconds)``, or why there is none ("no Rscript",
        "no flexmix", "> {timeout} s").
    """
    if shutil.which("Rscript") is None:
        return "no Rscript"
    check = subprocess.run(["Rscript", "-e", "library(flexmix)"], capture_output=True, text=True)
    if check.returncode != 0:
        return "no flexmix"
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "d.csv")
        frame = pd.DataFrame({"y": endog, "x1": exog[:, 1], "x2": exog[:, 2], "id": ids})
        frame.to_csv(csv, index=False, float_format="%.17g")
        script = os.path.join(tmp, "fit.R")
        with open(script, "w") as fh:
            fh.write(FLEXMIX_SCRIPT)
        try:
            out = subprocess.run(
                ["Rscript", script, csv, str(k)],
                capture_output=True,
                text=True,
                check=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"> {timeout} s"
    llf, fit_s, refit_s = (float(v) for v in out.stdout.split())
    return llf, fit_s, refit_s


def bench(n_groups, rows, p, k, n_starts=None, with_flexmix=False):
    endog, exog, ids = simulate(n_groups, rows, p, k)
    t0 = time.perf_counter()
    sm.OLS(endog, exog).fit()
    t_ols = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = smlcr.LatentClassOLS(endog, exog, groups=ids, k_classes=k)
    t_compress = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = model.fit(n_starts=n_starts, rng=0)
    t_fit = time.perf_counter() - t0

    # the standard errors are part of fit(); time that part alone once more
    t0 = time.perf_counter()
    information = -model.derivatives(np.asarray(res.params)).hessian
    smlcr.results.invert_information(information, list(model.data.param_names))
    t_se = time.perf_counter() - t0

    row = {
        "rows": endog.size,
        "individuals": n_groups,
        "K": k,
        "p": p,
        "starts": len(res.start_llfs),
        "search_sample": getattr(res, "search_sample", n_groups),
        "compress_s": t_compress,
        "em_s": t_fit - t_se,
        "se_s": t_se,
        "iterations": res.n_iter,
        "ols_s": t_ols,
        "total/ols": (t_compress + t_fit) / t_ols,
        "llf": res.llf,
    }
    if with_flexmix:
        fm = flexmix_time(endog, exog, ids, k)
        if not isinstance(fm, tuple):
            row.update({"flexmix_s": np.nan, "flexmix/smlcr": np.nan, "flexmix_llf": np.nan})
        else:
            llf, fit_s, refit_s = fm
            row.update(
                {
                    "flexmix_s": fit_s + refit_s,
                    "flexmix/smlcr": (fit_s + refit_s) / (t_compress + t_fit),
                    "flexmix_llf": llf,
                }
            )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10 million row case")
    parser.add_argument("--no-flexmix", action="store_true", help="do not call R")
    args = parser.parse_args(argv)
    # the default fit (its number of starts from the size of the problem, the search on a
    # sample of 20,000 individuals when there are more than 40,000)
    cases = [
        dict(n_groups=1_000, rows=10, p=3, k=2),
        dict(n_groups=5_000, rows=60, p=3, k=4, with_flexmix=not args.no_flexmix),
        dict(n_groups=20_000, rows=50, p=5, k=3),
    ]
    if not args.quick:
        cases.append(dict(n_groups=100_000, rows=100, p=10, k=4))
    rows = []
    for case in cases:
        rows.append(bench(**case))
        print(f"done: {rows[-1]['rows']:,} rows", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
