r"""A 1D atomic chain with Morse nearest- and next-nearest-neighbour bonds and a heat bath.

Atom $i$ carries its displacement and momentum $(u_i, p_i)$ with $e_i = p_i^2/2m$ and the
canonical Poisson block; bonds store Morse energies of the change in separation,
$V(r) = D\,(1 - e^{-a r})^2$ with $r = u_b - u_a$ (depth $D_1$, $D_2$ for nearest and
next-nearest neighbours). One bath cell with entropy $s_B$ and $e = T_Bs_B$ (a reservoir at
temperature $T_B$) damps every atom through the friction block on $(p_i, s_B)$
$$M = \gamma\begin{pmatrix}T_B & -v_i\\ -v_i & v_i^2/T_B\end{pmatrix},\qquad v_i = \partial E/\partial p_i,$$
which gives $\dot p_i \ni -\gamma v_i$ and $\dot s_B = \gamma\sum_i v_i^2/T_B$: the
mechanical energy the chain loses is the heat the bath gains. (A deterministic GENERIC bath:
the fluctuations that would keep the chain at $T_B$ belong to a stochastic extension.)
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..structured import Cells, Grid, Interaction, StructuredModel

DESCRIPTION = "An atomic chain with Morse NN and NNN bonds and a damping heat bath (structured)."
DEFAULTS = {"m": 1.0, "D1": 1.0, "a1": 1.0, "D2": 0.1, "a2": 1.0, "gamma": 0.1, "T_bath": 1.0}


def model(n: int = 64, *, periodic: bool = True, **params: float) -> StructuredModel:
    """A chain of `n` atoms; keyword arguments override `DEFAULTS`."""
    values = {**DEFAULTS, **params}
    grid = Grid((n,), periodic=periodic)
    idx = np.arange(n)
    nnn = np.stack([idx, (idx + 2) % n], axis=1) if periodic else np.stack([idx[:-2], idx[2:]], 1)
    u, p, s = sp.symbols("u p s", real=True)
    m, D1, a1, D2, a2, gamma, TB = sp.symbols("m D1 a1 D2 a2 gamma T_bath", positive=True)
    atoms = Cells("atom", [u, p], p**2 / (2 * m), 0, shape=grid, params={m: values["m"]})
    bath = Cells("bath", [s], TB * s, s, shape=1, params={TB: values["T_bath"]})

    def morse(D, a):
        return lambda x, y: D * (1 - sp.exp(-a * (y.u - x.u))) ** 2

    def damping(x, b):
        v, T = x.dE("p"), b.dE("s")
        z = sp.Integer(0)
        return gamma * sp.Matrix([[z, z, z], [z, T, -v], [z, -v, v**2 / T]])

    interactions = [
        Interaction("canonical", "atom", idx, poisson=lambda x: sp.Matrix([[0, 1], [-1, 0]])),
        Interaction(
            "nearest",
            ("atom", "atom"),
            grid.edges,
            energy=morse(D1, a1),
            params={D1: values["D1"], a1: values["a1"]},
        ),
        Interaction(
            "next_nearest",
            ("atom", "atom"),
            nnn,
            energy=morse(D2, a2),
            params={D2: values["D2"], a2: values["a2"]},
        ),
        Interaction(
            "bath",
            ("atom", "bath"),
            np.stack([idx, np.zeros_like(idx)], axis=1),
            friction=damping,
            params={gamma: values["gamma"]},
        ),
    ]
    return StructuredModel([atoms, bath], interactions, name=f"atomic chain, {n} atoms")
