"""The RVE cell solver's stencil operator against the Gauss-point operator it replaces.

`Voxels.stiffness` applies $\\sum_e P_e^TK_{p(e)}P_eu$ with precomputed element matrices;
`Voxels.forces(stress(masks, C, Voxels.gradient(u)))` (kept for the Bloch expansion) is the
same operator written at the Gauss points. They must agree to round-off for every boundary
condition, field kind, dimension and set of anisotropic phases; so must the right-hand side
and the averages the solver reads off, and the solved effective tensors. The solver's
conjugate gradients (`SingleMatvecCG`, one operator application per pass) must take
lineax's `CG` steps.
"""

import functools

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

import generic_mm.homogenization as hz
from generic_mm.homogenization._effective import to_tensor
from generic_mm.homogenization._solve import (
    SingleMatvecCG,
    _apply,
    _averages,
    conjugate_gradients,
    factor_moduli,
    program,
    stress,
)
from generic_mm.homogenization._voxels import Voxels

BCS = (hz.Periodic(), hz.Dirichlet(), hz.Neumann())
SHAPES = {2: (6, 5), 3: (4, 3, 5)}  # odd and even, unequal sides: no symmetry hides a bug
CASES = [(d, bc, m) for d in (2, 3) for bc in BCS for m in (1, d)]
IDS = [f"{d}d-{bc.name}-{'conduction' if m == 1 else 'elasticity'}" for d, bc, m in CASES]


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _problem(d, bc, m, seed=0):
    """A grid, its mesh, phase masks, random symmetric positive-definite (anisotropic) moduli
    per phase `(P, m, d, m, d)`, a random node field and a random prestress. Three phases,
    two in 3D elasticity (the largest stencil, the longest to compile)."""
    rng = np.random.default_rng(seed)
    phases = 2 if m == d == 3 else 3
    shape = SHAPES[d]
    micro = rng.integers(0, phases, shape)
    micro.flat[:phases] = np.arange(phases)  # every phase present
    masks = jnp.stack([jnp.asarray(micro == p, dtype=float) for p in range(phases)])
    B = rng.standard_normal((phases, m * d, m * d))
    C = jnp.asarray((B @ B.transpose(0, 2, 1) + m * d * np.eye(m * d)).reshape(phases, m, d, m, d))
    mesh = Voxels(shape, bc, m)
    u = jnp.asarray(rng.standard_normal((m, *mesh.node_shape))) * mesh.mask
    prestress = jnp.asarray(rng.standard_normal((phases, m, d)))
    return mesh, masks, C, u, prestress


def _both(mesh, masks, C, u, prestress, E, load):
    """(stencil, Gauss-point) pairs: operator, right-hand side, centroid gradient and the
    averages."""
    d = len(mesh.shape)
    Q, m = mesh.G.shape[0], C.shape[1]
    spatial = (..., *([None] * d))
    affine = jnp.broadcast_to(E[spatial][None], (Q, m, d, *mesh.shape))
    rhs = mesh.forces(jnp.broadcast_to(load[spatial][None], affine.shape))
    rhs = rhs - mesh.forces(stress(masks, C, affine, prestress))
    H = affine + mesh.gradient(u)
    sigma = stress(masks, C, H, prestress)
    axes = (0, *range(3, H.ndim))
    old = {
        "operator": mesh.forces(stress(masks, C, mesh.gradient(u))),
        "rhs": rhs,
        "<H>": jnp.mean(H, axis=axes),
        "<sigma>": jnp.mean(sigma, axis=axes),
        "<H:sigma>": jnp.mean(jnp.sum(H * sigma, axis=(1, 2))),
        "<H:H>": jnp.mean(jnp.sum(H * H, axis=(1, 2))),
        "<sigma:sigma>": jnp.mean(jnp.sum(sigma * sigma, axis=(1, 2))),
        "centroid": jnp.mean(mesh.gradient(u), axis=0),
    }
    A = mesh.stiffness(masks, C)
    s0 = jnp.einsum("pminj,nj->pmi", C, E) - prestress
    new = {
        "operator": A(u),
        "rhs": mesh.phase_forces(masks, load[None] - s0),
        "centroid": mesh.centroid_gradient(u),
    }
    names = ["<H>", "<sigma>", "<H:sigma>", "<H:H>", "<sigma:sigma>"]
    new |= dict(zip(names, _averages(mesh, masks, C, E, prestress, u), strict=True))
    return new, old


@pytest.mark.parametrize(("d", "bc", "m"), CASES, ids=IDS)
def test_stencil_equals_the_gauss_point_operator(d, bc, m):
    """The operator, the right-hand side (forces of the phases' affine stresses and of the
    load) and the averages the solver reads off (including the quadratic ones, from the
    phases' moments of the corner values and the element matrices): equal to round-off."""
    mesh, masks, C, u, prestress = _problem(d, bc, m)
    rng = np.random.default_rng(2)
    E, load = (jnp.asarray(rng.standard_normal((m, d))) for _ in range(2))
    both = jax.jit(lambda *a: _both(mesh, *a))
    new, old = both(masks, C, u, prestress, E, load)
    for name in old:
        assert _rel(new[name], old[name]) < 1e-12, name
    # Factored moduli (as the solver applies them): the same operator.
    weights, basis = factor_moduli(C)
    assert weights.shape == (len(C), len(C))  # random phases span all
    A = mesh.stiffness(jnp.tensordot(weights, masks, axes=(0, 0)), basis)
    assert _rel(jax.jit(lambda v: A(v))(u), old["operator"]) < 1e-12


def test_moduli_factor_into_as_few_terms_as_they_span():
    iso = (
        jnp.asarray([1.0, 10.0, 3.0])[:, None, None, None, None]
        * jnp.eye(3)[None, None, :, None, :]
    )
    weights, basis = factor_moduli(iso)
    assert weights.shape == (3, 1) and basis.shape == (1, 1, 3, 1, 3)
    assert _rel(jnp.einsum("pr,r...->p...", weights, basis), iso) < 1e-14
    # Two isotropic elastic phases with different Poisson ratios span two.
    C = to_tensor(
        hz.isotropic_stiffness(jnp.array([1.0, 10.0, 4.0]), jnp.array([0.5, 3.0, 2.0])), 3
    )
    weights, basis = factor_moduli(C)
    assert weights.shape == (3, 2)
    assert _rel(jnp.einsum("pr,r...->p...", weights, basis), C) < 1e-14
    # Inside a transformation the moduli have no values: the identity factorisation.
    shapes = jax.eval_shape(factor_moduli, iso)
    assert shapes[0].shape == (3, 3) and shapes[1].shape == iso.shape


def _gauss_point_solve(shape, bc, masks, C, E, load, prestress, tol):
    """The cell solve as it was before the stencil: Gauss-point operator and averages."""
    m, d = C.shape[1], len(shape)
    mesh = Voxels(shape, bc, m)
    Q = mesh.G.shape[0]
    spatial = (..., *([None] * d))
    affine = jnp.broadcast_to(E[spatial][None], (Q, m, d, *shape))
    rhs = mesh.forces(jnp.broadcast_to(load[spatial][None], affine.shape))
    rhs = (rhs - mesh.forces(stress(masks, C, affine, prestress))) * mesh.mask
    sol = conjugate_gradients(
        lambda u: mesh.forces(stress(masks, C, mesh.gradient(u * mesh.mask))) * mesh.mask,
        lambda r: mesh.precondition(r) * mesh.mask,
        rhs,
        tol=tol,
        size=jnp.max(jnp.abs(C)) + jnp.max(jnp.abs(load)),
        max_steps=5000,
    )
    H = affine + mesh.gradient(sol.value * mesh.mask)
    axes = (0, *range(3, H.ndim))
    return jnp.mean(H, axis=axes), jnp.mean(stress(masks, C, H, prestress), axis=axes)


@pytest.mark.parametrize(
    ("bc", "m"),
    [(bc, 1) for bc in BCS] + [(hz.Periodic(), 2)],
    ids=[f"conduction-{bc.name}" for bc in BCS] + ["elasticity-periodic"],
)
def test_solves_equal_the_gauss_point_solver(bc, m):
    """The compiled solve (stencil operator, identities for the averages) against the
    Gauss-point solver, three anisotropic phases with a prestress, tolerance 1e-12."""
    shape = (10, 8)
    micro = hz.random_inclusions(shape, 0.4, 2.0, seed=1)
    micro[:2, :2] = 2
    mesh, _, C, _, prestress = _problem(2, bc, m, seed=3)
    masks = jnp.stack([jnp.asarray(micro == p, dtype=float) for p in range(3)])
    rng = np.random.default_rng(4)
    E, load = bc.loads(*(jnp.asarray(rng.standard_normal((1, m, 2))) for _ in range(2)))
    tol = 1e-12
    run = program(shape, bc, m)
    Hm, Sm, residual, _, converged = run(
        masks, C, *factor_moduli(C), E, load, prestress, jnp.asarray(tol), jnp.asarray(5000)
    )
    assert bool(converged[0]) and float(residual[0]) < 1e-10
    old = jax.jit(_gauss_point_solve, static_argnums=(0, 1))
    oldH, oldS = old(shape, bc, masks, C, E[0], load[0], prestress, tol)
    assert _rel(Hm[0], oldH) < 1e-9 and _rel(Sm[0], oldS) < 1e-9


def test_laminates_give_the_harmonic_and_arithmetic_means():
    """Layers normal to x: the harmonic mean across and the arithmetic mean along
    (periodic), exact because the elements represent the piecewise-linear field; uniform
    flux is exact across, affine data along."""
    k = np.array([1.0, 10.0])
    micro = hz.laminate((8, 6), 0.5, axis=0)
    f = np.mean(micro == 1)
    harmonic, arithmetic = 1 / ((1 - f) / k[0] + f / k[1]), (1 - f) * k[0] + f * k[1]
    K = {
        bc.name: np.asarray(hz.effective_conductivity(micro, k, bc, tol=1e-12).tensor) for bc in BCS
    }
    for name, i, expected in [
        ("periodic", 0, harmonic),
        ("periodic", 1, arithmetic),
        ("neumann", 0, harmonic),
        ("dirichlet", 1, arithmetic),
    ]:
        assert abs(K[name][i, i] / expected - 1) < 1e-8, (name, i)


def _cg_solve(mesh, A, solver, b, tol, max_steps):
    """`A` (a `PhaseStiffness`) solved for `b` by `solver(lx.CG(...))` with the cell
    solver's preconditioner: (solution, steps, converged)."""
    struct = jax.ShapeDtypeStruct(b.shape, b.dtype)
    op = lx.FunctionLinearOperator(
        functools.partial(_apply, A), struct, lx.positive_semidefinite_tag
    )
    pre = lx.FunctionLinearOperator(
        lambda r: mesh.nodes.restrict(mesh.precondition(r)), struct, lx.positive_semidefinite_tag
    )
    cg = lx.CG(rtol=tol, atol=tol, max_steps=max_steps)
    sol = lx.linear_solve(op, b, solver(cg), options={"preconditioner": pre}, throw=False)
    return sol.value, sol.stats["num_steps"], sol.result == lx.RESULTS.successful


def test_single_matvec_cg_takes_lineax_cg_steps():
    """`SingleMatvecCG` against `lx.CG` on a 3D affine-data conduction cell (positive
    definite; the solver does not look inside the operator), three right-hand sides batched
    with `vmap` (they stop at different steps): the same step counts, through true-residual
    refreshes (every 10 steps), the same solutions to round-off, and the step limit
    reported as such. (Gradients go through lineax's rules, which call the same solver:
    test_homogenization checks them against closed forms and finite differences.)"""
    m = 1
    mesh, masks, C, _, _ = _problem(3, hz.Dirichlet(), m)
    A = mesh.stiffness(masks, C)
    rng = np.random.default_rng(5)
    rhs = mesh.nodes.restrict(jnp.asarray(rng.standard_normal((3, m, *mesh.node_shape))))
    rhs = rhs.at[1].multiply(1e-3).at[2].set(rhs[2] * (rhs[0] > 0))
    runs = [
        jax.jit(jax.vmap(functools.partial(_cg_solve, mesh, A, f), in_axes=(0, None, None)))
        for f in (SingleMatvecCG, lambda cg: cg)
    ]
    for tol, max_steps in [(1e-6, 500), (1e-12, 500), (1e-12, 5)]:
        (ours, steps, ok), (theirs, their_steps, their_ok) = (
            run(rhs, tol, max_steps) for run in runs
        )
        assert np.array_equal(steps, their_steps) and np.array_equal(ok, their_ok)
        assert bool(np.all(ok)) == (max_steps == 500)
        assert _rel(ours, theirs) < 1e-12, (tol, max_steps)
        if max_steps == 500:
            assert len(set(np.asarray(steps).tolist())) > 1  # the batch stops unevenly
            assert tol > 1e-9 or int(steps.min()) > 10  # through a refresh
