r"""The simplified Newton iteration of the discrete-gradient solvers.

A discrete-gradient step solves $R(y) = y - x - h\,\bar f(x, y) = 0$. Its Jacobian is
$I - h\,\partial_y\bar f$, and $\partial_y\bar f = \tfrac12 J(m) + O(|y - x|)$ with $J$ the
Jacobian of the vector field at the midpoint $m$: the iteration uses $A = I - c\,h\,J(m)$
($c = 1/2$ per unit of substep), factorised once (dense LU) and reused across iterations
*and* steps until the contraction rate of the iteration says it has gone stale (the rate
test of stiff integrators, Hairer and Wanner IV.8). Above the dense limit $A$ is applied
matrix-free (one `jax.linearize` of the vector field per step) inside GMRES.

Everything here is traced into the solver step; the carried part (`Linearisation`) is a
pytree of arrays, so Diffrax can keep or discard it with the step.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import lineax as lx
import optimistix as optx
from jax import lax

from .._errors import InputError

DENSE_LIMIT = 400
"""Up to this many state variables the Newton matrix is factorised densely (LU); above it,
it is only applied (JAX `jvp`) inside GMRES."""


def _number(value, name: str, low: float, high: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (low < float(value) < high):
        raise InputError(
            f"ChordNewton: {name} must be a number in ({low:g}, {high:g}), got {value!r}."
        )
    return float(value)


class ChordNewton(eqx.Module):
    r"""The settings of the discrete-gradient solvers' simplified Newton iteration.

    Each step iterates $y \leftarrow y - A^{-1}R(y)$ with one factorised
    $A = I - \tfrac12 h_J J(m_J)$ ($J$ the Jacobian of the vector field, $m_J$ and $h_J$ the
    midpoint and step it was built at), reused across iterations and steps. It is rebuilt
    before a step when the previous step contracted slower than `refresh_rate`, when the step
    size has changed by more than 20 % (refactorised from the stored $J$), or within a step when the iteration contracts
    slower than `divergence_rate`; if the fresh matrix fails too, the step falls back to full
    Newton on the exact Jacobian of the step equation (Optimistix). A step is accepted only
    when the residual meets `atol + rtol * |y|` componentwise.

    **Arguments** (all optional):

    - `rtol`, `atol`: the tolerance on the residual (default `1e-12`).
    - `refresh_rate`: contraction rate above which the next step rebuilds $A$ (default 0.1).
    - `divergence_rate`: contraction rate at which an iteration with a reused $A$ is
        abandoned and $A$ rebuilt (default 0.5).
    - `norm`: the norm of the updates in the rate test (default `optimistix.max_norm`).
    - `dense_limit`: above this many variables, GMRES on matrix-free products (default 400).
    - `gmres_rtol`, `gmres_restart`, `gmres_max_steps`: the inexact linear solves above the
        dense limit (default `1e-4`, 10, 600; Lineax's GMRES runs whole restart cycles, so a
        short cycle is cheaper, and the outer iteration only needs the linear solve about as
        accurate as its own contraction).
    """

    rtol: float = 1e-12
    atol: float = 1e-12
    refresh_rate: float = 0.1
    divergence_rate: float = 0.5
    norm: Callable = optx.max_norm
    dense_limit: int = DENSE_LIMIT
    gmres_rtol: float = 1e-4
    gmres_restart: int = 10
    gmres_max_steps: int = 600

    def __check_init__(self):
        _number(self.rtol, "rtol", 0.0, 1.0)
        _number(self.atol, "atol", 0.0, float("inf"))
        _number(self.refresh_rate, "refresh_rate", 0.0, 1.0)
        _number(self.divergence_rate, "divergence_rate", 0.0, 1.0)
        _number(self.gmres_rtol, "gmres_rtol", 0.0, 1.0)
        if not callable(self.norm):
            raise InputError(
                f"ChordNewton: norm must be a function of a vector (such as "
                f"optimistix.max_norm), got {self.norm!r}."
            )
        for name in ("dense_limit", "gmres_restart", "gmres_max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"ChordNewton: {name} must be a positive integer, got {value!r}.")


class Linearisation(eqx.Module):
    """The reused Newton matrix: where and for which step it was built, its LU factors (one
    per substep coefficient; none above the dense limit) and whether it is stale."""

    point: jax.Array
    h: jax.Array
    jac: jax.Array | None  # the Jacobian of the vector field at `point` (dense only)
    lus: tuple
    stale: jax.Array


def linearise(vf, point, h, coefs, dense: bool) -> Linearisation:
    """Build the Newton matrices `I - c h J(point)` for each `c` in `coefs`."""
    jac = jax.jacfwd(vf)(point) if dense else None
    return factorise(Linearisation(point, point[0] * 0 + h, jac, (), jnp.asarray(False)), h, coefs)


def factorise(lin: Linearisation, h, coefs) -> Linearisation:
    """The LU factors of `I - c h J` for the stored `J` and the step `h` (none when
    matrix-free)."""
    if lin.jac is None:
        return lin
    eye = jnp.eye(lin.jac.shape[0], dtype=lin.jac.dtype)
    lus = tuple(jsl.lu_factor(eye - (c * h) * lin.jac) for c in coefs)
    return Linearisation(lin.point, lin.point[0] * 0 + h, lin.jac, lus, lin.stale)


def when(flag, make, current):
    """`make()` where `flag`, else `current`, computing `make()` only when some flag is set
    (a `while_loop` of at most one pass: under `vmap` a `cond` would compute it always)."""

    def body(carry):
        return jnp.zeros_like(carry[0]), make()

    return lax.while_loop(lambda c: jnp.any(c[0]), body, (flag, current))[1]


def linear_solver(settings: ChordNewton, vf, lin: Linearisation, coef_index: int, c: float, h):
    """`v -> A^{-1} v` for the substep with coefficient `c` (index `coef_index` into the
    factors): dense LU back-substitution, or GMRES on `v - c h J v` with `J` linearised once
    at `lin.point`."""
    if lin.lus:
        factors = lin.lus[coef_index]
        return lambda v: jsl.lu_solve(factors, v)
    _, jvp = jax.linearize(vf, lin.point)
    operator = lx.FunctionLinearOperator(
        lambda v: v - (c * h) * jvp(v), jax.ShapeDtypeStruct(lin.point.shape, lin.point.dtype)
    )
    gmres = lx.GMRES(
        rtol=settings.gmres_rtol,
        atol=0.0,
        restart=settings.gmres_restart,
        stagnation_iters=settings.gmres_restart,
        max_steps=settings.gmres_max_steps,
    )
    return lambda v: lx.linear_solve(operator, v, gmres, throw=False).value


def residual_bound(settings, y0, y):
    """The componentwise acceptance bound on the residual (with a few ulps of slack: the
    residual is a difference of O(|y|) terms)."""
    slack = 100.0 * jnp.finfo(y0.dtype).eps
    return settings.atol + (settings.rtol + slack) * (jnp.abs(y0) + jnp.abs(y - y0))


def chord(residual, guess, solve, bound, max_steps: int, divergence_rate, norm):
    """Iterate `y <- y - solve(residual(y))` from `guess` until the residual meets `bound(y)`
    componentwise (verified, never estimated), then take the update that residual gives
    (no new evaluation), which leaves about round-off.

    The contraction rate is `norm(dy_k) / norm(dy_{k-1})`; the iteration fails when an
    update is not finite or the rate exceeds `divergence_rate`. Returns
    `(y, converged, worst_rate, iterations)`."""
    r0 = residual(guess)
    done0 = jnp.all(jnp.abs(r0) <= bound(guess))
    zero = jnp.zeros((), dtype=guess.dtype)
    inf = jnp.asarray(jnp.inf, dtype=guess.dtype)

    def cond(c):
        k, _, _, _, _, done, failed = c
        return (~done) & (~failed) & (k < max_steps)

    def body(c):
        k, y, r, previous, worst, _, _ = c
        dy = solve(-r)
        size = norm(dy)
        rate = jnp.where(k > 0, size / jnp.maximum(previous, 1e-300), 0.0)
        y = y + dy
        r = residual(y)
        done = jnp.all(jnp.abs(r) <= bound(y))
        failed = ~jnp.all(jnp.isfinite(r)) | ((rate > divergence_rate) & ~done)
        return k + 1, y, r, size, jnp.maximum(worst, rate), done, failed

    init = (jnp.asarray(0), guess, r0, inf, zero, done0, ~jnp.all(jnp.isfinite(r0)))
    k, y, r, _, worst, done, _ = lax.while_loop(cond, body, init)
    # One more update from the residual already in hand (a back-substitution, no new
    # evaluation): it takes the iterate from the tolerance down to about round-off.
    y = jnp.where(done, y + solve(-r), y)
    return y, done, worst, k
