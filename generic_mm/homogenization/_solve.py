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


def _averages(mesh: Voxels, masks, C, E, prestress, u, A):
    r"""`(<H>, <sigma>, <H:sigma>, <H:H>, <sigma:sigma>)` over the Gauss points of every cell,
    for the gradient $H = E + h$, $h = \nabla u$, and the stress $\sigma = C_pH -
    \sigma^0_p$ in phase $p$, without forming Gauss-point fields.

    Within a cell $\sigma$ is linear in $H$, so the means need each phase's mean fluctuation
    gradient $g_p$ (from `centroid_gradient`) and, for the quadratic ones, the energies
    $u\cdot Ku$ of element stiffnesses: of $C_p$ (the operator `A`), of unit moduli and of
    $C_p^TC_p$. E.g. with volume fractions $f_p$ and $s_p = C_pE - \sigma^0_p$,
    $\langle H:\sigma\rangle = \sum_p(f_pE:s_p + E:C_p:g_p + g_p:s_p) + u\cdot Au/N$
    (exact: the Gauss rule integrates these elements exactly)."""
    d = len(mesh.shape)
    n = float(np.prod(mesh.shape))

    def energy(K):
        f = K(u)
        # A stencil whose only consumer is a reduction is fused into it by XLA:CPU and then
        # split into dozens of loops with a field in memory each (15x slower, 300 bytes per
        # voxel). A second reduction of the same forces, their net sum (zero: the cell is
        # free), keeps the stencil one loop; adding it times zero keeps it alive.
        return jnp.sum(u * f) / n + 0.0 * jnp.sum(f)

    cells = tuple(range(1, d + 1))
    h = mesh.centroid_gradient(u)
    fraction = jnp.sum(masks, axis=cells) / n
    g = jnp.tensordot(masks, h, axes=(cells, tuple(range(2, d + 2)))) / n
    Cg = jnp.einsum("pminj,pnj->pmi", C, g)
    s = jnp.einsum("pminj,nj->pmi", C, E) - prestress
    Hm = E + jnp.mean(h, axis=tuple(range(2, d + 2)))
    Sm = jnp.einsum("p,pmi->mi", fraction, s) + jnp.sum(Cg, axis=0)
    power = jnp.einsum("p,pmi,mi->", fraction, s, E) + jnp.sum(E * Cg) + jnp.sum(g * s) + energy(A)
    m = C.shape[1]
    unit = jnp.einsum("mn,ij->minj", jnp.eye(m), jnp.eye(d))[None]
    HH = jnp.sum(E * E) + 2 * jnp.sum(E * (Hm - E))
    HH = HH + energy(mesh.stiffness(jnp.ones((1, *mesh.shape)), unit))
    CC = jnp.einsum("pminj,pmikl->pnjkl", C, C)
    SS = jnp.einsum("p,pmi->", fraction, s * s) + 2 * jnp.sum(s * Cg)
    SS = SS + energy(mesh.stiffness(masks, CC))
    return Hm, Sm, power, HH, SS


def factor_moduli(C):
    r"""`(weights, basis)` `(P, R)`, `(R, m, d, m, d)` with $C_p = \sum_r w_{pr}B_r$ in as
    few terms $R$ as the phases' moduli span (numerically: singular values above 1e-12 of
    the largest): the cell operator then applies $R$ element matrices per node, not $P$.
    Isotropic conductivities span one ($R = 1$: a conductivity field times the unit
    element). Traced moduli (inside `jax.grad`, `vmap`) and moduli that span all $P$ get
    the identity factorisation $(I, C)$, which is exact and differentiates like $C$."""
    P = C.shape[0]
    if not is_traced(C) and P > 1:
        flat = np.asarray(C).reshape(P, -1)
        U, sv, Vt = np.linalg.svd(flat, full_matrices=False)
        R = max(1, int(np.sum(sv > 1e-12 * sv[0])))
        if R < P:
            return jnp.asarray(U[:, :R] * sv[:R]), jnp.asarray(Vt[:R].reshape(R, *C.shape[1:]))
    return jnp.eye(P), jnp.asarray(C)


@functools.lru_cache(maxsize=32)
def program(shape: tuple[int, ...], bc: AbstractBoundaryCondition, m: int):
    """A jitted, case-batched solve: (masks, C, weights, basis, E, load, prestress, tol,
    max_steps) -> (<H>, <sigma>, HM, steps, converged) for each of the load cases stacked
    along E's and load's first axis (`weights`, `basis`: `factor_moduli(C)`). The tolerance
    and step limit are arguments, so solves that differ only in them share one compiled
    program (compiling costs seconds, solving a small cell milliseconds). The operator is
    `Voxels.stiffness`, a stencil of element stiffness matrices: the same as
    `forces(stress(masks, C, gradient(u)))` to round-off."""
    mesh = Voxels(shape, bc, m)
    nodes = mesh.nodes

    def one(masks, C, weights, basis, E, load, prestress, tol, max_steps):
        A = mesh.stiffness(jnp.tensordot(weights, masks, axes=(0, 0)), basis)
        s0 = jnp.einsum("pminj,nj->pmi", C, E) - prestress
        rhs = nodes.restrict(mesh.phase_forces(masks, load[None] - s0))
        # The largest loading stress over the phases present (see conjugate_gradients).
        present = jnp.any(masks > 0, axis=tuple(range(1, len(shape) + 1)))
        size = jnp.max(jnp.where(present, jnp.max(jnp.abs(s0), axis=(1, 2)), 0.0))
        sol = conjugate_gradients(
            lambda u: nodes.restrict(A(nodes.restrict(u))),
            lambda r: nodes.restrict(nodes.precondition(r)),
            rhs,
            tol=tol,
            size=size + jnp.max(jnp.abs(load)),
            max_steps=max_steps,
        )
        Hm, Sm, power, HH, SS = _averages(
            mesh, masks, C, E, prestress, nodes.restrict(sol.value), A
        )
        # Normalised by the Cauchy-Schwarz bound of <sigma : grad u>, which stays finite
        # where the macroscopic power vanishes (a thermal prestress at zero mean strain).
        scale = jnp.sqrt(jnp.maximum(HH, 0.0) * jnp.maximum(SS, 0.0))
        macro = jnp.sum(Hm * Sm)
        residual = jnp.where(
            scale > 0, jnp.abs(power - macro) / jnp.where(scale > 0, scale, 1.0), 0.0
        )
        return Hm, Sm, residual, sol.stats["num_steps"], sol.result == lx.RESULTS.successful

    return jax.jit(jax.vmap(one, in_axes=(None, None, None, None, 0, 0, None, None, None)))


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
        masks, C, *factor_moduli(C), E, load, prestress, jnp.asarray(tol), jnp.asarray(max_steps)
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
