r"""Effective conductivity, stiffness and thermal expansion of an RVE."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .._errors import InputError
from .._validate import is_traced
from ._boundary import AbstractBoundaryCondition, as_boundary_condition
from ._microstructures import as_microstructure
from ._solve import Homogenized, per_phase, solve_cases

TOL = 1e-10
MAX_STEPS = 5000


def voigt_pairs(d: int) -> list[tuple[int, int]]:
    """Voigt order: 2D (11, 22, 12); 3D (11, 22, 33, 23, 13, 12)."""
    if d == 2:
        return [(0, 0), (1, 1), (0, 1)]
    return [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def to_tensor(voigt, d: int):
    """Stiffness in Voigt notation -> the 4th-order tensor C_ijkl (batched over leading axes)."""
    pairs = voigt_pairs(d)
    index = np.zeros((d, d), dtype=int)
    for I, (i, j) in enumerate(pairs):
        index[i, j] = index[j, i] = I
    return voigt[..., index[:, :, None, None], index[None, None, :, :]]


def isotropic_stiffness(bulk, shear, d: int = 3):
    """Voigt stiffness of an isotropic phase from the 3D bulk and shear moduli (in 2D:
    plane strain, $\\lambda = K - 2\\mu/3$)."""
    bulk, shear = jnp.asarray(bulk, dtype=float), jnp.asarray(shear, dtype=float)
    lam = bulk - 2 * shear / 3
    n = len(voigt_pairs(d))
    normal = np.zeros((n, n))
    normal[:d, :d] = 1
    eye = np.diag([2.0] * d + [1.0] * (n - d))
    return lam[..., None, None] * normal + shear[..., None, None] * eye


def _unit_cases(d: int, kind: str, *, strains: bool):
    """Unit gradients/fluxes (conductivity), or unit Voigt strains (engineering shear: a
    unit shear strain is eps_ij = 1/2) or unit Voigt stresses (elasticity)."""
    if kind == "conductivity":
        return jnp.eye(d)[:, None, :]
    cases = []
    for i, j in voigt_pairs(d):
        e = np.zeros((d, d))
        e[i, j] = e[j, i] = 1.0 if i == j or not strains else 0.5
        cases.append(e)
    return jnp.asarray(np.stack(cases))


def _to_voigt_strain(H, d: int):
    """Displacement gradients (..., d, d) -> engineering Voigt strains (..., n)."""
    return jnp.stack(
        [H[..., i, j] if i == j else H[..., i, j] + H[..., j, i] for i, j in voigt_pairs(d)], -1
    )


def strain_tensor(voigt, d: int):
    """Engineering Voigt strains (n,) -> the symmetric d x d strain tensor."""
    out: list[list[Any]] = [[None] * d for _ in range(d)]
    for I, (i, j) in enumerate(voigt_pairs(d)):
        out[i][j] = out[j][i] = voigt[I] if i == j else voigt[I] / 2
    return jnp.stack([jnp.stack(row) for row in out])


def _to_voigt_stress(S, d: int):
    return jnp.stack([S[..., i, j] for i, j in voigt_pairs(d)], -1)


def _solve(micro, bc: AbstractBoundaryCondition, C, kind, *, tol, max_steps, what):
    d = micro.ndim
    E, load = bc.loads(_unit_cases(d, kind, strains=True), _unit_cases(d, kind, strains=False))
    pre = jnp.zeros((C.shape[0], C.shape[1], d))
    Hm, Sm, residual, steps = solve_cases(
        micro, bc, C, E, load, pre, tol=tol, max_steps=max_steps, what=what
    )
    if kind == "conductivity":
        grads, fluxes = Hm[:, 0, :].T, Sm[:, 0, :].T
    else:
        grads, fluxes = _to_voigt_strain(Hm, d).T, _to_voigt_stress(Sm, d).T
    tensor = bc.apparent(grads, fluxes)
    return Homogenized((tensor + tensor.T) / 2, residual, steps, bc)


def effective_conductivity(
    microstructure,
    conductivities,
    bc: str | AbstractBoundaryCondition = "periodic",
    *,
    tol: float = TOL,
    max_steps: int = MAX_STEPS,
) -> Homogenized:
    r"""The apparent conductivity of an RVE under one boundary condition.

    **Arguments:**

    - `microstructure`: integer array of phase indices (2D or 3D), e.g. from
        [`laminate`][generic_mm.homogenization.laminate] or a NumPy array.
    - `conductivities`: one value per phase (isotropic) or one $d\times d$ symmetric
        positive-definite tensor per phase; a JAX array is a differentiable leaf.
    - `bc`: `"periodic"` (periodic fluctuations), `"dirichlet"` (affine temperature
        $T = E\cdot x$ on the boundary) or `"neumann"` (uniform normal flux
        $q\cdot n = Q\cdot n$), or the objects
        [`Periodic()`][generic_mm.homogenization.Periodic],
        [`Dirichlet()`][generic_mm.homogenization.Dirichlet],
        [`Neumann()`][generic_mm.homogenization.Neumann] (any
        [`AbstractBoundaryCondition`][generic_mm.homogenization.AbstractBoundaryCondition]).
    - `tol`: relative residual of the conjugate-gradient solves; `max_steps`: their limit.

    **Returns:** a [`Homogenized`][generic_mm.homogenization.Homogenized]: `.tensor`
    ($d\times d$, $\langle q\rangle = K\langle\nabla T\rangle$ with $q = k\nabla T$),
    `.hill_mandel_residual`, `.iterations`.

    **Raises:** `InputError` for a bad microstructure, property array or `bc`;
    `SolverError` when a solve does not converge.
    """
    what = "effective_conductivity"
    bc = as_boundary_condition(bc, what)
    micro = as_microstructure(microstructure)
    d, count = micro.ndim, int(micro.max()) + 1
    C = _conductivities(conductivities, count, d)[:, None, :, None, :]
    return _solve(micro, bc, C, "conductivity", tol=tol, max_steps=max_steps, what=what)


def _conductivities(values, count: int, d: int):
    r"""Per-phase conductivities (one value per phase, isotropic, or one $d\times d$ tensor)
    as a `(count, d, d)` array, checked symmetric positive definite when concrete."""
    k = per_phase(values, count, "conductivities", ((), (d, d)))
    if k.ndim == 1:
        k = k[:, None, None] * jnp.eye(d)
    if not is_traced(k):
        kk = np.asarray(k)
        if not np.allclose(kk, np.swapaxes(kk, 1, 2)) or np.any(np.linalg.eigvalsh(kk) <= 0):
            raise InputError(
                "conductivities: every phase's conductivity must be positive (definite)."
            )
    return k


def _densities(values, count: int, where: str):
    """Per-phase positive scalars (capacities, mass densities) `(count,)`; `None`: all 1."""
    if values is None:
        return jnp.ones(count)
    rho = per_phase(values, count, where, ((),))
    if not is_traced(rho) and np.any(np.asarray(rho) <= 0):
        raise InputError(f"{where}: every phase's value must be positive, got {np.asarray(rho)}.")
    return rho


def _stiffness(moduli, count: int, d: int):
    n = len(voigt_pairs(d))
    arr = per_phase(moduli, count, "moduli", ((2,), (n, n)))
    voigt = isotropic_stiffness(arr[:, 0], arr[:, 1], d) if arr.ndim == 2 else arr
    if not is_traced(voigt):
        v = np.asarray(voigt)
        if not np.allclose(v, np.swapaxes(v, 1, 2)) or np.any(np.linalg.eigvalsh(v) <= 0):
            raise InputError(
                "moduli: every phase's stiffness must be symmetric positive definite (bulk and "
                "shear moduli > 0)."
            )
    return voigt


def effective_elasticity(
    microstructure,
    moduli,
    bc: str | AbstractBoundaryCondition = "periodic",
    *,
    tol: float = TOL,
    max_steps: int = MAX_STEPS,
) -> Homogenized:
    r"""The apparent stiffness of an RVE (2D: plane strain; 3D) under one boundary condition.

    `moduli`: per phase, the isotropic `(bulk, shear)` pair (3D moduli; in 2D the phase is
    in plane strain) or a Voigt stiffness matrix ($3\times3$ in 2D, $6\times6$ in 3D).
    `bc`: `"periodic"`, `"dirichlet"` (affine displacement $u = Ex$ on the boundary) or
    `"neumann"` (uniform traction $\Sigma n$), or a boundary-condition object. Returns
    `.tensor` in Voigt notation (engineering shear strains), `.hill_mandel_residual`,
    `.iterations`.
    """
    what = "effective_elasticity"
    bc = as_boundary_condition(bc, what)
    micro = as_microstructure(microstructure)
    d, count = micro.ndim, int(micro.max()) + 1
    C = to_tensor(_stiffness(moduli, count, d), d)
    return _solve(micro, bc, C, "elasticity", tol=tol, max_steps=max_steps, what=what)


def effective_expansion(
    microstructure,
    moduli,
    expansions,
    bc: str | AbstractBoundaryCondition = "periodic",
    *,
    tol: float = TOL,
    max_steps: int = MAX_STEPS,
) -> Homogenized:
    r"""The apparent thermal expansion tensor $\alpha^*$ of an RVE: the macroscopic strain
    per unit temperature rise at zero macroscopic stress.

    `expansions`: one linear expansion coefficient per phase (isotropic). In 2D (plane
    strain, $\varepsilon_{33} = 0$) the result is the in-plane stress-free strain; a phase's
    own value is then $3K\alpha/(2\kappa)$ with $\kappa = K + \mu/3$, and `moduli` must be
    `(bulk, shear)` pairs. Each phase's thermal stress $\beta = C:\alpha I$ (in 2D
    $3K\alpha I$) is a prestress of the cell problem; $\alpha^* = S^*:\beta^*$, with $S^*$
    the apparent compliance under the same boundary condition.
    """
    what = "effective_expansion"
    bc = as_boundary_condition(bc, what)
    micro = as_microstructure(microstructure)
    d, count = micro.ndim, int(micro.max()) + 1
    alpha = per_phase(expansions, count, "expansions", ((),))
    voigt = _stiffness(moduli, count, d)
    C = to_tensor(voigt, d)
    if d == 2:
        arr = jnp.asarray(moduli, dtype=float)
        if arr.shape != (count, 2):
            raise InputError(
                "effective_expansion: in 2D (plane strain) give moduli as (bulk, shear) pairs."
            )
        beta = (3 * arr[:, 0] * alpha)[:, None, None] * jnp.eye(2)
    else:
        beta = jnp.einsum("pijkl,kl->pij", C, jnp.eye(3)) * alpha[:, None, None]
    # The thermal stress is a prestress of the cell at zero macroscopic load (E = 0 and
    # Sigma = 0); the boundary condition turns the mean strain and stress into the
    # stress-free strain, solving for its apparent stiffness only when it needs it.
    zero = jnp.zeros((1, d, d))
    Hm, Sm, residual, steps = solve_cases(
        micro, bc, C, zero, zero, beta, tol=tol, max_steps=max_steps, what=what
    )
    stiffness_solves = []

    def stiffness():
        stiffness_solves.append(
            _solve(micro, bc, C, "elasticity", tol=tol, max_steps=max_steps, what=what)
        )
        return stiffness_solves[-1].tensor

    eng = bc.stress_free_strain(_to_voigt_strain(Hm[0], d), _to_voigt_stress(Sm[0], d), stiffness)
    for extra in stiffness_solves:
        residual = jnp.maximum(residual, extra.hill_mandel_residual)
        steps = jnp.concatenate([steps, extra.iterations])
    return Homogenized(strain_tensor(eng, d), residual, steps, bc)
