"""The RVE cell problem: one compiled program per (grid, boundary condition, field kind)."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jaxtyping import Array

from .._custom_types import Scalar, Tensor
from .._display import array_repr
from .._errors import InputError, SolverError
from .._validate import finite_number, is_traced, require_finite
from ._boundary import AbstractBoundaryCondition
from ._microstructures import as_microstructure
from ._voxels import Voxels


class Homogenized(eqx.Module):
    r"""The apparent (effective) property of an RVE under one boundary condition.

    - `tensor`: the effective tensor: the $d\times d$ conductivity; the stiffness in Voigt
        notation ($3\times3$ in 2D plane strain, order $(11, 22, 12)$; $6\times6$ in 3D,
        $(11, 22, 33, 23, 13, 12)$; engineering shear strains); or the $d\times d$ thermal
        expansion.
    - `hill_mandel_residual`: $\max|\langle\sigma:\nabla u\rangle -
        \langle\sigma\rangle:\langle\nabla u\rangle| /
        \sqrt{\langle\sigma:\sigma\rangle\langle\nabla u:\nabla u\rangle}$ over the load
        cases: the average microscopic power against the macroscopic one, relative to its
        Cauchy-Schwarz bound (solver tolerance when the solves converged).
    - `iterations`: conjugate-gradient iterations per load case.
    - `bc`: the boundary condition, an
        [`AbstractBoundaryCondition`][generic_mm.homogenization.AbstractBoundaryCondition]
        (`bc.name` is its name, `bc.bound` which bound it gives).
    """

    tensor: Tensor
    hill_mandel_residual: Scalar
    iterations: Array
    bc: AbstractBoundaryCondition = eqx.field(static=True)

    def __repr__(self) -> str:
        """The values (`tensor=[[1.8181818, 0.], [0., 5.5]]`), not their shapes; inside a
        JAX transformation, where there are no values, equinox's shapes."""
        if is_traced(self):
            return eqx.tree_pformat(self)
        return (
            "Homogenized(\n"
            f"  tensor={array_repr(self.tensor, prefix='  tensor=')},\n"
            f"  hill_mandel_residual={float(self.hill_mandel_residual):.2g},\n"
            f"  iterations={array_repr(self.iterations)},\n"
            f"  bc={self.bc!r},\n"
            ")"
        )


def _spatial(x, d: int):
    """Broadcast a (m, d) array against the spatial axes."""
    return x[(..., *([None] * d))]


def stress(masks, C, H, prestress=None):
    r"""The stress (flux) at the Gauss points of a voxel mesh, phase by phase:
    $\sigma_{mi} = C^p_{minj}H_{nj} - \sigma^0_{p,mi}$ in the voxels of phase $p$.

    `masks` `(P, *shape)` (phase indicators), `C` `(P, m, d, m, d)`, `H` `(Q, m, d, *shape)`
    (gradients at the Gauss points), `prestress` `(P, m, d)` or `None` (none); returns
    `(Q, m, d, *shape)`."""
    d = masks.ndim - 1
    terms = []
    for p in range(C.shape[0]):
        s = jnp.einsum("minj,qnj...->qmi...", C[p], H)
        if prestress is not None:
            s = s - _spatial(prestress[p], d)
        terms.append(s * masks[p])
    return sum(terms[1:], terms[0])


def conjugate_gradients(matvec, precondition, rhs, *, tol, size, max_steps):
    """Preconditioned conjugate gradients (lineax) for the positive semidefinite cell
    operator `matvec`; returns lineax's solution, unthrown (its `result` says whether it
    converged).

    lineax scales the tolerance per entry (atol + rtol |b_i|): with atol = 0 an entry where
    b vanishes (a fixed node, a node away from any interface) divides by zero and the check
    passes at once. `size`, the size of the loading stresses (nodal forces of unit elements
    carry stress units), scales atol instead, so a load case whose right-hand side is zero
    up to round-off (along a laminate) converges at once."""
    struct = jax.ShapeDtypeStruct(rhs.shape, rhs.dtype)
    operator = lx.FunctionLinearOperator(matvec, struct, lx.positive_semidefinite_tag)
    pre = lx.FunctionLinearOperator(precondition, struct, lx.positive_semidefinite_tag)
    solver = lx.CG(rtol=tol, atol=tol * jax.lax.stop_gradient(size), max_steps=max_steps)
    return lx.linear_solve(operator, rhs, solver, options={"preconditioner": pre}, throw=False)


@functools.lru_cache(maxsize=32)
def program(shape: tuple[int, ...], bc: AbstractBoundaryCondition, m: int):
    """A jitted, case-batched solve: (masks, C, E, load, prestress, tol, max_steps) ->
    (<H>, <sigma>, HM, steps, converged) for each of the load cases stacked along E's and
    load's first axis. The tolerance and step limit are arguments, so solves that differ
    only in them share one compiled program (compiling costs seconds, solving a small cell
    milliseconds)."""
    mesh = Voxels(shape, bc, m)
    d = len(shape)
    Q = mesh.G.shape[0]

    def one(masks, C, E, load, prestress, tol, max_steps):
        affine = jnp.broadcast_to(_spatial(E, d)[None], (Q, m, d, *shape))
        rhs = mesh.forces(jnp.broadcast_to(_spatial(load, d)[None], affine.shape))
        rhs = (rhs - mesh.forces(stress(masks, C, affine, prestress))) * mesh.mask

        def matvec(u):
            return mesh.forces(stress(masks, C, mesh.gradient(u * mesh.mask))) * mesh.mask

        size = jnp.max(jnp.abs(stress(masks, C, affine, prestress))) + jnp.max(jnp.abs(load))
        sol = conjugate_gradients(
            matvec,
            lambda r: mesh.precondition(r) * mesh.mask,
            rhs,
            tol=tol,
            size=size,
            max_steps=max_steps,
        )
        H = affine + mesh.gradient(sol.value * mesh.mask)
        sigma = stress(masks, C, H, prestress)
        axes = (0, *range(3, H.ndim))
        Hm, Sm = jnp.mean(H, axis=axes), jnp.mean(sigma, axis=axes)
        power = jnp.mean(jnp.sum(H * sigma, axis=(1, 2)))
        macro = jnp.sum(Hm * Sm)
        # Normalised by the Cauchy-Schwarz bound of <sigma : grad u>, which stays finite
        # where the macroscopic power vanishes (a thermal prestress at zero mean strain).
        scale = jnp.sqrt(
            jnp.mean(jnp.sum(H * H, axis=(1, 2))) * jnp.mean(jnp.sum(sigma**2, axis=(1, 2)))
        )
        residual = jnp.where(
            scale > 0, jnp.abs(power - macro) / jnp.where(scale > 0, scale, 1.0), 0.0
        )
        return Hm, Sm, residual, sol.stats["num_steps"], sol.result == lx.RESULTS.successful

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0, None, None, None)))


def solve_cases(microstructure, bc, C, E, load, prestress, *, tol, max_steps, what):
    """Run the cell problem for stacked load cases under the boundary condition `bc` (an
    `AbstractBoundaryCondition`); check convergence when concrete."""
    phases = as_microstructure(microstructure)
    tol = finite_number(tol, f"{what}: tol")
    if not 0 < tol < 1:
        raise InputError(f"{what}: tol must be in (0, 1), got {tol!r}.")
    count = int(phases.max()) + 1
    m = C.shape[1]
    max_steps = int(max_steps)
    if max_steps < 1:
        raise InputError(f"{what}: max_steps must be a positive integer, got {max_steps!r}.")
    run = program(phases.shape, bc, m)
    masks = jnp.stack([jnp.asarray(phases == p, dtype=float) for p in range(count)])
    Hm, Sm, residual, steps, converged = run(
        masks, C, E, load, prestress, jnp.asarray(tol), jnp.asarray(max_steps)
    )
    if not is_traced(converged) and not np.all(np.asarray(converged)):
        raise SolverError(
            f"{what}: the conjugate-gradient solve ({bc.name}) did not reach tol={tol:g} in "
            f"{max_steps} steps; raise max_steps or loosen tol."
        )
    return Hm, Sm, jnp.max(residual), steps


def per_phase(values, count: int, where: str, tail: tuple[tuple[int, ...], ...]):
    """Per-phase values as a float64 array `(count, *shape)` for one of the allowed `tail`
    shapes (checked for finiteness when concrete)."""
    try:
        arr = jnp.asarray(values, dtype=jnp.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{where}: expected numbers, one entry per phase, got {values!r}."
        ) from None
    if arr.ndim == 0 or arr.shape[0] != count or arr.shape[1:] not in tail:
        allowed = " or ".join(str((count, *t)) for t in tail)
        raise InputError(
            f"{where}: expected one entry per phase ({count} phases: indices 0..{count - 1} of "
            f"the microstructure), shape {allowed}; got {arr.shape}."
        )
    require_finite(arr, where)
    return arr
