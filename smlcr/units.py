"""The affine map between parameters in scaled units and in the data's units.

Estimation works on centred and scaled data (:func:`smlcr.compress.standardization`);
its parameters relate to the data's by ``theta = T theta_scaled + offset``, with
``T`` diagonal except for the intercept rows, which collect the centring of
the regressors. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlcr.params import Layout

__all__ = ["UnitMap", "unit_map"]


@dataclass(frozen=True)
class UnitMap:
    """``theta = matrix @ theta_scaled + offset`` and its consequences.

    Attributes
    ----------
    matrix : ndarray, shape (P, P)
    offset : ndarray, shape (P,)
    """

    matrix: np.ndarray
    offset: np.ndarray

    def to_original(self, theta_scaled: np.ndarray) -> np.ndarray:
        """Parameters in the data's units."""
        return self.matrix @ theta_scaled + self.offset

    def to_scaled(self, params: np.ndarray) -> np.ndarray:
        """Parameters in scaled units."""
        return np.linalg.solve(self.matrix, np.asarray(params, dtype=np.float64) - self.offset)

    def gradient_to_original(self, gradient: np.ndarray) -> np.ndarray:
        """Gradient(s) with respect to the data-unit parameters (rows of ``gradient``)."""
        return np.linalg.solve(self.matrix.T, np.asarray(gradient).T).T

    def hessian_to_original(self, hessian: np.ndarray) -> np.ndarray:
        """Hessian with respect to the data-unit parameters."""
        half = np.linalg.solve(self.matrix.T, hessian)
        return np.linalg.solve(self.matrix.T, half.T).T

    def covariance_to_original(self, cov: np.ndarray) -> np.ndarray:
        """Covariance of the data-unit parameters.

        Parameters without a variance (NaN rows: a singular direction) stay
        NaN, and so do the data-unit parameters that depend on them through
        the map; the others are not touched by the NaN.
        """
        unknown = np.isnan(np.diag(cov))
        if not unknown.any():
            return self.matrix @ cov @ self.matrix.T
        known = np.where(np.isnan(cov), 0.0, cov)
        out = self.matrix @ known @ self.matrix.T
        affected = np.any(self.matrix[:, unknown] != 0, axis=1)
        out[affected, :] = np.nan
        out[:, affected] = np.nan
        return out


def unit_map(layout: Layout, units: dict) -> UnitMap:
    """The map for a parameter layout and the units of :func:`standardization`.

    Parameters
    ----------
    layout : Layout
    units : dict
        ``x_shift``, ``x_scale`` (class-specific columns then common ones),
        ``y_shift``, ``y_scale``, ``constant``, ``constant_value``, and
        optionally the membership design's ``z_shift``, ``z_scale``,
        ``z_constant``, ``z_constant_value``
        (:func:`smlcr.compress.membership_standardization`).

    Returns
    -------
    UnitMap
    """
    p = layout.p
    blocks = layout.slices
    x_shift = np.asarray(units["x_shift"], dtype=np.float64)
    coef_scale = units["y_scale"] / np.asarray(units["x_scale"], dtype=np.float64)
    diagonal = np.ones(layout.n_params)  # membership coefficients: see _membership_block
    for beta in blocks["beta"]:
        diagonal[beta] = coef_scale[:p]
    diagonal[blocks["common"]] = coef_scale[p:]
    diagonal[blocks["sigma2"]] = units["y_scale"] ** 2
    matrix = np.diag(diagonal)
    offset = np.zeros(layout.n_params)
    j0 = units["constant"]
    if j0 is not None:
        value = units["constant_value"]
        others = np.array([j for j in range(p) if j != j0], dtype=int)
        for beta in blocks["beta"]:
            row = beta.start + j0
            # intercept = (y_shift - sum_j shift_j beta_j) / constant, beta_j in data units
            matrix[row, beta.start + others] = -x_shift[others] / value * coef_scale[others]
            matrix[row, blocks["common"]] = -x_shift[p:] / value * coef_scale[p:]
            offset[row] = units["y_shift"] / value
    if "z_scale" in units:
        _membership_block(matrix, layout, units)
    return UnitMap(matrix=matrix, offset=offset)


def _membership_block(matrix: np.ndarray, layout: Layout, units: dict) -> None:
    """The membership coefficients' rows of ``matrix`` (the design ``(Z - shift) / scale``).

    ``z' eta = z_s' eta_s`` for every ``z`` gives ``eta_j = eta_s,j / scale_j`` for
    the other columns and, for the constant column of value ``c``,
    ``eta_c = (eta_s,c - sum_j shift_j eta_s,j / scale_j) / c``.
    """
    q = layout.q
    z_shift = np.asarray(units["z_shift"], dtype=np.float64)
    z_scale = np.asarray(units["z_scale"], dtype=np.float64)
    j0 = units.get("z_constant")
    for block in layout.membership_slices:
        rows = np.arange(block.start, block.stop)
        matrix[rows, rows] = 1.0 / z_scale
        if j0 is not None:
            value = units["z_constant_value"]
            matrix[rows[j0], rows[j0]] = 1.0 / value
            for j in range(q):
                if j != j0:
                    matrix[rows[j0], rows[j]] = -z_shift[j] / z_scale[j] / value
