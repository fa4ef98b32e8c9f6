"""States of the averaged models from phase temperatures, and the interfacial sources
evaluated on their trajectories. The methods of [`generic_mm.composites.Composite`][] are
the public entry points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import sympy as sp

from .._errors import InputError
from .._validate import finite_number, positive_array, require_finite
from ._averaging import conjugates
from ._closed_forms import checked_temperatures


def point_state(composite, temperatures, *, strain=None, momentum=None) -> dict[str, float]:
    """See [`Composite.state`][generic_mm.composites.Composite.state]."""
    T = checked_temperatures(composite, temperatures)
    mech = strain is not None or momentum is not None
    eps = 0.0 if strain is None else finite_number(strain, "strain", InputError)
    out = {}
    if mech:
        p = 0.0 if momentum is None else finite_number(momentum, "momentum", InputError)
        out = {"eps": eps, "p": p}
    for n, ph in composite.phases.items():
        out[f"S_{n}"] = ph.fraction * ph.entropy(T[n], eps)
    return out


def field_state(
    composite, grid, temperatures: Mapping[str, Any], *, strain=None, momentum=None
) -> dict[str, np.ndarray]:
    """See [`Composite.field_state`][generic_mm.composites.Composite.field_state]."""
    shape = tuple(grid.shape)
    volume = float(np.prod(grid.spacing))
    missing = set(composite.phases) - set(temperatures)
    extra = set(temperatures) - set(composite.phases)
    if missing or extra:
        raise InputError(
            f"field_state: temperatures must give exactly the phases {list(composite.phases)}"
            f" (missing {sorted(missing)}, unknown {sorted(extra)})."
        )
    eps = _field(0.0 if strain is None else strain, shape, "strain")
    out: dict[str, np.ndarray] = {}
    if strain is not None or momentum is not None:
        nodes = shape[0] if grid.periodic[0] else shape[0] + 1
        out["cell.eps"] = eps
        out["node.p"] = _field(0.0 if momentum is None else momentum, (nodes,), "momentum")
    for n, ph in composite.phases.items():
        where = f"field_state: temperatures[{n!r}]"
        Tn = positive_array(_field(temperatures[n], shape, f"temperatures[{n!r}]"), where)
        s = np.vectorize(lambda t, e, ph=ph: ph.entropy(float(t), float(e)))(Tn, eps)
        out[f"cell.S_{n}"] = volume * ph.fraction * s
    return out


def _field(value, shape: tuple[int, ...], where: str) -> np.ndarray:
    """`value` (a number or an array) as a finite float array of `shape`."""
    try:
        arr = np.array(np.broadcast_to(np.asarray(value, dtype=float), shape))
    except (TypeError, ValueError):
        raise InputError(
            f"field_state: {where} must be a number or an array of shape {shape}, got "
            f"{np.shape(value) if hasattr(value, 'shape') else type(value).__name__}."
        ) from None
    require_finite(arr, f"field_state: {where}", InputError)
    return arr


def source_terms(composite) -> dict[str, sp.Expr]:
    """See [`Composite.source_terms`][generic_mm.composites.Composite.source_terms]."""
    out = {}
    for a, b in composite.exchange:
        Ta, Tb = sp.symbols(f"T_{a} T_{b}", positive=True)
        out[f"{a}<-{b}"] = sp.Symbol(f"H_{a}_{b}", positive=True) * (Tb - Ta)
    return out


def sources(composite, compiled, ys) -> dict[str, jax.Array]:
    """See [`Composite.sources`][generic_mm.composites.Composite.sources]."""
    layout = compiled.layout
    prefix = "" if layout.is_flat else "cell."
    gE = conjugates(compiled, ys)
    out = {}
    for a, b in composite.exchange:
        Ta = layout.select(gE, f"{prefix}S_{a}")
        Tb = layout.select(gE, f"{prefix}S_{b}")
        out[f"{a}<-{b}"] = compiled.params[f"H_{a}_{b}"] * (Tb - Ta)
    return out
