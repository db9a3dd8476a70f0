"""Formula interface of smlcr."""
