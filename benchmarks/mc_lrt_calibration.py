"""Monte Carlo: the tests of K against K + 1 classes when K is the truth.

Each replicate draws 150 individuals x 5 rows from two classes (coefficients
(1, 2, -1) and (-1, 0.5, 1), variances 1 and 0.5, shares 0.6 / 0.4; the design
of ``benchmarks/hard_designs.py::k_above_truth`` with fewer individuals), fits
K = 2 and K = 3 with the default ``fit(rng=replicate)`` (100 starts each), and
computes

- the Vuong-Lo-Mendell-Rubin test and its adjusted form (``smlcr.lmr.lmr_test``,
  20,000 draws), on ``--lmr`` replicates;
- the parametric bootstrap test (``smlcr.bootstrap_lrt``, 19 replicates), with the
  replicates fitted by 5 starts (the default before session 9) and as the fits
  of the data were (100 starts, the default since), on ``--boot`` replicates.

K = 2 is the truth, so a test at the 5% level should reject in about 5% of the
replicates (with 19 bootstrap replicates, the bootstrap p-value is at most 0.05
only when the observed statistic exceeds all 19). Prints a markdown table.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/mc_lrt_calibration.py [--lmr 60] [--boot 20]``
(``--first 20 --lmr 0 --boot 40 --data-search-only`` extends the bootstrap to 60 replicates)
(about 2.5 minutes per bootstrap replicate with 100 starts on a 2-core machine).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import smlcr
from smlcr.datasets import simulate_grouped
from smlcr.lmr import lmr_test

N_BOOT = 19


def fits(rep: int):
    """The K = 2 and K = 3 fits of replicate ``rep``."""
    sim = simulate_grouped(
        n_groups=150,
        rows_per_group=5,
        beta=((1.0, 2.0, -1.0), (-1.0, 0.5, 1.0)),
        sigma2=(1.0, 0.5),
        shares=(0.6, 0.4),
        seed=1000 + rep,
    )
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    return model.fit(rng=rep), model.with_k_classes(3).fit(rng=rep)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmr", type=int, default=60, help="replicates of the VLMR/LMR tests")
    parser.add_argument("--boot", type=int, default=20, help="replicates of the bootstrap tests")
    parser.add_argument("--first", type=int, default=0, help="first replicate (to extend a run)")
    parser.add_argument(
        "--data-search-only",
        action="store_true",
        help="only the bootstrap whose replicates search as the data's fits",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = {
        "VLMR": [],
        "LMR (adjusted)": [],
        "bootstrap, 5 starts": [],
        "bootstrap, as the data": [],
    }
    lr_all, lr_boot = [], {"bootstrap, 5 starts": [], "bootstrap, as the data": []}
    kinds = [("bootstrap, 5 starts", {"n_starts": 5}), ("bootstrap, as the data", None)]
    if args.data_search_only:
        kinds = kinds[1:]
    for rep in range(args.first, args.first + max(args.lmr, args.boot)):
        small, big = fits(rep)
        lr_all.append(max(2.0 * (big.llf - small.llf), 0.0))
        if rep < args.first + args.lmr:
            test = lmr_test(small, big, n_sim=20_000)
            rows["VLMR"].append(test["vlmr_pvalue"])
            rows["LMR (adjusted)"].append(test["lmr_pvalue"])
        if rep < args.first + args.boot:
            for name, kwds in kinds:
                test = smlcr.bootstrap_lrt(small, big, n_boot=N_BOOT, rng=rep, fit_kwds=kwds)
                rows[name].append(test["pvalue"])
                lr_boot[name].append(float(np.mean(test["lr_boot"])))
        print(f"replicate {rep} done", flush=True)
    print()
    print(f"Mean observed LR over {len(lr_all)} replicates: {np.mean(lr_all):.2f}")
    print()
    print("| test | replicates | rejected at 5% | mean simulated LR |")
    print("| --- | ---: | ---: | ---: |")
    for name, pvalues in rows.items():
        p = np.asarray(pvalues)
        if not p.size:
            continue
        simulated = f"{np.mean(lr_boot[name]):.2f}" if name in lr_boot else ""
        print(
            f"| {name} | {p.size} | {np.sum(p <= 0.05)} ({np.mean(p <= 0.05):.0%}) | {simulated} |"
        )


if __name__ == "__main__":
    main()
