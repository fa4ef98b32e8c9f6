"""`DiscreteGradient`: an energy-conserving, entropy-non-decreasing GENERIC solver for Diffrax."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import diffrax
import equinox as eqx
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from diffrax import RESULTS, LocalLinearInterpolation

from .._compiled import CompiledModel
from .._errors import InputError


def gonzalez(grad_mid, f0, f1, d, mid=None):
    r"""Gonzalez's midpoint discrete gradient of $F$ between $x$ and $y = x + d$.

    $\bar g = \nabla F(m) + \frac{F(y) - F(x) - \nabla F(m)\cdot d}{|d|^2}\, d$,
    $m = (x + y)/2$; then $\bar g\cdot d = F(y) - F(x)$. The correction is dropped when its
    numerator is at the level of round-off in $F$ (there it is noise, which would stall
    Newton's method near equilibria; without it the identity still holds to round-off).
    Round-off in $F$ scales with the size of the terms $F$ is made of, not with its value
    (which may cancel to zero): $|\nabla F(m)\cdot m|$ termwise, with `mid` = $m$, estimates
    that size. A double `where` keeps derivatives finite at $d = 0$.
    """
    eps = jnp.finfo(d.dtype).eps
    gd = jnp.dot(grad_mid, d)
    num = (f1 - f0) - gd
    size = jnp.abs(f0) + jnp.abs(f1) + jnp.sum(jnp.abs(grad_mid * d))
    if mid is not None:
        size = size + jnp.sum(jnp.abs(grad_mid * mid))
    noise = 16 * eps * size
    dd = jnp.dot(d, d)
    keep = (dd > 0) & (jnp.abs(num) > noise)
    coef = jnp.where(keep, num / jnp.where(keep, dd, 1.0), 0.0)
    return grad_mid + coef * d


def _ratio(num, den):
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def oblique_projector(a, g):
    r"""$P = I - a g^T / (g\cdot a)$ as a dense matrix: $P^T g = 0$, $P a = 0$; the identity
    when $g\cdot a = 0$. (The solver applies it matrix-free; this is for inspection.)"""
    return jnp.eye(a.shape[0], dtype=a.dtype) - _ratio(1.0, jnp.dot(g, a)) * jnp.outer(a, g)


def discrete_rate(
    model: CompiledModel,
    x,
    y,
    friction_projection: str = "entropy",
    at_x=None,
    *,
    with_energy_gradient: bool = False,
):
    r"""The discrete GENERIC rate $\bar L\bar g_E + \bar M\bar g_S$ between states `x` and `y`.

    $\bar g_E$, $\bar g_S$ are Gonzalez discrete gradients of $E$ and $S$;
    $\bar L = P L(m) P^T$ with $P = I - \bar g_S\bar g_S^T/|\bar g_S|^2$, and
    $\bar M = Q M(m) Q^T$ with $Q = I - b\,\bar g_E^T/(\bar g_E\cdot b)$, $b = \bar g_S$
    (`"entropy"`, falling back to $b = \bar g_E$ where $\bar g_E\cdot\bar g_S$ vanishes) or
    $b = \bar g_E$ (`"energy"`). Then $\bar L\bar g_S = 0$ and $\bar M\bar g_E = 0$ exactly,
    $\bar L$ is antisymmetric and $\bar M$ symmetric positive semi-definite.

    Everything is matrix-free: the projectors are rank-one updates and $L$, $M$ enter only
    through the products `model.apply(m, v, w)`, so the cost is that of a vector-field
    evaluation (linear in the number of cells for a structured model).

    `at_x` may carry $(E(x), S(x))$, constant over a step's Newton iterations. With
    `with_energy_gradient`, returns `(rate, g_E)`.
    """
    d = y - x
    m = 0.5 * (x + y)
    gE_mid, gS_mid = model.gradients(m)
    E0, S0 = model.thermodynamics(x)[:2] if at_x is None else at_x
    E1, S1, _ = model.thermodynamics(y)
    gE = gonzalez(gE_mid, E0, E1, d, m)
    gS = gonzalez(gS_mid, S0, S1, d, m)
    if friction_projection == "entropy":
        cross = jnp.dot(gE, gS)
        usable = jnp.abs(cross) > 1e-8 * jnp.linalg.norm(gE) * jnp.linalg.norm(gS)
        b = jnp.where(usable, gS, gE)
    else:
        b = gE
    ss, eb = jnp.dot(gS, gS), jnp.dot(gE, b)
    w = gE - _ratio(jnp.dot(gS, gE), ss) * gS  # P^T gE
    z = gS - _ratio(jnp.dot(b, gS), eb) * gE  # Q^T gS
    Lw, Mz = model.apply(m, w, z)
    rate = (Lw - _ratio(jnp.dot(gS, Lw), ss) * gS) + (Mz - _ratio(jnp.dot(gE, Mz), eb) * b)
    return (rate, gE) if with_energy_gradient else rate


DENSE_LIMIT = 400
"""Up to this many state variables the Newton step factorises the dense Jacobian (LU);
above it, the Jacobian is only applied (JAX `jvp`) inside GMRES."""


def _model_of(args) -> CompiledModel:
    # The model travels as diffeqsolve's `args` (what `simulate` passes): diffrax hands
    # `args` to solvers unchanged, whereas the term arrives wrapped in diffrax internals.
    if not isinstance(args, CompiledModel):
        raise InputError(
            "DiscreteGradient reads E, S, L and M from the compiled model, passed as diffeqsolve's "
            "args: diffrax.diffeqsolve(cm.term, gm.DiscreteGradient(), t0, t1, dt0, y0, args=cm) "
            f"with cm = gm.compile(model) (gm.simulate does this); got args of type "
            f"{type(args).__name__}."
        )
    return args


class SizeDispatch(lx.AbstractLinearSolver):
    """A lineax solver that uses `small` for operators of at most `limit` unknowns and
    `large` above (the choice is made at trace time, from the operator's size)."""

    small: lx.AbstractLinearSolver
    large: lx.AbstractLinearSolver
    limit: int = DENSE_LIMIT

    def _pick(self, operator) -> lx.AbstractLinearSolver:
        return self.small if operator.in_size() <= self.limit else self.large

    def init(self, operator, options):
        solver = self._pick(operator)
        return solver, solver.init(operator, options)

    def compute(self, state, vector, options):
        solver, inner = state
        solution, result, _ = solver.compute(inner, vector, options)
        return solution, result, {}

    def transpose(self, state, options):
        solver, inner = state
        inner, options = solver.transpose(inner, options)
        return (solver, inner), options

    def conj(self, state, options):
        solver, inner = state
        inner, options = solver.conj(inner, options)
        return (solver, inner), options

    def assume_full_rank(self):
        return self.small.assume_full_rank() and self.large.assume_full_rank()


def _default_root_finder() -> optx.Newton:
    gmres = lx.GMRES(rtol=1e-11, atol=1e-14, restart=40, stagnation_iters=40, max_steps=2000)
    return optx.Newton(rtol=1e-12, atol=1e-12, linear_solver=SizeDispatch(lx.LU(), gmres))


class DiscreteGradient(diffrax.AbstractImplicitSolver):
    r"""A structure-preserving GENERIC solver (second order, fixed step).

    Each step solves, by Newton's method (Optimistix; Jacobian by JAX autodiff; dense LU
    up to `DENSE_LIMIT` = 400 variables, matrix-free GMRES above, so large structured models
    never form an $n\times n$ matrix),

    $$y - x = h\,(\bar L\,\bar g_E + \bar M\,\bar g_S),$$

    with Gonzalez midpoint discrete gradients $\bar g_E$, $\bar g_S$ and the operators at the
    midpoint projected so that $\bar L\bar g_S = 0$, $\bar M\bar g_E = 0$ hold discretely
    (see [`generic_mm.integrators.discrete_rate`][]). Since $\bar g\cdot(y - x) = F(y) - F(x)$:

    - $E(x_{n+1}) = E(x_n)$ up to round-off and the Newton tolerance, at any step size;
    - $S(x_{n+1}) - S(x_n) = h\,\bar g_S\cdot\bar M\bar g_S \ge 0$.

    The scheme is symmetric and of order 2. Quadratic invariants $C$ with $L\nabla C = 0$,
    $M\nabla C = 0$ and $\nabla C\perp\nabla S$ (the rigid body's $|m|^2$) are kept exactly
    with the default `friction_projection="entropy"`.

    It is a Diffrax implicit solver (`diffrax.AbstractImplicitSolver`: `root_finder`,
    `root_find_max_steps`). Use it with a fixed step: `gm.simulate(model, y0, t1,
    solver=gm.DiscreteGradient(), dt0=h)`, or, with `cm = gm.compile(model)`,
    `diffrax.diffeqsolve(cm.term, gm.DiscreteGradient(), t0, t1, h, y0, args=cm)` (the
    compiled model travels as `args`). A step is accepted when the root finder reports
    success *and* the residual of the step equation meets the root finder's own `rtol` and
    `atol`; otherwise (no convergence in `root_find_max_steps`, or a stationary point that
    is not a root) the solve fails with Diffrax's nonlinear-solver result, which `simulate`
    reports with the time and state.

    **Arguments** (all optional):

    - `root_finder`: an Optimistix root finder with `rtol` and `atol`. Default: `optimistix.Newton` with
        `rtol = atol = 1e-12` (Newton's quadratic convergence then leaves round-off) and
        the linear solver chosen by size: `lineax.LU` for at most 400 variables,
        `lineax.GMRES` (`rtol = 1e-11`, restart 40) with Jacobian-vector products above.
    - `root_find_max_steps`: Newton iterations per step before the step fails.
    - `friction_projection`: `"entropy"` (default) or `"energy"`: the direction $b$ of
        the friction projection (see above).
    """

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., LocalLinearInterpolation]] = LocalLinearInterpolation

    root_finder: optx.AbstractRootFinder = eqx.field(default_factory=_default_root_finder)
    root_find_max_steps: int = 50
    friction_projection: Literal["entropy", "energy"] = "entropy"

    def __check_init__(self):
        if self.friction_projection not in ("entropy", "energy"):
            raise InputError(
                f"DiscreteGradient: friction_projection must be 'entropy' or 'energy', got "
                f"{self.friction_projection!r}."
            )
        if isinstance(self.root_find_max_steps, bool) or not (
            isinstance(self.root_find_max_steps, int) and self.root_find_max_steps >= 1
        ):
            raise InputError(
                f"DiscreteGradient: root_find_max_steps must be a positive integer, got "
                f"{self.root_find_max_steps!r}."
            )
        if not isinstance(self.root_finder, optx.AbstractRootFinder):
            raise InputError(
                "DiscreteGradient: root_finder must be an optimistix root finder, got "
                f"{type(self.root_finder).__name__}."
            )
        _tolerances(self.root_finder)

    def order(self, terms):
        del terms
        return 2

    def init(self, terms, t0, t1, y0, args):
        del terms, t0, t1, y0
        _model_of(args)  # fail early, with a clear message
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        model = _model_of(args)
        h = terms.contr(t0, t1)  # the signed step (diffrax flips time for t1 < t0)
        projection = self.friction_projection

        at_y0 = model.thermodynamics(y0)[:2]  # once per step, not once per Newton iteration

        def residual(y, _):
            return y - y0 - h * discrete_rate(model, y0, y, projection, at_y0)

        guess = y0 + h * model.vector_field(t0, y0)
        y1, result = solve_step(residual, guess, y0, self.root_finder, self.root_find_max_steps)
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, None, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


def solve_step(residual, guess, y0, finder, max_steps: int):
    """Solve `residual(y, None) = 0` from `guess`; returns `(y1, result)`, with `y1 = y0`
    when the step failed.

    Newton's Cauchy termination (a small *update*) can stop at a stationary point of the
    residual that is not a root (e.g. when the step has no solution): the step is accepted
    only where the residual itself meets the root finder's tolerances. The factor covers the
    residual's own round-off (it is a difference of O(|y|) terms).
    """
    sol = optx.root_find(residual, finder, guess, throw=False, max_steps=max_steps)
    y1 = sol.value
    rtol, atol = _tolerances(finder)
    slack = 100.0 * jnp.finfo(y0.dtype).eps
    bound = atol + (rtol + slack) * (jnp.abs(y0) + jnp.abs(y1 - y0))
    solved = jnp.all(jnp.abs(residual(y1, None)) <= 10.0 * bound)
    result = RESULTS.promote(
        optx.RESULTS.where(solved, sol.result, optx.RESULTS.nonlinear_divergence)
    )
    # A failed step stays at y0, so that the reported state is the last good one.
    return jnp.where(result == RESULTS.successful, y1, y0), result


def _tolerances(finder) -> tuple[float, float]:
    """The `(rtol, atol)` a root finder converges to; the step's acceptance test uses them."""
    raw = (getattr(finder, "rtol", None), getattr(finder, "atol", None))
    try:  # numbers, or 0-d arrays
        rtol, atol = (float(np.asarray(v, dtype=float)) for v in raw)
        usable = bool(np.isfinite(rtol) and np.isfinite(atol))
    except (TypeError, ValueError):
        rtol = atol = 0.0
        usable = False
    if not usable:
        raise InputError(
            f"DiscreteGradient: the root finder {type(finder).__name__} has no numeric rtol and "
            "atol, which the step's acceptance test uses; give one such as "
            "optimistix.Newton(rtol=1e-12, atol=1e-12)."
        )
    return float(rtol), float(atol)
