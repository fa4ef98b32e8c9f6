r"""`DiscreteGradient` and `DiscreteGradient4`: energy-conserving, entropy-non-decreasing
GENERIC solvers for Diffrax, adaptive, with a reused Newton matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from diffrax import RESULTS, ThirdOrderHermitePolynomialInterpolation
from jax import lax
from optimistix.internal import implicit_jvp

from .._errors import InputError
from ._chord import (
    ChordNewton,
    Linearisation,
    chord,
    factorise,
    linear_solver,
    linearise,
    residual_bound,
    when,
)
from ._discrete_gradient import (
    _default_root_finder,
    _model_of,
    _ratio,
    _tolerances,
    discrete_rate,
    solve_step,
)

_G1 = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
TRIPLE_JUMP = (_G1, 1.0 - 2.0 * _G1, _G1)
"""Yoshida's symmetric composition: three substeps of these fractions of the step."""


class _State(eqx.Module):
    f0: jax.Array  # f(y0), carried from the previous step's end (first same as last)
    y_prev: jax.Array
    f_prev: jax.Array
    h_prev: jax.Array
    history: jax.Array  # y_prev/f_prev/h_prev are a real previous step
    defects: tuple  # per substep: converged minus predicted state, of the previous step
    lin: Linearisation | None  # None when the root finder is an Optimistix one


def _hermite(y_prev, f_prev, y0, f0, h_prev, tau):
    """The cubic Hermite interpolant of the previous step, extrapolated `tau` past its end."""
    s = 1.0 + tau / h_prev
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * y_prev + h10 * h_prev * f_prev + h01 * y0 + h11 * h_prev * f0


def _balance(model, y, e_target, s_floor, bound):
    r"""Move `y` within the iteration's tolerance so that $E(y) = E_0$ and $S(y) \ge S_0$
    to round-off. The iteration leaves $E$ off by $\bar g_E\cdot R$ ($R$ the residual, at
    most the tolerance): one Newton step on $E(y) = E_0$ along $\nabla E$ removes it; then,
    should $S$ lie below $S_0$, a step along $v = \nabla S$ minus its component along
    $\nabla E$ (which leaves $E$ alone) lifts it, where that move is within the tolerance.
    (Near equilibrium $\nabla S \parallel \nabla E$: the $E$ step then also takes the
    residual out of $S$.) Returns `(y, ok)`; `ok` is false when $S$ still lies below $S_0$
    by more than the tolerance allows (a composed step that lowers $S$)."""
    e, s, _ = model.thermodynamics(y)
    ge, gs = model.gradients(y)
    ee = jnp.dot(ge, ge)
    delta = _ratio(e_target - e, ee) * ge
    s_after = s + jnp.dot(gs, delta)
    v = gs - _ratio(jnp.dot(gs, ge), ee) * ge
    lift = _ratio(jnp.maximum(s_floor - s_after, 0.0), jnp.dot(v, v)) * v
    small = jnp.all(jnp.abs(lift) <= bound)
    delta = delta + jnp.where(small, lift, 0.0)
    eps = jnp.finfo(y.dtype).eps
    slack = jnp.sum(jnp.abs(gs) * bound) + 64 * eps * (jnp.abs(s) + jnp.abs(s_after))
    ok = (small | (s_after >= s_floor - slack)) & jnp.all(jnp.isfinite(delta))
    return jnp.where(ok, y + delta, y), ok


class _DiscreteGradientSolver(diffrax.AbstractImplicitSolver, diffrax.AbstractAdaptiveSolver):
    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., ThirdOrderHermitePolynomialInterpolation]] = (
        ThirdOrderHermitePolynomialInterpolation.from_k
    )
    conserves_energy: ClassVar[bool] = True
    fixed_step_with_dt0: ClassVar[bool] = True  # simulate: dt0 and no controller = fixed steps
    fractions: ClassVar[tuple[float, ...]] = (1.0,)

    root_finder: ChordNewton | optx.AbstractRootFinder = eqx.field(default_factory=ChordNewton)
    root_find_max_steps: int = 50
    friction_projection: Literal["entropy", "energy"] = "entropy"

    def __check_init__(self):
        if self.friction_projection not in ("entropy", "energy"):
            raise InputError(
                f"{type(self).__name__}: friction_projection must be 'entropy' or 'energy', got "
                f"{self.friction_projection!r}."
            )
        steps = self.root_find_max_steps
        if isinstance(steps, bool) or not (isinstance(steps, int) and steps >= 1):
            raise InputError(
                f"{type(self).__name__}: root_find_max_steps must be a positive integer, got "
                f"{steps!r}."
            )
        if not isinstance(self.root_finder, (ChordNewton, optx.AbstractRootFinder)):
            raise InputError(
                f"{type(self).__name__}: root_finder must be an optimistix root finder or a "
                f"generic_mm.ChordNewton, got {type(self.root_finder).__name__}."
            )
        _tolerances(self.root_finder)

    def newton(self) -> optx.AbstractRootFinder:
        """The Optimistix root finder of a plain per-step solve: the given one, or full
        Newton at the `ChordNewton` tolerances (the chord iteration's last resort)."""
        finder = self.root_finder
        if isinstance(finder, ChordNewton):
            base = _default_root_finder()
            return optx.Newton(finder.rtol, finder.atol, linear_solver=base.linear_solver)
        return finder

    def _coefficients(self) -> tuple[float, ...]:
        return tuple(dict.fromkeys(0.5 * g for g in self.fractions))

    def _dense(self, n: int) -> bool:
        finder = self.root_finder
        return isinstance(finder, ChordNewton) and n <= finder.dense_limit

    def init(self, terms, t0, t1, y0, args):
        model = _model_of(args)
        f0 = model.vector_field(t0, y0)
        h = jnp.asarray(t1 - t0, dtype=y0.dtype)
        lin = None
        if isinstance(self.root_finder, ChordNewton):
            vf = lambda y: model.vector_field(t0, y)  # noqa: E731
            lin = linearise(vf, y0 + 0.5 * h * f0, h, self._coefficients(), self._dense(y0.size))
        defects = tuple(jnp.zeros_like(y0) for _ in self.fractions)
        return _State(f0, y0, f0, h, jnp.asarray(False), defects, lin)

    def order(self, terms):
        del terms
        return 2

    def error_order(self, terms):
        del terms
        return 3  # the estimate is O(h^3)

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        model = _model_of(args)
        state: _State = solver_state
        h = terms.contr(t0, t1)  # the signed step (diffrax flips time for t1 < t0)
        vf = lambda y: model.vector_field(t0, y)  # noqa: E731
        f0 = state.f0
        if made_jump is not False:
            f0 = lax.cond(made_jump, lambda: vf(y0), lambda: state.f0)
        lin = state.lin
        if lin is not None:
            coefs, dense, old = self._coefficients(), lin.jac is not None, lin
            point = y0 + 0.5 * h * f0
            # stale: rebuild; a new step size: refactorise the stored Jacobian
            moved = jnp.abs(h / lin.h - 1.0) > 0.2

            def renew():
                return lax.cond(
                    old.stale,
                    lambda: linearise(vf, point, h, coefs, dense),
                    lambda: factorise(old, h, coefs),
                )

            lin = when(lin.stale | moved, renew, lin)
        z, ok, slow = y0, jnp.asarray(True), jnp.asarray(False)
        stages, defects, offset = [], [], 0.0
        for fraction, defect in zip(self.fractions, state.defects, strict=True):
            offset += fraction
            guess, plain, near = self._predict(state, y0, z, f0, h, fraction, offset, defect)
            z, good, slow_i, lin = self._substep(model, t0, z, guess, fraction, h, lin)
            ok, slow = ok & good, slow | slow_i
            stages.append(z)
            defects.append(jnp.where(good & near, z - plain, 0.0))
        y1 = stages[-1]
        if lin is not None:
            e0, s0, _ = model.thermodynamics(y0)
            floor = jnp.where(h > 0, s0, -jnp.inf)  # backward in time S falls: no floor
            y1, balanced = _balance(model, y1, e0, floor, residual_bound(self.root_finder, y0, y1))
            ok = ok & balanced
            lin = eqx.tree_at(lambda q: q.stale, lin, slow)
        elif len(self.fractions) > 1:  # a composition with an Optimistix root finder
            s0, s1 = model.thermodynamics(y0)[1], model.thermodynamics(y1)[1]
            rounding = 64 * jnp.finfo(y0.dtype).eps * (jnp.abs(s0) + jnp.abs(s1))
            ok = ok & ((h < 0) | (s1 >= s0 - rounding))
        y1 = jnp.where(ok, y1, y0)  # a failed step stays at y0: the last good state is reported
        f1 = vf(y1)
        y_error, ok_error, lin = self._error(model, t0, state, y0, y1, f0, f1, h, lin, defects)
        y_error = jnp.where(ok & ok_error, y_error, jnp.inf)
        failure = optx.RESULTS.nonlinear_divergence
        result = RESULTS.promote(optx.RESULTS.where(ok, optx.RESULTS.successful, failure))
        new_state = _State(f1, y0, f0, h, jnp.asarray(True), tuple(defects), lin)
        dense_info = dict(y0=y0, y1=y1, k=jnp.stack([h * f0, h * f1]))
        return y1, y_error, dense_info, new_state, result

    def _error(self, model, t0, state: _State, y0, y1, f0, f1, h, lin, defects):
        r"""The local error estimate: $\tfrac{h^3}{12}\dddot y$ (the midpoint step's local
        error for linear dynamics), $\dddot y$ from the divided difference of $f$ over the
        previous, this and the next step point, but componentwise at least an eighth of the
        step's defect (its solution minus the Hermite extrapolation of the previous step,
        $O(h^3)$ too), which also sees the nonlinear terms of the local error that
        $\dddot y$ misses. On a first step (no history) the difference to an Euler step,
        larger, $O(h^2)$."""
        del model, t0
        hp = state.h_prev
        divided = ((f1 - f0) / h - (f0 - state.f_prev) / hp) / (h + hp)
        third = (h**3 / 6.0) * divided
        floor = defects[-1] / 8.0
        estimate = jnp.where(jnp.abs(third) >= jnp.abs(floor), third, floor)
        estimate = jnp.where(state.history, estimate, y1 - y0 - h * f0)
        return estimate, jnp.asarray(True), lin

    def _predict(self, state: _State, y0, z, f0, h, fraction, offset, defect):
        """Cubic Hermite extrapolation of the previous step, plus that step's defect (its
        solution minus its prediction: the scheme's own local error, scaled as h^3), when
        the previous step is not too far behind; else an Euler step. Returns the guess, the
        plain extrapolation (what the next defect is measured from) and whether it was used."""
        euler = z + fraction * h * f0
        tau = offset * h
        near = state.history & (jnp.abs(tau) <= 3.0 * jnp.abs(state.h_prev))
        hermite = _hermite(state.y_prev, state.f_prev, y0, f0, state.h_prev, tau)
        guess = jnp.where(near, hermite + (h / state.h_prev) ** 3 * defect, euler)
        return guess, hermite, near

    def _substep(self, model, t0, z, guess, fraction, h, lin):
        """One discrete-gradient substep of `fraction` of the step from `z`:
        `(y, ok, slow, lin)`, `slow` when the next step should rebuild the matrix.

        Derivatives (forward and reverse) follow the implicit function theorem on the step
        equation (Optimistix's `implicit_jvp`, as `optimistix.root_find` does), never the
        iteration: the iteration and its loops are not differentiated."""
        if lin is not None:
            lin = lax.stop_gradient(lin)
        inputs = (self, model, t0, z, guess, fraction, h, lin)
        y, (ok, slow, lin) = implicit_jvp(
            _substep_primal, _substep_residual, inputs, frozenset(), _IFT_SOLVER
        )
        return y, ok, slow, lin

    def _iterate(self, model, t0, z, guess, fraction, h, lin):
        vf = lambda y: model.vector_field(t0, y)  # noqa: E731
        residual = _step_residual(self, model, z, fraction, h)
        finder, max_steps = self.root_finder, self.root_find_max_steps
        if lin is None:  # an Optimistix root finder: one plain solve per step
            y, result = solve_step(residual, guess, z, finder, max_steps)
            return y, result == RESULTS.successful, jnp.asarray(False), None
        assert isinstance(finder, ChordNewton)
        coefs = self._coefficients()
        index = coefs.index(0.5 * fraction)

        def attempt(lin_):
            solve = linear_solver(finder, vf, lin_, index, coefs[index], h)
            bound = lambda y: residual_bound(finder, z, y)  # noqa: E731
            y_, ok_, worst_, _ = chord(
                residual, guess, solve, bound, max_steps, finder.divergence_rate, finder.norm
            )
            return y_, ok_, worst_, lin_

        y, ok, worst, lin = attempt(lin)
        dense = lin.jac is not None

        def rescue():
            # a fresh matrix at this step's midpoint; failing that, full Newton on the exact
            # Jacobian of the step equation
            y_, ok_, _, lin_ = attempt(linearise(vf, 0.5 * (z + guess), h, coefs, dense))

            def newton():
                y_n, result = solve_step(residual, guess, z, self.newton(), max_steps)
                return y_n, result == RESULTS.successful

            y_, ok_ = when(~ok_, newton, (y_, ok_))
            return y_, ok_, lin_

        failed = ~ok
        y, ok, lin = when(failed, rescue, (y, ok, lin))
        return y, ok, (worst > finder.refresh_rate) | failed, lin


def _step_residual(solver, model, z, fraction, h):
    at_z = model.thermodynamics(z)[:2]
    projection = solver.friction_projection

    def residual(y, _=None):
        return y - z - fraction * h * discrete_rate(model, z, y, projection, at_z)

    return residual


def _substep_primal(inputs):
    solver, model, t0, z, guess, fraction, h, lin = inputs
    y, ok, slow, lin = solver._iterate(model, t0, z, guess, fraction, h, lin)
    return y, (ok, slow, lin)


def _substep_residual(y, aux, inputs):
    del aux
    solver, model, _, z, _, fraction, h, _ = inputs
    return _step_residual(solver, model, z, fraction, h)(y)


_IFT_SOLVER = _default_root_finder().linear_solver  # the same LU / GMRES by size as Newton


class DiscreteGradient(_DiscreteGradientSolver):
    r"""A structure-preserving GENERIC solver: second order, fixed or adaptive steps.

    Each step solves

    $$y - x = h\,(\bar L\,\bar g_E + \bar M\,\bar g_S),$$

    with Gonzalez midpoint discrete gradients $\bar g_E$, $\bar g_S$ and the operators at the
    midpoint projected so that $\bar L\bar g_S = 0$, $\bar M\bar g_E = 0$ hold discretely
    (see [`generic_mm.integrators.discrete_rate`][]). Since $\bar g\cdot(y - x) = F(y) - F(x)$:

    - $E(x_{n+1}) = E(x_n)$ to round-off, at any step size;
    - $S(x_{n+1}) - S(x_n) = h\,\bar g_S\cdot\bar M\bar g_S \ge 0$.

    The scheme is symmetric and of order 2. Quadratic invariants $C$ with $L\nabla C = 0$,
    $M\nabla C = 0$ and $\nabla C\perp\nabla S$ (the rigid body's $|m|^2$) are kept with
    the default `friction_projection="entropy"`.

    **The iteration** (default `root_finder=generic_mm.ChordNewton()`): a simplified Newton
    iteration with the matrix $I - \tfrac h2 J(m)$ ($J$ the Jacobian of the vector field at
    the midpoint) factorised once and reused across iterations and steps until its
    contraction rate says it is stale; a cubic Hermite predictor from the previous step;
    GMRES on matrix-free products above 400 variables; full Newton (Optimistix) as the last
    resort. After it meets its tolerance, one Newton step on the two scalar conditions
    $E(y) = E(x)$, $S(y) \ge S(x)$ (a move smaller than the tolerance) leaves $E$ at
    round-off. Any Optimistix root finder may be given instead (one plain solve per step,
    no reuse, no final correction).

    **Steps**: with `gm.simulate(..., dt0=h)` and no controller, fixed steps `h`; without
    `dt0`, or with `stepsize_controller=diffrax.PIDController(...)`, adaptive steps from the
    estimate $\tfrac{h^3}{12}\dddot y$ of the local error ($\dddot y$ from the divided
    difference of $f$ over the last three step points, which the step has), at least a
    eighth of the step's defect against the extrapolated previous step (which sees the
    nonlinear terms): $O(h^3)$, `error_order` 3; $E$ and $S$ are guaranteed at every
    accepted step. Directly with Diffrax, the compiled model travels as `args`:
    `diffrax.diffeqsolve(cm.term, gm.DiscreteGradient(), t0, t1, dt0, y0, args=cm)`. A step
    that fails (no convergence in `root_find_max_steps`, or no solution) is rejected and
    retried smaller by an adaptive controller; at fixed steps the solve fails with Diffrax's
    nonlinear-solver result, which `simulate` reports with the time and the last good state.

    **Arguments** (all optional):

    - `root_finder`: a [`generic_mm.ChordNewton`][] (default, tolerance $10^{-12}$ on the
        residual) or an Optimistix root finder with `rtol` and `atol`.
    - `root_find_max_steps`: iterations per attempt before the step fails (default 50).
    - `friction_projection`: `"entropy"` (default) or `"energy"`: the direction $b$ of
        the friction projection.
    """


class DiscreteGradient4(_DiscreteGradientSolver):
    r"""The fourth-order composition of [`generic_mm.DiscreteGradient`][]: three substeps
    of $\gamma_1 h, \gamma_2 h, \gamma_1 h$ with $\gamma_1 = 1/(2 - 2^{1/3})$,
    $\gamma_2 = 1 - 2\gamma_1 < 0$ (Yoshida's triple jump of the symmetric second-order
    step).

    Every substep keeps $E$ to round-off, so the step does. The middle substep runs
    backward in time, so its entropy change is negative; the step's total,
    $h\sum_i \gamma_i\,\bar g_S\cdot\bar M\bar g_S$, is $h\sigma(1 + O(h^2)) \ge 0$ at
    resolved steps, and a step that would lower $S$ by more than the iteration's tolerance
    is refused (rejected and retried smaller by an adaptive controller; at fixed steps the
    solve fails, reported by `simulate`). The backward substep also limits stiff
    dissipation: a step must resolve the fastest relaxation ($|h\lambda| \lesssim 1$),
    where the second-order `DiscreteGradient` has no such limit (it is A-stable).

    Adaptive steps compare with one second-order step over $h$ (a fourth solve, started from
    the result): the estimate is that step's error, $O(h^3)$ (`error_order` 3), so the
    controller is conservative and the fourth-order result is more accurate than the
    tolerance asks (local extrapolation). Same arguments as `DiscreteGradient`.
    """

    fractions: ClassVar[tuple[float, ...]] = TRIPLE_JUMP

    def order(self, terms):
        del terms
        return 4

    def _coefficients(self) -> tuple[float, ...]:
        return (*super()._coefficients(), 0.5)  # and the second-order companion's

    def _error(self, model, t0, state: _State, y0, y1, f0, f1, h, lin, defects):
        del defects
        # the difference to one second-order step over h, started from y1 (a close guess)
        companion, ok, _, lin = self._substep(model, t0, y0, y1, 1.0, h, lin)
        return y1 - companion, ok, lin
