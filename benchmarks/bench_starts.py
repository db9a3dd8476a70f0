"""How often the default multi-start EM reaches the best known maximum on hard designs.

For each design of ``benchmarks/hard_designs.py`` (simulated with its default design
seed, ``hard_designs.default_seed``, unless ``--design-seed`` or ``--design-seed-for``
says otherwise):

1. the best known maximum: the largest log-likelihood of a large fit,
   ``fit(n_starts=B, n_full=B, rng=12345)`` with ``B = --best-starts``, of any default
   fit below, and of the value cached in ``benchmarks/results/best_known.json`` (written
   back, with the smlcr commit that found it; when that maximum has degenerate classes,
   a share below ``min_share`` or a variance at the floor, the entry names them under
   ``degenerate`` and keeps the best non-degenerate log-likelihood as ``interior_llf``);
2. the default ``fit(rng=seed)`` for seeds ``0..S-1``: reached the best known maximum
   (``llf >= best - 1e-6 (1 + |best|)``), log-likelihood, iterations, seconds, number
   of starts, the warnings it raised (by category) and, where the smlcr version has them
   (``getattr`` with defaults, so that older versions run too), ``converged``,
   ``n_completed_starts``, ``gradient_norm``, ``boundary``, ``n_newton``, the best
   maxima of ``local_maxima`` and the status counts of ``start_status``.

Prints a markdown table, one row per design, and writes the per-seed rows to
``benchmarks/results/bench_starts_<label>.csv`` and the table to ``..._<label>.md``.
A fit that raises is counted as a failure (with the exception type), not a crash.
A design that cannot be built here (``tonedata`` without R and mixtools) is skipped
with a note.

``--compare baseline,new`` fits nothing: it reads ``bench_starts_baseline.csv`` and
``bench_starts_new.csv`` and writes ``bench_starts_comparison.md``, one row per design,
with "reached" recomputed against the current ``best_known.json``.

Run::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_starts.py [--seeds 20]
        [--designs tight_ungrouped,state_year] [--best-starts 1000]
        [--best-starts-for k_above_truth=300] [--design-seed-for state_year=3]
        [--label current] [--quick]
    python benchmarks/bench_starts.py --compare baseline,new

Limit BLAS threads from the shell (``OPENBLAS_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``,
``MKL_NUM_THREADS=1``): the problems are small and the timings are otherwise noisy.
``--best-starts 0`` uses the cached best known values only (fast), ``--quick`` is
``--seeds 3 --best-starts 50``. To measure another copy of smlcr, put it first on
``PYTHONPATH``; the table header names the smlcr commit and path used.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings

import hard_designs
import numpy as np
import pandas as pd

import smlcr

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
BEST_RNG = 12345


def smlcr_commit() -> str:
    """Short git hash of the smlcr package imported, ``+dirty`` if it has local changes.

    Returns
    -------
    str
        The hash, or ``"unknown"`` outside a git checkout.
    """
    where = os.path.dirname(os.path.abspath(smlcr.__file__))
    try:
        head = subprocess.run(
            ["git", "-C", where, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def design_hash(design: dict) -> str:
    """Fingerprint of a design's data and model, to invalidate stale cached maxima.

    Parameters
    ----------
    design : dict
        As returned by a function of ``hard_designs``.

    Returns
    -------
    str
        16 hex digits.
    """
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(design["data"], index=True).to_numpy().tobytes())
    spec = [design["formula"], design["groups"], design["k_classes"], design["model_kwds"]]
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def n_individuals(design: dict) -> int:
    """Number of individuals of a design (rows when ``groups`` is None)."""
    if design["groups"] is None:
        return len(design["data"])
    return int(design["data"][design["groups"]].nunique())


def timed_fit(design: dict, **fit_kwds) -> dict:
    """Build the model of ``design`` and fit it, recording warnings and catching errors.

    Parameters
    ----------
    design : dict
        As returned by a function of ``hard_designs``.
    **fit_kwds
        Passed to ``LatentClassOLS.fit``.

    Returns
    -------
    dict
        ``llf``, ``n_iter``, ``n_reached_best``, ``n_starts`` (NaN after a failure),
        ``seconds`` (of ``fit`` alone), ``failure`` (exception type or "") and
        ``message``; ``warnings`` (``Category xN`` joined by ``;``, from building the
        model and fitting it); and, NaN or "" when the smlcr version lacks them,
        ``converged``, ``n_completed_starts``, ``gradient_norm``, ``boundary``,
        ``n_newton``, ``n_maxima`` and ``local_maxima`` (the best five distinct maxima
        as ``llf (starts)``), ``start_status`` (counts of the starts' status) and
        ``degenerate`` (classes with a share below ``min_share`` or a variance at the
        floor, from ``results.degenerate``; "" when none); ``interior``
        (:func:`is_interior`; False after a failure).
    """
    out = {
        "llf": np.nan,
        "n_iter": np.nan,
        "n_reached_best": np.nan,
        "n_starts": np.nan,
        "seconds": np.nan,
        "failure": "",
        "message": "",
        "warnings": "",
        "converged": np.nan,
        "n_completed_starts": np.nan,
        "gradient_norm": np.nan,
        "boundary": "",
        "n_newton": np.nan,
        "n_maxima": np.nan,
        "local_maxima": "",
        "start_status": "",
        "degenerate": "",
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = hard_designs.make_model(design)
            t0 = time.perf_counter()
            res = model.fit(**fit_kwds)
            out["seconds"] = time.perf_counter() - t0
            out.update(
                llf=float(res.llf),
                n_iter=int(res.n_iter),
                n_reached_best=int(res.n_reached_best),
                n_starts=len(res.start_llfs),
            )
            out.update(_new_attributes(res))
        except Exception as err:  # a benchmark records every failure
            out["failure"] = type(err).__name__
            out["message"] = str(err).splitlines()[0][:200] if str(err) else ""
    counts = pd.Series([w.category.__name__ for w in caught], dtype=object).value_counts()
    out["warnings"] = ";".join(f"{name} x{n}" for name, n in sorted(counts.items()))
    out["interior"] = not out["failure"] and is_interior(out["boundary"], out["warnings"])
    return out


DEGENERATE_WARNINGS = ("DegenerateClassWarning", "VarianceFloorWarning")


def is_interior(boundary, warned) -> bool:
    """Whether a fit is at an interior (non-degenerate) point.

    Interior: no ``boundary`` (``res.boundary`` None: no empty or coinciding classes,
    no variance at the floor) and neither a ``DegenerateClassWarning`` nor a
    ``VarianceFloorWarning`` (a share below ``min_share``, a variance at the floor).

    Parameters
    ----------
    boundary : str or float
        ``res.boundary`` as recorded ("" or NaN when None).
    warned : str or float
        The ``warnings`` column (``Category xN`` joined by ``;``; "" or NaN when none).

    Returns
    -------
    bool
    """
    boundary = "" if not isinstance(boundary, str) else boundary
    warned = "" if not isinstance(warned, str) else warned
    return not boundary and not any(w in warned for w in DEGENERATE_WARNINGS)


def _new_attributes(res) -> dict:
    """Result attributes that only newer smlcr versions have (missing ones left out)."""
    out = {}
    converged = getattr(res, "converged", None)
    if converged is not None:
        out["converged"] = bool(converged)
    for name in ("n_completed_starts", "n_newton"):
        value = getattr(res, name, None)
        if value is not None:
            out[name] = int(value)
    gradient = getattr(res, "gradient_norm", None)
    if gradient is not None:
        out["gradient_norm"] = float(gradient)
    boundary = getattr(res, "boundary", None)
    if boundary:
        out["boundary"] = str(boundary)
    maxima = getattr(res, "local_maxima", None)
    if isinstance(maxima, pd.DataFrame) and "llf" in maxima:
        out["n_maxima"] = len(maxima)
        starts = maxima["n_starts"] if "n_starts" in maxima else [""] * len(maxima)
        out["local_maxima"] = "; ".join(
            f"{llf:.4f} ({n})" for llf, n in list(zip(maxima["llf"], starts, strict=True))[:5]
        )
    degenerate = getattr(res, "degenerate", None)
    if isinstance(degenerate, pd.DataFrame) and len(degenerate):
        reasons = degenerate["reason"] if "reason" in degenerate else degenerate.index
        out["degenerate"] = "; ".join(
            f"class {k}: {r}" for k, r in zip(degenerate.index, reasons, strict=True)
        )
    status = getattr(res, "start_status", None)
    if isinstance(status, pd.DataFrame) and "status" in status:
        out["start_status"] = "; ".join(
            f"{k} {v}" for k, v in status["status"].value_counts().sort_index().items()
        )
    return out


def load_cache(path: str) -> dict:
    """The cached best known maxima (an empty dict when there is no cache).

    Parameters
    ----------
    path : str
        Path of ``best_known.json``.

    Returns
    -------
    dict
    """
    if not os.path.exists(path):
        return {}
    with open(path) as fh:
        return json.load(fh)


def save_cache(path: str, cache: dict) -> None:
    """Write the best known maxima back to ``path`` (sorted, indented JSON).

    Parameters
    ----------
    path : str
        Path of ``best_known.json``.
    cache : dict
        Entries keyed by ``"<design>/seed=<design seed>"``.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(cache, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def reached(llf: float, best: float) -> bool:
    """Whether ``llf`` is at the best known maximum ``best`` (relative tolerance 1e-6)."""
    if not (np.isfinite(llf) and np.isfinite(best)):
        return False
    return bool(llf >= best - 1e-6 * (1.0 + abs(best)))


def run_design(name, args, cache, commit, log) -> tuple[dict, list[dict]]:
    """Best known maxima and the default fits of one design.

    The default fits run first; then, unless their timings project it above
    ``--best-max-seconds`` (median seconds per start x ``B``), the large fit
    ``fit(n_starts=B, n_full=B, rng=12345)``. The cache entry keeps two maxima: ``llf``,
    the best of any fit (possibly degenerate, then named under ``degenerate``), and
    ``interior_llf``, the best of the interior fits (:func:`is_interior`) with its own
    ``interior_source``, ``interior_commit`` and ``interior_date``; ``interior_check``
    records the latest large fit (or why it was skipped). "reached" is judged against
    ``interior_llf``: an interior fit within ``1e-6 (1 + |best|)`` of it.

    Parameters
    ----------
    name : str
        A key of ``hard_designs.DESIGNS``.
    args : argparse.Namespace
        Command-line options.
    cache : dict
        Best known maxima; updated in place.
    commit : str
        smlcr commit, stored with an improved maximum.
    log : callable
        Progress printer.

    Returns
    -------
    summary : dict
        One row of the table.
    rows : list of dict
        One row per seed.
    """
    design_seed = seed_of(name, args)
    design = hard_designs.DESIGNS[name](seed=design_seed)
    key = f"{name}/seed={design_seed}"
    fingerprint = design_hash(design)
    entry = cache.get(key)
    if entry is not None and entry.get("data_hash") != fingerprint:
        log(f"{name}: cached best known is for other data ({entry.get('data_hash')}); ignored")
        entry = None
    entry = dict(entry) if entry is not None else {"data_hash": fingerprint}
    best = entry.get("llf", -np.inf)
    # an entry without "degenerate" and without "interior_llf" was at an interior point
    interior = entry.get(
        "interior_llf", -np.inf if entry.get("degenerate") or "llf" not in entry else best
    )
    if "llf" in entry and "interior_llf" not in entry and not entry.get("degenerate"):
        entry.setdefault("interior_source", entry.get("source", ""))
        entry.setdefault("interior_commit", entry.get("commit", ""))
        entry.setdefault("interior_date", entry.get("date", ""))
    candidates = []  # (llf, interior, source, extra)

    rows = []
    for seed in range(args.seeds):
        out = timed_fit(design, rng=seed)
        rows.append(
            {"label": args.label, "design": name, "design_seed": design_seed, "seed": seed, **out}
        )
        status = out["failure"] or f"llf={out['llf']:.6f} iter={out['n_iter']}"
        if out["warnings"]:
            status += f" [{out['warnings']}]"
        if out["boundary"]:
            status += f" [boundary: {out['boundary']}]"
        log(f"{name}: seed {seed}: {status} ({out['seconds']:.2f} s)")
        if not out["failure"]:
            extra = {"degenerate": out["degenerate"] or out["boundary"] or "(warned)"}
            candidates.append(
                (out["llf"], out["interior"], f"fit(rng={seed})", {} if out["interior"] else extra)
            )

    n_best = args.best_starts_for.get(name, args.best_starts)
    frame = pd.DataFrame(rows)
    ok = frame[frame["failure"] == ""]
    per_start = (ok["seconds"] / ok["n_starts"]).median() if len(ok) else np.nan
    projected = per_start * n_best
    source = f"fit(n_starts={n_best}, rng={BEST_RNG})"
    if n_best > 0 and np.isfinite(projected) and projected > args.best_max_seconds:
        log(
            f"{name}: {source} skipped: projected {projected:.0f} s > "
            f"--best-max-seconds {args.best_max_seconds:g}; cached interior value kept"
        )
        entry["interior_check"] = {
            "commit": commit,
            "date": datetime.date.today().isoformat(),
            "skipped": f"{source} projected at {projected:.0f} s > {args.best_max_seconds:g} s",
        }
    elif n_best > 0:
        big = timed_fit(design, n_starts=n_best, n_full=n_best, rng=BEST_RNG)
        if big["failure"]:
            log(f"{name}: best-known fit failed: {big['failure']}: {big['message']}")
        else:
            log(
                f"{name}: {source} llf={big['llf']:.6f} "
                f"({'interior' if big['interior'] else 'degenerate'}), "
                f"{big['n_reached_best']} of {n_best} starts at its best, "
                f"{big['seconds']:.1f} s (cached: {best:.6f}, interior {interior:.6f})"
            )
            extra = {"best_starts": n_best, "n_reached_best": big["n_reached_best"]}
            if not big["interior"]:
                extra["degenerate"] = big["degenerate"] or big["boundary"] or "(warned)"
                log(f"{name}: the best-known fit is degenerate: {extra['degenerate']}")
            candidates.append((big["llf"], big["interior"], source, extra))
            entry["interior_check"] = {
                "commit": commit,
                "date": datetime.date.today().isoformat(),
                "source": source,
                "llf": big["llf"],
                "interior": bool(big["interior"]),
                "n_reached_best": big["n_reached_best"],
                "seconds": round(big["seconds"], 1),
                "local_maxima": big["local_maxima"],
            }

    today = datetime.date.today().isoformat()
    for llf, at_interior, source, extra in candidates:
        if not np.isfinite(llf):
            continue
        # a rise within rounding keeps the entry (and the source that found it first)
        if at_interior and llf > interior + 1e-9 * (1.0 + abs(interior)):
            if np.isfinite(interior):
                log(f"{name}: best known interior raised by {llf - interior:.6g} ({source})")
            interior = llf
            entry.update(
                interior_llf=llf,
                interior_source=source,
                interior_commit=commit,
                interior_date=today,
            )
        if llf > best + 1e-9 * (1.0 + abs(best)):
            if np.isfinite(best):
                log(f"{name}: best known raised by {llf - best:.6g} ({source})")
            best = llf
            for field in ("degenerate", "best_starts", "n_reached_best"):
                entry.pop(field, None)
            entry.update(
                llf=llf, commit=commit, source=source, data_hash=fingerprint, date=today, **extra
            )
    if "llf" in entry:
        cache[key] = entry

    for row in rows:
        row["best_known"] = interior
        row["best_known_any"] = best
        row["gap"] = interior - row["llf"]
        row["reached"] = bool(row["interior"]) and reached(row["llf"], interior)
        row["commit"] = commit
    frame = pd.DataFrame(rows)
    ok = frame[frame["failure"] == ""]
    summary = {
        "design": name,
        "seed": design_seed,
        "rows": len(design["data"]),
        "individuals": n_individuals(design),
        "K": design["k_classes"],
        "best known interior llf": _fmt(interior, "{:.4f}"),
        "best known llf (any)": _fmt(best, "{:.4f}"),
        "reached": f"{int(frame['reached'].sum())} of {len(frame)}",
        "median iter": _fmt(ok["n_iter"].median(), "{:.0f}"),
        "max iter": _fmt(ok["n_iter"].max(), "{:.0f}"),
        "median s": _fmt(ok["seconds"].median(), "{:.3f}"),
        "failures": _failures(frame),
        "max gap": _fmt(np.round(ok.loc[ok["interior"], "gap"].max(), 4) + 0.0, "{:.4g}"),
        "median starts": _fmt(ok["n_starts"].median(), "{:.0f}"),
        "degenerate": str(int((~ok["interior"].astype(bool)).sum())),
        "not conv. or warned": str(int(_flagged(frame).sum())),
    }
    return summary, rows


def seed_of(name: str, args) -> int:
    """The design seed of design ``name`` under the command-line options.

    Parameters
    ----------
    name : str
        A key of ``hard_designs.DESIGNS``.
    args : argparse.Namespace
        Command-line options (``design_seed_for``, then ``design_seed``, then the
        design's default, ``hard_designs.default_seed``).

    Returns
    -------
    int
    """
    if name in args.design_seed_for:
        return args.design_seed_for[name]
    if args.design_seed is not None:
        return args.design_seed
    return hard_designs.default_seed(name)


def _fmt(value, spec: str) -> str:
    return spec.format(value) if np.isfinite(value) else ""


def _failures(frame: pd.DataFrame) -> str:
    counts = frame.loc[frame["failure"] != "", "failure"].value_counts()
    if counts.empty:
        return "0"
    return f"{counts.sum()} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"


def markdown_table(summaries: list[dict]) -> str:
    """A markdown table of the summary rows (numbers right-aligned).

    Parameters
    ----------
    summaries : list of dict
        Rows with the same keys.

    Returns
    -------
    str
    """
    columns = list(summaries[0])
    cells = [[str(row[c]) for c in columns] for row in summaries]
    widths = [max(3, len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(columns)]
    left = {"design"}

    def line(values):
        parts = [
            v.ljust(w) if c in left else v.rjust(w)
            for v, w, c in zip(values, widths, columns, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = [
        ("-" * w if c in left else "-" * (w - 1) + ":")
        for w, c in zip(widths, columns, strict=True)
    ]
    return "\n".join([line(columns), "| " + " | ".join(rule) + " |", *map(line, cells)])


def _parse_counts(text: str) -> dict:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        if name not in hard_designs.DESIGNS or not value.isdigit():
            raise argparse.ArgumentTypeError(f"expected DESIGN=NUMBER, got {item!r}")
        out[name] = int(value)
    return out


def _flagged(frame: pd.DataFrame) -> pd.Series:
    """Fits that did not converge (``converged`` False) or raised a warning."""
    converged = frame["converged"].astype(str).str.lower()
    warned = frame["warnings"].astype(str) != ""
    return (converged == "false") | warned


def _read_run(results_dir: str, label: str) -> pd.DataFrame:
    """One ``bench_starts_<label>.csv`` with the columns older versions lack filled in.

    ``interior`` is recomputed with :func:`is_interior` from ``boundary``, ``warnings`` and
    ``degenerate`` (older CSVs lack the column; older smlcr versions had no ``boundary``,
    so there only the warnings and ``degenerate`` tell); ``has_interior`` says whether
    the CSV recorded it itself (then its ``best_known`` is an interior maximum).
    """
    frame = pd.read_csv(
        os.path.join(results_dir, f"bench_starts_{label}.csv"),
        dtype={
            "warnings": str,
            "failure": str,
            "converged": str,
            "degenerate": str,
            "boundary": str,
        },
    )
    frame.attrs["has_interior"] = "interior" in frame
    for column, default in (("design_seed", 0), ("converged", ""), ("warnings", "")):
        if column not in frame:
            frame[column] = default
    for column in ("warnings", "failure", "converged", "boundary", "degenerate"):
        frame[column] = frame[column].fillna("") if column in frame else ""
    if "best_known_any" not in frame:
        frame["best_known_any"] = frame["best_known"]
    frame["interior"] = [
        not failure and not degenerate and is_interior(boundary, warned)
        for failure, degenerate, boundary, warned in zip(
            frame["failure"],
            frame["degenerate"],
            frame["boundary"],
            frame["warnings"],
            strict=True,
        )
    ]
    return frame


def _design_sizes(design: str, design_seed: int) -> dict:
    """Rows, individuals and K of a design ("" where it cannot be built here)."""
    try:
        built = hard_designs.DESIGNS[design](seed=int(design_seed))
    except (KeyError, hard_designs.DesignUnavailable):
        return {"rows": "", "individuals": "", "K": ""}
    return {
        "rows": len(built["data"]),
        "individuals": n_individuals(built),
        "K": built["k_classes"],
    }


def compare(labels: list[str], results_dir: str) -> str:
    """A markdown table comparing benchmark runs, one row per design.

    Reads ``bench_starts_<label>.csv`` for each label and the best known maxima of
    ``best_known.json``. "reached" is recomputed against the best known *interior*
    maximum: the larger of the cache's ``interior_llf`` (``llf`` for an entry without
    degenerate classes) and of the interior fits of the CSVs that record ``interior``
    themselves; a fit has reached it when it is interior (:func:`is_interior`) and
    within ``1e-6 (1 + |best|)``. Older CSVs are judged by the same rule, from their
    warnings and ``degenerate`` column, but do not raise the reference (their versions
    did not detect coinciding classes); a note names any of their fits above it. The
    best known maximum of any fit, degenerate or not, is a column for information.

    Parameters
    ----------
    labels : list of str
        Two or more labels, the first one the reference (e.g. ``["baseline", "final"]``).
    results_dir : str
        Directory of the CSV files and of ``best_known.json``.

    Returns
    -------
    str
        A header paragraph, the table and notes.
    """
    frames = {label: _read_run(results_dir, label) for label in labels}
    cache = load_cache(os.path.join(results_dir, "best_known.json"))
    keys = pd.concat([f[["design", "design_seed"]] for f in frames.values()])
    keys = keys.drop_duplicates().itertuples(index=False)
    order = list(hard_designs.DESIGNS)
    keys = sorted(keys, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    table, notes = [], []
    for design, design_seed in keys:
        parts = {
            label: f[(f["design"] == design) & (f["design_seed"] == design_seed)]
            for label, f in frames.items()
        }
        entry = cache.get(f"{design}/seed={design_seed}", {})
        cached_interior = entry.get(
            "interior_llf", -np.inf if entry.get("degenerate") else entry.get("llf", -np.inf)
        )
        recorded = [
            p for label, p in parts.items() if len(p) and frames[label].attrs["has_interior"]
        ]
        interior = max(
            [cached_interior]
            + [p["best_known"].max() for p in recorded]
            + [p.loc[p["interior"], "llf"].max() for p in recorded if p["interior"].any()]
        )
        best_any = max(
            [entry.get("llf", -np.inf)]
            + [p["best_known_any"].max() for p in parts.values() if len(p)]
            + [p["llf"].max() for p in parts.values() if len(p)]
        )
        row = {"design": design, **_design_sizes(design, design_seed)}
        row["best known interior llf"] = _fmt(interior, "{:.4f}")
        row["best known llf (any)"] = _fmt(best_any, "{:.4f}") + (
            "" if reached(interior, best_any) else " (degenerate)"
        )
        for j, (label, part) in enumerate(parts.items()):
            ok = part[part["failure"] == ""]
            hit = [
                at and reached(v, interior)
                for v, at in zip(part["llf"], part["interior"], strict=True)
            ]
            row[f"{label} reached"] = f"{sum(hit)}/{len(part)}" if len(part) else ""
            row[f"{label} med s"] = _fmt(ok["seconds"].median(), "{:.3f}")
            if j > 0:
                gap = interior - ok.loc[ok["interior"], "llf"]
                row[f"{label} max gap (interior fits)"] = _fmt(
                    np.round(gap.max(), 3) + 0.0 if len(gap) else np.nan, "{:.4g}"
                )
                row[f"{label} med iter"] = _fmt(ok["n_iter"].median(), "{:.0f}")
                row[f"{label} med starts"] = _fmt(ok["n_starts"].median(), "{:.0f}")
                row[f"{label} degenerate"] = str(int((~ok["interior"]).sum()))
                row[f"{label} not conv. or warned"] = str(int(_flagged(part).sum()))
                row[f"{label} failures"] = _failures(part)
            above = part[part["interior"] & (part["llf"] > interior + 1e-6 * (1.0 + abs(interior)))]
            if len(above) and not frames[label].attrs["has_interior"]:
                notes.append(
                    f"- {design}: {len(above)} `{label}` fit(s) without degenerate warnings "
                    f"above the best known interior llf (up to {above['llf'].max():.4f}); "
                    "that version did not detect coinciding classes, so they do not set it."
                )
        table.append(row)
        if not reached(interior, best_any):
            notes.append(_degenerate_note(design, design_seed, entry, best_any, interior, parts))
    commits = ", ".join(
        f"`{label}` = smlcr {', '.join(map(str, f['commit'].dropna().unique()))}"
        for label, f in frames.items()
    )
    seeds = pd.concat([f["seed"] for f in frames.values()])
    header = (
        f"Default `fit(rng=seed)`, seeds {seeds.min()}..{seeds.max()} per design "
        f"({commits}). Best known interior llf: the best log-likelihood of a fit that is "
        "not degenerate (`boundary` None: no empty or coinciding classes, no variance at "
        "the floor; and no DegenerateClassWarning or VarianceFloorWarning), over "
        "`best_known.json` (large multi-start fits, see its `interior_source` and "
        "`interior_check`) and the fits listed; reached = an interior fit with "
        "llf >= best - 1e-6 (1 + |best|). 'Best known llf (any)' includes degenerate fits. "
        "Iterations are not comparable across versions: the baseline counts the EM "
        "iterations of the best run, the new code the EM and Newton steps of the final run. "
        "'degenerate' counts fits that are not interior, 'not conv. or warned' fits with "
        "`converged` False or any warning (categories in the CSV column `warnings`)."
    )
    text = header + "\n\n" + markdown_table(table)
    if notes:
        text += "\n\n" + "\n".join(notes)
    return text


def _degenerate_note(design, design_seed, entry, best_any, interior, parts) -> str:
    """A footnote on a design whose best known maximum has degenerate classes."""
    found = ", ".join(
        filter(
            None,
            [
                entry.get("interior_source", ""),
                f"smlcr {entry['interior_commit']}" if entry.get("interior_commit") else "",
            ],
        )
    )
    check = entry.get("interior_check", {})
    if check.get("skipped"):
        found += ("; " if found else "") + f"not re-checked: {check['skipped']}"
    elif check.get("source"):
        found += ("; " if found else "") + (
            f"re-checked by {check['source']} at smlcr {check.get('commit', '?')}: "
            f"{check.get('llf', np.nan):.4f}"
        )
    note = (
        f"- {design} (seed {design_seed}): the best known maximum, {best_any:.4f}, is "
        f"degenerate ({entry.get('degenerate', 'see the CSVs')}; {entry.get('source', '')}); "
        f"the best known interior maximum is {interior:.4f}" + (f" ({found})." if found else ".")
    )
    counts = []
    for label, part in parts.items():
        if not len(part):
            continue
        degenerate = ~part["interior"]
        above = degenerate & (part["llf"] > interior + 1e-6 * (1.0 + abs(interior)))
        counts.append(
            f"{label}: {int(degenerate.sum())}/{len(part)} fits degenerate "
            f"({int(above.sum())} of them above the interior maximum)"
        )
    return note + " " + "; ".join(counts) + "."


def main(argv=None) -> None:
    """Run the benchmark from the command line (see the module docstring).

    Parameters
    ----------
    argv : list of str, optional
        Arguments; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="default fits per design (20)")
    parser.add_argument(
        "--designs",
        default=",".join(hard_designs.DESIGNS),
        help="comma-separated design names (default: all)",
    )
    parser.add_argument(
        "--best-starts",
        type=int,
        default=1000,
        help="starts of the best-known fit (1000; 0: cached value only)",
    )
    parser.add_argument(
        "--best-starts-for",
        type=_parse_counts,
        default={},
        help="per-design override, e.g. k_above_truth=300,unequal_shares=500",
    )
    parser.add_argument(
        "--best-max-seconds",
        type=float,
        default=60.0,
        help="skip the best-known fit where the default fits project it above this (60)",
    )
    parser.add_argument(
        "--design-seed",
        type=int,
        default=None,
        help="seed of every design (default: hard_designs.default_seed, 0 or state_year 1)",
    )
    parser.add_argument(
        "--design-seed-for",
        type=_parse_counts,
        default={},
        help="per-design seed, e.g. state_year=3 (overrides --design-seed)",
    )
    parser.add_argument("--label", default="current", help="suffix of the output files")
    parser.add_argument("--quick", action="store_true", help="--seeds 3 --best-starts 50")
    parser.add_argument("--results-dir", default=RESULTS, help="output directory")
    parser.add_argument(
        "--compare",
        metavar="LABEL,LABEL",
        help="fit nothing; compare the CSVs of these labels into bench_starts_comparison.md",
    )
    args = parser.parse_args(argv)

    def log(message):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    if args.compare:
        labels = [t.strip() for t in args.compare.split(",") if t.strip()]
        if len(labels) < 2:
            parser.error("--compare needs two or more labels, e.g. baseline,new")
        text = compare(labels, args.results_dir)
        print(text)
        path = os.path.join(args.results_dir, "bench_starts_comparison.md")
        with open(path, "w") as fh:
            fh.write(text + "\n")
        log(f"wrote {path}")
        return

    if args.quick:
        args.seeds, args.best_starts = 3, 50
    names = [n.strip() for n in args.designs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(hard_designs.DESIGNS))
    if unknown:
        parser.error(f"unknown design(s) {unknown}; known: {list(hard_designs.DESIGNS)}")

    commit = smlcr_commit()
    cache_path = os.path.join(args.results_dir, "best_known.json")
    log(f"smlcr {commit} from {os.path.dirname(os.path.abspath(smlcr.__file__))}")
    t0 = time.perf_counter()
    summaries, rows, skipped = [], [], []
    for name in names:
        cache = load_cache(cache_path)  # re-read: another run may have improved it
        try:
            summary, design_rows = run_design(name, args, cache, commit, log)
        except hard_designs.DesignUnavailable as err:
            log(f"{name}: skipped: {err}")
            skipped.append(f"{name} ({err})")
            continue
        save_cache(cache_path, cache)
        summaries.append(summary)
        rows.extend(design_rows)
    if not summaries:
        parser.error("no design could be built")

    best_source = (
        f"fit(n_starts=B, n_full=B, rng={BEST_RNG}) with B = {args.best_starts}"
        + "".join(f", {k}: {v}" for k, v in args.best_starts_for.items())
        + f" where projected under {args.best_max_seconds:g} s, "
        if args.best_starts > 0
        else ""
    )
    header = (
        f"smlcr {commit}, label `{args.label}`: default `fit(rng=seed)` for seeds "
        f"0..{args.seeds - 1} on each design with the design seed in the table; best known = "
        f"max(cache, {best_source}the default fits), 'interior' over the fits with "
        "`boundary` None and no DegenerateClassWarning or VarianceFloorWarning, '(any)' over "
        "all fits; reached = an interior fit within 1e-6 (1 + |best|) of the best known "
        "interior llf; 'degenerate' counts the fits that are not interior; "
        f"{time.perf_counter() - t0:.0f} s in all."
        + (f" Skipped: {'; '.join(skipped)}." if skipped else "")
    )
    table = markdown_table(summaries)
    print(header + "\n\n" + table)
    os.makedirs(args.results_dir, exist_ok=True)
    stem = os.path.join(args.results_dir, f"bench_starts_{args.label}")
    columns = [
        "label",
        "design",
        "design_seed",
        "seed",
        "reached",
        "interior",
        "llf",
        "best_known",
        "best_known_any",
        "gap",
        "n_iter",
        "seconds",
        "n_reached_best",
        "n_starts",
        "n_completed_starts",
        "converged",
        "gradient_norm",
        "boundary",
        "n_newton",
        "warnings",
        "n_maxima",
        "local_maxima",
        "start_status",
        "degenerate",
        "failure",
        "message",
        "commit",
    ]
    pd.DataFrame(rows, columns=columns).to_csv(stem + ".csv", index=False, float_format="%.10g")
    with open(stem + ".md", "w") as fh:
        fh.write(header + "\n\n" + table + "\n")
    log(f"wrote {stem}.csv, {stem}.md and {cache_path}")


if __name__ == "__main__":
    main()
