r"""The averaged composite over a macroscopic grid: a two- (or more-) temperature model.

Each macroscopic cell (volume $V$) carries one entropy $S_i$ per phase, with energy
$V\sum_i f_iu_i(S_i/(Vf_i), 0)$. Phase $i$ conducts between neighbouring cells with its
macroscopic conductivity $K_i$ (default $f_ik_i$: exact along the layers of a laminate or
along fibres), and in every cell the phases exchange heat through the interfacial friction
block $VH_{ab}\,[[T_b/T_a, -1], [-1, T_a/T_b]]$. This is the local-thermal-non-equilibrium
(two-temperature) model of Quintard and Whitaker,
$C_a\dot T_a = \nabla\cdot(K_a\nabla T_a) + H(T_b - T_a)$, in GENERIC form.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from .._errors import ModelError
from ..structured import Cells, Grid, Interaction, StructuredModel


def two_temperature_model(
    composite, grid: Grid, *, conductivities: Mapping[str, float] | None = None, name=None
) -> StructuredModel:
    """The averaged `composite` on `grid`, one entropy per phase per cell.

    **Arguments:**

    - `composite`: a [`generic_mm.composites.Composite`][].
    - `grid`: a [`generic_mm.structured.Grid`][] (periodic or insulated faces).
    - `conductivities`: phase name -> macroscopic conductivity $K_i$ of that phase's
        network (default $f_ik_i$).

    Fields are named `cell.S_<phase>`; `composite.sources(compiled, ys)` evaluates the
    interfacial sources as fields.
    """
    if not isinstance(grid, Grid):
        raise ModelError(f"two_temperature_model: grid must be a Grid, got {grid!r}.")
    phases = composite.phases
    K = {n: p.fraction * p.conductivity for n, p in phases.items()}
    for n, value in dict(conductivities or {}).items():
        if n not in phases:
            raise ModelError(f"conductivities: unknown phase {n!r}; phases are {list(phases)}.")
        value = float(value)
        if not value >= 0:
            raise ModelError(f"conductivities[{n!r}]: expected a nonnegative number.")
        K[n] = value
    volume = float(np.prod(grid.spacing))
    S = {n: sp.Symbol(f"S_{n}", real=True) for n in phases}
    V, T0 = sp.symbols("V T0", positive=True)
    params: dict = {V: volume, T0: composite.T0}
    energy = sp.Integer(0)
    for n, ph in phases.items():
        f = sp.Symbol(f"f_{n}", positive=True)
        params[f] = ph.fraction
        s = S[n] / (V * f)
        if ph._energy_fn is not None:
            u = ph.energy(s, sp.Integer(0))
        else:
            C = sp.Symbol(f"C_{n}", positive=True)
            params[C] = ph.C
            u = C * T0 * (sp.exp(s / C) - 1)
        energy += V * f * u
    cells = Cells("cell", list(S.values()), energy, sum(S.values()), shape=grid, params=params)
    names = list(phases)
    nvar = len(names)

    def block(i: int, j: int, sides, coeff, Ti, Tj):
        """A 2-variable exchange block between variable i of side 0 and j of the last side."""
        size = nvar * len(sides)
        Mb = sp.zeros(size, size)
        a, b = i, (len(sides) - 1) * nvar + j
        Mb[a, a], Mb[b, b] = coeff * Tj / Ti, coeff * Ti / Tj
        Mb[a, b] = Mb[b, a] = -coeff
        return Mb

    interactions = []
    per_axis = []
    for axis in range(grid.ndim):
        area = float(np.prod([h for d, h in enumerate(grid.spacing) if d != axis]))
        per_axis.append(np.full(len(grid.axis_edges(axis)), area / grid.spacing[axis]))
    geometry = np.concatenate(per_axis) if per_axis else np.zeros(0)
    if len(grid.edges):
        for i, n in enumerate(names):
            if K[n] == 0:
                continue
            kappa = sp.Symbol(f"kappa_{n}", positive=True)

            def conduction(a, b, i=i, n=n, kappa=kappa):
                Ta, Tb = a.dE(f"S_{n}"), b.dE(f"S_{n}")
                return block(i, i, (a, b), kappa, Ta, Tb)

            interactions.append(
                Interaction(
                    f"conduction_{n}",
                    ("cell", "cell"),
                    grid.edges,
                    friction=conduction,
                    params={kappa: K[n] * geometry},
                )
            )
    if composite.exchange:
        H = {ab: sp.Symbol(f"H_{ab[0]}_{ab[1]}", positive=True) for ab in composite.exchange}
        Vx = sp.Symbol("V_x", positive=True)

        def exchange(a):
            Mb = sp.zeros(nvar, nvar)
            for (pa, pb), Hs in H.items():
                i, j = names.index(pa), names.index(pb)
                Ti, Tj = a.dE(f"S_{pa}"), a.dE(f"S_{pb}")
                Mb[i, i] += Vx * Hs * Tj / Ti
                Mb[j, j] += Vx * Hs * Ti / Tj
                Mb[i, j] -= Vx * Hs
                Mb[j, i] -= Vx * Hs
            return Mb

        values = {H[ab]: v for ab, v in composite.exchange.items()}
        interactions.append(
            Interaction(
                "exchange",
                "cell",
                np.arange(cells.count)[:, None],
                friction=exchange,
                params={**values, Vx: volume},
            )
        )
    if not interactions:
        raise ModelError(f"{composite.name}: nothing conducts or exchanges heat on this grid.")
    return StructuredModel(
        cells, interactions, name=name or f"two-temperature {composite.name}, {grid.shape}"
    )
