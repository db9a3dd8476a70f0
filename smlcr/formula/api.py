"""smf-style lower-case model constructors.

Examples
--------
>>> import smlcr.formula.api as lcf
>>> model = lcf.latentclassols("y ~ x1 + x2", data, groups="id", k_classes=3)
"""

from smlcr.model import LatentClassOLS

__all__ = ["latentclassols"]

latentclassols = LatentClassOLS.from_formula
