r"""Gradient-damage specimens as structured GENERIC models: a bar (1D) and a plate (2D).

Nodes carry displacements $u$ and momenta $p$ (lumped masses, the canonical Poisson block);
elements carry the damage $d$, the law's extra state (Peerlings' $z$) and an entropy $s$ with
the thermal energy $CVT_0e^{s/(CV)}$ (heat capacity $C$ per unit volume, temperature
$T = T_0e^{s/(CV)}$; heat stays in its element). Each element's elastic energy
$g(d)\,V\,W(\varepsilon)$ ($g$ the law's degradation, $W$ the isotropic strain energy
density; the plate's bilinear elements are integrated at 2x2 Gauss points) is an interaction
of its nodes and itself, so $Y = -\partial E/\partial d$ is the energy the element releases
per unit damage. Friction makes heat in three processes: Kelvin-Voigt damping of the strain
rate (`viscous`: $\dot p = -K_vv$, $T\dot s = v^TK_vv$, the block
$\frac1T(TI\,|\,-v)^TK_v(TI\,|\,-v)$), damage growth (`damage`: the law's block, with the
neighbours' damage for the gradient term) and, for Peerlings' law, the relaxation of $z$.

The specimen is pulled by two heavy grips (the end nodes along $x$, each `grips` times the
specimen's mass) moving apart at a speed $V$: the machine is part of the state, so the model
is autonomous and isolated, $E$ is conserved and $S$ produced.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import itertools
import math
from typing import Any

import numpy as np
import sympy as sp

from .._errors import InputError
from .._simulate import simulate
from .._trajectory import Trajectory
from .._validate import finite_number
from ..structured import Cells, Interaction, StructuredModel
from ._forms import AT1, AbstractDamageLaw, PhaseField

GAUSS = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))
_POSITIVE = {"Gc", "l", "tau", "tau_z", "kappa0", "b_exp", "alpha", "E", "Cv", "T0"}


@dataclasses.dataclass(frozen=True)
class Pull:
    """A tension test: `opening` (the grips' separation), `stress` (nominal), `damage` (the
    field at every saved time), `heat` (made so far) and the `trajectory`. `peak` is the
    highest nominal stress."""

    opening: np.ndarray
    stress: np.ndarray
    damage: np.ndarray
    heat: np.ndarray
    trajectory: Trajectory

    @property
    def peak(self) -> float:
        """The highest nominal stress (the specimen's strength)."""
        return float(np.max(self.stress))


def _positive(value, name: str, where: str) -> float:
    v = finite_number(value, f"{where}: {name}")
    if v <= 0:
        raise InputError(f"{where}: {name} must be positive, got {value!r}.")
    return v


def kelvin_block(Kv: sp.Matrix, v: list, T) -> sp.Matrix:
    r"""Kelvin-Voigt damping on `(p..., s)`: $\frac1TW^TK_vW$ with $W = (TI\ |\ -v)$."""
    W = sp.Matrix.hstack(T * sp.eye(len(v)), -sp.Matrix(v))
    return W.T * Kv * W / T


def _embed(block: sp.Matrix, rows: list[int], size: int) -> sp.Matrix:
    M = sp.zeros(size, size)
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            M[a, b] = block[i, j]
    return M


def _neighbours(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (element, x-, x+[, y-, y+]) and Laplacian weights (1, or 0 where the neighbour
    is missing: Neumann). A missing neighbour is stood in for, at weight 0, by a cell the
    row does not name yet (an edge may not name one cell twice)."""
    index = np.arange(math.prod(shape)).reshape(shape)
    pos = np.indices(shape)
    cols, weights = [index.reshape(-1)], []
    for axis, n in enumerate(shape):
        for step in (-1, 1):
            j = pos[axis] + step
            valid = (j >= 0) & (j < n)
            at = list(pos)
            at[axis] = np.clip(j, 0, n - 1)
            cols.append(np.where(valid, index[tuple(at)], -1).reshape(-1))
            weights.append(valid.reshape(-1).astype(float))
    rows = np.stack(cols, axis=1)
    for row in rows:
        spare = (c for c in range(index.size) if c not in row)
        row[row < 0] = [next(spare) for _ in range(int(np.sum(row < 0)))]
    return rows, np.stack(weights, axis=1)


class AbstractSpecimen(abc.ABC):
    """What [`Bar`][generic_mm.damage.Bar] and [`Plate`][generic_mm.damage.Plate] share."""

    dim: int
    law: AbstractDamageLaw
    volume: float
    section: float
    size: tuple[float, ...]
    spacing: tuple[float, ...]
    element_shape: tuple[int, ...]
    node_shape: tuple[int, ...]

    @abc.abstractmethod
    def centres(self) -> tuple[np.ndarray, ...]:
        """Element centres."""

    @abc.abstractmethod
    def node_coordinates(self) -> tuple[np.ndarray, ...]:
        """Node positions."""

    @abc.abstractmethod
    def masses(self) -> np.ndarray:
        """Lumped nodal masses, the grips included."""

    @abc.abstractmethod
    def _element_terms(self) -> list[Interaction]:
        """The elastic and viscous interactions of the elements with their nodes."""

    def _setup(self, law, E, rho, C, T0, grips, weak, where):
        law = AT1() if law is None else law
        if not isinstance(law, AbstractDamageLaw):
            raise InputError(
                f"{where}: law must be a damage law (AT1(), AT2(), Peerlings()), got {law!r}."
            )
        self.law = law
        self.E = _positive(E, "E", where)
        self.rho = _positive(rho, "rho", where)
        self.C = _positive(C, "C", where)
        self.T0 = _positive(T0, "T0", where)
        self.grips = _positive(grips, "grips", where)
        if weak is None:
            self.weak = None
            return
        try:
            x0, width, reduction = (float(v) for v in weak)
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: weak must be (centre, width, reduction), got {weak!r}."
            ) from None
        if not (0 <= reduction < 1 and width > 0 and math.isfinite(x0)):
            raise InputError(
                f"{where}: weak = (centre, width, reduction) needs width > 0 and "
                f"0 <= reduction < 1, got {weak!r}."
            )
        self.weak = (x0, width, reduction)

    # -- the model ----------------------------------------------------------------------------
    def strengths(self) -> np.ndarray:
        """The law's strength parameter (`Gc`, or `kappa0`) per element (the weak zone, a band
        across $x$, has it lowered by the given fraction)."""
        value = self.law.params()[self.law.strength] * np.ones(self.element_shape)
        if self.weak is not None:
            x0, width, reduction = self.weak
            inside = np.abs(self.centres()[0] - x0) <= width / 2 + 1e-12 * self.spacing[0]
            value = np.where(inside, (1 - reduction) * value, value)
        return value

    def _elements(self) -> Cells:
        d, s = sp.Symbol("d", real=True), sp.Symbol("s", real=True)
        extra = [sp.Symbol(n, real=True) for n in self.law.extra]
        values: dict[str, Any] = dict(self.law.params())
        values[self.law.strength] = self.strengths()
        values.update(E=self.E, Cv=self.C * self.volume, T0=self.T0)
        params = {
            sp.Symbol(k, positive=True) if k in _POSITIVE else sp.Symbol(k, real=True): v
            for k, v in values.items()
        }
        Cv, T0 = sp.Symbol("Cv", positive=True), sp.Symbol("T0", positive=True)
        return Cells(
            "element",
            [d, *extra, s],
            Cv * T0 * sp.exp(s / Cv),
            s,
            shape=self.element_shape,
            params=params,
            observables={"T": T0 * sp.exp(s / Cv)},
        )

    def _nodes(self) -> Cells:
        names = ("u", "p") if self.dim == 1 else ("ux", "uy", "px", "py")
        state = [sp.Symbol(n, real=True) for n in names]
        m = sp.Symbol("m", positive=True)
        momenta = state[self.dim :]
        return Cells(
            "node",
            state,
            sum(q**2 for q in momenta) / (2 * m),
            0,
            shape=self.node_shape,
            params={m: self.masses()},
        )

    def _canonical(self) -> Interaction:
        n = self.dim
        J = sp.zeros(2 * n, 2 * n)
        for i in range(n):
            J[i, n + i], J[n + i, i] = 1, -1
        count = math.prod(self.node_shape)
        return Interaction(
            "canonical", "node", np.arange(count)[:, None], poisson=lambda a: sp.Matrix(J)
        )

    def _damage(self) -> Interaction:
        k = 2 + len(self.law.extra)
        rows, weights = _neighbours(self.element_shape)
        count = rows.shape[1]
        wsyms = [sp.Symbol(f"w{i}", nonnegative=True) for i in range(1, count)]
        spacing = [h for h in self.spacing for _ in (0, 1)]

        def friction(cell, *neighbours):
            block = self.law.friction(cell, neighbours, wsyms, self.volume, spacing)
            return _embed(block, list(range(k)), k * count)

        return Interaction(
            "damage",
            ("element",) * count,
            rows,
            friction=friction,
            params={w: weights[:, i] for i, w in enumerate(wsyms)},
        )

    def _nonlocal(self) -> list[Interaction]:
        """Peerlings' $|\\nabla z|^2$ on neighbouring element pairs, one interaction per axis."""
        index = np.arange(math.prod(self.element_shape)).reshape(self.element_shape)
        out = []
        if not self.law.nonlocal_energy:
            return out
        for axis, h in enumerate(self.spacing):
            a = np.moveaxis(index, axis, 0)
            pairs = np.stack([a[:-1].reshape(-1), a[1:].reshape(-1)], axis=1)

            def energy(p, q, h=h):
                return self.law.gradient_energy(p, q, self.volume, h)

            name = "nonlocal" if self.dim == 1 else f"nonlocal_{'xy'[axis]}"
            out.append(Interaction(name, ("element", "element"), pairs, energy=energy))
        return out

    @functools.cached_property
    def model(self) -> StructuredModel:
        """The specimen as a [`StructuredModel`][generic_mm.structured.StructuredModel]
        (fields `u`, `p` (plate: `ux`, `uy`, `px`, `py`) on the nodes; `d`, `s` (and `z`) and
        the observable `T` on the elements)."""
        interactions = [self._canonical(), *self._element_terms(), self._damage()]
        interactions += self._nonlocal()
        shape = "x".join(map(str, self.element_shape))
        return StructuredModel(
            [self._nodes(), self._elements()],
            interactions,
            name=f"{self.law.name}{' (local)' if self.law.local else ''} damage, {shape} elements",
        )

    # -- loading and measurements -------------------------------------------------------------
    def initial(self, speed: float) -> dict[str, Any]:
        r"""The initial state of a tension test at grip speed `speed` (each grip moves at
        $\pm V/2$): undamaged, at $T_0$, the velocity field already affine
        ($v_x = V(x/L - 1/2)$), so loading starts without a shock."""
        V = finite_number(speed, "initial: speed")
        x = self.node_coordinates()[0]
        L = self.size[0]
        px = self.masses() * V * (x / L - 0.5)
        fields = {"d": 0.0, "s": 0.0, **{n: 0.0 for n in self.law.extra}}
        if self.dim == 1:
            return {"u": 0.0, "p": px, **fields}
        return {"ux": 0.0, "uy": 0.0, "px": px, "py": 0.0, **fields}

    def opening(self, traj) -> np.ndarray:
        """The grips' separation (the imposed elongation) along a trajectory."""
        u = np.asarray(traj["u" if self.dim == 1 else "ux"])
        return (
            u[:, -1, ...].mean(axis=-1) - u[:, 0, ...].mean(axis=-1)
            if self.dim > 1
            else (u[:, -1] - u[:, 0])
        )

    def stress(self, traj) -> np.ndarray:
        r"""The nominal stress: the elastic force the specimen exerts on the right grip,
        $\sum\partial E/\partial u_x$ over its nodes, per unit cross-section."""
        g = np.asarray(traj.grad_energy["u" if self.dim == 1 else "ux"])
        force = g[:, -1] if self.dim == 1 else g[:, -1, :].sum(axis=-1)
        return force / self.section

    def crack_energy(self, d) -> float:
        r"""$\Gamma(d) = \int\frac{G_c}{c_w}\left(\frac{w(d)}{l} + l|\nabla d|^2\right)dV$ of a
        damage field (phase-field laws), with the model's own discrete gradient; a fully
        developed crack across the specimen has $\Gamma = G_c\times$ the cross-section."""
        if not isinstance(self.law, PhaseField):
            raise InputError(f"crack_energy: defined for the phase-field laws, not {self.law!r}.")
        d = np.asarray(d, dtype=float).reshape(self.element_shape)
        Gc = self.strengths()
        total = float(np.sum(self.law.crack_density(d, 0.0, Gc)) * self.volume)
        if self.law.local:
            return total
        for axis, h in enumerate(self.spacing):
            dd = np.diff(d, axis=axis) / h
            gc = (
                np.take(Gc, range(1, d.shape[axis]), axis)
                + np.take(Gc, range(d.shape[axis] - 1), axis)
            ) / 2
            total += float(np.sum(gc / self.law.c_w * self.law.l * dd**2) * self.volume)
        return total

    def pull(self, speed: float, opening: float, *, saves: int = 201, **options) -> Pull:
        r"""Run a tension test: the grips move apart at `speed` until they are `opening`
        apart (`gm.simulate` with `options`, e.g. `rtol`, `solver`, `max_steps`).

        **Returns:** a [`Pull`][generic_mm.damage.Pull] with the opening, the nominal stress,
        the damage field at every saved time, the heat and the trajectory.
        """
        V = _positive(speed, "speed", "pull")
        target = _positive(opening, "opening", "pull")
        options.setdefault("max_steps", 10_000_000)
        options.setdefault("rtol", 1e-6)
        traj = simulate(self.model, self.initial(V), t1=target / V, saveat=saves, **options)
        return Pull(
            opening=self.opening(traj),
            stress=self.stress(traj),
            damage=np.asarray(traj["d"]),
            heat=self.heat(traj),
            trajectory=traj,
        )

    def heat(self, traj) -> np.ndarray:
        """The heat made so far: the elements' thermal energy above its initial value."""
        s = np.asarray(traj["s"]).reshape(len(traj.ts), -1)
        Cv = self.C * self.volume
        return np.sum(Cv * self.T0 * (np.exp(s / Cv) - np.exp(s[:1] / Cv)), axis=1)


class Bar(AbstractSpecimen):
    r"""A bar in uniaxial tension: `elements` two-node elements of length $h = L/n$.

    **Arguments:**

    - `elements`: the number of elements ($\ge 3$).
    - `law`: the damage law ([`AT1`][generic_mm.damage.AT1] (default),
        [`AT2`][generic_mm.damage.AT2], [`Peerlings`][generic_mm.damage.Peerlings]).
    - `length`, `area`: the bar's length and cross-section.
    - `E`, `rho`: Young's modulus and density; `C` heat capacity per unit volume, `T0` the
        initial temperature.
    - `zeta`: Kelvin-Voigt viscosity (stress per strain rate); default $h\sqrt{E\rho}/2$,
        which damps the mesh's highest modes and barely the slow loading.
    - `grips`: each grip's mass relative to the bar's.
    - `weak`: `(centre, width, reduction)`: elements whose centre lies in the band have the
        law's strength (`Gc`, or `kappa0`) lowered by the fraction `reduction`.

    `bar.model` is the [`StructuredModel`][generic_mm.structured.StructuredModel];
    `bar.initial(speed)` a tension test's initial state.
    """

    dim = 1

    def __init__(
        self,
        elements: int = 100,
        law: AbstractDamageLaw | None = None,
        *,
        length: float = 1.0,
        area: float = 1.0,
        E: float = 1.0,
        rho: float = 1.0,
        C: float = 1.0,
        T0: float = 1.0,
        zeta: float | None = None,
        grips: float = 1e6,
        weak: Any = None,
    ):
        where = "Bar"
        if (
            isinstance(elements, bool)
            or not isinstance(elements, (int, np.integer))
            or (elements < 3)
        ):
            raise InputError(f"{where}: elements must be an integer >= 3, got {elements!r}.")
        self._setup(law, E, rho, C, T0, grips, weak, where)
        self.size = (_positive(length, "length", where),)
        self.section = _positive(area, "area", where)
        self.element_shape = (int(elements),)
        self.node_shape = (int(elements) + 1,)
        h = self.size[0] / int(elements)
        self.spacing = (h,)
        self.volume = self.section * h
        self.zeta = (
            h * math.sqrt(self.E * self.rho) / 2 if zeta is None else _positive(zeta, "zeta", where)
        )

    def centres(self) -> tuple[np.ndarray, ...]:
        """Element centres."""
        return ((np.arange(self.element_shape[0]) + 0.5) * self.spacing[0],)

    def node_coordinates(self) -> tuple[np.ndarray, ...]:
        """Node positions."""
        return (np.arange(self.node_shape[0]) * self.spacing[0],)

    def masses(self) -> np.ndarray:
        """Lumped nodal masses, the grips included."""
        m = np.full(self.node_shape, self.rho * self.volume)
        m[[0, -1]] = (
            self.rho * self.volume / 2 + self.grips * self.rho * self.section * self.size[0]
        )
        return m

    def _element_terms(self) -> list[Interaction]:
        n = self.element_shape[0]
        h, V, law = self.spacing[0], self.volume, self.law
        edges = np.stack([np.arange(n), np.arange(1, n + 1), np.arange(n)], axis=1)
        k = 2 + len(law.extra)

        def energy(a, b, e):
            eps = (b.u - a.u) / h
            tension = sp.Max(eps, 0) ** 2  # the equivalent strain: tension only
            return law.degradation(e.d) * e.E * V * eps**2 / 2 + law.coupling(e, tension, V)

        c = self.zeta * self.section / h
        Kv = c * sp.Matrix([[1, -1], [-1, 1]])

        def viscous(a, b, e):
            block = kelvin_block(Kv, [a.dE("p"), b.dE("p")], e.dE("s"))
            return _embed(block, [1, 3, 4 + k - 1], 4 + k)

        return [
            Interaction("elastic", ("node", "node", "element"), edges, energy=energy),
            Interaction("viscous", ("node", "node", "element"), edges, friction=viscous),
        ]


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
    in-plane principal strains."""
    mean, radius = (exx + eyy) / 2, sp.sqrt(((exx - eyy) / 2) ** 2 + exy**2)
    return sp.Max(mean + radius, 0) ** 2 + sp.Max(mean - radius, 0) ** 2


class Plate(AbstractSpecimen):
    r"""A plate in plane strain, pulled along $x$: `shape` = $(n_x, n_y)$ bilinear elements.

    **Arguments:** as [`Bar`][generic_mm.damage.Bar], with `size = (L_x, L_y)`, `thickness`
    (the cross-section is $tL_y$), Poisson's ratio `nu`; `weak` is a band across the plate
    at $x$ = `centre`. Isotropic damage: the whole strain energy
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
        if nx < 3 or ny < 1 or tuple(shape) != (nx, ny):
            raise InputError(f"{where}: shape must be integers nx >= 3, ny >= 1, got {shape!r}.")
        self._setup(law, E, rho, C, T0, grips, weak, where)
        try:
            Lx, Ly = (_positive(v, "size", where) for v in size)
        except TypeError:
            raise InputError(f"{where}: size must be (Lx, Ly), got {size!r}.") from None
        self.nu = finite_number(nu, f"{where}: nu")
        if not -1 < self.nu < 0.5:
            raise InputError(f"{where}: nu must be in (-1, 0.5), got {nu!r}.")
        self.size = (Lx, Ly)
        self.thickness = _positive(thickness, "thickness", where)
        self.section = self.thickness * Ly
        self.element_shape = (nx, ny)
        self.node_shape = (nx + 1, ny + 1)
        self.spacing = (Lx / nx, Ly / ny)
        self.volume = self.thickness * self.spacing[0] * self.spacing[1]
        h = min(self.spacing)
        self.zeta = (
            h * math.sqrt(self.E * self.rho) / 2 if zeta is None else _positive(zeta, "zeta", where)
        )

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
            return _embed(block, [*p_rows, 16 + k - 1], 16 + k)

        kinds = ("node",) * 4 + ("element",)
        return [
            Interaction("elastic", kinds, edges, energy=energy),
            Interaction("viscous", kinds, edges, friction=viscous),
        ]
