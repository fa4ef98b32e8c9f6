"""A plate in plane strain: bilinear elements between heavy grips."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import sympy as sp

from .._errors import InputError
from .._validate import finite_number
from ..structured import Interaction
from ._forms import AbstractDamageLaw, positive
from ._specimen import AbstractSpecimen, embed, kelvin_block

GAUSS = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))


def _q4_gradients(hx: float, hy: float) -> list[np.ndarray]:
    """Per Gauss point, the (2, 4) derivatives of the bilinear shape functions of the corners
    (0,0), (1,0), (0,1), (1,1)."""
    out = []
    for xi, eta in itertools.product(GAUSS, GAUSS):
        dN = np.array(
            [
                [-(1 - eta), (1 - eta), -eta, eta],
                [-(1 - xi), -xi, (1 - xi), xi],
            ]
        )
        out.append(dN / np.array([[hx], [hy]]))
    return out


def _mazars(exx, eyy, exy):
    r"""Mazars' squared equivalent strain $\sum_i\langle\varepsilon_i\rangle_+^2$ over the
    in-plane principal strains. The radius $\sqrt{((\varepsilon_{xx} - \varepsilon_{yy})/2)^2
    + \varepsilon_{xy}^2 + \eta^2}$ carries $\eta = 10^{-12}$ so that its derivative is 0,
    not 0/0, at an isotropic strain (every test starts at zero strain); the value moves by
    at most $\eta^2$."""
    mean = (exx + eyy) / 2
    radius = sp.sqrt(((exx - eyy) / 2) ** 2 + exy**2 + sp.Float(1e-24))
    return sp.Max(mean + radius, 0) ** 2 + sp.Max(mean - radius, 0) ** 2


class Plate(AbstractSpecimen):
    r"""A plate in plane strain, pulled along $x$: `shape` = $(n_x, n_y)$ bilinear elements.

    **Arguments:** as [`Bar`][generic_mm.damage.Bar] (`law`, `E`, `rho`, `C`, `T0`, `zeta`,
    `grips`, `weak`), with `shape` for `elements`, `size = (L_x, L_y)` for `length`,
    `thickness` for `area` (the cross-section is $tL_y$), and Poisson's ratio `nu`; `weak` is a band across the plate
    at $x$ = `centre`. The grips are heavy in $y$ too, so the ends are held against the
    Poisson contraction (a short plate is stiffer than $E/(1 - \nu^2)$). Isotropic damage:
    the whole strain energy
    $W = \mu\varepsilon:\varepsilon + \frac\lambda2(\operatorname{tr}\varepsilon)^2$ is
    degraded (no tension-compression split).
    """

    dim = 2

    def __init__(
        self,
        shape: Any = (40, 10),
        law: AbstractDamageLaw | None = None,
        *,
        size: Any = (1.0, 0.25),
        thickness: float = 1.0,
        E: float = 1.0,
        nu: float = 0.2,
        rho: float = 1.0,
        C: float = 1.0,
        T0: float = 1.0,
        zeta: float | None = None,
        grips: float = 1e6,
        weak: Any = None,
    ):
        where = "Plate"
        try:
            nx, ny = (int(v) for v in shape)
        except (TypeError, ValueError):
            raise InputError(f"{where}: shape must be (nx, ny), got {shape!r}.") from None
        if nx < 3 or ny < 2 or tuple(shape) != (nx, ny):
            raise InputError(
                f"{where}: shape must be integers nx >= 3, ny >= 2 (for a single row of "
                f"elements use a Bar), got {shape!r}."
            )
        self._setup(law, E, rho, C, T0, grips, weak, where)
        try:
            Lx, Ly = size
        except (TypeError, ValueError):
            raise InputError(f"{where}: size must be (Lx, Ly), got {size!r}.") from None
        Lx, Ly = positive(Lx, "size[0]", where), positive(Ly, "size[1]", where)
        self.nu = finite_number(nu, f"{where}: nu")
        if not -1 < self.nu < 0.5:
            raise InputError(f"{where}: nu must be in (-1, 0.5), got {nu!r}.")
        self.size = (Lx, Ly)
        self.thickness = positive(thickness, "thickness", where)
        self.section = self.thickness * Ly
        self.element_shape = (nx, ny)
        self.node_shape = (nx + 1, ny + 1)
        self.spacing = (Lx / nx, Ly / ny)
        self.volume = self.thickness * self.spacing[0] * self.spacing[1]
        h = min(self.spacing)
        self.zeta = (
            h * math.sqrt(self.E * self.rho) / 2 if zeta is None else positive(zeta, "zeta", where)
        )
        self.strengths()  # a weak zone that selects no element is an error now, not later

    def centres(self) -> tuple[np.ndarray, ...]:
        """Element centres, each of the element grid's shape."""
        x = (np.arange(self.element_shape[0]) + 0.5) * self.spacing[0]
        y = (np.arange(self.element_shape[1]) + 0.5) * self.spacing[1]
        return tuple(np.meshgrid(x, y, indexing="ij"))

    def node_coordinates(self) -> tuple[np.ndarray, ...]:
        """Node positions, each of the node grid's shape."""
        x = np.arange(self.node_shape[0]) * self.spacing[0]
        y = np.arange(self.node_shape[1]) * self.spacing[1]
        return tuple(np.meshgrid(x, y, indexing="ij"))

    def masses(self) -> np.ndarray:
        """Lumped nodal masses (a quarter of each element per corner), the grips included."""
        m = np.zeros(self.node_shape)
        q = self.rho * self.volume / 4
        for i, j in itertools.product((0, 1), (0, 1)):
            m[i : i + self.element_shape[0], j : j + self.element_shape[1]] += q
        total = self.rho * self.thickness * self.size[0] * self.size[1]
        m[[0, -1], :] += self.grips * total / self.node_shape[1]
        return m

    def _element_terms(self) -> list[Interaction]:
        nx, ny = self.element_shape
        hx, hy = self.spacing
        V, law = self.volume, self.law
        index = np.arange((nx + 1) * (ny + 1)).reshape(nx + 1, ny + 1)
        corners = [index[i : i + nx, j : j + ny].reshape(-1) for j in (0, 1) for i in (0, 1)]
        edges = np.stack([*corners, np.arange(nx * ny)], axis=1)
        grads = _q4_gradients(hx, hy)
        lam = self.nu / ((1 + self.nu) * (1 - 2 * self.nu))  # times E
        mu = 1 / (2 * (1 + self.nu))
        k = 2 + len(law.extra)

        def strains(nodes, which):
            out = []
            for dN in grads:
                gx = [sum(dN[0, a] * getattr(nodes[a], which + c) for a in range(4)) for c in "xy"]
                gy = [sum(dN[1, a] * getattr(nodes[a], which + c) for a in range(4)) for c in "xy"]
                out.append((gx[0], gy[1], (gy[0] + gx[1]) / 2))
            return out

        def density(e, exx, eyy, exy):  # W / E
            return mu * (exx**2 + eyy**2 + 2 * exy**2) + lam / 2 * (exx + eyy) ** 2

        def energy(*sides):
            *nodes, e = sides
            eps = strains(nodes, "u")
            w = sum(density(e, *q) for q in eps) / len(grads)
            tension = sum(_mazars(*q) for q in eps) / len(grads)
            return law.degradation(e.d) * e.E * V * w + law.coupling(e, tension, V)

        B = []
        for dN in grads:
            rows = np.zeros((3, 8))
            for a in range(4):
                rows[0, 2 * a], rows[1, 2 * a + 1] = dN[0, a], dN[1, a]
                rows[2, 2 * a], rows[2, 2 * a + 1] = dN[1, a], dN[0, a]
            B.append(rows)
        D = np.diag([1.0, 1.0, 0.5])  # eps_dot : eps_dot with engineering shear rates
        Kv = self.zeta * V * np.mean([b.T @ D @ b for b in B], axis=0)
        Kv_sym = sp.Matrix(Kv.tolist())
        p_rows = [4 * a + c for a in range(4) for c in (2, 3)]

        def viscous(*sides):
            *nodes, e = sides
            v = [n.dE(f"p{c}") for n in nodes for c in "xy"]
            block = kelvin_block(Kv_sym, v, e.dE("s"))
            return embed(block, [*p_rows, 16 + k - 1], 16 + k)

        kinds = ("node",) * 4 + ("element",)
        return [
            Interaction("elastic", kinds, edges, energy=energy),
            Interaction("viscous", kinds, edges, friction=viscous),
        ]
