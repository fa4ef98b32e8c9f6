r"""Bounds and exact results for effective properties (two or more isotropic phases)."""

from __future__ import annotations

import math

import numpy as np

from .._errors import InputError
from .._validate import positive_array, positive_number
from ._effective import strain_tensor


def _arrays(fractions, values, where: str) -> tuple[np.ndarray, np.ndarray]:
    f = positive_array(fractions, f"{where}: fractions", allow_zero=True)
    v = positive_array(values, f"{where}: values")
    if f.ndim != 1 or v.shape != f.shape or len(f) < 1:
        raise InputError(f"{where}: give one fraction and one value per phase (1D, same length).")
    if not math.isclose(f.sum(), 1.0, rel_tol=1e-9):
        raise InputError(f"{where}: fractions must sum to 1, got {f.tolist()}.")
    return f, v


def voigt(fractions, values) -> float:
    """The arithmetic mean $\\sum_if_iv_i$: an upper bound (uniform gradient/strain)."""
    f, v = _arrays(fractions, values, "voigt")
    return float(f @ v)


def reuss(fractions, values) -> float:
    """The harmonic mean $(\\sum_if_i/v_i)^{-1}$: a lower bound (uniform flux/stress)."""
    f, v = _arrays(fractions, values, "reuss")
    return float(1 / (f @ (1 / v)))


def laminate_bounds(fractions, values) -> tuple[float, float]:
    """Exact conductivity (or shear modulus in antiplane shear) of a laminate:
    `(along, across)` = (arithmetic, harmonic) mean."""
    return voigt(fractions, values), reuss(fractions, values)


def hashin_shtrikman(fractions, conductivities, d: int = 3) -> tuple[float, float]:
    """Hashin-Shtrikman bounds on the conductivity of an isotropic d-dimensional
    composite: $k^\\pm = [\\sum_if_i/(k_i + (d-1)k_\\pm)]^{-1} - (d-1)k_\\pm$ with
    $k_- = \\min k_i$, $k_+ = \\max k_i$."""
    f, k = _arrays(fractions, conductivities, "hashin_shtrikman")
    _dim(d, "hashin_shtrikman")

    def bound(ref):
        return float(1 / (f @ (1 / (k + (d - 1) * ref))) - (d - 1) * ref)

    return bound(k.min()), bound(k.max())


def hashin_shtrikman_elastic(fractions, bulk, shear, d: int = 3) -> dict[str, tuple[float, float]]:
    """Hashin-Shtrikman bounds on the bulk and shear moduli of an isotropic composite of
    well-ordered phases (the stiffer in bulk is the stiffer in shear). In 2D (plane strain)
    the bulk modulus is the 2D one, $\\kappa = K + \\mu/3$, for inputs given as 3D `bulk`.
    Returns `{"bulk": (lower, upper), "shear": (lower, upper)}`."""
    f, K = _arrays(fractions, bulk, "hashin_shtrikman_elastic")
    _, G = _arrays(fractions, shear, "hashin_shtrikman_elastic")
    _dim(d, "hashin_shtrikman_elastic")
    if np.argmax(K) != np.argmax(G) or np.argmin(K) != np.argmin(G):
        raise InputError("hashin_shtrikman_elastic: the phases must be well ordered (K and mu).")
    k = K if d == 3 else K + G / 3

    def bulk_bound(g):
        a = 4 * g / 3 if d == 3 else g
        return float(1 / (f @ (1 / (k + a))) - a)

    def shear_bound(kk, g):
        z = g / 6 * (9 * kk + 8 * g) / (kk + 2 * g) if d == 3 else kk * g / (kk + 2 * g)
        return float(1 / (f @ (1 / (G + z))) - z)

    lo, hi = np.argmin(G), np.argmax(G)
    return {
        "bulk": (bulk_bound(G[lo]), bulk_bound(G[hi])),
        "shear": (shear_bound(k[lo], G[lo]), shear_bound(k[hi], G[hi])),
    }


def maxwell_garnett(matrix: float, inclusion: float, fraction: float, d: int = 3) -> float:
    """Maxwell-Garnett (Clausius-Mossotti) conductivity of dilute-to-moderate spherical
    (circular) inclusions in a matrix: $k_m[1 + d f\\beta/(1 - f\\beta)]$,
    $\\beta = (k_i - k_m)/(k_i + (d-1)k_m)$. Equals the HS bound with the matrix as
    reference."""
    _dim(d, "maxwell_garnett")
    matrix = positive_number(matrix, "maxwell_garnett: matrix")
    inclusion = positive_number(inclusion, "maxwell_garnett: inclusion")
    fraction = positive_number(fraction, "maxwell_garnett: fraction", allow_zero=True)
    if fraction > 1:
        raise InputError(f"maxwell_garnett: fraction must be in [0, 1], got {fraction!r}.")
    beta = (inclusion - matrix) / (inclusion + (d - 1) * matrix)
    return float(matrix * (1 + d * fraction * beta / (1 - fraction * beta)))


def dykhne(k1: float, k2: float) -> float:
    """Dykhne's exact conductivity of a 2D two-phase checkerboard (or any 2D two-phase
    composite statistically invariant under phase interchange at equal fractions):
    $\\sqrt{k_1k_2}$."""
    return math.sqrt(positive_number(k1, "dykhne: k1") * positive_number(k2, "dykhne: k2"))


def levin(fractions, expansions, bulk, compliance, phase_compliances) -> np.ndarray:
    r"""Levin's exact thermal expansion of a two-phase composite of isotropic phases, for any
    microstructure, from its effective compliance (Levin 1967; Rosen and Hashin 1970):

    $$\alpha^* = \bar\alpha I + \frac{\alpha_1 - \alpha_2}{1/(dK_1) - 1/(dK_2)}\,
    (S^* - \bar S):I,$$

    with $\bar\alpha$, $\bar S$ the volume averages of the phases' values.

    **Arguments:** `fractions`, `expansions`, `bulk`: the two phases' volume fractions,
    linear expansion coefficients and bulk moduli in $d$ dimensions (in 2D plane strain:
    $\kappa = K + \mu/3$ and $\alpha_{2D} = 3K\alpha/(2\kappa)$); `compliance`: the
    effective Voigt compliance $S^*$ ($3\times3$ or $6\times6$, engineering shear);
    `phase_compliances`: the two phases' Voigt compliances. Returns the $d\times d$ tensor.
    """
    f = np.asarray(fractions, dtype=float)
    a = np.asarray(expansions, dtype=float)
    K = np.asarray(bulk, dtype=float)
    S = np.asarray(compliance, dtype=float)
    Sp = np.asarray(phase_compliances, dtype=float)
    n = S.shape[0] if S.ndim == 2 else 0
    if n not in (3, 6) or S.shape != (n, n) or Sp.shape != (2, n, n):
        raise InputError(
            "levin: compliances must be 3x3 (2D) or 6x6 (3D) Voigt matrices, two phases."
        )
    if f.shape != (2,) or a.shape != (2,) or K.shape != (2,) or K[0] == K[1]:
        raise InputError("levin: give two fractions, expansions and (different) bulk moduli.")
    d = 2 if n == 3 else 3
    factor = (a[0] - a[1]) / (1 / (d * K[0]) - 1 / (d * K[1]))
    voigt = factor * (S - np.einsum("p,pij->ij", f, Sp))[:, :d].sum(axis=1)
    voigt[:d] += f @ a
    return np.asarray(strain_tensor(voigt, d))


def _dim(d: int, where: str) -> None:
    if d not in (2, 3):
        raise InputError(f"{where}: d must be 2 or 3, got {d}.")
