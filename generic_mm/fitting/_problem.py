r"""The least-squares problem of a fit, as one `equinox.Module`: every experiment integrated
in one vmapped solve (`generic_mm._simulate.integrate`, what `simulate` runs), the
predictions compared with the observations, and the whole fit (Levenberg-Marquardt or
Gauss-Newton, then the Jacobian at the optimum) in one jitted program.

The residual vector has a fixed length: every quantity at every padded save time of every
experiment, zero where nothing was observed. An experiment whose solve fails at some trial
parameters (or whose parameters break a declared domain through `derive`) gets a large
constant residual there instead: the optimiser rejects the step and shortens the next.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._compiled import CompiledModel
from .._region import any_violation
from .._simulate import default_atol, integrate
from ._params import Transform
from ._quantities import Quantity, extract


class Problem(eqx.Module):
    """The arrays of a fit (per experiment `e`, padded save time `t`) and how it solves.

    `varying` holds the known parameter values that differ between experiments
    (`(E, *shape)`); `obs`, `mask` are `(E, T, *shape)` per quantity, `weight` `(E,)`
    (`1/sigma`, or 1 unweighted); `fail` is the residual of an entry whose solve failed.
    """

    compiled: CompiledModel
    transform: Transform
    varying: dict[str, jax.Array]
    y0: jax.Array
    t0: jax.Array
    t1: jax.Array
    dt0: jax.Array
    ts: jax.Array
    obs: dict[str, jax.Array]
    mask: dict[str, jax.Array]
    weight: dict[str, jax.Array]
    fail: jax.Array
    solver: diffrax.AbstractSolver
    controller: diffrax.AbstractStepSizeController
    quantities: tuple[Quantity, ...] = eqx.field(static=True)
    derive: Callable[..., Any] | None = eqx.field(static=True)
    scale_atol: bool = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def overrides(self, values: dict[str, Any]) -> dict[str, Any]:
        """The model parameters a set of fitted values sets: the fitted model parameters
        and what `derive` makes of all fitted values."""
        params: dict[str, Any] = dict(self.compiled.params)
        out = {k: v for k, v in values.items() if k in params}
        if self.derive is not None:
            for k, v in self.derive(dict(values)).items():
                out[k] = jnp.broadcast_to(jnp.asarray(v, dtype=float), jnp.shape(params[k]))
        return out

    def _solve(self, over, y0, t0, t1, dt0, ts, known):
        controller = self.controller
        if self.scale_atol:
            # simulate's scale-aware default, from each experiment's own initial state
            atol = default_atol(y0, controller.rtol)  # pyright: ignore[reportAttributeAccessIssue]
            controller = eqx.tree_at(lambda c: c.atol, controller, atol)
        params = {**self.compiled.params, **known, **over}
        out = integrate(
            self.compiled,
            y0,
            params,
            t0,
            t1,
            dt0,
            diffrax.SubSaveAt(ts=ts),
            self.solver,
            controller,
            diffrax.ForwardMode(),
            max_steps=self.max_steps,
        )
        _, ys, record, result, t_end, y_end, _ = out
        preds = {q.name: extract(q, ys, record, self.compiled) for q in self.quantities}
        ok = result == diffrax.RESULTS.successful
        for q in self.quantities:
            ok = ok & jnp.all(jnp.isfinite(preds[q.name]))
        return preds, ~ok, t_end, y_end

    def predict(self, values: dict[str, Any]):
        """Predictions `(E, T, *shape)` per quantity, whether each experiment's solve
        failed `(E,)`, and where each solve ended (time, state)."""
        over = self.overrides(values)
        bad = any_violation(self.compiled.parameter_specs, over)
        # Values breaking a declared domain never reach the solver: the model's own
        # (valid) values stand in, and the residuals of every experiment are marked failed.
        model: dict[str, Any] = dict(self.compiled.params)
        safe = {k: jnp.where(bad, model[k], v) for k, v in over.items()}
        solve = jax.vmap(self._solve, in_axes=(None, 0, 0, 0, 0, 0, 0))
        preds, failed, t_end, y_end = solve(
            safe, self.y0, self.t0, self.t1, self.dt0, self.ts, self.varying
        )
        return preds, failed | bad, t_end, y_end

    def weighted(self, preds: dict[str, Any], failed: jax.Array) -> jax.Array:
        """The residual vector $(y_{obs} - y)/\\sigma$ (zero where not observed)."""
        parts = []
        for q in self.quantities:
            m = self.mask[q.name]
            extra = (1,) * (m.ndim - 1)
            w = self.weight[q.name].reshape(-1, *extra)
            r = jnp.where(m, (self.obs[q.name] - preds[q.name]) * w, 0.0)
            r = jnp.where(failed.reshape(-1, *extra), jnp.where(m, self.fail, 0.0), r)
            parts.append(r.reshape(-1))
        return jnp.concatenate(parts)

    def residuals_z(self, z: jax.Array, args: Any = None) -> jax.Array:
        preds, failed, _, _ = self.predict(self.transform.values(z))
        return self.weighted(preds, failed)


METHODS = ("levenberg-marquardt", "gauss-newton")


def check_method(method: Any) -> None:
    if isinstance(method, optx.AbstractLeastSquaresSolver) or method in METHODS:
        return
    from .._errors import InputError

    raise InputError(
        f"method: expected 'levenberg-marquardt', 'gauss-newton' or an optimistix least-squares "
        f"solver, got {method!r}."
    )


def _residual_change(n: int, x: Any) -> Any:
    """The termination norm: the largest entry of a change of the residuals (length `n`);
    a change of the values counts for nothing. A value pushed against a bound keeps moving
    in its unconstrained coordinate while its residuals no longer change: the search stops
    on the residuals, and `fit` then checks that no Gauss-Newton step would lower the cost."""
    return optx.max_norm(x) if n < 0 or jnp.size(x) == n else jnp.zeros(())


def _solver(method: Any, tol: float, n: int) -> optx.AbstractLeastSquaresSolver:
    if isinstance(method, optx.AbstractLeastSquaresSolver):
        return method
    norm = functools.partial(_residual_change, n)
    if method == "gauss-newton":
        return optx.GaussNewton(rtol=tol, atol=tol, norm=norm)
    return optx.LevenbergMarquardt(rtol=tol, atol=tol, norm=norm)


def _evaluate(problem: Problem, v: jax.Array):
    """The residuals, their Jacobian with respect to the values `v` and the predictions
    at `v`, from one vmapped forward-mode solve (the primal rides along the tangents)."""

    def f(v):
        preds, failed, t_end, y_end = problem.predict(problem.transform.unflatten(v))
        r = problem.weighted(preds, failed)
        return r, (r, preds, failed, t_end, y_end)

    return jax.jacfwd(f, has_aux=True)(v)


@eqx.filter_jit
def run(problem: Problem, method: Any, tol: float, max_iterations: int):
    """The whole fit: the solves at the start, the least-squares search (forward-mode
    Jacobians through the solves), and at the optimum the residuals, the predictions, the
    Jacobian with respect to the values."""
    transform = problem.transform

    def slope(z):
        return jax.jvp(transform.flat_values, (z,), (jnp.ones_like(z),))[1]  # elementwise

    z0 = jnp.zeros_like(transform.start)
    jac0, (r0, _, failed0, t_end0, y_end0) = _evaluate(problem, transform.flat_values(z0))
    # Marquardt's scaling, fixed at the start: the search runs in w = z / scale with the
    # residuals divided by their starting norm, so that every column of its Jacobian has
    # unit norm and the starting cost is 1. Levenberg-Marquardt's damping (the identity)
    # then bounds the first steps to about the linearised step that would remove the
    # whole misfit, whatever the units of the data and the values.
    norm0 = jnp.linalg.norm(r0)
    rho = jnp.where(norm0 > 0, norm0, 1.0)
    columns = jnp.linalg.norm(jac0 * slope(z0), axis=0)
    # A column of round-off (a value the data do not see) keeps unit scale: dividing by it
    # would send the search far away along a direction that changes nothing.
    live = (columns > 1e-8 * rho) & jnp.isfinite(columns)
    scale = jnp.where(live, rho / jnp.where(live, columns, 1.0), 1.0)

    @jax.custom_jvp
    def scaled(w):
        return problem.residuals_z(w * scale) / rho

    @scaled.defjvp
    def scaled_jvp(primals, tangents):
        # The Jacobian from `_evaluate`'s one vmapped solve: the search's linearisation
        # then costs no further solves (materialising it is a product with a matrix).
        (w,), (dw,) = primals, tangents
        z = w * scale
        jac, (r, *_) = _evaluate(problem, transform.flat_values(z))
        return r / rho, (jac * (slope(z) * scale / rho)) @ dw

    solver = _solver(method, tol, r0.size if r0.size != z0.size else -1)
    sol = optx.least_squares(
        lambda w, args: scaled(w),
        solver,
        z0,
        max_steps=max_iterations,
        throw=False,
        options={"jac": "fwd"},
    )
    z = sol.value * scale
    v = transform.flat_values(z)
    jac, (r, preds, failed, t_end, y_end) = _evaluate(problem, v)
    return dict(
        z=z,
        values=v,
        result=sol.result,
        steps=sol.stats["num_steps"],
        residuals=r,
        jacobian=jac,
        preds=preds,
        start=(failed0, t_end0, y_end0),
        end=(failed, t_end, y_end),
        cost0=jnp.sum(r0**2),
    )
