r"""A heavy atom in a harmonic chain (Mori-Zwanzig case (b)): the closed-form memory kernel
of the infinite chain, the exact kernel of a finite ring, and the resolved ring.

Eliminating two semi-infinite chains of masses $m$ and springs $k$ from an atom at $X$ gives
(Laplace transform, bath at rest): $\hat K(s) = m\,(\sqrt{s^2 + 4\omega_0^2} - s)$,
$\omega_0 = \sqrt{k/m}$, i.e. $K(t) = 2m\omega_0\,J_1(2\omega_0t)/t$; see the memory page.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import scipy.special
import sympy as sp

from ..structured import Cells, Grid, Interaction, StructuredModel
from ._correlation import ResolvedSystem
from ._kernels import CosineKernel
from ._validation import count, number

WINDOW = 0.7
"""The usable window of a ring of $N$ atoms, in units of $N/\\omega_0$: sound leaves the
heavy atom both ways at speeds up to $\\omega_0$ sites per unit time and returns after
$N/\\omega_0$; the ring's kernel differs from the infinite chain's by less than
$10^{-10}K(0)$ before 0.7 of that when $N \\ge 64$ ($4\\cdot 10^{-6}$ at $N = 32$)."""


def chain_kernel(t: Any, *, mass: float = 1.0, stiffness: float = 1.0) -> np.ndarray:
    r"""The memory kernel of an atom in an infinite harmonic chain,

    $$K(t) = 2m\omega_0\,\frac{J_1(2\omega_0 t)}{t},\qquad \omega_0 = \sqrt{k/m},\qquad
    K(0) = 2k,\qquad \int_0^\infty K\,dt = 2\sqrt{km},$$

    independent of the atom's own mass. **Arguments:** times `t`, the chain's `mass` $m$ and
    spring `stiffness` $k$. **Returns:** $K(t)$, a NumPy array.
    """
    m, k = number(mass, "mass"), number(stiffness, "stiffness")
    w0 = np.sqrt(k / m)
    t = np.asarray(t, dtype=float)
    x = 2 * w0 * t
    safe = np.where(x == 0, 1.0, x)
    # J1(x)/x -> 1/2 at x = 0
    return 4 * m * w0**2 * np.where(x == 0, 0.5, scipy.special.j1(safe) / safe)


def ring_kernel(n_atoms: int, *, mass: float = 1.0, stiffness: float = 1.0) -> CosineKernel:
    r"""The exact kernel of one atom in a ring of `n_atoms`: the other $N - 1$ atoms are a
    chain clamped at both ends by it, with modes $\omega_j = 2\omega_0\sin(\pi j/2N)$ and
    weights $w_j = (g\cdot\phi_j)^2/(m\omega_j^2)$, $g\cdot\phi_j =
    k\sqrt{2/N}\sin(\pi j/N)(1 - (-1)^j)$ (only symmetric modes couple). $\sum_j w_j = 2k$."""
    n = count(n_atoms, "n_atoms", least=3)
    m, k = number(mass, "mass"), number(stiffness, "stiffness")
    j = np.arange(1, n, 2)  # odd modes; the even ones are antisymmetric and do not couple
    lam = 4 * k * np.sin(np.pi * j / (2 * n)) ** 2
    g = k * np.sqrt(2.0 / n) * np.sin(np.pi * j / n) * 2
    return CosineKernel(g**2 / lam, np.sqrt(lam / m))


def heavy_atom_chain(
    n_atoms: int, *, heavy_mass: float, mass: float = 1.0, stiffness: float = 1.0
) -> ResolvedSystem:
    r"""A ring of `n_atoms` atoms joined by harmonic springs, atom 0 of mass `heavy_mass`,
    the others of mass `mass`, as a `StructuredModel`:

    $$H = \sum_i \frac{p_i^2}{2m_i} + \sum_i \frac{k}{2}(u_{i+1} - u_i)^2.$$

    **Returns:** a [`generic_mm.memory.ResolvedSystem`][] whose tagged particle is atom 0
    (field `p`, index 0), with the ring's exact kernel ([`generic_mm.memory.ring_kernel`][]),
    the infinite chain's closed form ([`generic_mm.memory.chain_kernel`][]) and the window
    $0.7N/\omega_0$ before sound returns around the ring.
    """
    n = count(n_atoms, "n_atoms", least=3)
    m, M, k = number(mass, "mass"), number(heavy_mass, "heavy_mass"), number(stiffness, "stiffness")
    grid = Grid((n,), periodic=True)
    u, p = sp.symbols("u p", real=True)
    mi, ks = sp.symbols("m k", positive=True)
    masses = np.full(n, m)
    masses[0] = M
    atoms = Cells("atom", [u, p], p**2 / (2 * mi), 0, shape=grid, params={mi: masses})
    interactions = [
        Interaction("motion", "atom", np.arange(n), poisson=lambda a: sp.Matrix([[0, 1], [-1, 0]])),
        Interaction(
            "spring",
            ("atom", "atom"),
            grid.edges,
            energy=lambda a, b: ks * (b.u - a.u) ** 2 / 2,
            params={ks: k},
        ),
    ]
    model = StructuredModel(
        atoms, interactions, name=f"harmonic ring, {n} atoms, heavy atom of mass {M:g}"
    )
    return ResolvedSystem(
        model=model,
        mass=M,
        momentum="p",
        index=0,
        kernel=ring_kernel(n, mass=m, stiffness=k),
        continuum=functools.partial(chain_kernel, mass=m, stiffness=k),
        window=WINDOW * n / np.sqrt(k / m),
    )
