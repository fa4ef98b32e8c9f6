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

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg

from .. import compile as compile_model
from .._errors import InputError
from ._lattice import _shape
from ._models import build_model, state_names

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
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise InputError(f"softest_modes: count must be a positive integer, got {count!r}.")
    if count > n_dof - d - 1:
        raise InputError(f"softest_modes: count must be below {n_dof - d} for this patch.")
    if method not in ("lanczos", "dense"):
        raise InputError(f"softest_modes: method must be 'lanczos' or 'dense', got {method!r}.")
    if method == "dense" and n_dof > _DENSE_LIMIT:
        raise InputError(
            f"softest_modes: {n_dof} displacement components are too many for a dense "
            f"Hessian (limit {_DENSE_LIMIT}); use method='lanczos'."
        )
    model = build_model(lattice, shape, deformation)
    cm = compile_model(model, check=False)  # only the energy is used: no dynamics
    names_u, names_p = state_names(d)
    if displacement is None:
        u0 = np.zeros((*shape, d))
    else:
        u0 = np.asarray(displacement, dtype=float)
        if u0.shape != (*shape, d) or not np.all(np.isfinite(u0)):
            raise InputError(
                f"softest_modes: displacement must be finite with shape {(*shape, d)} "
                f"(one vector per atom), got {u0.shape}."
            )
    K = 2 * d
    pos = (np.arange(int(np.prod(shape)))[:, None] * K + np.arange(d)[None, :]).reshape(-1)
    idx = jnp.asarray(pos)
    y_base = jnp.zeros(cm.n).at[idx].set(jnp.asarray(u0.reshape(-1)))

    def energy(u):
        return cm.energy(y_base.at[idx].set(u))

    grad = jax.grad(energy)
    u_ref = jnp.asarray(u0.reshape(-1))
    hvp = jax.jit(lambda v: jax.jvp(grad, (u_ref,), (v,))[1] / lattice.mass)
    trans = np.zeros((d, n_dof))
    for i in range(d):
        trans[i, i::d] = 1.0 / np.sqrt(n_dof / d)

    if method == "dense":
        H = np.asarray(jax.jit(jax.hessian(energy))(u_ref)) / lattice.mass
        H = 0.5 * (H + H.T)
        P = np.eye(n_dof) - trans.T @ trans
        w, V = np.linalg.eigh(P @ H @ P)
        keep = np.abs(V.T @ trans.T).max(axis=1) < 0.5  # drop the translations
        w, V = w[keep][:count], V[:, keep][:, :count]
    else:

        def project(x):
            return x - trans.T @ (trans @ x)

        def apply(x):
            x = np.asarray(x, dtype=float).reshape(-1)
            return project(np.asarray(hvp(jnp.asarray(project(x)))))

        op = sla.LinearOperator((n_dof, n_dof), matvec=apply, dtype=float)
        top = sla.eigsh(op, k=1, which="LA", tol=1e-3, return_eigenvectors=False)
        shift = 2.0 * float(abs(top[0])) + 1.0

        def shifted(x):
            x = np.asarray(x, dtype=float).reshape(-1)
            return apply(x) + shift * (trans.T @ (trans @ x))

        op2 = sla.LinearOperator((n_dof, n_dof), matvec=shifted, dtype=float)
        rng = np.random.default_rng(0)
        w, V = sla.eigsh(
            op2,
            k=count,
            which="SA",
            tol=tol,
            v0=project(rng.normal(size=n_dof)),
            maxiter=100 * n_dof,
            # a wide Krylov basis: symmetry makes soft modes come in degenerate pairs, which
            # a narrow one can return only once
            ncv=min(n_dof - 1, max(4 * count + 8, 40)),
        )
        order = np.argsort(w)
        w, V = w[order], V[:, order]
    vectors = V.T.reshape(count, *shape, d)
    return Modes(np.asarray(w), vectors, method)
