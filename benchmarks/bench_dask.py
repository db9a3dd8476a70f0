"""Data larger than memory: a Parquet data set compressed with Dask and fitted.

Writes (once) a Parquet data set of ``n_rows`` rows (default 100 million) in files of
one million rows: 100,000 individuals (1,000 rows each), 10 standard-normal regressors
and a response from a 4-class regression. Then, each step in its own process (so that
its peak memory is its own, read from ``ru_maxrss``):

1. ``read``: Dask reads the columns once (``ddf.sum().compute()``; the fastest of three);
2. ``compress``: ``LatentClassOLS.from_formula(..., ddf, groups="id", k_classes=4)``;
3. ``fit``: the compressed model fitted with standard errors (K = 4);
4. the same three on the first ``memory_rows`` rows, and the in-memory path
   (pandas) on them: reading the Parquet into pandas, building the model.

Prints a markdown table. Dask's threaded scheduler, 2 threads (the machine's cores).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_dask.py [n_rows] [memory_rows] [dir]``
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROWS_PER_FILE = 1_000_000
ROWS_PER_INDIVIDUAL = 1_000
P = 10
FORMULA = "y ~ " + " + ".join(f"x{j}" for j in range(1, P + 1))


def write(directory: Path, n_rows: int) -> None:
    """The Parquet files, one million rows each (skipped when already there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    beta = rng.normal(0.0, 1.0, (4, P + 1))
    shares = np.array([0.4, 0.3, 0.2, 0.1])
    per_file = ROWS_PER_FILE // ROWS_PER_INDIVIDUAL
    for f in range(n_rows // ROWS_PER_FILE):
        path = directory / f"part-{f:05d}.parquet"
        if path.exists():
            continue
        chunk = np.random.default_rng(f + 1)
        ids = np.repeat(np.arange(f * per_file, (f + 1) * per_file), ROWS_PER_INDIVIDUAL)
        classes = chunk.choice(4, per_file, p=shares)[ids - f * per_file]
        x = chunk.standard_normal((ROWS_PER_FILE, P))
        y = beta[classes, 0] + np.einsum("np,np->n", x, beta[classes, 1:])
        y += chunk.standard_normal(ROWS_PER_FILE)
        columns = {"id": ids, "y": y, **{f"x{j + 1}": x[:, j] for j in range(P)}}
        pq.write_table(pa.table(columns), path, row_group_size=ROWS_PER_FILE)


def _files(directory: Path, n_rows: int) -> list:
    return sorted(str(p) for p in directory.glob("part-*.parquet"))[: n_rows // ROWS_PER_FILE]


def step(name: str, directory: Path, n_rows: int) -> dict:
    """One timed step, in this process."""
    import dask
    import dask.dataframe as dd

    import smlcr

    dask.config.set(scheduler="threads", num_workers=2)
    files = _files(directory, n_rows)
    columns = ["id", "y"] + [f"x{j}" for j in range(1, P + 1)]
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    out = {}
    if name == "read":
        dd.read_parquet(files, columns=columns).sum().compute()
    elif name in ("compress", "fit"):
        model = smlcr.LatentClassOLS.from_formula(
            FORMULA, dd.read_parquet(files, columns=columns), groups="id", k_classes=4
        )
        if name == "fit":
            start = time.perf_counter()
            res = model.fit(rng=0)
            out["llf"] = float(res.llf)
            out["finite_bse"] = bool(np.isfinite(res.bse).all())
    elif name == "pandas":
        import pandas as pd

        frame = pd.concat([pd.read_parquet(f, columns=columns) for f in files])
        read = time.perf_counter() - start
        start = time.perf_counter()
        model = smlcr.LatentClassOLS.from_formula(FORMULA, frame, groups="id", k_classes=4)
        out["read_seconds"] = read
        out["llf"] = float(model.fit(rng=0).llf)
    out["seconds"] = time.perf_counter() - start
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def _run(name: str, directory: Path, n_rows: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--step", name, str(directory), str(n_rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000_000
    memory_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    directory = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("/tmp/smlcr_bench_parquet")
    start = time.perf_counter()
    write(directory, n_rows)
    print(
        f"data: {n_rows:,} rows, {n_rows // ROWS_PER_INDIVIDUAL:,} individuals, p = {P} "
        f"(written in {time.perf_counter() - start:.0f} s, or found)\n"
    )
    print("| rows | step | seconds | peak memory (GiB) | ratio |")
    print("| ---: | ---- | ------: | ----------------: | ----: |")
    for rows in (n_rows, memory_rows):
        # reading varies by a third from run to run (the files come from the page cache or
        # the disk): the fastest of three, so the ratio is not flattered
        read = min((_run("read", directory, rows) for _ in range(3)), key=lambda r: r["seconds"])
        compress = _run("compress", directory, rows)
        fit = _run("fit", directory, rows)
        ratio = compress["seconds"] / read["seconds"]
        print(
            f"| {rows:,} | Dask: read the columns once | {read['seconds']:.1f} | "
            f"{read['peak_gib']:.2f} | 1.00 |"
        )
        print(
            f"| {rows:,} | Dask: compress (build the model) | {compress['seconds']:.1f} | "
            f"{compress['peak_gib']:.2f} | {ratio:.2f} x read |"
        )
        print(
            f"| {rows:,} | fit K = 4 with standard errors | {fit['seconds']:.1f} | "
            f"{fit['peak_gib']:.2f} | |"
        )
        if rows == memory_rows:
            memory = _run("pandas", directory, rows)
            print(f"| {rows:,} | pandas: read the Parquet | {memory['read_seconds']:.1f} | | |")
            print(
                f"| {rows:,} | pandas: build the model, fit K = 4 | {memory['seconds']:.1f} | "
                f"{memory['peak_gib']:.2f} | |"
            )
            print(
                f"\nSame log-likelihood at {rows:,} rows: Dask {fit['llf']:.6f}, "
                f"pandas {memory['llf']:.6f}."
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        print(json.dumps(step(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
