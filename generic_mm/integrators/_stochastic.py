r"""`StochasticDiscreteGradient`: fluctuating GENERIC with $E$ kept to round-off on every path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp
from diffrax import LocalLinearInterpolation

from .._compiled import CompiledModel
from .._errors import InputError
from .._noise import ito_increment
from ._discrete_gradient import _ratio, discrete_rate, solve_step
from ._solvers import DiscreteGradient


def _noisy_model_of(args) -> tuple[CompiledModel, Any]:
    ok = isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], CompiledModel)
    if not ok:
        raise InputError(
            "StochasticDiscreteGradient integrates fluctuating GENERIC: use it through "
            "gm.simulate(model, y0, t1, noise=kB, key=..., dt0=h, "
            "solver=gm.StochasticDiscreteGradient()) (diffeqsolve's args must be "
            f"(compiled model, kB)); got args of type {type(args).__name__}."
        )
    return args


class StochasticDiscreteGradient(diffrax.AbstractItoSolver):
    r"""The discrete-gradient step with Ito noise: $E$ to round-off on every path.

    Each step draws the Ito increment at the start of the step,
    $\xi = h\,k_B\,\mathrm{div}M(x_n) + \sqrt{2k_B}\,B(x_n)\,\Delta W$, and solves

    $$x_{n+1} - x_n = h\,(\bar L\bar g_E + \bar M\bar g_S) + P\xi,\qquad
    P\xi = \xi - \frac{\bar g_E\cdot\xi}{\bar g_E\cdot\bar g_E}\,\bar g_E,$$

    with the discrete gradients and projected operators of
    [`generic_mm.DiscreteGradient`][] (between $x_n$ and $x_{n+1}$). Since
    $\bar g_E\cdot(x_{n+1} - x_n) = E(x_{n+1}) - E(x_n)$ and every term is orthogonal to
    $\bar g_E$:

    - $E(x_{n+1}) = E(x_n)$ up to round-off and the Newton tolerance, on every path;
    - $S(x_{n+1}) - S(x_n) = h\,\bar g_S\cdot\bar M\bar g_S + \bar g_S\cdot P\xi$: the
      drift's production is non-negative, the noise's term fluctuates (it is what lets the
      path explore the energy shell).

    The projection removes $\bar g_E\cdot\xi$, which has mean $O(h^{3/2})$ (the exact
    dynamics has $B^T\nabla E = 0$ and $\nabla E\cdot k_B\mathrm{div}M = -k_B\mathrm{tr}(MH)$,
    cancelled by the Ito term of the noise), so the scheme converges to the Ito solution
    with Euler-Maruyama's strong order 1/2; the noise is evaluated at $x_n$ (never at the
    midpoint, which would give the Stratonovich solution). Each step runs Newton's method
    like `DiscreteGradient`, so it costs more than an Euler-Maruyama step.

    Use it through `gm.simulate(model, y0, t1, noise=kB, key=..., dt0=h,
    solver=gm.StochasticDiscreteGradient())`.

    **Arguments:** `deterministic`: the [`generic_mm.DiscreteGradient`][] whose root finder,
    iteration limit and friction projection the steps use (default: its defaults with
    `friction_projection="energy"`: with noise, the entropy projection's Newton iteration
    failed to converge on rare steps of the two-body test, in 500 iterations).
    """

    term_structure: ClassVar = diffrax.MultiTerm[tuple[diffrax.AbstractTerm, diffrax.AbstractTerm]]
    interpolation_cls: ClassVar[Callable[..., LocalLinearInterpolation]] = LocalLinearInterpolation

    deterministic: DiscreteGradient = eqx.field(
        default_factory=lambda: DiscreteGradient(friction_projection="energy")
    )
    conserves_energy: ClassVar[bool] = True  # E to round-off: a drift is a failure

    def __check_init__(self):
        if not isinstance(self.deterministic, DiscreteGradient):
            raise InputError(
                "StochasticDiscreteGradient: deterministic must be a gm.DiscreteGradient, got "
                f"{type(self.deterministic).__name__}."
            )

    def order(self, terms):
        del terms
        return 2

    def strong_order(self, terms):
        del terms
        return 0.5

    def init(self, terms, t0, t1, y0, args):
        del terms, t0, t1, y0
        _noisy_model_of(args)
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        model, kB = _noisy_model_of(args)
        _, diffusion = terms.terms
        h = t1 - t0
        dW = diffusion.contr(t0, t1)
        xi = ito_increment(model, kB, y0, h, dW)
        dg = self.deterministic
        at_y0 = model.thermodynamics(y0)[:2]

        def residual(y, _):
            rate, gE = discrete_rate(
                model, y0, y, dg.friction_projection, at_y0, with_energy_gradient=True
            )
            projected = xi - _ratio(jnp.dot(gE, xi), jnp.dot(gE, gE)) * gE
            return y - y0 - h * rate - projected

        guess = y0 + h * model.vector_field(t0, y0) + xi
        y1, result = solve_step(residual, guess, y0, dg.newton(), dg.root_find_max_steps)
        return y1, None, dict(y0=y0, y1=y1), None, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
