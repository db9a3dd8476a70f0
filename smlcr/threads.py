"""BLAS threads for small dense work: one thread, the policy chosen by measurement.

On this package's machines (2 shared cores) a multi-threaded BLAS call on a small
matrix waits for a core that another process or thread is using: with the other
core busy, an ``eigh`` of a 167 x 167 Hessian took 7 ms in median against 3 ms with
one thread, a 26 x 26 one up to 16 ms against 0.3 ms, and a solve up to 76 ms
against 1.7 ms; with the other core idle, one thread changed the time of a whole fit
by less than the runs' noise (``benchmarks/bench_threads.py``, results in
``benchmarks/results/bench_threads.md``).
Large products over the individuals gain from the threads, so only the small
dense work (the Newton and trust-region steps, the information's inverse, the
M-step's small solves, the E-step's products over one block of individuals: 0.15 s
against 0.10-0.13 s an iteration at a million individuals with two threads) runs
with ``SMLCR_SMALL_DENSE_THREADS`` threads (default 1; ``"default"`` leaves BLAS as
it is), through threadpoolctl.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable

__all__ = ["SMALL_DENSE_ENV", "single_threaded", "small_dense"]

#: Environment variable: BLAS threads for small dense work ("default": no limit).
SMALL_DENSE_ENV = "SMLCR_SMALL_DENSE_THREADS"

_CONTROLLER = []  # the threadpoolctl controller, made on first use


def small_dense() -> contextlib.AbstractContextManager:
    """A context in which BLAS uses ``SMLCR_SMALL_DENSE_THREADS`` threads (default 1).

    Returns
    -------
    contextlib.AbstractContextManager
        threadpoolctl's limit (about 10 microseconds to enter), or a null
        context with ``SMLCR_SMALL_DENSE_THREADS=default`` or when BLAS already
        uses no more threads.

    Raises
    ------
    ValueError
        When the variable is neither ``default`` nor a positive integer.
    """
    setting = os.environ.get(SMALL_DENSE_ENV, "1").strip()
    if setting == "default":
        return contextlib.nullcontext()
    if not setting.isdigit() or int(setting) < 1:
        raise ValueError(
            f"{SMALL_DENSE_ENV}={setting!r}: use a positive number of threads or 'default'."
        )
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController().select(user_api="blas"))
    blas, limit = _CONTROLLER[0], int(setting)
    if all(lib.num_threads <= limit for lib in blas.lib_controllers):
        return contextlib.nullcontext()  # already within the limit (about 1 microsecond)
    return blas.limit(limits=limit)


def single_threaded(func: Callable) -> Callable:
    """Run ``func`` inside :func:`small_dense`.

    Parameters
    ----------
    func : callable

    Returns
    -------
    callable
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with small_dense():
            return func(*args, **kwargs)

    return wrapper
