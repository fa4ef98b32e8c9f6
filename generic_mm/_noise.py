r"""Fluctuating GENERIC: the drift and noise of a compiled model as Diffrax terms.

Ottinger's fluctuating GENERIC (Ito) adds to $\dot x = L\nabla E + M\nabla S$ the drift
$k_B\,\mathrm{div}\,M$ and the noise $B\,dW$ with $BB^T = 2k_BM$:

$$dx = \left[L\nabla E + M\nabla S + k_B\,\mathrm{div}\,M\right]dt + B\,dW.$$

Each model kind supplies $\mathrm{div}\,M$ (derived symbolically) and a factor of $M$ that
never forms the $n\times n$ matrix of a structured model: every dissipative process (a named
friction matrix of a flat model, a friction template of a structured one, per edge) is
factored on its own support by a pivoted Cholesky factorisation, and each gets its own
Wiener increments. Independent noises add their covariances, so the total is $2k_BM$.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import InputError
from ._validate import is_traced

FACTOR_RTOL = 1e-12
"""Pivots below this fraction of the largest diagonal entry end the factorisation: the
neglected part of $M$ is smaller than that, entry by entry."""


UNROLL = 8
"""Factorisations of at most this size are unrolled (a loop costs more than the work)."""


def psd_factor(A: jax.Array, rtol: float = FACTOR_RTOL) -> jax.Array:
    r"""A factor $B$ with $BB^T = A$ of a symmetric positive semi-definite matrix `A`.

    Diagonally pivoted Cholesky (outer-product form): at each step the largest remaining
    diagonal entry is the pivot; once every remaining one is below `rtol` times the largest
    diagonal entry of `A`, the remaining columns are zero. Rank-deficient `A` (every
    GENERIC friction matrix: $M\nabla E = 0$) is fine, there is no square root of a
    negative round-off, and the result is differentiable where the pivots do not tie.
    Works on a `(k, k)` matrix; `jax.vmap` it for many.
    """
    n = A.shape[-1]
    if n == 0:
        return A
    A = 0.5 * (A + A.T)
    tol = rtol * jnp.max(jnp.abs(jnp.diagonal(A)))

    def step(k, carry):
        R, B = carry
        d = jnp.diagonal(R)
        p = jnp.argmax(d)
        pivot = d[p]
        ok = pivot > tol
        # The double `where` keeps the gradient finite where a pivot is cut off.
        col = jnp.where(ok, R[:, p] / jnp.sqrt(jnp.where(ok, pivot, 1.0)), 0.0)
        return R - jnp.outer(col, col), B.at[:, k].set(col)

    carry = (A, jnp.zeros_like(A))
    if n <= UNROLL:
        # Small blocks (every process of a flat model, every edge): no loop overhead.
        for k in range(n):
            carry = step(k, carry)
        return carry[1]
    return jax.lax.fori_loop(0, n, step, carry)[1]


def _drift(t, y, args):
    model, kB = args
    return model.vector_field(t, y) + kB * model.divergence(y)


def ito_increment(model: Any, kB: Any, y: Any, h: Any, dW: Any) -> jax.Array:
    r"""$h\,k_B\,\mathrm{div}M(y) + \sqrt{2k_B}\,B(y)\,\Delta W$: what fluctuating GENERIC adds
    to a step of the deterministic dynamics (evaluated at the start of the step: Ito)."""
    return h * kB * model.divergence(y) + model.noise_operator(y, jnp.sqrt(2.0 * kB)).mv(dW)


def _diffusion(t, y, args):
    model, kB = args
    return model.noise_operator(y, jnp.sqrt(2.0 * kB))


def sde_terms(model: Any, brownian: diffrax.AbstractBrownianPath) -> diffrax.MultiTerm:
    r"""`MultiTerm(ODETerm(drift), ControlTerm(diffusion, brownian))` for a compiled model,
    with `args = (model, kB)`: drift $L\nabla E + M\nabla S + k_B\mathrm{div}M$, diffusion
    the linear operator $\sqrt{2k_B}\,B(x)$ applied to the Brownian increments."""
    del model  # the terms read the model from `args`, so parameters can be swept
    return diffrax.MultiTerm(diffrax.ODETerm(_drift), diffrax.ControlTerm(_diffusion, brownian))


def _kB(noise: Any) -> float:
    if is_traced(noise):
        raise InputError("noise: must be a concrete number (kB), not traced.")
    if isinstance(noise, bool):
        raise InputError(
            f"noise: expected Boltzmann's constant kB (a positive number), got {noise!r}."
        )
    try:
        kB = float(noise)
    except (TypeError, ValueError):
        raise InputError(
            f"noise: expected Boltzmann's constant kB (a positive number), got {noise!r}."
        ) from None
    if not (np.isfinite(kB) and kB > 0):
        raise InputError(
            f"noise: expected a finite positive kB, got {noise!r} (leave noise out for the "
            "deterministic model)."
        )
    return kB


def _keys(key: Any, count: int | None) -> Any:
    """One key, or `count` keys split from `key`."""
    if key is None:
        raise InputError(
            "key: a stochastic run needs a PRNG key, e.g. key=jax.random.key(0): the same key "
            "gives the same noise (and the same paths)."
        )
    try:
        is_typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    except AttributeError:
        is_typed = False
    raw = not is_typed and jnp.shape(key) == (2,) and getattr(key, "dtype", None) == jnp.uint32
    if not (is_typed and np.ndim(key) == 0) and not raw:
        raise InputError(
            f"key: expected one JAX PRNG key (jax.random.key(seed)), got "
            f"{type(key).__name__} of shape {np.shape(key)}."
        )
    return key if count is None else jax.random.split(key, count)


class StochasticRun(NamedTuple):
    """A stochastic run's validated settings (see `noise_settings`)."""

    solver: Any
    controller: Any
    dt0: float | None
    keys: Any
    batch: int | None
    adjoint: Any
    noise: tuple[Any, Any, bool]  # (kB, Brownian tree tolerance, tree?) for the solve


TREE_LEVELS = 20
"""The Brownian tree resolves 2^-20 of the interval (or half the smallest step, if
smaller): the same path at every step size above that."""


def noise_settings(
    compiled: Any,
    *,
    noise: Any,
    key: Any,
    paths: Any,
    brownian: Any,
    batch: int | None,
    solver: Any,
    controller: Any,
    adjoint: Any,
    dt0: float | None,
    t0: float,
    t1: float,
    save_ts: Any,
    max_steps: int,
) -> StochasticRun:
    """Validate a stochastic run's arguments: an Ito solver (default `diffrax.Euler()`,
    Euler-Maruyama), fixed steps `dt0` (stepping onto save times off that grid, so that
    saved states are states of the SDE, not interpolations), one key per ensemble member,
    an adjoint that can differentiate the chosen Brownian motion."""
    kB = _kB(noise)
    tree = brownian_tree(brownian)
    if paths is not None:
        if isinstance(paths, bool) or not isinstance(paths, (int, np.integer)) or paths < 1:
            raise InputError(f"paths: expected a positive integer, got {paths!r}.")
        paths = int(paths)
        if batch is not None and batch != paths:
            raise InputError(
                f"paths: the ensemble (y0 or params) has {batch} members but paths={paths}; "
                "give one path per member (leave paths out), or repeat the members."
            )
        batch = paths
    solver = diffrax.Euler() if solver is None else solver
    _ito_solver(solver, compiled)
    if controller is not None and not isinstance(controller, diffrax.ConstantStepSize):
        raise InputError(
            "stepsize_controller: stochastic runs take fixed steps (the Ito solvers have no "
            "error estimate); leave it out and give dt0."
        )
    if dt0 is None:
        raise InputError("dt0: a stochastic run takes fixed steps: give dt0 (the step size).")
    try:
        dim = compiled.noise_dim
    except InputError as exc:
        raise InputError(f"noise: {exc}") from None
    if dim == 0:
        raise InputError(
            f"noise: {compiled.name!r} has no dissipative process (M = 0), so fluctuating "
            "GENERIC adds no noise to it; leave noise out."
        )
    grid = _step_grid(t0, t1, dt0, save_ts)
    steps = int(np.ceil((t1 - t0) / dt0 - 1e-9)) if grid is None else grid.size - 1
    if steps > max_steps:
        raise InputError(
            f"max_steps: {steps} steps of dt0={dt0:g} are needed to reach t1, but "
            f"max_steps={max_steps}; raise max_steps or dt0."
        )
    smallest = dt0 if grid is None else float(np.min(np.diff(grid)))
    if not tree and smallest < 16 * float(np.spacing(np.float32(max(abs(t0), abs(t1))))):
        # diffrax.UnsafeBrownianPath keys each increment by the float32 start time.
        raise InputError(
            f"brownian='steps': at times up to {max(abs(t0), abs(t1)):g}, steps of "
            f"{smallest:g} (dt0, or a step onto a save time) "
            "are below float32 resolution, where its increments would repeat; use "
            "brownian='tree', or start the run at t0 = 0."
        )
    adjoint = _adjoint(adjoint, tree)
    tol = min(smallest / 2, (t1 - t0) * 2.0**-TREE_LEVELS)
    controller = diffrax.ConstantStepSize() if grid is None else diffrax.StepTo(ts=grid)
    return StochasticRun(
        solver,
        controller,
        dt0 if grid is None else None,
        _keys(key, batch),
        batch,
        adjoint,
        (jnp.asarray(kB, dtype=float), jnp.asarray(tol, dtype=float), tree),
    )


def _ito_solver(solver: Any, compiled: Any) -> None:
    if isinstance(solver, diffrax.AbstractStratonovichSolver) or not isinstance(
        solver, diffrax.AbstractItoSolver
    ):
        kind = (
            "converges to the Stratonovich solution"
            if isinstance(solver, diffrax.AbstractStratonovichSolver)
            else "is not an Ito SDE solver"
        )
        raise InputError(
            f"solver: {type(solver).__name__} {kind}; fluctuating GENERIC is an Ito equation "
            "(its kB div M drift is the Ito one). Use diffrax.Euler() (Euler-Maruyama, strong "
            "order 1/2), diffrax.ItoMilstein() (strong order 1 for commutative noise, e.g. "
            "one dissipative process of rank one) or gm.StochasticDiscreteGradient() (E to "
            "round-off on every path)."
        )
    if isinstance(solver, diffrax.ItoMilstein) and not compiled.layout.is_flat:
        raise InputError(
            "solver: ItoMilstein differentiates the noise factor, which a structured model "
            "applies matrix-free (per edge), and its order needs commutative noise, which "
            "per-edge noise is not; use diffrax.Euler() or gm.StochasticDiscreteGradient()."
        )


def _adjoint(adjoint: Any, tree: bool) -> Any:
    if adjoint is None:
        # Per-step increments cannot be replayed backwards: forward-mode derivatives only.
        return diffrax.RecursiveCheckpointAdjoint() if tree else diffrax.ForwardMode()
    if isinstance(adjoint, diffrax.BacksolveAdjoint):
        raise InputError(
            "adjoint: BacksolveAdjoint cannot differentiate an Ito SDE solve; leave adjoint "
            "out (RecursiveCheckpointAdjoint with the Brownian tree)."
        )
    if not tree and not isinstance(adjoint, (diffrax.ForwardMode, diffrax.DirectAdjoint)):
        raise InputError(
            f"adjoint: {type(adjoint).__name__} cannot replay brownian='steps' increments; "
            "use diffrax.ForwardMode() (the default there: jax.jvp, jax.jacfwd) or "
            "brownian='tree' for reverse-mode gradients."
        )
    return adjoint


def _step_grid(t0: float, t1: float, dt0: float, save_ts: Any) -> np.ndarray | None:
    """Steps of `dt0` from `t0`, plus the save times off that grid (`None`: all are on it,
    or there are none, so constant steps do)."""
    if save_ts is None:
        return None
    if is_traced(save_ts):
        raise InputError(
            "saveat: under a JAX transformation, a stochastic run needs concrete save times "
            "(a number of points, or a NumPy array): its steps are laid out from them."
        )
    save_ts = np.asarray(save_ts, dtype=float)
    k = (save_ts - t0) / dt0
    if np.all(np.abs(k - np.round(k)) <= 1e-9 * np.maximum(1.0, np.abs(k))):
        return None
    n = int(np.ceil((t1 - t0) / dt0 - 1e-9))
    grid = np.union1d(np.minimum(t0 + dt0 * np.arange(n + 1), t1), save_ts)
    grid = grid[np.concatenate([[True], np.diff(grid) > 1e-9 * dt0])]
    grid[-1] = t1
    warnings.warn(
        f"saveat: {grid.size - 1 - n} save time(s) fall between steps of dt0={dt0:g}; the "
        f"solver steps onto them ({grid.size - 1} steps instead of {n}), so that saved "
        "states are states of the scheme. Choose save times on the grid t0 + k dt0 (e.g. "
        "saveat=N with (t1 - t0)/(N - 1) a multiple of dt0) to keep the steps even.",
        stacklevel=4,
    )
    return grid


def grid_save_times(t0: float, t1: float, dt0: float, points: int = 101) -> np.ndarray:
    r"""At most `points` save times on the step grid $t_0 + k\,dt_0$ (evenly strided),
    ending at `t1`: a stochastic run's default `saveat`."""
    n = int(np.ceil((t1 - t0) / dt0 - 1e-9))
    stride = max(1, -(-n // (points - 1)))
    ts = t0 + dt0 * np.arange(0, n, stride)
    return np.append(ts[ts < t1], t1)


BROWNIAN = ("tree", "steps")


def brownian_tree(brownian: Any) -> bool:
    """`True` for a `VirtualBrownianTree` (`"tree"`), `False` for per-step increments."""
    if brownian not in BROWNIAN:
        raise InputError(f"brownian: expected one of {BROWNIAN}, got {brownian!r}.")
    return brownian == "tree"
