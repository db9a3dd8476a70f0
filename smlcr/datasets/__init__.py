"""Simulated data sets with known truth."""

from smlcr.datasets.simulated import SimulatedData, informative_sample, simulate_grouped
from smlcr.datasets.streams import StreamsData, streams

__all__ = ["SimulatedData", "StreamsData", "informative_sample", "simulate_grouped", "streams"]
