"""Warnings and errors raised by smlcr (plain Python, no dependencies)."""

from __future__ import annotations

__all__ = [
    "SmlcrWarning",
    "SingleBestStartWarning",
    "VarianceFloorWarning",
    "SingularInformationWarning",
    "AbsorbedRegressorWarning",
    "AbsorbedIndividualWarning",
]


class SmlcrWarning(UserWarning):
    """Base class of every warning smlcr emits."""


class SingleBestStartWarning(SmlcrWarning):
    """Only one start reached the best log-likelihood, so it is not confirmed."""


class VarianceFloorWarning(SmlcrWarning):
    """A class variance was held at the variance floor (a degenerate class)."""


class SingularInformationWarning(SmlcrWarning):
    """The observed information matrix is singular or nearly so."""


class AbsorbedRegressorWarning(SmlcrWarning):
    """Regressors constant within every absorbed cell were dropped (not identified)."""


class AbsorbedIndividualWarning(SmlcrWarning):
    """Individuals left with no degrees of freedom by the within transformation were dropped."""
