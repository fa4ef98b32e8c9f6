r"""The softest vibration modes of a finite periodic patch, from JAX Hessian-vector products.

For a perfect lattice the Bloch analysis is exact and cheap; for a patch in any state (a
pattern after an instability, a relaxed defect) the Hessian of the energy with respect to
the displacements is what decides stability. It is never formed: Lanczos
(`sla.eigsh`, ARPACK) runs on a jitted Hessian-vector product, with the
rigid translations (exact zero modes of a periodic patch) shifted to the top of the
spectrum. `method="dense"` forms the Hessian and calls `numpy.linalg.eigh`, for
comparison and small patches.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg
import threadpoolctl

from .._errors import InputError
from .._validate import real_array
from ._lattice import _shape
from ._models import deformation_params, operators, patch_minimum

sla: Any = scipy.sparse.linalg  # its stubs lag its signatures

_DENSE_LIMIT = 20000  # displacement components


@dataclasses.dataclass(frozen=True)
class Modes:
    r"""The softest modes of a patch: `omega2` ($\omega^2$, ascending, shape `(count,)`),
    `vectors` (displacement patterns, shape `(count, *shape, dim)`, unit norm) and the
    `method` that found them. Rigid translations are left out."""

    omega2: np.ndarray
    vectors: np.ndarray
    method: str


def softest_modes(
    lattice,
    shape: Any,
    deformation: Any = None,
    *,
    displacement: Any = None,
    count: int = 4,
    method: str = "lanczos",
    tol: float = 1e-10,
) -> Modes:
    """See [`Lattice.softest_modes`][generic_mm.lattices.Lattice.softest_modes]."""
    shape = _shape(shape, lattice.dim)
    d = lattice.dim
    n_dof = int(np.prod(shape)) * d
    least = patch_minimum(lattice)
    if min(shape) < least:
        raise InputError(
            f"softest_modes: a periodic patch needs at least {least} cells per axis for "
            f"{len(lattice.shells)} neighbour shell(s); got {shape}."
        )
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise InputError(f"softest_modes: count must be a positive integer, got {count!r}.")
    if count > n_dof - d - 1:
        raise InputError(f"softest_modes: count must be below {n_dof - d} for this patch.")
    if (
        isinstance(tol, bool)
        or not isinstance(tol, (int, float, np.number))
        or not 0 <= float(tol) < 1e-2
    ):
        raise InputError(f"softest_modes: tol must be a number in [0, 0.01), got {tol!r}.")
    if method not in ("lanczos", "dense"):
        raise InputError(f"softest_modes: method must be 'lanczos' or 'dense', got {method!r}.")
    if method == "dense" and n_dof > _DENSE_LIMIT:
        raise InputError(
            f"softest_modes: {n_dof} displacement components are too many for a dense "
            f"Hessian (limit {_DENSE_LIMIT}); use method='lanczos'."
        )
    F = lattice._deformation(deformation)
    if displacement is None:
        u0 = np.zeros((*shape, d))
    else:
        u0 = np.array(
            real_array(displacement, "softest_modes: displacement", expected="displacements")
        )
        if d == 1 and u0.shape == shape:
            u0 = u0[:, None]  # a chain's displacements as the model's field `u`
        if u0.shape != (*shape, d) or not np.all(np.isfinite(u0)):
            raise InputError(
                f"softest_modes: displacement must be finite with shape {(*shape, d)} "
                f"(one vector per atom), got {u0.shape}."
            )
    ops = operators(lattice, shape)
    params = {k: jnp.asarray(v) for k, v in deformation_params(lattice, F).items()}
    u_ref = jnp.asarray(u0.reshape(-1))
    if method == "dense":
        H = np.asarray(ops.hessian(u_ref, params))
        H = 0.5 * (H + H.T)
        trans = np.zeros((d, n_dof))
        for i in range(d):
            trans[i, i::d] = 1.0 / np.sqrt(n_dof / d)
        P = np.eye(n_dof) - trans.T @ trans
        w, V = np.linalg.eigh(P @ H @ P)
        keep = np.abs(V.T @ trans.T).max(axis=1) < 0.5  # drop the translations
        w, V = w[keep][:count], V[:, keep][:, :count]
    else:
        # the translations are lifted to `shift`, above the modes sought: twice the top of
        # the uniform lattice's Bloch spectrum (cheap, closed form)
        t = np.arange(16) / 16
        xi = np.stack(np.meshgrid(*[t] * d, indexing="ij"), -1).reshape(-1, d)
        k = xi @ lattice.reciprocal
        top = float(np.max(np.abs(lattice.dispersion(k if d == 2 else k[:, 0], F))))
        shift = 2.0 * top + 1.0
        rng = np.random.default_rng(0)
        v0 = np.asarray(ops.project(jnp.asarray(rng.normal(size=n_dof))))
        for _ in range(3):
            shift_j = jnp.asarray(shift)

            def matvec(x, shift_j=shift_j):
                x = jnp.asarray(np.asarray(x, dtype=float).reshape(-1))
                return np.asarray(ops.apply(x, u_ref, params, shift_j))

            op = sla.LinearOperator((n_dof, n_dof), matvec=matvec, dtype=float)
            # ARPACK's vector operations are small: threaded BLAS only waits for its threads
            # (measured 2.5x slower on 2 cores; benchmarks/bench_lattices.py)
            with threadpoolctl.threadpool_limits(1, user_api="blas"):
                w, V = sla.eigsh(
                    op,
                    # more than asked: a degenerate group at the edge of the `count` lowest
                    # is then found whole (Lanczos resolves multiplicity by round-off only;
                    # the lowest value alone needs no more)
                    k=1 if count == 1 else min(n_dof - 2, 2 * count + 4),
                    which="SA",
                    tol=tol,
                    v0=v0,
                    maxiter=100 * n_dof,
                    # a wide Krylov basis: symmetry makes soft modes come in degenerate pairs,
                    # which a narrow one can return only once
                    ncv=min(n_dof - 1, max(4 * count + 16, 40)),
                )
            if np.sort(w)[:count].max() < 0.5 * shift:  # no translation among those kept
                break
            shift *= 10.0
        order = np.argsort(w)[:count]
        w, V = w[order], V[:, order]
    vectors = V.T.reshape(count, *shape, d)
    return Modes(np.asarray(w), vectors, method)


def _displacement(lattice, displacement: Any, where: str) -> tuple[tuple[int, ...], np.ndarray]:
    u = np.array(real_array(displacement, where, expected="an array of displacements"))
    d = lattice.dim
    if d == 1 and u.ndim == 1:
        u = u[:, None]  # a chain's displacements as the model's field `u`
    if u.ndim != d + 1 or u.shape[-1] != d or not np.all(np.isfinite(u)):
        raise InputError(
            f"{where}: expected finite displacements of shape (*patch shape, {d}), got shape "
            f"{u.shape}."
        )
    return _shape(u.shape[:-1], d), u


def potential_energy(lattice, displacement: Any, deformation: Any = None) -> float:
    """See [`Lattice.potential_energy`][generic_mm.lattices.Lattice.potential_energy]."""
    shape, u = _displacement(lattice, displacement, "potential_energy: displacement")
    F = lattice._deformation(deformation)
    ops = operators(lattice, shape)
    params = {k: jnp.asarray(v) for k, v in deformation_params(lattice, F).items()}
    return float(ops.energy(jnp.asarray(u.reshape(-1)), params))
