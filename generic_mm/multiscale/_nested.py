r"""`NestedModel`: a macroscopic grid whose every cell carries an RVE with its own micro state.

The state is the entropy $s_{Iv}$ of every node $v$ of the RVE of every macroscopic cell $I$
(periodic voxel finite elements, `homogenization.Voxels`); node $v$ has the lumped heat
capacity $C_v$ of its voxels, $T_{Iv} = e^{s_{Iv}/C_v}$ (temperature 1 at zero entropy), and
$E = \sum C_vT_{Iv}$, $S = \sum s_{Iv}$.

Conduction is one linear map $B$ from a nodal field $z$ to gradients at the Gauss points of
every RVE: the RVE's own (periodic) gradient plus the macroscopic gradient of the cells'
means $\bar z_I = \sum_v w_v z_{Iv}$ ($\sum_v w_v = 1$), taken across each face of the cell:

$$ (Bz)_{Icq} = G_c(\bar z)_I + \nabla_y z_I(q), \qquad
   M = D B^TW\hat K B D, \quad D = \mathrm{diag}(1/T), \quad
   \hat K_q = T_q^2K(T_q) \ge 0, $$

with $c$ running over the $2^D$ choices of one face per macroscopic axis (the one-sided
differences $(\bar z_{I+1} - \bar z_I)/H$ and $(\bar z_I - \bar z_{I-1})/H$; a quadratic form
averaged over them, so that neither the macroscopic checkerboard nor an alternating micro
field is a spurious steady state), $W$ the Gauss weights times the volume each RVE stands
for. $B$ annihilates constants ($B1 = 0$), so $M\nabla E = DB^TW\hat KB\,1 = 0$ for any
state; $M$ is symmetric and positive semi-definite wherever every phase's $K(T)$ is.
$M\nabla S$ gives $\dot s = \theta\odot B^TW\hat K B\theta$, $\theta = 1/T$: the flux
$\hat K\nabla\theta = -K\nabla T$ (Fourier). $B^T$ is JAX's transpose of $B$, so $M$ is
symmetric to round-off by construction; the checks verify it all on the assembled operator.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import sympy as sp

from .._checks import CheckOptions
from .._codegen import AbstractFunctions, Program
from .._errors import InputError
from .._layout import StateLayout
from .._model import AbstractModel, CompiledParts
from .._region import ParameterSpec
from .._report import ConsistencyReport
from .._sampling import SampledChecks
from .._validate import finite_number, positive_number
from ..homogenization import Periodic, Voxels

T_SYMBOL_NAME = "T"
"""Conductivity laws are SymPy expressions of the symbol named `T` (the temperature)."""
CHECK_LIMIT = 1500
"""Above this many state variables the checks judge a reduced instance: the same RVE on a
macroscopic grid of at most 3 cells per axis (the same neighbours, faces and boundaries)."""
_CHECK_FLOATS = 4e6
"""How many float64 entries the dense operators of all sampled states may hold together."""


class NestedModel(AbstractModel):
    r"""A macroscopic 1D or 2D grid of cells, each carrying a periodic RVE (a voxel
    microstructure) with its own micro temperatures, coupled by the macroscopic gradient
    (concurrent multiscale, FE$^2$ for transient conduction). Build one with
    [`generic_mm.multiscale.nested_conduction`][] (or `resolved_conduction`,
    `hierarchical_conduction`); `gm.check`, `gm.compile` and `gm.simulate` take it like
    any model.

    **Attributes:** `micro` (the RVE's phase indices), `macro_shape`, `periodic` (per
    macroscopic axis), `spacing` $H$ (the macroscopic cell size), `voxel` $h$ (the RVE's
    voxel size), `coupling` (`"boundary"` or `"volume"`: where a cell's mean temperature is
    taken and where the heat its neighbours send arrives), `temperature_range` (the range the
    checks judge), `n`; for a hierarchical model with a table, `table_temperatures` and
    `table_values` (otherwise `None`).

    The state is one field `s`, of shape `macro_shape + micro.shape`: the entropy of each
    RVE node. `model.state(T)` builds it from temperatures; `model.temperatures(y)` and
    `model.macro_temperature(y)` (capacity-weighted cell means) read it back.

    Observables: `T_macro` (per macroscopic cell) and `hill_mandel`, the share of the
    RVEs' entropy production not accounted for by macroscopic gradient times averaged
    flux, $\sum_I|P^\mu_I - P^M_I|/\sum_IP^\mu_I$: zero when every RVE is in micro
    equilibrium (Hill-Mandel), the fluctuations' share of the dissipation in transients.
    """

    def __init__(
        self,
        micro: np.ndarray,
        capacities: Sequence[float],
        conductivities: Sequence[Any],
        macro_shape: Sequence[int],
        *,
        spacing: float,
        voxel: float,
        periodic: bool | Sequence[bool] = True,
        coupling: str = "boundary",
        temperature_range: tuple[float, float] = (1e-3, 1e4),
        params: Mapping[sp.Symbol, float] | None = None,
        name: str | None = None,
        table: tuple[np.ndarray, np.ndarray] | None = None,
        reference_temperature: float | None = None,
    ):
        where = name or "nested model"
        micro = np.asarray(micro)
        if micro.ndim not in (2, 3) or micro.dtype.kind not in "iu" or micro.min() < 0:
            raise InputError(
                f"{where}: micro must be a 2D or 3D array of phase indices 0..P-1, got "
                f"{micro.dtype} of shape {micro.shape}."
            )
        missing = sorted(set(range(int(micro.max()) + 1)) - set(np.unique(micro).tolist()))
        if missing:
            raise InputError(f"{where}: micro: phase(s) {missing} do not occur.")
        self.micro = micro.astype(np.int32)
        self.micro.flags.writeable = False
        d = micro.ndim
        count = int(micro.max()) + 1
        self.macro_shape = macro(macro_shape, d, where)
        D = len(self.macro_shape)
        flags = (periodic,) * D if isinstance(periodic, bool) else tuple(periodic)
        if len(flags) != D or not all(isinstance(f, bool) for f in flags):
            raise InputError(f"{where}: periodic must be a bool or {D} bools, got {periodic!r}.")
        self.periodic = flags
        self.spacing = positive_number(spacing, f"{where}: spacing")
        self.voxel = positive_number(voxel, f"{where}: voxel")
        if coupling not in ("boundary", "volume"):
            raise InputError(f"{where}: coupling must be 'boundary' or 'volume', got {coupling!r}.")
        self.coupling = coupling
        try:
            lo, hi = (positive_number(t, f"{where}: temperature_range") for t in temperature_range)
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: temperature_range must be (low, high), got {temperature_range!r}."
            ) from None
        if not lo < hi or lo < 1e-30 or hi > 1e30:
            raise InputError(
                f"{where}: temperature_range must be (low, high), got {temperature_range!r}."
            )
        self.temperature_range = (lo, hi)
        if reference_temperature is None:
            reference_temperature = math.sqrt(lo * hi)
        self.reference_temperature = positive_number(
            reference_temperature, f"{where}: reference_temperature"
        )
        if not lo <= self.reference_temperature <= hi:
            raise InputError(
                f"{where}: reference_temperature {reference_temperature!r} must lie in "
                f"temperature_range {self.temperature_range}."
            )
        if not isinstance(capacities, Sequence | np.ndarray) or not isinstance(
            conductivities, Sequence | np.ndarray
        ):
            raise InputError(
                f"{where}: capacities and conductivities must be sequences, one entry per phase."
            )
        caps = [positive_number(c, f"{where}: capacities[{p}]") for p, c in enumerate(capacities)]
        if len(caps) != count or len(conductivities) != count:
            raise InputError(
                f"{where}: the microstructure has {count} phases; give one capacity and one "
                f"conductivity per phase (got {len(caps)} and {len(conductivities)})."
            )
        self.user_params = _user_params(params, where)
        self.laws = tuple(
            _law(k, d, set(self.user_params), f"{where}: conductivities[{p}]")
            for p, k in enumerate(conductivities)
        )
        self.capacity_symbols = tuple(sp.Symbol(f"C{p}", positive=True) for p in range(count))
        self.capacity_values = tuple(caps)
        self.table_temperatures, self.table_values = table if table is not None else (None, None)
        self.name = name or f"nested conduction ({'x'.join(map(str, self.macro_shape))} cells)"
        self._freeze()

    # -- geometry ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.micro.ndim

    @property
    def n(self) -> int:
        return math.prod(self.macro_shape) * self.micro.size

    @property
    def field_shape(self) -> tuple[int, ...]:
        return self.macro_shape + self.micro.shape

    @property
    def cell_volume(self) -> float:
        """The volume one macroscopic cell stands for: $H^D$ times the RVE's transverse
        lengths."""
        D = len(self.macro_shape)
        return self.spacing**D * math.prod(self.voxel * n for n in self.micro.shape[D:])

    def _functions(self) -> NestedFunctions:
        return self.cached("functions", lambda: NestedFunctions(self))

    # -- AbstractModel ----------------------------------------------------------------------
    def parameter_values(self) -> dict[str, jax.Array]:
        """Name -> value of every parameter (capacities `C<p>`, then the laws' `params`)."""
        params = {
            s.name: jnp.asarray(v, dtype=float)
            for s, v in zip(self.capacity_symbols, self.capacity_values, strict=True)
        }
        params.update({s.name: jnp.asarray(v, dtype=float) for s, v in self.user_params.items()})
        return params

    def compile_parts(self) -> CompiledParts:
        fn = self._functions()
        return CompiledParts(self.parameter_values(), {}, fn.layout, fn)

    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        out = {
            s.name: ParameterSpec(s, np.asarray(v), None)
            for s, v in zip(self.capacity_symbols, self.capacity_values, strict=True)
        }
        # The laws were checked at these values only: another value could make K(T) negative
        # where nobody checked it. Pinned (refused by simulate): build a new model instead.
        out.update(
            {s.name: ParameterSpec(s, np.asarray(v), (v, v)) for s, v in self.user_params.items()}
        )
        return out

    def state_specs(self):
        return {"s": (sp.Symbol("s", real=True), None)}

    def consistency_report(self, options: CheckOptions) -> ConsistencyReport:
        from ._checks import check_nested

        return check_nested(self, options)

    # -- states -----------------------------------------------------------------------------
    def state(self, T: Any) -> np.ndarray:
        """The state (entropy field, flattened) at temperatures `T`: a number, a field of
        `macro_shape` (uniform in each RVE) or of `macro_shape + micro.shape`."""
        arr = np.asarray(T, dtype=float)
        shape = self.field_shape
        if arr.shape == self.macro_shape:
            arr = arr.reshape(self.macro_shape + (1,) * self.dim)
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise InputError(
                f"{self.name}: state(T): expected a number, a field of shape "
                f"{self.macro_shape} or {shape}; got {np.shape(T)}."
            ) from None
        lo, hi = self.temperature_range
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{self.name}: state(T): temperatures must be finite.")
        if np.any(arr < lo) or np.any(arr > hi):
            raise InputError(
                f"{self.name}: state(T): temperatures must lie in temperature_range "
                f"[{lo:g}, {hi:g}], where the checks judged the conductivity laws; got "
                f"{arr.min():g} .. {arr.max():g}."
            )
        C = np.asarray(self._functions().node_capacity(self._capacity_vector()))
        return (C * np.log(arr)).reshape(-1)

    def _capacity_vector(self) -> jax.Array:
        return jnp.asarray(self.capacity_values, dtype=float)

    def temperatures(self, y: Any) -> jax.Array:
        """Node temperatures, shape `(..., *macro_shape, *micro.shape)` for states `y`
        (`(..., n)`)."""
        fn = self._functions()
        y = jnp.asarray(y)
        if y.ndim == 0 or y.shape[-1] != self.n:
            raise InputError(
                f"{self.name}: expected states of {self.n} variables (shape (..., {self.n})), "
                f"got shape {y.shape}."
            )
        C = fn.node_capacity(self._capacity_vector())
        return jnp.exp(y.reshape(y.shape[:-1] + self.field_shape) / C)

    def macro_temperature(self, y: Any) -> jax.Array:
        """Capacity-weighted mean temperature of every macroscopic cell (its energy over its
        heat capacity), shape `(..., *macro_shape)`."""
        T = self.temperatures(y)
        C = self._functions().node_capacity(self._capacity_vector())
        axes = tuple(range(-self.dim, 0))
        return jnp.sum(C * T, axis=axes) / jnp.sum(C)


def macro(macro_shape: Any, d: int, where: str) -> tuple[int, ...]:
    """A macroscopic grid shape: 1 or 2 positive integers, at most the RVE's dimension."""
    try:
        shape = tuple(int(m) for m in macro_shape)
        if any(m != s or isinstance(m, bool) for m, s in zip(macro_shape, shape, strict=True)):
            shape = ()
    except (TypeError, ValueError):
        shape = ()
    if len(shape) not in (1, 2) or min(shape) < 1 or len(shape) > d:
        raise InputError(
            f"{where}: macro_shape must have 1 or 2 positive entries (at most the RVE's {d} "
            f"dimensions), got {macro_shape!r}."
        )
    return shape


def _user_params(params, where: str) -> dict[sp.Symbol, float]:
    out: dict[sp.Symbol, float] = {}
    for key, value in (params or {}).items():
        if not isinstance(key, sp.Symbol) or re.fullmatch(f"{T_SYMBOL_NAME}|C[0-9]+", key.name):
            raise InputError(
                f"{where}: params keys must be SymPy symbols other than T and C<p> (the "
                f"capacities), got {key!r}."
            )
        out[key] = finite_number(value, f"{where}: params[{key}]")
    return out


def _law(value: Any, d: int, allowed: set[sp.Symbol], where: str) -> sp.ImmutableMatrix:
    """A phase's conductivity as a `d x d` SymPy matrix of the symbol `T` and the
    parameters: from a number, a scalar expression (isotropic) or a `d x d` array."""
    if isinstance(value, (sp.MatrixBase, np.ndarray, list, tuple)):
        try:
            mat = sp.ImmutableMatrix(value)
        except (TypeError, ValueError, sp.SympifyError):
            raise InputError(f"{where}: expected a {d}x{d} matrix, got {value!r}.") from None
        if mat.shape != (d, d):
            raise InputError(f"{where}: expected a {d}x{d} matrix, got shape {mat.shape}.")
    elif isinstance(value, (int, float, np.number, sp.Expr)) and not isinstance(value, bool):
        mat = sp.ImmutableMatrix(sp.eye(d) * sp.sympify(value))
    else:
        raise InputError(
            f"{where}: expected a number, a SymPy expression of T or a {d}x{d} matrix, got "
            f"{value!r}."
        )
    free = {s for s in mat.free_symbols if s.name != T_SYMBOL_NAME}
    unknown = sorted(str(s) for s in free - allowed)
    if unknown:
        raise InputError(
            f"{where}: unknown symbol(s) {unknown}: a conductivity may depend on T and on "
            f"symbols given values in params."
        )
    if mat.has(sp.I, sp.zoo, sp.oo, sp.nan):
        raise InputError(f"{where}: must be real and finite, got {mat!r}.")
    # One temperature symbol, whatever assumptions the user gave theirs.
    T = sp.Symbol(T_SYMBOL_NAME, positive=True)
    return sp.ImmutableMatrix(mat.xreplace({s: T for s in mat.free_symbols if s.name == "T"}))


class NestedFunctions(AbstractFunctions):
    """The compiled functions of a `NestedModel` (see the module docstring)."""

    def __init__(self, model: NestedModel):
        self.model = model
        D = len(model.macro_shape)
        shape = model.micro.shape
        self.mesh = Voxels(shape, Periodic(), 1)
        self.layout = StateLayout.fields([("rve", ("s",), model.field_shape)])
        count = len(model.laws)
        masks = np.stack([(model.micro == p).astype(float) for p in range(count)])
        self.masks = masks
        Q = self.mesh.G.shape[0]
        # Lumped capacity fractions per node: each voxel gives 1/2^d of itself to a corner.
        self.node_fraction = np.asarray(
            [
                jnp.asarray(
                    self.mesh.sources(jnp.broadcast_to(jnp.asarray(m)[None, None], (Q, 1, *shape)))
                )[0]
                for m in masks
            ]
        )
        scale = model.cell_volume / model.micro.size  # physical volume per voxel of a cell
        self.voxel_volume = scale
        self.weight = scale / Q  # per Gauss point
        if model.coupling == "volume":
            w = np.full(shape, 1.0 / model.micro.size)
        else:
            on = np.zeros(shape, dtype=bool)
            for a in range(D):
                on[(slice(None),) * a + (0,)] = True
            w = on / on.sum()
        self.mean_weights = w
        self.combos = list(itertools.product((0, 1), repeat=D))
        self.T = sp.Symbol(T_SYMBOL_NAME, positive=True)
        self.param_symbols = tuple(model.capacity_symbols) + tuple(
            sorted(model.user_params, key=lambda s: s.name)
        )
        self.laws = [Program([self.T], self.param_symbols, [law]) for law in model.laws]
        self.correctors = self._correctors(model)

    @property
    def process_names(self) -> tuple[str, ...]:
        return ("conduction",)

    @property
    def observable_names(self) -> tuple[str, ...]:
        return ("T_macro", "hill_mandel")

    # -- pieces -----------------------------------------------------------------------------
    def node_capacity(self, C: jax.Array) -> jax.Array:
        """Lumped node heat capacities (extensive) from per-phase capacities `C`."""
        return self.voxel_volume * jnp.tensordot(C, jnp.asarray(self.node_fraction), axes=1)

    def _pvec(self, p) -> jax.Array:
        return jnp.stack([jnp.asarray(p[s.name], dtype=float) for s in self.param_symbols])

    def _capacities(self, p) -> jax.Array:
        return jnp.stack([jnp.asarray(p[s.name], dtype=float) for s in self.model.capacity_symbols])

    def _cells(self, y):
        m = self.model
        return jnp.asarray(y).reshape((math.prod(m.macro_shape),) + m.micro.shape)

    def _temperature(self, y, p):
        C = self.node_capacity(self._capacities(p))
        return jnp.exp(self._cells(y) / C), C

    def _macro_gradients(self, zbar):
        """Per face combination: the macroscopic gradient `(2^D, cells, d)`."""
        m = self.model
        zbar = zbar.reshape(m.macro_shape)
        up, down = [], []
        for a, per in enumerate(m.periodic):
            plus = (jnp.roll(zbar, -1, a) - zbar) / m.spacing
            minus = (zbar - jnp.roll(zbar, 1, a)) / m.spacing
            if not per:  # insulated: no face beyond the last (first) cell
                last = jnp.arange(m.macro_shape[a]).reshape(
                    [-1 if b == a else 1 for b in range(zbar.ndim)]
                )
                plus = jnp.where(last == m.macro_shape[a] - 1, 0.0, plus)
                minus = jnp.where(last == 0, 0.0, minus)
            up.append(plus.reshape(-1))
            down.append(minus.reshape(-1))
        d, D = m.dim, len(m.macro_shape)
        out = []
        for c in self.combos:
            comps = [up[a] if c[a] else down[a] for a in range(D)]
            comps += [jnp.zeros_like(up[0])] * (d - D)
            out.append(jnp.stack(comps, axis=-1))
        return jnp.stack(out)

    def _correctors(self, model: NestedModel) -> jax.Array:
        r"""$\nabla\chi_a$ `(Q, d, D, *voxels)`: the periodic correctors of the RVE for unit
        macroscopic gradients along the macroscopic axes, with every phase's $K$ at the
        reference temperature (one preconditioned CG solve each)."""
        mesh, d, D = self.mesh, model.dim, len(model.macro_shape)
        Q, shape = mesh.G.shape[0], model.micro.shape
        T_ref = jnp.asarray([model.reference_temperature])
        pv = self._pvec(model.parameter_values())
        K = jnp.stack([law(T_ref, pv)[0] for law in self.laws])  # (P, d, d)
        # Any corrector keeps the model consistent (the face term stays a square); the
        # symmetric part keeps CG applicable to a law the checks will refuse as unsymmetric.
        K = 0.5 * (K + jnp.swapaxes(K, 1, 2))
        field = jnp.einsum("p...,pij->ij...", jnp.asarray(self.masks), K)

        def flux(H):  # (Q, 1, d, *voxels)
            return jnp.einsum("ij...,qmj...->qmi...", field, H)

        struct = jax.ShapeDtypeStruct((1, *shape), jnp.float64)
        tag = lx.positive_semidefinite_tag
        A = lx.FunctionLinearOperator(lambda u: mesh.forces(flux(mesh.gradient(u))), struct, tag)
        pre = lx.FunctionLinearOperator(mesh.precondition, struct, tag)
        scale = float(jnp.max(jnp.abs(K)))
        out = []
        for a in range(D):
            E = jnp.zeros((Q, 1, d, *shape)).at[:, :, a].set(1.0)
            rhs = -mesh.forces(flux(E))
            solver = lx.CG(rtol=1e-10, atol=1e-13 * scale, max_steps=20 * math.prod(shape) + 100)
            sol = lx.linear_solve(A, rhs, solver, options={"preconditioner": pre}, throw=False)
            if sol.result != lx.RESULTS.successful:
                raise InputError(
                    f"{model.name}: the RVE's corrector solve did not converge at the "
                    f"reference temperature {model.reference_temperature:g}: is every phase's "
                    "conductivity positive definite there?"
                )
            out.append(mesh.gradient(sol.value)[:, 0])
        return jnp.stack(out, axis=2)

    def gradients_of(self, z):
        r"""$Bz$: `(combos, cells, Q, d, *voxels)` for a nodal field `z` `(cells, *nodes)`:
        for face choice $c$, $G_c + \nabla_yz + \nabla\chi\,(G_c - \bar G)$ with $\bar G$
        the mean over the choices (the central difference). The corrector term makes the
        face choices cost what the RVE's effective conductivity says, so that in the
        separated limit the scheme is the compact one with $K^\mathrm{eff}$; it vanishes
        for a uniform field like every other term."""
        d, D = self.model.dim, len(self.model.macro_shape)
        zbar = jnp.tensordot(z, jnp.asarray(self.mean_weights), axes=d)
        G = self._macro_gradients(zbar)  # (C, cells, d)
        delta = (G - jnp.mean(G, axis=0))[..., :D]
        g = jax.vmap(lambda u: self.mesh.gradient(u[None])[:, 0])(z) / self.model.voxel
        face = jnp.einsum("qia...,cna->cnqi...", self.correctors, delta)
        return G[:, :, None, :, *([None] * d)] + g[None] + face

    def _conductance(self, T, p):
        r"""$\hat K = T_q^2K(T_q)$ at every Gauss point: `(cells, Q, d, d, *voxels)`."""
        d = self.model.dim
        Tq = jax.vmap(lambda u: self.mesh.values(u[None])[:, 0])(T)  # (cells, Q, *vox)
        pv = self._pvec(p)
        flat = Tq.reshape(-1)
        total = 0.0
        for law, mask in zip(self.laws, self.masks, strict=True):
            K = jax.vmap(lambda t, law=law: law(t[None], pv)[0])(flat)  # (N, d, d)
            K = jnp.moveaxis(K.reshape(*Tq.shape, d, d), (-2, -1), (2, 3))
            total = total + K * jnp.asarray(mask)
        return total * (Tq**2)[:, :, None, None]

    def _flux(self, X, Khat):
        """The weighted flux $W\\hat KX$ (combination weights $2^{-D}$ included)."""
        F = jnp.einsum("nqij...,cnqj...->cnqi...", Khat, X)
        return F * (self.weight / len(self.combos))

    def _products(self, y, p, v):
        """`(M v, T, C)` for a vector `v` (entropy coordinates)."""
        T, C = self._temperature(y, p)
        Khat = self._conductance(T, p)
        z = self._cells(v) / T
        X = self.gradients_of(z)
        F = self._flux(X, Khat)
        (back,) = jax.linear_transpose(self.gradients_of, z)(F)
        return (back / T).reshape(-1), T, C

    # -- AbstractFunctions ------------------------------------------------------------------
    def rates(self, y, p, data):
        return self._products(y, p, jnp.ones_like(y))[0]

    def apply(self, y, p, data, v_poisson, v_friction):
        return jnp.zeros_like(v_poisson), self._products(y, p, v_friction)[0]

    def gradients(self, y, p, data):
        T, _ = self._temperature(y, p)
        return T.reshape(-1), jnp.ones_like(y)

    def _powers(self, y, p):
        """Per cell: micro entropy production $P^\\mu$ and macroscopic gradient times
        averaged flux $P^M$ (`(cells,)` each)."""
        T, C = self._temperature(y, p)
        Khat = self._conductance(T, p)
        X = self.gradients_of(1.0 / T)
        F = self._flux(X, Khat)
        d = self.model.dim
        axes = tuple(range(4, 4 + d))  # the voxel axes of F (c, cells, Q, d, *voxels)
        micro = jnp.sum(F * X, axis=(0, *range(2, X.ndim)))
        zbar = jnp.tensordot(1.0 / T, jnp.asarray(self.mean_weights), axes=d)
        G = self._macro_gradients(zbar)  # (c, cells, d)
        macro = jnp.sum(G * jnp.sum(F, axis=(2, *axes)), axis=(0, 2))
        return micro, macro, T, C

    def thermodynamics(self, y, p, data):
        micro, _, T, C = self._powers(y, p)
        return jnp.sum(C * T), jnp.sum(y), jnp.sum(micro)

    def production_by_process(self, y, p, data):
        return {"conduction": self.thermodynamics(y, p, data)[2]}

    def observables(self, y, p, data):
        micro, macro, T, C = self._powers(y, p)
        d = self.model.dim
        axes = tuple(range(1, 1 + d))
        Tm = jnp.sum(C * T, axis=axes) / jnp.sum(C)
        total = jnp.sum(micro)
        hm = jnp.where(
            total > 0, jnp.sum(jnp.abs(micro - macro)) / jnp.where(total > 0, total, 1.0), 0.0
        )
        return {"T_macro": Tm.reshape(self.model.macro_shape), "hill_mandel": hm}

    def operators(self, y, p, data):
        n = y.shape[0]
        # Columns in batches: a vmap over all n would hold n copies of every intermediate.
        M = jax.lax.map(lambda e: self._products(y, p, e)[0], jnp.eye(n), batch_size=32).T
        gE, gS = self.gradients(y, p, data)
        return jnp.zeros((n, n)), M, gE, gS

    def fields(self, y, p, data):
        micro, _, T, C = self._powers(y, p)
        m = self.model
        share = jnp.broadcast_to((micro / m.micro.size)[(...,) + (None,) * m.dim], T.shape).reshape(
            m.field_shape
        )
        return {
            "rve": {
                "energy": (C * T).reshape(m.field_shape),
                "entropy": jnp.asarray(y).reshape(m.field_shape),
                "entropy_production": share,
            }
        }


def assembled_checks(functions: NestedFunctions, ys: np.ndarray, p, rtol: float) -> SampledChecks:
    """The core's sampled judges on operators assembled at the states `ys` `(k, n)`."""
    ops = jax.jit(lambda ys: jax.lax.map(lambda y: functions.operators(y, p, {}), ys))
    L, M, gE, gS = (np.asarray(a) for a in ops(jnp.asarray(ys)))
    names = tuple(f"s{idx}" for idx in np.ndindex(*functions.model.field_shape))
    return SampledChecks.from_arrays(
        names, ys, L, M, gE, gS, rtol=rtol, describe=_describe(functions)
    )


def _describe(functions: NestedFunctions):
    def counterexample(y: np.ndarray) -> dict[str, float]:
        Tm = np.asarray(functions.model.macro_temperature(y)).reshape(-1)
        out = {f"T_macro[{i}]": float(t) for i, t in enumerate(Tm)}
        T = np.asarray(functions.model.temperatures(y))
        out.update({"T_min": float(T.min()), "T_max": float(T.max())})
        return out

    return counterexample
