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
from ._voxels import PhaseStiffness, Voxels


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


class SingleMatvecCG(lx.AbstractLinearSolver):
    r"""lineax's `CG` (the same iterates, stopping test, true-residual refresh every
    `stabilise_every` steps, step count and result), with the operator and the
    preconditioner each traced and compiled once, not three times and twice.

    `lx.CG` applies the operator before its loop ($b - Ay_0$), in each step and in the
    periodic refresh $r = b - Ay$ (a `lax.cond` branch); every copy is compiled, and a
    large stencil costs seconds apiece. Here the loop starts from $y_0 = 0$ and applies
    the operator once per pass, to $p$ in a CG step or to $y$ in a refresh pass: a step
    that is due a refresh leaves $r$ alone and the next pass recomputes it, so that pass
    costs the operator application `lx.CG` spends inside the step (and one preconditioner
    application more, discarded). The first pass is a refresh ($r_0 = b$). Every state
    update is a select, so nothing is duplicated under `vmap` either. Differentiation is
    lineax's: `init`, `transpose` and `conj` are the wrapped solver's. An initial guess
    (`options["y0"]`) is not supported.

    - `cg`: the `lx.CG` whose tolerances, norm, refresh period and step limit are used.
    """

    cg: lx.CG

    def init(self, operator, options):
        return self.cg.init(operator, options)

    def transpose(self, state, options):
        return self.cg.transpose(state, options)

    def conj(self, state, options):
        return self.cg.conj(state, options)

    def assume_full_rank(self):
        return self.cg.assume_full_rank()

    def compute(self, state, vector, options):
        operator, is_nsd = state
        if "y0" in options:
            raise ValueError("SingleMatvecCG starts from zero: options['y0'] is not supported.")
        pre = options["preconditioner"]
        cg = self.cg
        every = cg.stabilise_every or 0
        max_steps = 10 * vector.size if cg.max_steps is None else cg.max_steps
        rcond = 2 * jnp.finfo(vector.dtype).eps * vector.size
        b_scale = cg.atol + cg.rtol * jnp.abs(vector)

        def dot(x, y):
            return jnp.sum(x * y)

        def cond(carry):
            diff, y, r, _, gamma, step, _ = carry
            y_scale = cg.atol + cg.rtol * jnp.abs(y)
            converged = (cg.norm(r / b_scale) <= 1) & (cg.norm(diff / y_scale) <= 1)
            return (gamma > 0) & (step < max_steps) & ~converged

        def body(carry):
            diff, y, r, p, gamma, step, refresh = carry
            q = operator.mv(jnp.where(refresh, y, p))
            # A CG step (used unless this pass is a refresh).
            inner = dot(q, p)
            alpha = jnp.where(jnp.abs(inner) > 100 * rcond * jnp.abs(gamma), gamma / inner, jnp.nan)
            due = (every > 0) & ((step + 1) % max(every, 1) == 0)
            # Then the new residual, preconditioned: refreshed, or by recurrence.
            fresh = jnp.where(refresh, vector - q, r - alpha * q)
            z = pre.mv(fresh)
            gamma_new = dot(z, fresh)
            advance = refresh | ~due  # a step due a refresh keeps r, p, gamma for it
            return (
                jnp.where(refresh, diff, alpha * p),
                jnp.where(refresh, y, y + alpha * p),
                jnp.where(advance, fresh, r),
                jnp.where(advance, z + gamma_new / gamma * p, p),
                jnp.where(advance, gamma_new, gamma),
                jnp.where(refresh, step, step + 1),
                ~refresh & due,
            )

        zero = jnp.zeros_like(vector)
        start = (jnp.full_like(vector, jnp.inf), zero, vector, zero, jnp.ones(()), 0, True)
        _, y, _, _, _, steps, _ = jax.lax.while_loop(cond, body, start)
        result = lx.RESULTS.where(
            steps == max_steps, lx.RESULTS.max_steps_reached, lx.RESULTS.successful
        )
        return (-y if is_nsd.value else y), result, {"num_steps": steps, "max_steps": max_steps}


def conjugate_gradients(matvec, precondition, rhs, *, tol, size, max_steps):
    """Preconditioned conjugate gradients (lineax's `CG`, as `SingleMatvecCG`) for the
    positive semidefinite cell operator `matvec`; returns lineax's solution, unthrown (its
    `result` says whether it converged).

    lineax scales the tolerance per entry (atol + rtol |b_i|): with atol = 0 an entry where
    b vanishes (a fixed node, a node away from any interface) divides by zero and the check
    passes at once. `size`, the size of the loading stresses (nodal forces of unit elements
    carry stress units), scales atol instead, so a load case whose right-hand side is zero
    up to round-off (along a laminate) converges at once."""
    struct = jax.ShapeDtypeStruct(rhs.shape, rhs.dtype)
    operator = lx.FunctionLinearOperator(matvec, struct, lx.positive_semidefinite_tag)
    pre = lx.FunctionLinearOperator(precondition, struct, lx.positive_semidefinite_tag)
    solver = SingleMatvecCG(
        lx.CG(rtol=tol, atol=tol * jax.lax.stop_gradient(size), max_steps=max_steps)
    )
    return lx.linear_solve(operator, rhs, solver, options={"preconditioner": pre}, throw=False)


def _averages(mesh: Voxels, masks, C, E, prestress, u):
    r"""`(<H>, <sigma>, <H:sigma>, <H:H>, <sigma:sigma>)` over the Gauss points of every cell,
    for the gradient $H = E + h$, $h = \nabla u$, and the stress $\sigma = C_pH -
    \sigma^0_p$ in phase $p$, without forming Gauss-point fields or applying an operator.

    Within a cell $h$ is linear in the corner values $u_e$, so every mean is a contraction
    of each phase's moments of the corner values, its volume fraction $f_p$, $S_p =
    \sum_{e\in p}u_e/N$ and $M_p = \sum_{e\in p}u_eu_e^T/N$ (`Voxels.moments`), with
    small matrices: the mean shape-function gradient for the linear means (the mean
    fluctuation gradient $g_p$ of phase $p$), element stiffnesses $K$ for the quadratic
    ones ($\sum_e u_e^TK_{p(e)}u_e/N = \sum_pK_p:M_p$, of $C_p$, unit moduli and
    $C_p^TC_p$). E.g. with $s_p = C_pE - \sigma^0_p$, $\langle H:\sigma\rangle =
    \sum_p(f_pE:s_p + E:C_p:g_p + g_p:s_p + K_p:M_p)$ (exact: the Gauss rule integrates
    these elements exactly); $\langle H\rangle = E + \sum_pg_p$, as `masks` indicate the
    phases of a partition of the cells. The small contractions are broadcasts and sums,
    not `einsum`: XLA:CPU compiles each dot or reduction as a kernel of its own."""
    d, P, m = len(mesh.shape), C.shape[0], C.shape[1]
    moments = mesh.moments(masks, u)
    k = moments.shape[-1] - 1
    fraction, first, second = moments[:, k, k], moments[:, k, :k], moments[:, :k, :k]
    mean = np.asarray(mesh.G).mean(axis=0)  # (d, 2^d): the centroid gradient
    g = jnp.sum(mean * first.reshape(P, m, 1, -1), axis=-1)  # (P, m, d)
    total = jnp.sum(first, axis=0).reshape(m, 1, -1)
    Cg = jnp.sum(C * g[:, None, None], axis=(3, 4))
    s = jnp.sum(C * E, axis=(3, 4)) - prestress
    unit = np.einsum("mn,ij->minj", np.eye(m), np.eye(d))
    CC = jnp.sum(C[..., None, None] * C[:, :, :, None, None], axis=(1, 2))
    K = mesh.element_matrices(jnp.concatenate([C, CC, unit[None]])).reshape(2 * P + 1, k, k)
    Hm = E + jnp.sum(mean * total, axis=-1)
    Sm = jnp.sum(fraction[:, None, None] * s + Cg, axis=0)
    power = jnp.sum(fraction[:, None, None] * s * E + E * Cg + g * s) + jnp.sum(K[:P] * second)
    HH = jnp.sum(E * E) + 2 * jnp.sum(E * (Hm - E)) + jnp.sum(K[-1] * second)
    SS = jnp.sum(fraction[:, None, None] * s * s + 2 * s * Cg) + jnp.sum(K[P:-1] * second)
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


@jax.jit
def _apply(A: PhaseStiffness, u: Array) -> Array:
    """`A` on the free nodes. Jitted: lineax re-traces its operator several times (closure
    conversion, shapes, batching); a jitted call is one cached equation each time."""
    return A.nodes.restrict(A(A.nodes.restrict(u)))


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
            functools.partial(_apply, A),
            lambda r: nodes.restrict(nodes.precondition(r)),
            rhs,
            tol=tol,
            size=size + jnp.max(jnp.abs(load)),
            max_steps=max_steps,
        )
        Hm, Sm, power, HH, SS = _averages(mesh, masks, C, E, prestress, nodes.restrict(sol.value))
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
