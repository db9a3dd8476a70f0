"""The parameter vector: its order, names, blocks and restrictions, in one place.

``ClassParams`` is the form EM works with (one coefficient vector, variance
and membership column per class, scaled units); ``Layout`` is the one owner of
the estimated parameter vector built from it: the order of the blocks, the
names, the slice of each block, the description of each entry, and the
restriction that maps the estimated vector (shared coefficients, one common
variance) to the class-specific one. Everything else (the model's names, the
results' blocks and tables, the unit map, the derivatives) asks it. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClassParams", "Layout"]


@dataclass(frozen=True)
class ClassParams:
    """Parameters of the mixture in scaled units.

    Attributes
    ----------
    beta : ndarray, shape (K, p)
    sigma2 : ndarray, shape (K,)
    eta : ndarray, shape (q, K), column 0 zero
    """

    beta: np.ndarray
    sigma2: np.ndarray
    eta: np.ndarray

    @property
    def k_classes(self) -> int:
        """Number of classes K."""
        return self.beta.shape[0]

    def flat(self) -> np.ndarray:
        """Parameter vector ``[beta_1..beta_K, sigma2_1..sigma2_K, eta_2..eta_K]``."""
        return np.concatenate([self.beta.ravel(), self.sigma2, self.eta[:, 1:].T.ravel()])

    def relabel(self, order: np.ndarray) -> ClassParams:
        """The same mixture with class ``order[s]`` as class ``s``.

        The membership coefficients are re-expressed against the new first
        class (``eta[:, order] - eta[:, order[0]]``), which leaves every
        class probability unchanged.

        Parameters
        ----------
        order : ndarray of int, shape (K,)

        Returns
        -------
        ClassParams
        """
        eta = self.eta[:, order] - self.eta[:, [order[0]]]
        return ClassParams(beta=self.beta[order], sigma2=self.sigma2[order], eta=eta)

    @classmethod
    def from_flat(cls, theta: np.ndarray, k: int, p: int, q: int) -> ClassParams:
        """Inverse of :meth:`flat`."""
        theta = np.asarray(theta, dtype=np.float64)
        beta = theta[: k * p].reshape(k, p)
        sigma2 = theta[k * p : k * p + k]
        eta = np.zeros((q, k))
        eta[:, 1:] = theta[k * p + k :].reshape(k - 1, q).T
        return cls(beta=beta.copy(), sigma2=sigma2.copy(), eta=eta)


@dataclass(frozen=True)
class Layout:
    """Order of the estimated parameter vector.

    ``[beta_1..beta_K (p each), delta (m, shared), sigma2 (K values, or 1 when
    common), eta_2..eta_K (q each)]``. The class-specific (unrestricted) layout
    is :meth:`ClassParams.flat` with coefficient vectors ``[beta_s, delta_s]``
    of length ``p + m``; :meth:`restriction` maps this layout into it.
    """

    k: int
    p: int
    q: int
    common_variance: bool = False
    m: int = 0

    @property
    def n_variances(self) -> int:
        """Number of variance parameters (1 or K)."""
        return 1 if self.common_variance else self.k

    @property
    def n_params(self) -> int:
        """Length of the parameter vector."""
        return self.k * self.p + self.m + self.n_variances + self.q * (self.k - 1)

    def flat(self, params: ClassParams) -> np.ndarray:
        """Parameter vector of ``params`` in this layout."""
        beta = params.beta[:, : self.p].ravel()
        common = params.beta[0, self.p :]
        sigma2 = params.sigma2[:1] if self.common_variance else params.sigma2
        return np.concatenate([beta, common, sigma2, params.eta[:, 1:].T.ravel()])

    def unflat(self, theta: np.ndarray) -> ClassParams:
        """:class:`ClassParams` from a vector in this layout."""
        full = self.restriction() @ np.asarray(theta, dtype=np.float64)
        return ClassParams.from_flat(full, self.k, self.p + self.m, self.q)

    @property
    def slices(self) -> dict:
        """Positions of the blocks: ``beta`` (one slice per class), ``common``,
        ``sigma2`` and ``eta`` (the membership coefficients of classes 2..K).

        Returns
        -------
        dict
        """
        k, p, m = self.k, self.p, self.m
        common = slice(k * p, k * p + m)
        sigma2 = slice(common.stop, common.stop + self.n_variances)
        return {
            "beta": [slice(s * p, (s + 1) * p) for s in range(k)],
            "common": common,
            "sigma2": sigma2,
            "eta": slice(sigma2.stop, self.n_params),
        }

    @property
    def membership_slices(self) -> list[slice]:
        """Positions of the membership coefficients of classes 2..K, one slice each.

        Returns
        -------
        list of slice
        """
        start = self.slices["eta"].start
        return [slice(start + r * self.q, start + (r + 1) * self.q) for r in range(self.k - 1)]

    def describe(self, class_names, common_names, membership_names) -> list[tuple]:
        """``(name, block, class, term)`` of every entry, in order.

        Names are ``"{term}[k]"`` for class-specific coefficients, the term for
        a common one, ``"sigma2[k]"`` (or ``"sigma2"``), and
        ``"membership:{term}[k]"`` for the log-odds of class k against class 1;
        ``class`` is 0 for an entry shared by all classes.

        Parameters
        ----------
        class_names, common_names, membership_names : list of str

        Returns
        -------
        list of tuple
        """
        if (len(class_names), len(common_names), len(membership_names)) != (
            self.p,
            self.m,
            self.q,
        ):
            raise ValueError("the names do not match the layout's block sizes")
        rows = []
        for s in range(1, self.k + 1):
            rows += [(f"{x}[{s}]", "coefficient", s, x) for x in class_names]
        rows += [(w, "common", 0, w) for w in common_names]
        if self.common_variance:
            rows.append(("sigma2", "variance", 0, "sigma2"))
        else:
            rows += [(f"sigma2[{s}]", "variance", s, "sigma2") for s in range(1, self.k + 1)]
        for s in range(2, self.k + 1):
            rows += [(f"membership:{z}[{s}]", "membership", s, z) for z in membership_names]
        names = [row[0] for row in rows]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"the parameter names {repeated} occur twice: a regressor's name collides with "
                "another regressor's or with a variance ('sigma2'); rename the column (the "
                "parameters must be addressable by name in tests and tables)."
            )
        return rows

    def names(self, class_names, common_names, membership_names) -> list[str]:
        """The parameter names, in order (see :meth:`describe`).

        Parameters
        ----------
        class_names, common_names, membership_names : list of str

        Returns
        -------
        list of str
        """
        return [row[0] for row in self.describe(class_names, common_names, membership_names)]

    def relabelling(self, order: np.ndarray) -> np.ndarray:
        """Matrix ``A`` with ``flat(params.relabel(order)) = A @ flat(params)``.

        Relabelling is linear in the parameter vector (a permutation of the
        class blocks and, for the membership block, differences against the
        new first class), so derivatives carry over: the score becomes
        ``A^-T g`` and the Hessian ``A^-T H A^-1``.

        Parameters
        ----------
        order : ndarray of int, shape (K,)

        Returns
        -------
        ndarray, shape (P, P)
        """
        columns = [
            self.flat(self.unflat(unit).relabel(np.asarray(order)))
            for unit in np.eye(self.n_params)
        ]
        return np.column_stack(columns) if columns else np.zeros((0, 0))

    def restriction(self) -> np.ndarray:
        """Matrix ``A`` with ``theta_class_specific = A @ theta`` (shape P_full x P)."""
        k, p, m, q = self.k, self.p, self.m, self.q
        width = p + m
        a = np.zeros((k * width + k + q * (k - 1), self.n_params))
        for s in range(k):
            a[s * width + np.arange(p), s * p + np.arange(p)] = 1.0
            a[s * width + p + np.arange(m), k * p + np.arange(m)] = 1.0
        var_row, var_col = k * width, k * p + m
        if self.common_variance:
            a[var_row : var_row + k, var_col] = 1.0
        else:
            a[var_row : var_row + k, var_col : var_col + k] = np.eye(k)
        eta_row, eta_col = var_row + k, var_col + self.n_variances
        a[eta_row:, eta_col:] = np.eye(q * (k - 1))
        return a
