r"""The averaged composite at one material point, as a GENERIC model.

State: the phases' entropies $S_i$ per unit composite volume (and, with an inertia, the
macroscopic strain and its momentum); energy $\sum_if_iu_i(S_i/f_i, \varepsilon)$; each
interface adds the entropic exchange block
[`generic_mm.structured.entropic_exchange`][]$(H_{ab}, T_a, T_b)$ on $(S_a, S_b)$. The
phase energy sum is shared with the field model (`_fields.py`), which scales it per cell.
"""

from __future__ import annotations

import sympy as sp

from .._errors import ModelError
from .._model import GenericModel
from .._validate import positive_number
from ..structured import entropic_exchange


def phase_energies(composite, S: dict, volume, eps, T0, params: dict) -> sp.Expr:
    r"""$V\sum_if_iu_i(S_i/(Vf_i), \varepsilon)$: the energy of the phases' entropies `S`
    (phase -> symbol) in a volume `volume` (1 for the point model), with the fractions
    `f_<phase>` and the phases' constants as symbols whose values go into `params`."""
    energy = sp.Integer(0)
    for n, ph in composite.phases.items():
        f = sp.Symbol(f"f_{n}", positive=True)
        params[f] = ph.fraction
        energy += volume * f * ph.symbolic_energy(S[n] / (volume * f), eps, T0, params)
    return energy


def add_block(matrix: sp.Matrix, block: sp.Matrix, rows) -> None:
    """Add the square `block` onto `matrix` at the rows and columns `rows` (in place)."""
    for r, i in enumerate(rows):
        for c, j in enumerate(rows):
            matrix[i, j] += block[r, c]


def point_model(composite, *, inertia=None, name: str | None = None) -> GenericModel:
    """See [`Composite.model`][generic_mm.composites.Composite.model]."""
    mech = inertia is not None
    S = {n: sp.Symbol(f"S_{n}", real=True) for n in composite.phases}
    eps, p = sp.symbols("eps p", real=True)
    T0 = sp.Symbol("T0", positive=True)
    params: dict[sp.Symbol, float] = {T0: composite.T0}
    energy = phase_energies(composite, S, 1, eps if mech else 0, T0, params)
    state = list(S.values())
    poisson = None
    if mech:
        mu = sp.Symbol("mu", positive=True)
        params[mu] = positive_number(inertia, "inertia", ModelError)
        energy += p**2 / (2 * mu)
        state = [eps, p, *state]
        canonical = sp.zeros(len(state))
        canonical[0, 1], canonical[1, 0] = 1, -1
        poisson = {"inertia": canonical}
    # One named process per interface: traj.entropy_production_by_process splits the
    # production among them.
    friction: dict[str, sp.Matrix] = {}
    for (a, b), H in composite.exchange.items():
        Hs = sp.Symbol(f"H_{a}_{b}", positive=True)
        params[Hs] = H
        Ta, Tb = sp.diff(energy, S[a]), sp.diff(energy, S[b])
        block = sp.zeros(len(state))
        add_block(block, entropic_exchange(Hs, Ta, Tb), [state.index(S[a]), state.index(S[b])])
        friction[f"exchange_{a}_{b}"] = block
    return GenericModel(
        state,
        energy,
        sum(S.values()),
        poisson,
        friction or None,
        params=params,
        observables={f"T_{n}": sp.diff(energy, S[n]) for n in composite.phases},
        name=name or f"averaged {composite.name}",
        description="Volume-averaged composite: one entropy per phase, interfacial heat "
        "exchange" + (", iso-strain thermoelasticity." if mech else "."),
    )
