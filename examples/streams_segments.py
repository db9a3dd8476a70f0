"""Artist segments in a streams panel: choose K, fit with absorbed effects, check the truth.

The motivating model: daily streams of artist i in country j on day t,

    streams_ijt = alpha_s + beta_s' x_ijt + gamma_ij + eps_ijt,   s = segment of artist i,

with artist-country fixed effects gamma_ij and one residual variance. The
effects are absorbed (``absorb=["artist", "country"]``), which also absorbs the
segment intercept alpha_s: smlcr drops it and says so.

Run: ``python examples/streams_segments.py``
"""

import warnings

import numpy as np
import pandas as pd

import smlcr
from smlcr.datasets import streams
from smlcr.exceptions import AbsorbedRegressorWarning


def fit(data, k, **fit_kwargs):
    model = smlcr.LatentClassOLS.from_formula(
        data.formula,
        data.data,
        groups=data.groups,
        absorb=data.absorb,
        k_classes=k,
        variance="common",
    )
    return model.fit(**fit_kwargs)


def main() -> None:
    data = streams(n_artists=300, seed=2024)
    frame = data.data
    print(
        f"{len(frame):,} rows: {frame['artist'].nunique()} artists, "
        f"{frame.groupby(['artist', 'country']).ngroups} artist-country cells, "
        f"streams from {frame['streams'].min():,.0f} to {frame['streams'].max():,.0f} a day\n"
    )

    # 1. choose K: one fit per K, compare information criteria
    rows = []
    with warnings.catch_warnings():
        # the intercept (alpha_s) is constant within cells: dropped with a warning
        # on every fit; shown once in the summary notes below
        warnings.simplefilter("ignore", AbsorbedRegressorWarning)
        fits = {k: fit(data, k, n_starts=10, rng=k) for k in range(1, 7)}
    for k, res in fits.items():
        rows.append(
            {
                "K": k,
                "llf": res.llf,
                "params": int(res.df_model),
                "AIC": res.aic,
                "BIC": res.bic,
                "starts at best": f"{res.n_reached_best}/{len(res.start_llfs)}",
                "smallest share": res.class_shares["share"].min(),
            }
        )
    table = pd.DataFrame(rows).set_index("K")
    print("Choosing the number of segments (BIC's n is the number of artists):")
    print(table.to_string(float_format=lambda v: f"{v:,.4g}"))
    best_k = int(table["BIC"].idxmin())
    print(f"\nBIC chooses K = {best_k} (the data were simulated with K = 4).\n")

    # 2. the chosen model
    res = fits[best_k]
    print(res.summary())

    # 3. EM from one poor start, as a hand-written EM would start (pooled OLS plus
    #    noise): the trace climbs and never falls, but a single start can end at a
    #    worse local maximum (here a segment empties out), which is why smlcr
    #    runs many starts and reports how many reached the best
    pooled = np.asarray(fits[1].params)[:2]
    rng = np.random.default_rng(0)
    start = np.asarray(res.params).copy()
    for s in range(best_k):
        start[2 * s : 2 * s + 2] = pooled * (1 + 0.2 * rng.standard_normal(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the absorbed intercept; non-convergence is printed
        climb = fit(data, best_k, start_params=start, maxiter=300)
    trace = climb.llf_history
    print("\nEM from pooled OLS plus noise, log-likelihood by iteration:")
    for it in sorted(set(np.unique(np.geomspace(1, len(trace), 12).astype(int) - 1))):
        print(f"  iteration {it:4d}: {trace[it]:,.3f}")
    print(
        f"smallest step {np.diff(trace).min():.3g} (no fall beyond rounding); this start "
        f"ends at {climb.llf:,.3f} (converged: {climb.converged}; smallest share "
        f"{climb.class_shares['share'].min():.4f}), the multi-start fit at {res.llf:,.3f}\n"
    )

    # 4. recovered segments against the truth
    print("Modal segment (rows) against the true segment (columns), artists:")
    print(pd.crosstab(res.modal_class, data.true_class))
    print("\nTrue parameters:")
    print(data.true_params().to_string(float_format=lambda v: f"{v:,.4g}"))


if __name__ == "__main__":
    main()
