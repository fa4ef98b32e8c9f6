"""The solvers a model file's `[simulation] solver` (and `generic-mm run --solver`) may name."""

from __future__ import annotations

from typing import Any

from .._errors import InputError
from .._expressions import closest

SOLVERS: tuple[str, ...] = (
    "Tsit5",
    "Dopri5",
    "Dopri8",
    "Bosh3",
    "Heun",
    "Ralston",
    "Midpoint",
    "ReversibleHeun",
    "Euler",
    "Kvaerno3",
    "Kvaerno4",
    "Kvaerno5",
    "ImplicitEuler",
    "DiscreteGradient",
    "DiscreteGradient4",
)
"""Every solver by name: the Diffrax solvers for one ODE term, explicit then implicit, and
`DiscreteGradient`, `DiscreteGradient4` (energy-conserving, entropy-non-decreasing, second
and fourth order; fixed steps with `dt0`, adaptive without; `generic_mm.DiscreteGradient`)."""


SDE_SOLVERS: tuple[str, ...] = ("Euler", "ItoMilstein", "StochasticDiscreteGradient")
"""The solvers of stochastic runs (Ito): Euler-Maruyama, Milstein (commutative noise) and
`StochasticDiscreteGradient` (E to round-off on every path)."""


def make_solver(name: str) -> Any:
    """The solver called `name` (one of `SOLVERS` or `SDE_SOLVERS`), with its default
    options.

    **Raises:** `InputError` for any other name, listing the known ones.
    """
    known = SOLVERS + tuple(n for n in SDE_SOLVERS if n not in SOLVERS)
    if name not in known:
        raise InputError(
            f"unknown solver {name!r}{closest(str(name), known)}; one of {', '.join(known)}"
        )
    if name in ("DiscreteGradient", "DiscreteGradient4", "StochasticDiscreteGradient"):
        from .. import integrators

        return getattr(integrators, name)()
    import diffrax

    return getattr(diffrax, name)()


def takes_fixed_steps(name: str) -> bool:
    """Whether the solver has no error estimate, so that it needs a step size `dt0`."""
    import diffrax

    return not isinstance(make_solver(name), diffrax.AbstractAdaptiveSolver)
