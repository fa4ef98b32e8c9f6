"""`DiscreteGradient`: an energy-conserving, entropy-non-decreasing GENERIC solver for Diffrax."""

from __future__ import annotations

import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from diffrax import RESULTS

from .._compiled import CompiledModel
from .._errors import InputError
from ._chord import DENSE_LIMIT


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
    # batched over leading axes of `grad_mid`, `f0`, `f1` (E and S together in one pass)
    num = (f1 - f0) - grad_mid @ d
    size = jnp.abs(f0) + jnp.abs(f1) + jnp.abs(grad_mid) @ jnp.abs(d)
    if mid is not None:
        size = size + jnp.abs(grad_mid) @ jnp.abs(mid)
    noise = 16 * eps * size
    dd = jnp.dot(d, d)
    keep = (dd > 0) & (jnp.abs(num) > noise)
    coef = jnp.where(keep, num / jnp.where(keep, dd, 1.0), 0.0)
    return grad_mid + coef[..., None] * d


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
    bar = gonzalez(jnp.stack([gE_mid, gS_mid]), jnp.stack([E0, S0]), jnp.stack([E1, S1]), d, m)
    gE, gS = bar[0], bar[1]
    gram = bar @ bar.T  # all the products the projections need, in one pass
    ee, es, ss = gram[0, 0], gram[0, 1], gram[1, 1]
    if friction_projection == "entropy":
        usable = jnp.abs(es) > 1e-8 * jnp.sqrt(ee * ss)
        b = jnp.where(usable, gS, gE)
        eb, bs = jnp.where(usable, es, ee), jnp.where(usable, ss, es)
    else:
        b, eb, bs = gE, ee, es
    w = gE - _ratio(es, ss) * gS  # P^T gE
    z = gS - _ratio(bs, eb) * gE  # Q^T gS
    Lw, Mz = model.apply(m, w, z)
    back = jnp.sum(bar * jnp.stack([Mz, Lw]), axis=-1)  # gE.Mz, gS.Lw
    rate = (Lw - _ratio(back[1], ss) * gS) + (Mz - _ratio(back[0], eb) * b)
    return (rate, gE) if with_energy_gradient else rate


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
