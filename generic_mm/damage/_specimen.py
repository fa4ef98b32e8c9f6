r"""Gradient-damage specimens as structured GENERIC models: a bar (1D) and a plate (2D).

Nodes carry displacements $u$ and momenta $p$ (lumped masses, the canonical Poisson block);
elements carry the damage $d$, the law's extra state (Peerlings' $z$) and an entropy $s$ with
the thermal energy $CVT_0e^{s/(CV)}$ (heat capacity $C$ per unit volume, temperature
$T = T_0e^{s/(CV)}$; heat stays in its element). Each element's elastic energy
$g(d)\,V\,W(\varepsilon)$ ($g$ the law's degradation, $W$ the isotropic strain energy
density; the plate's bilinear elements are integrated at 2x2 Gauss points) is an interaction
of its nodes and itself, so $Y = -\partial E/\partial d$ is the energy the element releases
per unit damage. Friction makes heat in two processes: Kelvin-Voigt damping of the strain
rate (`viscous`: $\dot p = -K_vv$, $T\dot s = v^TK_vv$, the block
$\frac1T(TI\,|\,-v)^TK_v(TI\,|\,-v)$) and damage growth (`damage`: the law's block, with
the neighbours' damage for the gradient term, and for Peerlings' law the relaxation of $z$).

The specimen is pulled by two heavy grips (the end nodes along $x$, each `grips` times the
specimen's mass) moving apart at a speed $V$: the machine is part of the state, so the model
is autonomous and isolated, $E$ is conserved and $S$ produced.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from typing import Any

import numpy as np
import sympy as sp

from .._errors import InputError
from .._simulate import simulate
from .._trajectory import Trajectory
from .._validate import finite_number
from ..structured import Cells, Interaction, StructuredModel
from ._forms import AT1, AbstractDamageLaw, PhaseField, dissipation_block, positive


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
        """The highest nominal stress (the specimen's strength) among the saved points: save
        densely enough (`pull(..., saves=...)`) to resolve it."""
        return float(np.max(self.stress))


def kelvin_block(Kv: sp.Matrix, v: list, T) -> sp.Matrix:
    r"""Kelvin-Voigt damping on `(p..., s)`: $\frac1TW^TK_vW$ with $W = (TI\ |\ -v)$."""
    return dissipation_block(Kv, sp.Matrix.hstack(T * sp.eye(len(v)), -sp.Matrix(v)), T)


def embed(block: sp.Matrix, rows: list[int], size: int) -> sp.Matrix:
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
        self.E = positive(E, "E", where)
        self.rho = positive(rho, "rho", where)
        self.C = positive(C, "C", where)
        self.T0 = positive(T0, "T0", where)
        self.grips = positive(grips, "grips", where)
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
            if not np.any(inside):
                raise InputError(
                    f"weak = {self.weak}: no element centre lies in the band "
                    f"|x - {x0:g}| <= {width / 2:g} (elements of size {self.spacing[0]:g} on "
                    f"[0, {self.size[0]:g}]); widen it or move it onto the specimen."
                )
            value = np.where(inside, (1 - reduction) * value, value)
        return value

    def _elements(self) -> Cells:
        d, s = sp.Symbol("d", real=True), sp.Symbol("s", real=True)
        extra = [sp.Symbol(n, real=True) for n in self.law.extra]
        values: dict[str, Any] = dict(self.law.params())
        values[self.law.strength] = self.strengths()
        values.update(E=self.E, Cv=self.C * self.volume, T0=self.T0)
        # every parameter is positive but those the law declares sign-free
        params = {
            sp.Symbol(k, real=True) if k in self.law.signed else sp.Symbol(k, positive=True): v
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
            return embed(block, list(range(k)), k * count)

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
        r"""The nominal stress: the tension the right grip carries, $\sum\partial E/\partial
        u_x$ over its nodes (the elastic force it exerts on the specimen, positive when
        pulling; the small Kelvin-Voigt force left out), per unit cross-section."""
        g = np.asarray(traj.grad_energy["u" if self.dim == 1 else "ux"])
        force = g[:, -1] if self.dim == 1 else g[:, -1, :].sum(axis=-1)
        return force / self.section

    def crack_energy(self, d) -> float:
        r"""$\Gamma(d) = \int\frac{G_c}{c_w}\left(\frac{w(d)}{l} + l|\nabla d|^2\right)dV$ of a
        damage field (phase-field laws), with the model's own discrete gradient; a fully
        developed crack across the specimen has $\Gamma = G_c\times$ the cross-section."""
        if not isinstance(self.law, PhaseField):
            raise InputError(f"crack_energy: defined for the phase-field laws, not {self.law!r}.")
        d = np.asarray(d, dtype=float)
        if d.size != int(np.prod(self.element_shape)):
            raise InputError(
                f"crack_energy: expected one damage field of shape {self.element_shape} (e.g. "
                f"pull.damage[-1]), got shape {d.shape}."
            )
        d = d.reshape(self.element_shape)
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
            total += float(np.sum(self.law.crack_density(0.0, dd**2, gc)) * self.volume)
        return total

    def pull(self, speed: float, opening: float, *, saves: int = 201, **options) -> Pull:
        r"""Run a tension test: the grips move apart at `speed` until they are `opening`
        apart (`gm.simulate` with `options`, e.g. `rtol`, `solver`, `max_steps`).

        **Returns:** a [`Pull`][generic_mm.damage.Pull] with the opening, the nominal stress,
        the damage field at every saved time, the heat and the trajectory.
        """
        V = positive(speed, "speed", "pull")
        target = positive(opening, "opening", "pull")
        if isinstance(saves, bool) or not isinstance(saves, (int, np.integer)) or saves < 2:
            raise InputError(f"pull: saves must be an integer >= 2, got {saves!r}.")
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
