"""What a fit can compare with data: a state variable or field, an observable, E, S, the
entropy production, or a conjugate variable, read from a solve's saved states and record."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._compiled import CompiledModel


class Quantity(NamedTuple):
    """An observed quantity: its name in the data, its kind and the key it is read by (the
    state variable, observable or record entry)."""

    name: str
    kind: str
    key: str


def extract(q: Quantity, ys: Any, record: dict[str, Any], compiled: CompiledModel) -> Any:
    """The quantity's series, shape `(T, *shape)`, from saved states `ys` `(T, n)` and the
    record of those states."""
    if q.kind == "state":
        return compiled.layout.select(ys, q.key)
    if q.kind == "observable":
        return record["observables"][q.key]
    if q.kind in ("grad_energy", "grad_entropy"):
        return compiled.layout.select(record[q.kind], q.key)
    return record[q.kind]


def param_shape(compiled: CompiledModel, name: str) -> tuple[int, ...]:
    """The shape of the model parameter `name` (a number: `()`; per cell: the cells')."""
    value: Any = compiled.params[name]
    return tuple(jnp.shape(value))


def quantity_shape(compiled: CompiledModel, kind: tuple[str, str]) -> tuple[int, ...]:
    """The shape of one value of the quantity `(kind, key)` (no time axis)."""
    q = Quantity(kind[1], *kind)

    def at(ys):
        return extract(q, ys, jax.vmap(compiled.record)(ys), compiled)

    return tuple(jax.eval_shape(at, jnp.zeros((1, compiled.n))).shape[1:])
