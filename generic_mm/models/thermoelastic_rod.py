r"""A 1D thermoelastic rod: displacement, momentum and entropy per cell (structured model).

Cell $i$ (length $h$, mass $m = \rho h$, heat capacity $C_h = c h$) carries $(u_i, p_i, s_i)$:
$$e_i = \frac{p_i^2}{2m} + C_hT_0\left(e^{s_i/C_h} - 1\right).$$
Each bond between neighbours stores the elastic energy of the strain
$\varepsilon = (u_b - u_a)/h$ with the thermal-expansion coupling to the mean entropy,
$$\phi = h\left(\tfrac12 K\varepsilon^2 - K\alpha\,\varepsilon\,\frac{T_0}{C_h}\,\frac{s_a + s_b}{2}\right),$$
so that the bond stress is $\sigma = K\varepsilon - K\alpha\,\theta$ with
$\theta \approx T_0\bar s/C_h$ the temperature rise (linear thermoelasticity). Each cell has
the canonical Poisson block on $(u, p)$; each bond conducts heat with conductance $k/h$
through the friction block $\frac{k}{h}\begin{pmatrix}T_b/T_a & -1\\-1 & T_a/T_b\end{pmatrix}$
on $(s_a, s_b)$, written with the conjugates $T = \partial E/\partial s$ (which include the
coupling). Free, insulated ends (or periodic).

The model names its mechanisms: the interaction `elastic` carries the bond energy,
`conduction` the heat conduction (a dissipative process), and, when `viscosity` is given,
`viscosity` a Kelvin-Voigt damping of the relative velocity $\Delta v = v_b - v_a$ with
friction block $\frac{\eta}{h}\frac{2T_aT_b}{T_a+T_b}BB^T$ on $(p_a, p_b, s_a, s_b)$,
$B = (-1, 1, -\Delta v/2T_a, -\Delta v/2T_b)$, so that $B\cdot\nabla E = 0$ and the force
on $b$ is $-\eta\Delta v/h$; its entropy production is
$\frac{\eta}{h}\Delta v^2\frac{T_a+T_b}{2T_aT_b}$. `traj.entropy_production_by_process`
then splits the production into `conduction` and `viscosity`; each cell reports its
temperature $T = T_0e^{s/C_h}$ (without the small thermoelastic coupling) as the
observable `T`.
"""

from __future__ import annotations

import sympy as sp

from ..structured import Cells, Grid, Interaction, StructuredModel

DESCRIPTION = "A thermoelastic rod with heat conduction (structured model)."
DEFAULTS = {"rho": 1.0, "K": 1.0, "alpha": 0.1, "c": 1.0, "k": 0.05, "T0": 1.0}


def _around(values: dict) -> dict:
    """Parameter domains within a factor 2 of the values: the state domain above is scaled
    by them (strains of 5% of a cell, entropies near T0), and linear thermoelasticity keeps
    T > 0 only while K alpha eps / c stays small. A rod with other values is a new model
    (`model(n, K=...)`), checked around those."""
    return {sym: (0.5 * v, 2.0 * v) for sym, v in values.items()}


def model(
    n: int = 64,
    *,
    length: float = 1.0,
    periodic: bool = False,
    viscosity: float | None = None,
    **params: float,
):
    """A rod of `n` cells; keyword arguments override `DEFAULTS`; `viscosity` (> 0) adds
    Kelvin-Voigt damping as a second dissipative process."""
    values = {**DEFAULTS, **params}
    grid = Grid((n,), periodic=periodic, spacing=length / n)
    h = grid.spacing[0]
    u, p, s = sp.symbols("u p s", real=True)
    rho, K, alpha, c, k, T0, hs = sp.symbols("rho K alpha c k T0 h", positive=True)
    m, Ch = rho * hs, c * hs
    cells = Cells(
        "cell",
        [u, p, s],
        p**2 / (2 * m) + Ch * T0 * (sp.exp(s / Ch) - 1),
        s,
        shape=grid,
        params={rho: values["rho"], c: values["c"], T0: values["T0"], hs: h},
        observables={"T": T0 * sp.exp(s / Ch)},
        # Small strains and temperatures near T0: where linear thermoelasticity (and T > 0)
        # holds; the checks sample here.
        domain={
            u: (-0.05 * h, 0.05 * h),
            p: (-1.0, 1.0),
            s: (-0.1 * h * values["c"], 0.1 * h * values["c"]),
            **_around({rho: values["rho"], c: values["c"], T0: values["T0"], hs: h}),
        },
    )
    canonical = Interaction(
        "canonical",
        "cell",
        range(n),
        poisson=lambda a: sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
    )

    def bond_energy(a, b):
        eps = (b.u - a.u) / a.h
        theta = a.T0 / (a.c * a.h) * (a.s + b.s) / 2
        return a.h * (K * eps**2 / 2 - K * alpha * eps * theta)

    def conduction(a, b):
        Ta, Tb = a.dE("s"), b.dE("s")
        z = sp.Integer(0)
        return (k / a.h) * sp.Matrix(
            [
                [z, z, z, z, z, z],
                [z, z, z, z, z, z],
                [z, z, Tb / Ta, z, z, -1],
                [z, z, z, z, z, z],
                [z, z, z, z, z, z],
                [z, z, -1, z, z, Ta / Tb],
            ]
        )

    elastic = Interaction(
        "elastic",
        ("cell", "cell"),
        grid.edges,
        energy=bond_energy,
        params={K: values["K"], alpha: values["alpha"]},
        domain=_around({K: values["K"], alpha: values["alpha"]}),
    )
    heat = Interaction(
        "conduction",
        ("cell", "cell"),
        grid.edges,
        friction=conduction,
        params={k: values["k"]},
        domain=_around({k: values["k"]}),
    )
    interactions = [canonical, elastic, heat]
    if viscosity is not None:
        eta = sp.Symbol("eta", positive=True)

        def damping(a, b):
            Ta, Tb = a.dE("s"), b.dE("s")
            dv = b.dE("p") - a.dE("p")
            B = sp.Matrix([0, -1, 0, 0, 1, 0])
            B[2] = -dv / (2 * Ta)
            B[5] = -dv / (2 * Tb)
            return (eta / a.h) * (2 * Ta * Tb / (Ta + Tb)) * (B * B.T)

        interactions.append(
            Interaction(
                "viscosity",
                ("cell", "cell"),
                grid.edges,
                friction=damping,
                params={eta: viscosity},
                domain=_around({eta: viscosity}),
            )
        )
    return StructuredModel(cells, interactions, name=f"thermoelastic rod, {n} cells")
