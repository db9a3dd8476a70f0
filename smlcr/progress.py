"""Progress of long work, and parallel map over processes with the same results as serial.

:func:`progress_bar` shows a tqdm bar when tqdm is installed and one line per
step on standard error otherwise. :func:`parallel_map` runs independent tasks
(fits for several K, bootstrap replicates) in worker processes
(:mod:`concurrent.futures`, no dependency) or serially; each task carries its
own seed, so the results do not depend on ``n_jobs``. An interrupt (Ctrl-C)
returns the tasks finished so far instead of losing them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

__all__ = ["parallel_map", "progress_bar", "resolve_jobs"]


class _Lines:
    """A plain progress display: one line per step on standard error."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.start = time.perf_counter()

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        elapsed = time.perf_counter() - self.start
        extra = f": {note}" if note else ""
        print(
            f"{self.desc} {self.done}/{self.total} ({elapsed:.1f} s){extra}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        pass


class _Tqdm:
    """tqdm's bar with the same interface as :class:`_Lines`."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc)

    def update(self, n: int = 1, note: str = "") -> None:
        if note:
            self.bar.set_postfix_str(note)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class _Silent:
    def update(self, n: int = 1, note: str = "") -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool):
    """A progress display with ``update(n=1, note="")`` and ``close()``.

    Parameters
    ----------
    total : int
        Steps expected.
    desc : str
        What is being done.
    enabled : bool
        False gives a display that shows nothing.

    Returns
    -------
    object
        tqdm's bar when tqdm is installed, else a plain one-line-per-step
        display on standard error.
    """
    if not enabled:
        return _Silent()
    try:
        return _Tqdm(total, desc)
    except ImportError:
        return _Lines(total, desc)


def resolve_jobs(n_jobs: int | None) -> int:
    """Worker processes for ``n_jobs``: 1 for None, all cores for -1, as given otherwise.

    Parameters
    ----------
    n_jobs : int or None

    Returns
    -------
    int
    """
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"`n_jobs` must be a positive number of processes or -1 (all cores), got {n_jobs!r}."
        )
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _no_label(task) -> str:
    return ""


def parallel_map(
    func: Callable, tasks: Sequence, n_jobs: int = 1, progress=None, label=_no_label
) -> tuple[list, bool]:
    """``func(task)`` for every task, in processes or serially, stopping cleanly on Ctrl-C.

    Parameters
    ----------
    func : callable
        A module-level function (it is sent to worker processes).
    tasks : sequence
        Its arguments, one per task (each carries everything it needs,
        including its seed).
    n_jobs : int
        Worker processes; 1 runs in this process.
    progress : object, optional
        A :func:`progress_bar` display, updated as each task finishes.
    label : callable
        A note for the display from a task (default none).

    Returns
    -------
    results : list
        ``func(task)`` in the order of ``tasks``, None for a task that did
        not finish.
    interrupted : bool
        Whether a ``KeyboardInterrupt`` stopped the work.
    """
    results: list = [None] * len(tasks)
    progress = progress or _Silent()
    if n_jobs == 1:
        try:
            for j, task in enumerate(tasks):
                results[j] = func(task)
                progress.update(1, label(task))
        except KeyboardInterrupt:
            return results, True
        return results, False
    executor = ProcessPoolExecutor(max_workers=n_jobs)
    futures = {executor.submit(func, task): j for j, task in enumerate(tasks)}
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                j = futures[future]
                results[j] = future.result()
                progress.update(1, label(tasks[j]))
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
        return results, True
    executor.shutdown()
    return results, False
