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
)
"""Every solver by name: the Diffrax solvers for one ODE term, explicit then implicit, and
`DiscreteGradient` (energy-conserving, entropy-non-decreasing; `generic_mm.DiscreteGradient`)."""


def make_solver(name: str) -> Any:
    """The solver called `name` (one of `SOLVERS`), with its default options.

    **Raises:** `InputError` for any other name, listing the known ones.
    """
    if name not in SOLVERS:
        raise InputError(
            f"unknown solver {name!r}{closest(str(name), SOLVERS)}; one of {', '.join(SOLVERS)}"
        )
    if name == "DiscreteGradient":
        from ..integrators import DiscreteGradient

        return DiscreteGradient()
    import diffrax

    return getattr(diffrax, name)()


def takes_fixed_steps(name: str) -> bool:
    """Whether the solver has no error estimate, so that it needs a step size `dt0`."""
    import diffrax

    return not isinstance(make_solver(name), diffrax.AbstractAdaptiveSolver)
