"""smlcr: latent-class (finite mixture) linear regression for statsmodels."""

from smlcr.model import LatentClassOLS
from smlcr.results import LatentClassOLSResults
from smlcr.selection import bootstrap_lrt, compare_classes
from smlcr.tables import summary_table

__all__ = [
    "LatentClassOLS",
    "LatentClassOLSResults",
    "__version__",
    "bootstrap_lrt",
    "compare_classes",
    "summary_table",
]

__version__ = "0.1.0"
