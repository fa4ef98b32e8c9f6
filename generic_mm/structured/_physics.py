r"""Reusable physics for structured models: the entropic heat-exchange block and heat
conduction on a grid.

Two bodies at temperatures $T_a = \partial E/\partial s_a$ and $T_b = \partial E/\partial
s_b$ exchanging heat $H(T_b - T_a)$ through a conductance $H$ are, in entropy variables, the
friction block
$$M = H\begin{pmatrix}T_b/T_a & -1\\ -1 & T_a/T_b\end{pmatrix}$$
on $(s_a, s_b)$: symmetric, positive semi-definite (zero determinant, positive diagonal), with
$M(T_a, T_b)^T = 0$, so energy is conserved and the entropy production is
$H T_aT_b(1/T_a - 1/T_b)^2 \ge 0$. Conduction between cells, exchange between the phases of
a composite and two bodies in contact are all this block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from ._graph import Grid
from ._model import StructuredModel
from ._templates import Cells, Interaction


def entropic_exchange(H, Ta, Tb) -> sp.Matrix:
    r"""The friction block of a heat exchange in entropy variables,
    $H\,[[T_b/T_a, -1], [-1, T_a/T_b]]$ on $(s_a, s_b)$.

    **Arguments:**

    - `H`: the conductance (heat per unit time and unit temperature difference), a SymPy
        expression or a number.
    - `Ta`, `Tb`: the two temperatures $\partial E/\partial s_a$, $\partial E/\partial s_b$
        (expressions, or conjugates `a.dE("s")` in an interaction).

    **Returns:** a 2x2 `sympy.Matrix`; it gives $T_a\dot s_a = H(T_b - T_a)$.

    **Example:** `entropic_exchange(kappa, a.dE("s"), b.dE("s"))` as the friction of an
    [`generic_mm.structured.Interaction`][] between two cells.
    """
    return H * sp.Matrix([[Tb / Ta, -1], [-1, Ta / Tb]])


def heat_conduction(
    shape: int | Sequence[int] = 32,
    *,
    C: float | np.ndarray = 1.0,
    k: float | np.ndarray = 1.0,
    T0: float = 1.0,
    periodic: bool | Sequence[bool] = False,
    spacing: float | Sequence[float] = 1.0,
    reservoirs: Mapping[str, float] | None = None,
) -> StructuredModel:
    r"""Heat conduction on a grid of `shape` cells, in entropy variables.

    Each cell carries its entropy $s_i$ with $e(s) = CT_0e^{s/C}$ ($T = T_0e^{s/C}$, a
    constant heat capacity $C$ per cell). Neighbours exchange heat through
    [`entropic_exchange`][generic_mm.structured.entropic_exchange] with the series
    conductance of the two half cells, $\kappa_{ij} = 2k_ik_j/(k_i + k_j)\,A/h$ (face area
    $A$, spacing $h$ along the edge), so cells of different materials meet through the
    right interface conductance and $C\dot T_i = \sum_j\kappa_{ij}(T_j - T_i)$ exactly. Each
    face listed in `reservoirs` is joined to a reservoir cell with $e = T_Rs$ (a constant
    temperature $T_R$) through the half-cell conductance $2k_iA/h$; reservoirs are part of
    the state, so $E$ is conserved and $S$ never decreases.

    **Arguments:**

    - `shape`, `periodic`, `spacing`: the [`generic_mm.structured.Grid`][].
    - `C`: heat capacity per cell; `k`: conductivity. Numbers, or arrays of the grid's shape
        (one value per cell: a map of materials).
    - `T0`: reference temperature ($T = T_0$ at $s = 0$).
    - `reservoirs`: face (`"x-"`, `"x+"`, ...) -> fixed temperature.

    **Returns:** a [`generic_mm.structured.StructuredModel`][] with the field `cell.s` (and
    `reservoir.s`).

    **Example:** `heat_conduction((64, 64), k=k_map, reservoirs={"x-": 1.0, "x+": 2.0})`.
    """
    grid = Grid(shape, periodic=periodic, spacing=spacing)
    s = sp.Symbol("s", real=True)
    Cs, ks, T0s, kappa = sp.symbols("C k T0 area_over_h", positive=True)
    cells = Cells(
        "cell", [s], Cs * T0s * sp.exp(s / Cs), s, shape=grid, params={Cs: C, ks: k, T0s: T0}
    )

    def conduction(a, b):
        return entropic_exchange(kappa * 2 * a.k * b.k / (a.k + b.k), a.dE("s"), b.dE("s"))

    interactions = [
        Interaction(
            "conduction",
            ("cell", "cell"),
            grid.edges,
            friction=conduction,
            params={kappa: grid.edge_geometry()},
        )
    ]
    kinds = [cells]
    if reservoirs:
        reservoir, boundary = _reservoirs(grid, dict(reservoirs), s)
        kinds.append(reservoir)
        interactions.append(boundary)
    name = f"heat conduction on {'x'.join(map(str, grid.shape))} cells"
    return StructuredModel(kinds, interactions, name=name)


def _reservoirs(grid: Grid, reservoirs: dict, s: sp.Symbol) -> tuple[Cells, Interaction]:
    """One reservoir cell per listed face, joined to every cell of that face."""
    faces = list(reservoirs)
    TR = sp.Symbol("T_reservoir", positive=True)
    AH = sp.Symbol("face_area_over_h", positive=True)
    reservoir = Cells(
        "reservoir",
        [s],
        TR * s,
        s,
        shape=len(faces),
        params={TR: np.array([float(reservoirs[f]) for f in faces])},
    )
    edges = np.concatenate([grid.face_edges(f, other=i) for i, f in enumerate(faces)])
    boundary = Interaction(
        "boundary",
        ("cell", "reservoir"),
        edges,
        friction=lambda a, b: entropic_exchange(AH * 2 * a.k, a.dE("s"), b.dE("s")),
        params={AH: np.concatenate([grid.face_geometry(f) for f in faces])},
    )
    return reservoir, boundary
