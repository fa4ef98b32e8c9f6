r"""The averaged composite over a macroscopic grid: a two- (or more-) temperature model.

Each macroscopic cell (volume $V$) carries one entropy $S_i$ per phase, with energy
$V\sum_i f_iu_i(S_i/(Vf_i), \varepsilon)$ ($\varepsilon = 0$ without mechanics). Phase $i$ conducts between neighbouring cells with its
macroscopic conductivity $K_i$ (default $f_ik_i$: exact along the layers of a laminate or
along fibres), and in every cell the phases exchange heat through the interfacial friction
block $VH_{ab}\,[[T_b/T_a, -1], [-1, T_a/T_b]]$. This is the local-thermal-non-equilibrium
(two-temperature) model of Quintard and Whitaker,
$C_a\dot T_a = \nabla\cdot(K_a\nabla T_a) + H(T_b - T_a)$, in GENERIC form.

With `mechanics=True` (1D grids) the cells are elements that also carry the macroscopic
(iso-strain) strain $\varepsilon$, and `node` cells between them carry the momentum $p$
(lumped mass $\bar\rho V$, half at a free end): a staggered strain-momentum discretisation
whose constant Poisson blocks are $\dot\varepsilon_e = (v_{e+1} - v_e)/h$,
$\dot p_n = (\partial E/\partial\varepsilon_n - \partial E/\partial\varepsilon_{n-1})/h$.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from .._errors import ModelError
from .._validate import positive_number
from ..structured import Cells, Grid, Interaction, StructuredModel, entropic_exchange
from ._builders import add_block, phase_energies

_MECHANICS_DOMAIN = 1e-3
"""The strain range (+-) over which the template checks sample a mechanical field model."""


def two_temperature_model(
    composite,
    grid: Grid,
    *,
    conductivities: Mapping[str, float] | None = None,
    mechanics: bool = False,
    name=None,
) -> StructuredModel:
    r"""The averaged `composite` on `grid`, one entropy per phase per cell.

    **Arguments:**

    - `composite`: a [`generic_mm.composites.Composite`][].
    - `grid`: a [`generic_mm.structured.Grid`][] (periodic or insulated faces).
    - `conductivities`: phase name -> macroscopic conductivity $K_i$ of that phase's
        network (default $f_ik_i$).
    - `mechanics`: also carry the macroscopic strain `cell.eps` and the momentum `node.p`
        (1D grids; uniaxial iso-strain thermoelasticity, as in `Composite.model`). Mass
        density $\bar\rho = \sum_if_i\rho_i$; a free (non-periodic) bar has stress-free ends.

    Fields are named `cell.S_<phase>` (and `cell.eps`, `node.p`); `composite.sources(compiled,
    ys)` evaluates the interfacial sources as fields.
    """
    if not isinstance(grid, Grid):
        raise ModelError(f"two_temperature_model: grid must be a Grid, got {grid!r}.")
    if mechanics and grid.ndim != 1:
        raise ModelError(
            f"{composite.name}: mechanics=True needs a 1D grid (uniaxial strain), got a "
            f"{grid.ndim}D grid {grid.shape}."
        )
    K = _conductivities(composite, conductivities)
    cells = _cells(composite, grid, mechanics)
    nvar = len(cells.state)
    entropies = {n: nvar - len(K) + i for i, n in enumerate(K)}  # they follow eps
    interactions = _conduction(grid, K, entropies, nvar)
    if composite.exchange:
        interactions.append(_exchange(composite, grid, entropies, nvar))
    kinds = [cells]
    if mechanics:
        node, momentum = _mechanics(composite, grid, nvar)
        kinds.append(node)
        interactions.append(momentum)
    if not interactions:
        raise ModelError(f"{composite.name}: nothing conducts or exchanges heat on this grid.")
    label = "thermoelastic two-temperature" if mechanics else "two-temperature"
    return StructuredModel(
        kinds, interactions, name=name or f"{label} {composite.name}, {grid.shape}"
    )


def _conductivities(composite, given: Mapping[str, float] | None) -> dict[str, float]:
    """Phase -> macroscopic conductivity $K_i$ (default $f_ik_i$), in phase order."""
    phases = composite.phases
    K = {n: p.fraction * p.conductivity for n, p in phases.items()}
    for n, value in dict(given or {}).items():
        if n not in phases:
            raise ModelError(f"conductivities: unknown phase {n!r}; phases are {list(phases)}.")
        K[n] = positive_number(value, f"conductivities[{n!r}]", ModelError, allow_zero=True)
    return K


def _cells(composite, grid: Grid, mechanics: bool) -> Cells:
    """The macroscopic cells: the phases' entropies (after the strain, with mechanics)."""
    S = {n: sp.Symbol(f"S_{n}", real=True) for n in composite.phases}
    eps = sp.Symbol("eps", real=True)
    V, T0 = sp.symbols("V T0", positive=True)
    params: dict = {V: float(np.prod(grid.spacing)), T0: composite.T0}
    energy = phase_energies(composite, S, V, eps if mechanics else 0, T0, params)
    params = {k: v for k, v in params.items() if k in energy.free_symbols}
    local = ([eps] if mechanics else []) + list(S.values())
    domain = {eps: (-_MECHANICS_DOMAIN, _MECHANICS_DOMAIN)} if mechanics else None
    return Cells("cell", local, energy, sum(S.values()), shape=grid, params=params, domain=domain)


def _conduction(grid: Grid, K: dict, entropies: dict, nvar: int) -> list[Interaction]:
    """Per conducting phase, the exchange of its entropy between neighbouring cells through
    the conductance $K_iA/h$."""
    if not len(grid.edges):
        return []
    geometry = grid.edge_geometry()
    out = []
    for n, i in entropies.items():
        if K[n] == 0:
            continue
        kappa = sp.Symbol(f"kappa_{n}", positive=True)

        def conduction(a, b, n=n, i=i, kappa=kappa):
            M = sp.zeros(2 * nvar, 2 * nvar)
            block = entropic_exchange(kappa, a.dE(f"S_{n}"), b.dE(f"S_{n}"))
            add_block(M, block, [i, nvar + i])
            return M

        out.append(
            Interaction(
                f"conduction_{n}",
                ("cell", "cell"),
                grid.edges,
                friction=conduction,
                params={kappa: K[n] * geometry},
            )
        )
    return out


def _exchange(composite, grid: Grid, entropies: dict, nvar: int) -> Interaction:
    """The interfacial exchange in every cell: $VH_{ab}$ between the entropies of a and b."""
    H = {ab: sp.Symbol(f"H_{ab[0]}_{ab[1]}", positive=True) for ab in composite.exchange}
    Vx = sp.Symbol("V_x", positive=True)

    def exchange(cell):
        M = sp.zeros(nvar, nvar)
        for (a, b), Hs in H.items():
            block = entropic_exchange(Vx * Hs, cell.dE(f"S_{a}"), cell.dE(f"S_{b}"))
            add_block(M, block, [entropies[a], entropies[b]])
        return M

    values = {H[ab]: v for ab, v in composite.exchange.items()}
    return Interaction(
        "exchange",
        "cell",
        np.arange(grid.count)[:, None],
        friction=exchange,
        params={**values, Vx: float(np.prod(grid.spacing))},
    )


def _mechanics(composite, grid: Grid, nvar: int) -> tuple[Cells, Interaction]:
    """Node cells with the momentum, and the Poisson stencil (left node, element, right node)."""
    n = grid.shape[0]
    h = float(grid.spacing[0])
    periodic = bool(grid.periodic[0])
    rho = sum(ph.fraction * ph.density for ph in composite.phases.values())
    nodes = n if periodic else n + 1
    mass = np.full(nodes, rho * h)
    if not periodic:
        mass[[0, -1]] /= 2
    p = sp.Symbol("p", real=True)
    m = sp.Symbol("m", positive=True)
    node = Cells("node", [p], p**2 / (2 * m), sp.Integer(0), shape=nodes, params={m: mass})
    elements = np.arange(n)
    stencil = np.stack([elements, elements, (elements + 1) % nodes], axis=1)
    hs = sp.Symbol("h_e", positive=True)

    def poisson(left, cell, right):
        Lb = sp.zeros(nvar + 2)
        e, r = 1, nvar + 1  # eps of the element, p of the right node (p of the left is 0)
        Lb[e, r], Lb[r, e] = 1 / hs, -1 / hs
        Lb[e, 0], Lb[0, e] = -1 / hs, 1 / hs
        return Lb

    momentum = Interaction(
        "momentum", ("node", "cell", "node"), stencil, poisson=poisson, params={hs: h}
    )
    return node, momentum
