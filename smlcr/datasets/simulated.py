"""A grouped panel simulated from a latent-class regression with known truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlcr.design import check_count

__all__ = ["SimulatedData", "informative_sample", "simulate_grouped"]


@dataclass(frozen=True)
class SimulatedData:
    """A simulated data set and the truth it was drawn from.

    Attributes
    ----------
    data : pandas.DataFrame
        Columns ``y``, the regressors, ``id`` (the individual) and
        ``true_class`` (1..K).
    formula : str
        Formula of the data-generating model.
    beta : pandas.DataFrame
        True coefficients, terms x classes.
    sigma2 : pandas.Series
        True class variances.
    shares : pandas.Series
        True class probabilities.
    true_class : pandas.Series
        True class of each individual, indexed by ``id``.
    """

    data: pd.DataFrame
    formula: str
    beta: pd.DataFrame
    sigma2: pd.Series
    shares: pd.Series
    true_class: pd.Series

    def true_params(self) -> pd.Series:
        """True parameters named as in ``LatentClassOLS`` (classes in the given order).

        Returns
        -------
        pandas.Series
        """
        k = self.beta.shape[1]
        values, names = [], []
        for s in range(1, k + 1):
            for term in self.beta.index:
                names.append(f"{term}[{s}]")
                values.append(self.beta.loc[term, s])
        for s in range(1, k + 1):
            names.append(f"sigma2[{s}]")
            values.append(self.sigma2[s])
        for s in range(2, k + 1):
            names.append(f"membership:Intercept[{s}]")
            values.append(np.log(self.shares[s] / self.shares[1]))
        return pd.Series(values, index=names)


def simulate_grouped(
    n_groups: int = 400,
    rows_per_group: int | tuple[int, int] = 8,
    beta=((1.0, 2.0, -1.0), (-1.0, 0.5, 1.0), (3.0, -1.0, 0.0)),
    sigma2=(1.0, 0.5, 2.0),
    shares=(0.5, 0.3, 0.2),
    seed: int = 0,
) -> SimulatedData:
    """Simulate individuals in latent classes with class-specific regressions.

    Each individual draws a class with probabilities ``shares`` and keeps it
    for all of its rows; ``y = beta_s[0] + beta_s[1] x1 + beta_s[2] x2 + e``,
    ``e ~ N(0, sigma2_s)``, with ``x1, x2`` standard normal. Deterministic for
    a given ``seed``.

    Parameters
    ----------
    n_groups : int
        Number of individuals.
    rows_per_group : int or (int, int)
        Rows per individual, or the inclusive range they are drawn from
        (unbalanced panel).
    beta : sequence of sequences
        One coefficient triple (intercept, x1, x2) per class.
    sigma2 : sequence of float
        Class variances.
    shares : sequence of float
        Class probabilities (sum to 1).
    seed : int
        Seed of the generator.

    Returns
    -------
    SimulatedData
    """
    n_groups = check_count(n_groups, "n_groups")
    beta = _numbers(beta, "beta")
    if beta.ndim != 2 or beta.shape[1] != 3:
        raise ValueError(
            f"`beta` must hold one (intercept, x1, x2) triple per class, got shape {beta.shape}."
        )
    k = beta.shape[0]
    sigma2 = _per_class(sigma2, k, "sigma2")
    shares = _per_class(shares, k, "shares")
    if np.any(sigma2 <= 0):
        raise ValueError(f"`sigma2` must be positive, got {sigma2.tolist()}.")
    if np.any(shares < 0) or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"`shares` must be probabilities that sum to 1, got {shares.tolist()}.")
    if isinstance(rows_per_group, tuple):
        if len(rows_per_group) != 2:
            raise ValueError(
                "`rows_per_group` is a number of rows or a (fewest, most) pair, got "
                f"{rows_per_group!r}."
            )
        low, high = (check_count(r, "rows_per_group") for r in rows_per_group)
        if low > high:
            raise ValueError(f"`rows_per_group` {rows_per_group!r} has fewest above most.")
    else:
        low = high = check_count(rows_per_group, "rows_per_group")
    rng = np.random.default_rng(check_count(seed, "seed", minimum=0))
    if isinstance(rows_per_group, tuple):
        counts = rng.integers(low, high + 1, size=n_groups)
    else:
        counts = np.full(n_groups, low)
    true_class = rng.choice(k, size=n_groups, p=shares)
    ids = np.repeat(np.arange(n_groups), counts)
    n = ids.size
    x = rng.standard_normal((n, 2))
    design = np.column_stack([np.ones(n), x])
    cls = true_class[ids]
    y = np.einsum("np,np->n", design, beta[cls]) + rng.standard_normal(n) * np.sqrt(sigma2[cls])
    data = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1], "id": ids, "true_class": cls + 1})
    classes = pd.Index(np.arange(1, k + 1), name="class")
    return SimulatedData(
        data=data,
        formula="y ~ x1 + x2",
        beta=pd.DataFrame(beta.T, index=["Intercept", "x1", "x2"], columns=classes),
        sigma2=pd.Series(sigma2, index=classes, name="sigma2"),
        shares=pd.Series(shares, index=classes, name="share"),
        true_class=pd.Series(
            true_class + 1, index=pd.Index(np.arange(n_groups), name="id"), name="true_class"
        ),
    )


#: The spawn key of :func:`informative_sample`'s random stream.
INCLUSION_STREAM = 1


def _numbers(values, name: str) -> np.ndarray:
    """Finite numbers as float64, or an error naming ``name`` (strings, booleans, NaN and
    infinity had been read as numbers, or had given NaN responses)."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"`{name}` must be numbers, got {values!r}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite numbers, got {array.tolist()}.")
    return array


def _per_class(values, k: int, name: str) -> np.ndarray:
    """One number per class, or an error naming ``name``."""
    values = _numbers(values, name)
    if values.shape != (k,):
        raise ValueError(f"`{name}` must have one value per class ({k}), got {values.tolist()}.")
    return values


def informative_sample(population: SimulatedData, inclusion=None, seed: int = 0) -> pd.DataFrame:
    """An unequal-probability sample of the individuals of ``population``, with weights.

    Individual ``i`` of true class ``s`` is included with probability
    ``inclusion[s - 1]`` (all of its rows), independently: the sample's class
    shares differ from the population's, so unweighted estimates of the shares
    are biased, and the sampling weights ``1 / inclusion`` correct them.

    Parameters
    ----------
    population : SimulatedData
        A population drawn by :func:`simulate_grouped`.
    inclusion : sequence of float, optional
        Inclusion probability of an individual of each true class, in (0, 1].
        Default: evenly spaced from 0.2 to 0.8 ((0.2, 0.8) for two classes).
    seed : int
        Seed of the inclusion draws: a stream of its own (a spawned
        ``SeedSequence``), independent of the population's draws whatever
        their seed.

    Returns
    -------
    pandas.DataFrame
        The included rows of ``population.data`` with a column ``weight``
        (constant within individuals).
    """
    # a stream of its own: the population drawn with the same seed used the plain one, and
    # the inclusion draws must be independent of its class draws
    if not isinstance(population, SimulatedData):
        raise TypeError(
            "`population` must be what simulate_grouped returns (a SimulatedData, which knows "
            f"each individual's true class), got {type(population).__name__}."
        )
    seed = check_count(seed, "seed", minimum=0)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(INCLUSION_STREAM,)))
    k = len(population.shares)
    inclusion = np.linspace(0.2, 0.8, k) if inclusion is None else inclusion
    inclusion = _per_class(inclusion, k, "inclusion")
    if np.any(inclusion <= 0) or np.any(inclusion > 1):
        raise ValueError(
            f"`inclusion` must be probabilities in (0, 1], one per class, got {inclusion.tolist()}."
        )
    classes = population.true_class.to_numpy() - 1
    included = rng.random(classes.size) < inclusion[classes]
    chosen = population.true_class.index[included]
    sample = population.data[population.data["id"].isin(chosen)].copy()
    sample["weight"] = 1.0 / inclusion[sample["true_class"].to_numpy() - 1]
    return sample
