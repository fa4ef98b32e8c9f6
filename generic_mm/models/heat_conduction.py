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

The builder is [`generic_mm.structured.heat_conduction`][]; this catalogue entry names it.
"""

import numpy as np

from ..structured import heat_conduction

DESCRIPTION = "Heat conduction on a grid with two or more materials (structured model)."

model = heat_conduction
"""Heat conduction on a grid of `shape` cells: the builder
[`generic_mm.structured.heat_conduction`][] (same arguments: `shape`, `C`, `k`, `T0`,
`periodic`, `spacing`, `reservoirs`)."""


def entropy_of(T, C=1.0, T0=1.0):
    """The cell entropy $s = C\\ln(T/T_0)$ at temperature `T` (for initial states)."""
    return C * np.log(np.asarray(T, dtype=float) / T0)
