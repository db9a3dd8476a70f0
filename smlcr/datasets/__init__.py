"""Simulated data sets with known truth."""

from smlcr.datasets.simulated import SimulatedData, simulate_grouped

__all__ = ["SimulatedData", "simulate_grouped"]
