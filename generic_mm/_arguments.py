"""`simulate`'s arguments, validated: initial states, parameters, save times, numbers, and
the initial state's finiteness and sign assumptions. Each error names the argument."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ._compiled import CompiledModel
from ._errors import InputError
from ._expressions import closest
from ._region import validate_overrides
from ._validate import is_traced, real_array, require_finite, violated_assumption


def key_name(key: Any, where: str) -> str:
    if isinstance(key, sp.Symbol):
        return key.name
    if isinstance(key, str):
        return key
    raise InputError(f"{where}: key {key!r} is neither a SymPy Symbol nor a name.")


def initial_state(compiled: CompiledModel, y0: Any) -> tuple[jax.Array, int | None]:
    """`y0` as an array `(n,)` or `(B, n)`, and the batch size (or None)."""
    n, names = compiled.n, compiled.state_names
    if isinstance(y0, Mapping) and not compiled.layout.is_flat:
        values = {key_name(k, "y0"): v for k, v in y0.items()}
        return compiled.layout.pack(values), None
    if isinstance(y0, Mapping):
        values: dict[str, Any] = {}
        for key, value in y0.items():
            name = key_name(key, "y0")
            if name not in names:
                raise InputError(
                    f"y0[{name!r}]: not a state variable{closest(name, names)}; "
                    f"the state is {list(names)}."
                )
            if name in values:
                raise InputError(f"y0: {name!r} is given twice.")
            values[name] = value
        missing = [s for s in names if s not in values]
        if missing:
            raise InputError(f"y0: missing initial value(s) for {', '.join(map(repr, missing))}.")
        arrays = []
        for name in names:
            a = jnp.asarray(values[name], dtype=float)
            if a.ndim > 1:
                raise InputError(
                    f"y0[{name!r}]: expected a number or a 1-d batch of numbers, got shape {a.shape}."
                )
            require_finite(a, f"y0[{name!r}]")
            arrays.append(a)
        sizes = {a.shape[0] for a in arrays if a.ndim == 1}
        if len(sizes) > 1:
            raise InputError(f"y0: batched initial values have different lengths {sorted(sizes)}.")
        if not sizes:
            return jnp.stack(arrays), None
        (b,) = sizes
        return jnp.stack([jnp.broadcast_to(a, (b,)) for a in arrays], axis=-1), b
    arr = jnp.asarray(
        real_array(
            y0,
            "y0",
            expected=f"a dict name -> value or an array of shape (n,) or (B, n) with n={n}",
        )
    )
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        what = list(names) if compiled.layout.is_flat else f"fields {list(names)}"
        raise InputError(
            f"y0: expected shape ({n},) or (B, {n}) for the state {what}, got {arr.shape}."
        )
    require_finite(arr, "y0")
    return arr, (arr.shape[0] if arr.ndim == 2 else None)


def parameters(compiled: CompiledModel, params: Any) -> tuple[dict[str, Any], int | None]:
    values: dict[str, Any] = dict(compiled.params)
    if params is None:
        return values, None
    if not isinstance(params, Mapping):
        raise InputError(f"params: expected a mapping name -> value, got {type(params).__name__}.")
    batch: set[int] = set()
    for key, value in params.items():
        name = key_name(key, "params")
        if name not in values:
            raise InputError(
                f"params[{name!r}]: not a parameter of {compiled.name!r}"
                f"{closest(name, values)}; the parameters are {sorted(values)}."
            )
        a = jnp.asarray(
            real_array(
                value, f"params[{name!r}]", expected="a real number or a 1-d batch of real numbers"
            )
        )
        if a.ndim > 1:
            raise InputError(
                f"params[{name!r}]: expected a number or a 1-d batch, got shape {a.shape}."
            )
        require_finite(a, f"params[{name!r}]")
        validate_overrides(compiled.parameter_specs, {name: a}, "params", warn=compiled.warns)
        if a.ndim == 1:
            batch.add(a.shape[0])
        values[name] = a
    if len(batch) > 1:
        raise InputError(f"params: batched values have different lengths {sorted(batch)}.")
    return values, (batch.pop() if batch else None)


def save_spec(saveat: Any, t0: float, t1: float) -> diffrax.SubSaveAt:
    if saveat is None:
        saveat = 101
    if isinstance(saveat, bool):
        raise InputError(
            f"saveat: expected a number of points, times or a diffrax.SaveAt, got {saveat}."
        )
    if isinstance(saveat, int):
        if saveat < 2:
            raise InputError(f"saveat: a number of points must be at least 2, got {saveat}.")
        return diffrax.SubSaveAt(ts=jnp.linspace(t0, t1, saveat))
    if isinstance(saveat, diffrax.SaveAt):
        sub = saveat.subs
        if (
            saveat.dense
            or not isinstance(sub, diffrax.SubSaveAt)
            or sub.fn is not diffrax.SubSaveAt(t1=True).fn
        ):
            raise InputError(
                "saveat: only SaveAt(ts=...), SaveAt(t0=..., t1=...) and SaveAt(steps=True) are "
                "supported (no dense output, nested subs or custom fn): E and S are computed "
                "from the saved states."
            )
        return sub
    ts = np.asarray(saveat, dtype=float)
    if ts.ndim != 1 or ts.size < 1:
        raise InputError(f"saveat: expected a 1-d array of times, got shape {ts.shape}.")
    if np.any(np.diff(ts) < 0) or ts[0] < min(t0, t1) or ts[-1] > max(t0, t1):
        raise InputError(f"saveat: times must be increasing and within [t0, t1] = [{t0}, {t1}].")
    return diffrax.SubSaveAt(ts=jnp.asarray(ts))


def save_times(saveat: Any, save: diffrax.SubSaveAt, t0: float, t1: float) -> Any:
    """The save times as a NumPy array where the arguments give them concretely (a number
    of points, an array): they stay concrete under `jax.jit`, where `save.ts` is traced.
    Otherwise `save.ts` (possibly `None`)."""
    if isinstance(saveat, int) and not isinstance(saveat, bool):
        return np.linspace(t0, t1, saveat)
    if saveat is not None and not isinstance(saveat, diffrax.SaveAt) and not is_traced(saveat):
        return np.asarray(saveat, dtype=float)
    return save.ts


@eqx.filter_jit
def initial_values(compiled, y0, params, axes):
    def at(y, p):
        model = eqx.tree_at(lambda c: c.params, compiled, p)
        E, S, sigma = model.thermodynamics(y)
        return E, S, sigma, model.vector_field(0.0, y)

    return at(y0, params) if axes is None else jax.vmap(at, in_axes=axes)(y0, params)


def check_initial_state(compiled: CompiledModel, y0, params, batch, batched) -> None:
    """Refuse, before solving, an initial state where E, S, the entropy production or the
    rates are not finite (e.g. a negative volume under a logarithm): the solver would only
    report a failed first step."""
    if is_traced((y0, params)):
        return
    axes = None
    if batch is not None:
        p_axes = {k: (0 if k in batched else None) for k in params}
        axes = (0 if jnp.ndim(y0) == 2 else None, p_axes)
    values = initial_values(compiled, y0, params, axes)
    check_state_assumptions(compiled, y0)
    labels = ("E", "S", "the entropy production", "the rates dx/dt")
    for label, value in zip(labels, values):
        bad = ~np.isfinite(np.asarray(value))
        if not bad.any():
            continue
        where, k = "", 0
        if batch is not None:
            k = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
            where = f" of ensemble member {k}"
        y_bad = np.asarray(y0) if jnp.ndim(y0) == 1 else np.asarray(y0)[k]
        raise InputError(
            f"y0: {label} is not finite at the initial state{where} "
            f"({compiled.layout.describe(y_bad)}): the state or a parameter lies outside "
            "where the model is defined (e.g. a negative temperature or volume)."
        )


def check_state_assumptions(compiled: CompiledModel, y0) -> None:
    """Initial values must honour the state symbols' sign assumptions (the proofs rely on
    them); outside a declared domain (where the check sampled) they draw a warning."""
    for name, (symbol, domain) in compiled.specs.states.items():
        values = np.asarray(compiled.layout.select(np.asarray(y0), name))
        bad = violated_assumption(symbol, values)
        if bad is not None:
            raise InputError(
                f"y0[{name!r}]: {name} is declared {bad[0]} but got {bad[1]:g}; the consistency "
                "check (and its proofs) assume it. Start from a state where it holds."
            )
        if domain is not None and np.any((values < domain[0]) | (values > domain[1])):
            warnings.warn(
                f"y0[{name!r}]: starts outside [{domain[0]:g}, {domain[1]:g}], the declared "
                "domain over which the model was checked.",
                stacklevel=3,
            )


def positive(value: Any, where: str) -> float:
    if is_traced(value):
        raise InputError(f"{where}: must be a concrete number, not traced.")
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a positive number, got {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a positive number, got {value!r}.") from None
    if not (np.isfinite(out) and out > 0):
        raise InputError(f"{where}: expected a finite positive number, got {value!r}.")
    return out


def as_time(value: Any, where: str) -> float:
    if is_traced(value):
        raise InputError(
            f"{where}: must be a concrete number (it fixes the saved times), not traced."
        )
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number, got {value!r}.") from None
    if not np.isfinite(out):
        raise InputError(f"{where}: expected a finite number, got {out}.")
    return out
