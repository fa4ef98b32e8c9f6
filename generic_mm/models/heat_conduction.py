r"""Heat conduction on a 1D, 2D or 3D grid, as a structured model (any size).

Each cell carries its entropy $s_i$, with $e(s) = C T_0 e^{s/C}$, so $T = T_0 e^{s/C}$ and
$C\,\dot T_i$ is the heat the cell receives (a constant heat capacity $C$ per cell). Each
pair of neighbours exchanges heat $\kappa_{ij}(T_j - T_i)$ through the friction block
$$M_e = \kappa_{ij}\begin{pmatrix}T_j/T_i & -1\\ -1 & T_i/T_j\end{pmatrix}$$
in entropy variables, with the series conductance of the two half cells,
$\kappa_{ij} = 2k_ik_j/(k_i + k_j)\,A/h$ (face area $A$, spacing $h$ along the edge), so
cells of different materials meet through the right interface conductance. The temperatures
obey $C\dot T_i = \sum_j \kappa_{ij}(T_j - T_i)$ exactly: the discrete heat equation.

Boundaries: periodic, insulated (nothing attached), or fixed temperature: each face listed
in `reservoirs` is joined to a reservoir cell with $e = T_R s$ (a constant temperature
$T_R$) through the half-cell conductance $2k_iA/h$. Reservoirs are part of the state, so
$E$ (cells plus reservoirs) is conserved and $S$ never decreases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from ..structured import Cells, Grid, Interaction, StructuredModel

DESCRIPTION = "Heat conduction on a grid with two or more materials (structured model)."


def model(
    shape: int | Sequence[int] = 32,
    *,
    C: float | np.ndarray = 1.0,
    k: float | np.ndarray = 1.0,
    T0: float = 1.0,
    periodic: bool | Sequence[bool] = False,
    spacing: float | Sequence[float] = 1.0,
    reservoirs: Mapping[str, float] | None = None,
) -> StructuredModel:
    """Heat conduction on a grid of `shape` cells.

    **Arguments:**

    - `shape`, `periodic`, `spacing`: the [`generic_mm.structured.Grid`][].
    - `C`: heat capacity per cell; `k`: conductivity. Numbers, or arrays of the grid's shape
        (one value per cell: a map of materials).
    - `T0`: reference temperature ($T = T_0$ at $s = 0$).
    - `reservoirs`: face (`"x-"`, `"x+"`, ...) -> fixed temperature.
    """
    grid = Grid(shape, periodic=periodic, spacing=spacing)
    s = sp.Symbol("s", real=True)
    Cs, ks, T0s, kappa = sp.symbols("C k T0 area_over_h", positive=True)
    cells = Cells(
        "cell", [s], Cs * T0s * sp.exp(s / Cs), s, shape=grid, params={Cs: C, ks: k, T0s: T0}
    )
    geometry = []
    for axis in range(grid.ndim):
        area = np.prod([h for d, h in enumerate(grid.spacing) if d != axis])
        geometry.append(area / grid.spacing[axis])
    per_edge = np.concatenate(
        [np.full(len(grid.axis_edges(a)), geometry[a]) for a in range(grid.ndim)]
    )

    def exchange(a, b, conductance):
        Ta, Tb = a.dE("s"), b.dE("s")
        return conductance * sp.Matrix([[Tb / Ta, -1], [-1, Ta / Tb]])

    interactions = [
        Interaction(
            "conduction",
            ("cell", "cell"),
            grid.edges,
            friction=lambda a, b: exchange(a, b, kappa * 2 * a.k * b.k / (a.k + b.k)),
            params={kappa: per_edge},
        )
    ]
    kinds = [cells]
    reservoirs = dict(reservoirs or {})
    if reservoirs:
        faces = list(reservoirs)
        TR, AH = (
            sp.Symbol("T_reservoir", positive=True),
            sp.Symbol("face_area_over_h", positive=True),
        )
        kinds.append(
            Cells(
                "reservoir",
                [s],
                TR * s,
                s,
                shape=len(faces),
                params={TR: np.array([float(reservoirs[f]) for f in faces])},
            )
        )
        edges = np.concatenate([grid.face_edges(f, other=i) for i, f in enumerate(faces)])
        axis_of = {f: "xyz".index(f[0]) for f in faces}
        face_geometry = np.concatenate(
            [np.full(len(grid.face(f)), geometry[axis_of[f]]) for f in faces]
        )
        interactions.append(
            Interaction(
                "boundary",
                ("cell", "reservoir"),
                edges,
                friction=lambda a, b: exchange(a, b, AH * 2 * a.k),
                params={AH: face_geometry},
            )
        )
    name = f"heat conduction on {'x'.join(map(str, grid.shape))} cells"
    return StructuredModel(kinds, interactions, name=name)


def entropy_of(T, C=1.0, T0=1.0):
    """The cell entropy $s = C\\ln(T/T_0)$ at temperature `T` (for initial states)."""
    return C * np.log(np.asarray(T, dtype=float) / T0)
