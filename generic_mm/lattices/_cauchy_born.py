"""The Cauchy-Born continuum of a lattice: symbolic (`CauchyBorn`) and evaluated at one
deformation (`CauchyBornValues`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp


@dataclasses.dataclass(frozen=True)
class CauchyBorn:
    r"""The Cauchy-Born continuum of a lattice, symbolically.

    - `energy`: $W(F)$, the energy per reference volume (a SymPy expression of the
        deformation symbols `F` and the lattice parameters).
    - `stress`: the first Piola-Kirchhoff stress $P = \partial W/\partial F$.
    - `moduli`: the tangent moduli $A_{iJkL} = \partial^2 W/\partial F_{iJ}\partial F_{kL}$.
    - `F`: the deformation symbols (the stretch `lam` for chains; a 2x2 matrix of `F11` ...).
    - `params`: parameter symbol -> value (spacing `a`, mass `m`, the potentials').

    For a chain the three are scalars: $W(\lambda)$, $W'(\lambda)$, $W''(\lambda)$.
    """

    energy: sp.Expr
    stress: Any
    moduli: Any
    F: Any
    params: Mapping[sp.Symbol, float]


@dataclasses.dataclass(frozen=True)
class CauchyBornValues:
    r"""The Cauchy-Born continuum at one deformation (floats and arrays).

    - `energy`, `stress`, `moduli`: $W$, $P$, $A$ (scalars for chains).
    - `ellipticity`: the smallest eigenvalue of the acoustic tensor
        $Q_{ik}(n) = A_{iJkL}n_J n_L$ over unit directions $n$ ($W''$ for chains): the
        continuum is stable (strongly elliptic, Legendre-Hadamard) where it is positive.
    - `direction`: the direction $n$ where that minimum is taken.
    """

    energy: float
    stress: Any
    moduli: Any
    ellipticity: float
    direction: np.ndarray

    @property
    def stable(self) -> bool:
        """Whether the continuum is strongly elliptic here."""
        return self.ellipticity > 0
