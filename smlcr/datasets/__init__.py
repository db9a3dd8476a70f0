"""Simulated data sets with known truth."""

from smlcr.datasets.simulated import SimulatedData, simulate_grouped
from smlcr.datasets.streams import StreamsData, streams

__all__ = ["SimulatedData", "StreamsData", "simulate_grouped", "streams"]
