"""smlcr: latent-class (finite mixture) linear regression for statsmodels."""

from smlcr.model import LatentClassOLS
from smlcr.results import LatentClassOLSResults

__all__ = ["LatentClassOLS", "LatentClassOLSResults", "__version__"]

__version__ = "0.1.0"
