"""Long work: progress, parallel fits with the same results as serial, and interrupts
that keep what finished."""

import warnings

import numpy as np
import pytest

import smlcr
import smlcr.progress
from smlcr.datasets import simulate_grouped
from smlcr.exceptions import InterruptedWarning


@pytest.fixture(scope="module")
def sim():
    return simulate_grouped(n_groups=120, rows_per_group=4, seed=6)


def _compare(sim, **kwds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smlcr.compare_classes(
            sim.formula,
            sim.data,
            groups="id",
            k_range=[1, 2, 3],
            rng=4,
            fit_kwds={"n_starts": 4},
            **kwds,
        )


def test_parallel_compare_classes_equals_serial(sim):
    serial = _compare(sim)
    parallel = _compare(sim, n_jobs=2)
    assert serial.equals(parallel), (serial, parallel)


def test_a_rows_fit_does_not_depend_on_the_other_k_in_k_range(sim):
    """Seeds had been spawned by position in k_range, so K = 2's row changed with K = 1's
    presence (found by the Dask/persistence audit); every K now has the stream keyed by K."""
    full = _compare(sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        part = smlcr.compare_classes(
            sim.formula, sim.data, groups="id", k_range=[3, 2], rng=4, fit_kwds={"n_starts": 4}
        )
    columns = ["llf", "bic", "n_reached_best", "n_starts", "converged"]
    assert part.loc[[2, 3], columns].equals(full.loc[[2, 3], columns])


def test_an_interrupt_returns_the_finished_rows(sim, monkeypatch):
    real_fit = smlcr.LatentClassOLS.fit

    def fit(self, *args, **kwargs):
        if self.k_classes == 3:
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(smlcr.LatentClassOLS, "fit", fit)
    with pytest.warns(InterruptedWarning, match="interrupted"):
        table = smlcr.compare_classes(
            sim.formula,
            sim.data,
            groups="id",
            k_range=[1, 2, 3],
            rng=4,
            fit_kwds={"n_starts": 4},
            n_boot=3,
        )
    assert list(table.index) == [1, 2]
    assert "lr" not in table.columns  # no bootstrap after an interrupt
    np.testing.assert_allclose(table["llf"], _compare(sim).loc[[1, 2], "llf"])


@pytest.mark.parametrize("tqdm_installed", [True, False])
def test_progress_is_shown(sim, capsys, monkeypatch, tqdm_installed):
    if not tqdm_installed:

        def missing(total, desc):
            raise ImportError("no tqdm")

        monkeypatch.setattr(smlcr.progress, "_Tqdm", missing)
    _compare(sim, progress=True)
    err = capsys.readouterr().err
    assert "compare_classes" in err
    if not tqdm_installed:  # one line per K with its count
        assert "compare_classes 3/3" in err and "K = 3" in err


def test_bootstrap_in_parallel_equals_serial_and_keeps_replicates_on_interrupt(sim, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id")
        one = model.with_k_classes(1).fit()
        two = model.fit(rng=0, n_starts=4)
    kwds = {"n_starts": 2}
    serial = smlcr.bootstrap_lrt(one, two, n_boot=4, rng=1, fit_kwds=kwds)
    parallel = smlcr.bootstrap_lrt(one, two, n_boot=4, rng=1, fit_kwds=kwds, n_jobs=2)
    np.testing.assert_array_equal(serial["lr_boot"], parallel["lr_boot"])
    assert serial["pvalue"] == parallel["pvalue"]
    calls = {"n": 0}
    real = smlcr.selection._replicate_lrs

    def flaky(task):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(smlcr.selection, "_replicate_lrs", flaky)
    with pytest.warns(InterruptedWarning, match="after 2 of 4"):
        partial = smlcr.bootstrap_lrt(one, two, n_boot=4, rng=1, fit_kwds=kwds)
    assert partial["n_boot"] == 2
    np.testing.assert_array_equal(partial["lr_boot"], serial["lr_boot"][:2])


def test_bad_n_jobs_is_named(sim):
    with pytest.raises(ValueError, match="n_jobs"):
        _compare(sim, n_jobs=0)


def test_fit_shows_its_starts(sim, capsys, monkeypatch):
    def missing(total, desc):
        raise ImportError("no tqdm")

    monkeypatch.setattr(smlcr.progress, "_Tqdm", missing)
    model = smlcr.LatentClassOLS.from_formula(sim.formula, sim.data, groups="id", k_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(rng=0, n_starts=6, progress=True)
    err = capsys.readouterr().err
    assert "fit K=2: starts" in err and f"{len(res.start_llfs)}/6" in err


def test_a_rows_bootstrap_does_not_depend_on_the_other_k_in_k_range(sim, monkeypatch):
    # one bootstrap stream had been shared by the pairs in turn, so K = 2's replicates (and
    # p-value) changed with K = 1's presence (found by the audit of compare_classes): the
    # first seed each K's bootstrap draws is recorded
    import copy

    import smlcr.selection

    drawn = {}
    real = smlcr.selection.bootstrap_lrt

    def recording(res_k, res_k1, n_boot, rng, *args):
        drawn[res_k.k_classes] = int(copy.deepcopy(rng).integers(2**63))
        return real(res_k, res_k1, n_boot, rng, *args)

    monkeypatch.setattr(smlcr.selection, "bootstrap_lrt", recording)

    def first_draws(k_range):
        drawn.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            smlcr.compare_classes(
                sim.formula,
                sim.data,
                groups="id",
                k_range=k_range,
                rng=0,
                n_boot=1,
                fit_kwds={"n_starts": 3},
                boot_fit_kwds={"n_starts": 2},
            )
        return dict(drawn)

    full, part = first_draws([1, 2, 3]), first_draws([2, 3])
    assert set(full) == {1, 2} and part[2] == full[2]
