r"""A composite of phases and interfaces, and the averaged GENERIC models it produces.

Volume averaging the energy balance of each phase over a representative volume leaves the
heat crossing the internal interfaces as an exchange between the phases' averaged
temperatures: per unit composite volume, phase $a$ receives $H_{ab}(T_b - T_a)$ from phase
$b$, $H_{ab} = h a_v$. In GENERIC form, with the phases' entropies $S_i$ (per unit
composite volume) as state, each interface contributes the friction block
([`generic_mm.structured.entropic_exchange`][], built in `_builders.py` and `_fields.py`)

$$M_{ab} = H_{ab}\begin{pmatrix} T_b/T_a & -1 \\ -1 & T_a/T_b\end{pmatrix}$$

on $(S_a, S_b)$ ($= H_{ab}T_aT_b\,[[1, -1], [-1, 1]]$ in energy variables), which is
symmetric, positive semi-definite and annihilates $\nabla E$ by construction; its entropy
production is $H_{ab}T_aT_b(1/T_a - 1/T_b)^2 \ge 0$.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import sympy as sp

from .._errors import ModelError
from .._model import GenericModel
from . import _closed_forms as closed, _postprocess as post
from ._builders import point_model
from ._fields import two_temperature_model
from ._phases import Interface, Phase


class Composite:
    r"""Phases with their volume fractions and the interfaces between them.

    **Arguments:**

    - `phases`: [`generic_mm.composites.Phase`][]s; fractions sum to 1; all phases share
        the reference temperature $T_0$.
    - `interfaces`: [`generic_mm.composites.Interface`][]s between pairs of phases.
    - `name`: used for the models it builds.

    Mechanics is iso-strain (all phases share the macroscopic strain: a laminate loaded
    along its layers, or fibres along the fibre direction).
    """

    def __init__(self, phases: Sequence[Phase], interfaces: Sequence[Interface] = (), *, name=None):
        phases = list(phases)
        if not phases or not all(isinstance(p, Phase) for p in phases):
            raise ModelError("Composite: phases must be a non-empty list of Phase objects.")
        self.phases: dict[str, Phase] = {}
        for p in phases:
            if p.name in self.phases:
                raise ModelError(f"Composite: phase {p.name!r} is given twice.")
            self.phases[p.name] = p
        total = sum(p.fraction for p in phases)
        if abs(total - 1.0) > 1e-9:
            listed = ", ".join(f"{p.name}={p.fraction:g}" for p in phases)
            raise ModelError(
                f"Composite: volume fractions must sum to 1, got {total:g} ({listed})."
            )
        T0s = {p.linear.T0 for p in phases}
        if max(T0s) - min(T0s) > 1e-12 * max(T0s):
            raise ModelError(
                "Composite: all phases must share one reference temperature T0 (the averaged "
                f"model is linearised about it); got {sorted(T0s)}."
            )
        self.T0 = phases[0].linear.T0
        self.name = name or "composite of " + ", ".join(self.phases)
        self.interfaces: list[Interface] = []
        self.exchange: dict[tuple[str, str], float] = {}
        for itf in interfaces:
            if not isinstance(itf, Interface):
                raise ModelError(f"Composite: interfaces must be Interface objects, got {itf!r}.")
            for side in (itf.a, itf.b):
                if side not in self.phases:
                    raise ModelError(
                        f"interface {itf.a!r}-{itf.b!r}: unknown phase {side!r}; the phases "
                        f"are {list(self.phases)}."
                    )
            key = (itf.a, itf.b)
            if key in self.exchange or key[::-1] in self.exchange:
                raise ModelError(f"interface {itf.a!r}-{itf.b!r} is given twice.")
            self.interfaces.append(itf)
            self.exchange[key] = itf.exchange(self.phases)

    def __repr__(self) -> str:
        """The phases' values and the exchange coefficients $H$ of the interfaces."""
        phases = "".join(f"    {_phase_repr(p)},\n" for p in self.phases.values())
        exchange = ", ".join(f"{k!r}: {h:.7g}" for k, h in self.exchange.items())
        return (
            f"Composite(\n  name={self.name!r},\n  T0={self.T0:.7g},\n"
            f"  phases=[\n{phases}  ],\n  exchange={{{exchange}}},\n)"
        )

    # --- closed forms of the uniform, linearised composite (see _closed_forms.py) -------
    @property
    def heat_capacities(self) -> dict[str, float]:
        """$C_i = f_i\\rho_i c_i$: each phase's heat capacity per unit composite volume."""
        return closed.heat_capacities(self)

    def relaxation_rates(self) -> np.ndarray:
        r"""The decay rates of the phase temperature differences in a uniform state
        (nonzero eigenvalues of $C^{-1}G$, $G$ the exchange Laplacian), ascending. Two phases:
        $H(1/C_a + 1/C_b)$."""
        return closed.relaxation_rates(self)

    @property
    def relaxation_time(self) -> float:
        """$\\tau = 1/H(1/C_a + 1/C_b)$ for two phases; the slowest exchange time in general."""
        return closed.relaxation_time(self)

    def equilibrium_temperature(self, temperatures: Mapping[str, float]) -> float:
        """$T_{eq} = \\sum C_iT_i/\\sum C_i$ from phase temperatures (constant capacities)."""
        return closed.equilibrium_temperature(self, temperatures)

    def entropy_change(self, temperatures: Mapping[str, float]) -> float:
        """$\\Delta S = \\sum C_i\\ln(T_{eq}/T_i)$ per unit volume, relaxing from `temperatures`."""
        return closed.entropy_change(self, temperatures)

    def moduli(self) -> dict[str, float]:
        r"""Composite moduli under iso-strain, per unit volume:

        - `"isothermal"`: $\sum f_iM_i$, every phase held at $T_0$ (an external bath);
        - `"relaxed"`: phases at one common temperature, the composite as a whole adiabatic
            (the long-time limit of interfacial exchange);
        - `"unrelaxed"`: every phase adiabatic on its own (no time to exchange heat).

        The interfacial exchange relaxes `"unrelaxed"` to `"relaxed"`.
        """
        return closed.moduli(self)

    def complex_modulus(self, omega) -> np.ndarray:
        r"""$M^*(\omega) = \sigma/\varepsilon$ for a harmonic strain of angular frequency
        `omega` (linearised, iso-strain, uniform): $M_T + i\omega T_0\beta^T(i\omega C +
        G)^{-1}\beta$."""
        return closed.complex_modulus(self, omega)

    def loss_factor(self, omega) -> np.ndarray:
        """$Q^{-1} = \\mathrm{Im}\\,M^*/\\mathrm{Re}\\,M^*$ of the linearised averaged model."""
        return closed.loss_factor(self, omega)

    def zener_loss_factor(self, omega) -> np.ndarray:
        r"""Zener's Debye peak $\Delta\,\omega\bar\tau/(1 + (\omega\bar\tau)^2)$ with
        $\Delta = (M_U - M_R)/\sqrt{M_UM_R}$ and $\bar\tau = \tau\sqrt{M_U/M_R}$ ($\tau$ the
        exchange time at fixed strain); exact for two phases."""
        return closed.zener_loss_factor(self, omega)

    # --- the averaged models (see _builders.py and _fields.py) ---------------------------
    def model(self, *, inertia: float | None = None, name: str | None = None) -> GenericModel:
        r"""The averaged composite at one material point, as a [`generic_mm.GenericModel`][].

        State: the phases' entropies `S_<phase>` per unit volume and, with `inertia` $\mu$,
        the macroscopic strain `eps` and its momentum `p`, with
        $E = p^2/2\mu + \sum_i f_iu_i(S_i/f_i, \varepsilon)$ and the canonical Poisson block
        on $(\varepsilon, p)$: $\dot\varepsilon = p/\mu$, $\dot p = -\sigma$ (one vibration
        mode of angular frequency near $\sqrt{M/\mu}$). Parameters (differentiable leaves):
        `H_a_b` per interface and, for phases with default energies, `C_`, `M_`, `alpha_`,
        `f_` per phase and `T0`.
        """
        return point_model(self, inertia=inertia, name=name)

    def structured(
        self,
        grid,
        *,
        conductivities: Mapping[str, float] | None = None,
        mechanics: bool = False,
        name=None,
    ):
        """The averaged composite over a macroscopic grid: two-temperature (one per phase)
        heat conduction with interfacial exchange in every cell and, with `mechanics=True`
        (1D), the macroscopic strain and momentum, as a
        [`generic_mm.structured.StructuredModel`][]. See
        [`two_temperature_model`][generic_mm.composites.two_temperature_model]."""
        return two_temperature_model(
            self, grid, conductivities=conductivities, mechanics=mechanics, name=name
        )

    # --- states and sources (see _postprocess.py) -----------------------------------------
    def source_terms(self) -> dict[str, sp.Expr]:
        """The interfacial heat sources averaging produced, per unit volume:
        `"a<-b"`: $H_{ab}(T_b - T_a)$, in the symbols `T_a`, `T_b`, `H_a_b`."""
        return post.source_terms(self)

    def field_state(
        self,
        grid,
        temperatures: Mapping[str, Any],
        *,
        strain: Any = None,
        momentum: Any = None,
    ) -> dict[str, np.ndarray]:
        """The fields of a state of [`structured`][generic_mm.composites.Composite.structured]
        on `grid`, for `compiled.layout.pack`: phase temperatures (numbers or arrays of the
        grid's shape) and, for a mechanical model, the strain per cell and the momentum per
        node (a periodic bar has as many nodes as cells, a free one one more)."""
        return post.field_state(self, grid, temperatures, strain=strain, momentum=momentum)

    def state(
        self,
        temperatures: Mapping[str, float],
        *,
        strain: float | None = None,
        momentum: float | None = None,
    ) -> dict[str, float]:
        """The state of [`model`][generic_mm.composites.Composite.model] with these phase
        temperatures; pass `strain` (and `momentum`) for a model with inertia: the state
        then includes `eps` and `p`."""
        return post.point_state(self, temperatures, strain=strain, momentum=momentum)

    def sources(self, compiled, ys) -> dict[str, jax.Array]:
        """The interfacial sources $H_{ab}(T_b - T_a)$ evaluated at states `ys` (shape
        `(..., n)`) of a compiled averaged model (from `model` or `structured`): numbers
        for the point model, fields for the structured one."""
        return post.sources(self, compiled, ys)


def _phase_repr(phase: Phase) -> str:
    """A phase by its values (its own repr gives only name and fraction); `T0` is the
    composite's. A phase given by its energy function shows the function's name instead of
    the constants it does not use."""
    names = ("fraction", "conductivity", "heat_capacity", "density", "modulus", "expansion")
    fn = phase._energy_fn
    values = [f"{n}={getattr(phase, n):.7g}" for n in (names if fn is None else names[:2])]
    if fn is not None:
        values.append(f"energy={getattr(fn, '__name__', None) or repr(fn)}")
    return f"Phase({phase.name!r}, {', '.join(values)})"
