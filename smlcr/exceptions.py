"""Warnings smlcr emits, and how it emits them."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = [
    "SmlcrWarning",
    "SingleBestStartWarning",
    "LocalMaximumWarning",
    "VarianceFloorWarning",
    "VarianceFloorLoweredWarning",
    "SingularInformationWarning",
    "AbsorbedRegressorWarning",
    "AbsorbedIndividualWarning",
    "MissingRowsWarning",
    "DegenerateClassWarning",
    "ZeroWeightWarning",
    "FewClustersWarning",
    "InterruptedWarning",
    "RowLabelsWarning",
    "warn",
]


class SmlcrWarning(UserWarning):
    """Base class of every warning smlcr emits."""


class SingleBestStartWarning(SmlcrWarning):
    """The search cannot confirm its best maximum: too few completed starts reached it,
    there was one start, or the search sample is too small."""


class LocalMaximumWarning(SmlcrWarning):
    """A start stopped early was above the reported maximum: a higher one may exist."""


class VarianceFloorWarning(SmlcrWarning):
    """A class variance was held at the variance floor (a degenerate class)."""


class VarianceFloorLoweredWarning(SmlcrWarning):
    """The default variance floor was lowered: a class is tighter than it
    (``results.floor_search``)."""


class SingularInformationWarning(SmlcrWarning):
    """The observed information matrix is singular or nearly so."""


class AbsorbedRegressorWarning(SmlcrWarning):
    """Regressors constant within every absorbed cell were dropped (not identified)."""


class AbsorbedIndividualWarning(SmlcrWarning):
    """Individuals left with no degrees of freedom by the within transformation were dropped."""


class MissingRowsWarning(SmlcrWarning):
    """Rows with missing values were dropped (``missing="drop"``)."""


class DegenerateClassWarning(SmlcrWarning):
    """A class has a share below ``min_share`` or a variance at the floor."""


class ZeroWeightWarning(SmlcrWarning):
    """Individuals or rows with a weight of zero were dropped."""


class FewClustersWarning(SmlcrWarning):
    """Too few clusters for a clustered covariance of full rank."""


class RowLabelsWarning(SmlcrWarning):
    """Without ``groups``, the data's row labels repeat (or are missing), so the rows (each
    its own individual) are labelled by position instead."""


def _internal_prefixes() -> tuple[str, ...]:
    import statsmodels

    return (str(Path(__file__).parent), str(Path(statsmodels.__file__).parent))


def warn(message: str, category: type[Warning]) -> None:
    """Warn, pointing at the first caller outside smlcr and statsmodels.

    Parameters
    ----------
    message : str
    category : type of Warning

    Returns
    -------
    None
    """
    prefixes = _internal_prefixes()
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(prefixes):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class InterruptedWarning(SmlcrWarning):
    """Long work (``compare_classes``, the bootstrap) was interrupted; what finished is kept."""
