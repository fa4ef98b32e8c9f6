"""A bar in uniaxial tension: two-node elements between heavy grips."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from .._errors import InputError
from ..structured import Interaction
from ._forms import AbstractDamageLaw, positive
from ._specimen import AbstractSpecimen, embed, kelvin_block


class Bar(AbstractSpecimen):
    r"""A bar in uniaxial tension: `elements` two-node elements of length $h = L/n$.

    **Arguments:**

    - `elements`: the number of elements ($\ge 3$).
    - `law`: the damage law ([`AT1`][generic_mm.damage.AT1] (default),
        [`AT2`][generic_mm.damage.AT2], [`Peerlings`][generic_mm.damage.Peerlings]).
    - `length`, `area`: the bar's length and cross-section.
    - `E`, `rho`: Young's modulus and density; `C` heat capacity per unit volume, `T0` the
        initial temperature.
    - `zeta`: Kelvin-Voigt viscosity (stress per strain rate); default $h\sqrt{E\rho}/2$,
        which damps the mesh's highest modes and barely the slow loading.
    - `grips`: each grip's mass relative to the bar's.
    - `weak`: `(centre, width, reduction)`: elements whose centre lies in the band have the
        law's strength (`Gc`, or `kappa0`) lowered by the fraction `reduction`.

    `bar.model` is the [`StructuredModel`][generic_mm.structured.StructuredModel];
    `bar.initial(speed)` a tension test's initial state.
    """

    dim = 1

    def __init__(
        self,
        elements: int = 100,
        law: AbstractDamageLaw | None = None,
        *,
        length: float = 1.0,
        area: float = 1.0,
        E: float = 1.0,
        rho: float = 1.0,
        C: float = 1.0,
        T0: float = 1.0,
        zeta: float | None = None,
        grips: float = 1e6,
        weak: Any = None,
    ):
        where = "Bar"
        if (
            isinstance(elements, bool)
            or not isinstance(elements, (int, np.integer))
            or (elements < 3)
        ):
            raise InputError(f"{where}: elements must be an integer >= 3, got {elements!r}.")
        self._setup(law, E, rho, C, T0, grips, weak, where)
        self.size = (positive(length, "length", where),)
        self.section = positive(area, "area", where)
        self.element_shape = (int(elements),)
        self.node_shape = (int(elements) + 1,)
        h = self.size[0] / int(elements)
        self.spacing = (h,)
        self.volume = self.section * h
        self.zeta = (
            h * math.sqrt(self.E * self.rho) / 2 if zeta is None else positive(zeta, "zeta", where)
        )
        self.strengths()  # a weak zone that selects no element is an error now, not later

    def centres(self) -> tuple[np.ndarray, ...]:
        """Element centres."""
        return ((np.arange(self.element_shape[0]) + 0.5) * self.spacing[0],)

    def node_coordinates(self) -> tuple[np.ndarray, ...]:
        """Node positions."""
        return (np.arange(self.node_shape[0]) * self.spacing[0],)

    def masses(self) -> np.ndarray:
        """Lumped nodal masses, the grips included."""
        m = np.full(self.node_shape, self.rho * self.volume)
        m[[0, -1]] = (
            self.rho * self.volume / 2 + self.grips * self.rho * self.section * self.size[0]
        )
        return m

    def _element_terms(self) -> list[Interaction]:
        n = self.element_shape[0]
        h, V, law = self.spacing[0], self.volume, self.law
        edges = np.stack([np.arange(n), np.arange(1, n + 1), np.arange(n)], axis=1)
        k = 2 + len(law.extra)

        def energy(a, b, e):
            eps = (b.u - a.u) / h
            tension = sp.Max(eps, 0) ** 2  # the equivalent strain: tension only
            return law.degradation(e.d) * e.E * V * eps**2 / 2 + law.coupling(e, tension, V)

        c = self.zeta * self.section / h
        Kv = c * sp.Matrix([[1, -1], [-1, 1]])

        def viscous(a, b, e):
            block = kelvin_block(Kv, [a.dE("p"), b.dE("p")], e.dE("s"))
            return embed(block, [1, 3, 4 + k - 1], 4 + k)

        return [
            Interaction("elastic", ("node", "node", "element"), edges, energy=energy),
            Interaction("viscous", ("node", "node", "element"), edges, friction=viscous),
        ]
