r"""Lattices as structured GENERIC models, and phonons from their JAX Hessian.

Atom $i$ at reference site $X_i$ of a periodic supercell sits at $x_i = FX_i + u_i$: its
state is the displacement $u_i$ from the Cauchy-Born (affine) position and its momentum
$p_i$, with $e_i = |p_i|^2/2m$ and the canonical Poisson block. Each neighbour shell is an
interaction with the bond energy $\phi(|F X_e + u_b - u_a|)$, $X_e$ the bond's reference
vector. The box deforms with $F$, so the mean deformation is held at $F$ while the atoms
move. An optional heat bath (one cell with entropy $s_B$ and energy $T_B s_B$, a reservoir
at temperature $T_B$) damps every atom through the friction block on $(p_i, s_B)$
$$M = \gamma\begin{pmatrix}T_B I & -v_i\\ -v_i^T & |v_i|^2/T_B\end{pmatrix},\quad
v_i = \partial E/\partial p_i,$$
so $\dot p_i \ni -\gamma v_i$ and the bath gains the mechanical energy as heat:
$\dot S = \gamma\sum_i |v_i|^2/T_B \ge 0$ with $E$ conserved.
"""

from __future__ import annotations

import fractions
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .. import compile as compile_model
from .._errors import InputError, ModelError
from ..structured import Cells, Grid, Interaction, StructuredModel
from ._lattice import _shape
from ._potentials import R as DISTANCE

_MAX_CELLS = 512  # per axis, for the automatic supercell of the Hessian dispersion


def state_names(dim: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The displacement and momentum variable names of an atom."""
    if dim == 1:
        return ("u",), ("p",)
    return ("ux", "uy"), ("px", "py")


def deformation_params(lattice, F: np.ndarray) -> dict[str, float]:
    """The model's deformation parameters (`lam`, or `F11` ...) at `F`."""
    return {sym.name: float(F.reshape(-1)[i]) for i, sym in enumerate(lattice.F)}


def patch_minimum(lattice) -> int:
    """The fewest cells per axis of a periodic supercell in which every bond is one bond:
    twice the farthest neighbour offset plus one (and at least 3)."""
    reach = max(int(np.max(np.abs(s.offsets))) for s in lattice.shells)
    return max(2 * reach + 1, 3)


def build_model(
    lattice,
    shape: Any,
    deformation: Any = None,
    *,
    temperature: float | None = None,
    friction: float | None = None,
) -> StructuredModel:
    """See [`Lattice.model`][generic_mm.lattices.Lattice.model]."""
    shape = _shape(shape, lattice.dim)
    d = lattice.dim
    need = patch_minimum(lattice)
    if min(shape) < need:
        raise InputError(
            f"model: a periodic supercell needs at least {need} cells per axis for "
            f"{len(lattice.shells)} neighbour shell(s) (each bond once); got {shape}."
        )
    F = lattice._deformation(deformation)
    grid = Grid(shape, periodic=True)
    names_u, names_p = state_names(d)
    u = [sp.Symbol(n, real=True) for n in names_u]
    p = [sp.Symbol(n, real=True) for n in names_p]
    m = lattice.m
    params: dict[Any, Any] = {m: lattice.mass}
    params.update(dict(zip(lattice.F, F.reshape(-1).tolist())))
    params.update(lattice._potential_params)
    taken = {s.name for s in lattice._potential_params}
    own = set(names_u) | set(names_p) | {"gamma", "T_bath", "s"}
    own |= {f"bond{c}{i + 1}" for i in range(8) for c in "xy"}
    clash = taken & own  # PairPotential refuses these names already: a second line of defence
    if clash:
        raise ModelError(
            f"model: a potential parameter is named {sorted(clash)[0]!r}, which the lattice "
            "model uses itself; rename the symbol."
        )
    atoms = Cells(
        "atom",
        [*u, *p],
        sum(q**2 for q in p) / (2 * m),
        0,
        shape=grid,
        params=params,
    )
    cells = [atoms]
    n_u = len(u)
    canonical = sp.zeros(2 * n_u, 2 * n_u)
    for i in range(n_u):
        canonical[i, n_u + i], canonical[n_u + i, i] = 1, -1
    interactions = [
        Interaction(
            "canonical",
            "atom",
            np.arange(grid.count)[:, None],
            poisson=lambda a: sp.Matrix(canonical),
        )
    ]
    index = np.arange(grid.count).reshape(shape)
    for shell, phi in zip(lattice.shells, lattice._phi):
        if phi is None:
            continue
        edges, vecs = [], []
        for off, vec in zip(shell.offsets, shell.vectors):
            nxt = np.roll(index, shift=tuple(-int(o) for o in off), axis=tuple(range(d)))
            edges.append(np.stack([index.reshape(-1), nxt.reshape(-1)], axis=1))
            vecs.append(np.broadcast_to(vec * lattice.spacing, (grid.count, d)))
        edges_arr = np.concatenate(edges)
        vec_arr = np.concatenate(vecs)
        bx = [sp.Symbol(f"bond{c}{shell.index}", real=True) for c in "xy"[:d]]
        bond_params = {
            sym: (vec_arr[:, i] if d == 2 else float(vec_arr[0, i])) for i, sym in enumerate(bx)
        }

        def energy(a, b, phi=phi, bx=bx):
            Fa = sp.Matrix(d, d, [getattr(a, s.name) for s in lattice.F])
            subs = {s: getattr(a, s.name) for s in lattice._potential_params}
            r = Fa * sp.Matrix(bx) + sp.Matrix([getattr(b, n) - getattr(a, n) for n in names_u])
            rho = r[0] if d == 1 else sp.sqrt(sum(c**2 for c in r))
            return phi.xreplace(subs).subs(DISTANCE, rho)

        interactions.append(
            Interaction(
                f"shell{shell.index}",
                ("atom", "atom"),
                edges_arr,
                energy=energy,
                params=bond_params,
            )
        )
    if temperature is None and friction is not None:
        raise InputError("model: friction is the bath's damping; give temperature= too.")
    if temperature is not None:
        friction = 0.1 if friction is None else friction
        s = sp.Symbol("s", real=True)
        TB, gamma = sp.Symbol("T_bath", positive=True), sp.Symbol("gamma", positive=True)
        if any(
            isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float, np.number))
            for v in (temperature, friction)
        ):
            raise InputError(
                f"model: temperature and friction must be numbers, got {temperature!r} and "
                f"{friction!r}."
            )
        t_val, g_val = float(temperature), float(friction)
        if not (np.isfinite(t_val) and t_val > 0 and np.isfinite(g_val) and g_val > 0):
            raise InputError(
                f"model: temperature and friction must be positive, got {temperature!r} and "
                f"{friction!r}."
            )
        cells.append(Cells("bath", [s], TB * s, s, shape=1, params={TB: t_val}))

        def damping(x, bath):
            v = [x.dE(n) for n in names_p]
            T = bath.dE("s")
            K = 2 * n_u + 1
            M = sp.zeros(K, K)
            for i in range(n_u):
                M[n_u + i, n_u + i] = T
                M[n_u + i, K - 1] = M[K - 1, n_u + i] = -v[i]
            M[K - 1, K - 1] = sum(vi**2 for vi in v) / T
            return gamma * M

        interactions.append(
            Interaction(
                "bath",
                ("atom", "bath"),
                np.stack([np.arange(grid.count), np.zeros(grid.count, dtype=int)], axis=1),
                friction=damping,
                params={gamma: g_val},
            )
        )
    label = "x".join(str(n) for n in shape)
    return StructuredModel(cells, interactions, name=f"{lattice.kind} lattice, {label} atoms")


class _Operators:
    """The jitted energy and Hessian pieces of one periodic patch shape, the displacements
    `u` (atom-major, `dim` components each) and the deformation runtime arguments."""

    def __init__(self, lattice, shape: tuple[int, ...]):
        d = lattice.dim
        cm = compile_model(build_model(lattice, shape), check=False)  # only the energy
        K = 2 * d
        n_atoms = int(np.prod(shape))
        idx = jnp.asarray((np.arange(n_atoms)[:, None] * K + np.arange(d)[None, :]).reshape(-1))

        def energy(u, params):
            return cm.with_params(**params).energy(jnp.zeros(cm.n).at[idx].set(u))

        grad = jax.grad(energy)

        def project(v):
            v = v.reshape(n_atoms, d)
            return (v - v.mean(axis=0)).reshape(-1)

        def hvp(v, u, params):
            """H v / m, H the Hessian of the energy in the displacements at `u`."""
            return jax.jvp(lambda x: grad(x, params), (u,), (v,))[1] / lattice.mass

        def apply(v, u, params, shift):
            """(P H P + shift (I - P)) v / m, P the projection off the translations."""
            pv = project(v)
            return project(hvp(pv, u, params)) + shift * (v - pv)

        X = jnp.asarray(lattice.positions(shape).reshape(-1, d))

        def bloch(k, params):
            """D(k): H applied to the Bloch waves cos(k.X) e_a, read at atom 0 (X = 0)."""
            wave = jnp.cos(X @ k)
            u0 = jnp.zeros(X.size)
            cols = [
                hvp(jnp.zeros_like(X).at[:, a].set(wave).reshape(-1), u0, params)[:d]
                for a in range(d)
            ]
            return jnp.stack(cols, axis=1)

        self.bloch = jax.jit(jax.vmap(bloch, in_axes=(0, None)))
        self.energy = jax.jit(energy)
        self.project = jax.jit(project)
        self.apply = jax.jit(apply)
        self.hessian = jax.jit(lambda u, params: jax.hessian(energy)(u, params) / lattice.mass)


@functools.lru_cache(maxsize=8)
def operators(lattice, shape: tuple[int, ...]) -> _Operators:
    return _Operators(lattice, shape)


def commensurate(lattice, kk: np.ndarray, supercell: Any) -> tuple[int, ...]:
    """The supercell (cells per axis) on which every wave vector in `kk` is periodic."""
    xi = kk @ np.linalg.inv(lattice.reciprocal)
    d = lattice.dim
    least = patch_minimum(lattice)
    if supercell is not None:
        shape = _shape(supercell, d)
        bad = np.abs(xi * np.array(shape) - np.round(xi * np.array(shape))) > 1e-8
        if bad.any():
            i = int(np.argmax(bad.any(axis=1)))
            raise InputError(
                f"dispersion: k[{i}] = {kk[i]} is not periodic on the supercell {shape} "
                "(its reduced coordinates times the cells must be integers)."
            )
        if min(shape) < least:
            raise InputError(f"dispersion: the supercell needs at least {least} cells per axis.")
        return shape
    shape = []
    for axis in range(d):
        n = 1
        for x in xi[:, axis]:
            frac = fractions.Fraction(float(x)).limit_denominator(_MAX_CELLS)
            if abs(float(frac) - x) > 1e-9:
                raise InputError(
                    f"dispersion: a wave vector's reduced coordinate {x:.12g} is not a "
                    f"fraction with denominator <= {_MAX_CELLS}; the Hessian method needs a "
                    "periodic supercell (pass supercell= or use commensurate k)."
                )
            n = n * frac.denominator // np.gcd(n, frac.denominator)
        shape.append(max(n * -(-least // n), n))
    if int(np.prod(shape)) > 10**6:
        raise InputError(f"dispersion: the commensurate supercell {tuple(shape)} is too large.")
    return tuple(shape)


def hessian_dispersion(lattice, kk: np.ndarray, F: np.ndarray, supercell: Any) -> np.ndarray:
    """omega^2 at `kk` from the Hessian of the structured model's energy (Bloch projection)."""
    shape = commensurate(lattice, kk, supercell)
    ops = operators(lattice, shape)
    params = {k: jnp.asarray(v) for k, v in deformation_params(lattice, F).items()}
    D = ops.bloch(jnp.asarray(kk), params)
    D = 0.5 * (D + jnp.swapaxes(D, -1, -2))
    return np.asarray(jnp.linalg.eigvalsh(D))
