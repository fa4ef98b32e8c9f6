r"""The fitted parameters: their starting values and bounds, and the maps from unconstrained
coordinates $z$ onto their domains (a bounded value is reached by reparameterisation, never
by clipping).

Every fitted entry starts at $z = 0$, its starting value $v_0$:

| bounds | $v(z)$ |
|---|---|
| none | $v_0 + c\,z$, $c = \max(\lvert v_0\rvert, 1)$ |
| lower $l$ | $l + (v_0 - l)\,e^{z}$ |
| upper $h$ | $h - (h - v_0)\,e^{z}$ |
| both | $l + (h - l)\,\sigma(z + \mathrm{logit}\,u_0)$, $u_0 = (v_0 - l)/(h - l)$ |

A model parameter's bounds are its declared domain and its sign assumption (`positive`,
`nonnegative`: lower bound 0; `negative`, `nonpositive`: upper bound 0; `nonzero`: the
side of its starting value), narrowed by a [`generic_mm.fitting.Parameter`][]'s own
`lower` and `upper`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compiled import CompiledModel
from .._errors import InputError
from .._expressions import closest
from .._validate import finite_number, real_array

_KINDS = ("free", "lower", "upper", "interval")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A fitted parameter's starting value and bounds, for [`generic_mm.fit`][]'s `params`.

    **Arguments:**

    - `initial`: the starting value (a number; for a per-cell parameter of a structured
        model, a number or an array of its shape). `None`: the model's own value (required
        for a fitted name that is not a model parameter, which `derive` turns into
        parameter values).
    - `lower`, `upper`: bounds, open: the fitted value stays strictly between them. A
        model parameter's declared domain and sign assumption bound it as well.

    **Example:** `gm.fit(model, data, {"k0": Parameter(1.0, lower=0.0), "a": 0.0},
    derive=...)`.
    """

    initial: Any = None
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self):
        for side in ("lower", "upper"):
            value = getattr(self, side)
            if value is not None:
                object.__setattr__(self, side, finite_number(value, f"Parameter.{side}"))
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise InputError(
                f"Parameter: lower = {self.lower:g} must be below upper = {self.upper:g}."
            )


@dataclasses.dataclass(frozen=True)
class Fitted:
    """One fitted name: its shape, whether it is a model parameter, its starting value
    (array of `shape`) and its bounds (`-inf`/`inf` when absent), with why they hold."""

    name: str
    shape: tuple[int, ...]
    model: bool
    initial: np.ndarray
    lower: float
    upper: float
    why: str

    @property
    def kind(self) -> str:
        lo, hi = math.isfinite(self.lower), math.isfinite(self.upper)
        return _KINDS[lo + 2 * hi]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def labels(self) -> list[str]:
        if not self.shape:
            return [self.name]
        return [f"{self.name}[{', '.join(map(str, i))}]" for i in np.ndindex(*self.shape)]


def _sign_bounds(symbol: Any, start: np.ndarray) -> tuple[float, float, str]:
    if symbol.is_positive or symbol.is_nonnegative:
        return 0.0, math.inf, "positive" if symbol.is_positive else "nonnegative"
    if symbol.is_negative or symbol.is_nonpositive:
        return -math.inf, 0.0, "negative" if symbol.is_negative else "nonpositive"
    if symbol.is_nonzero:
        if np.all(start > 0):
            return 0.0, math.inf, "nonzero (started positive)"
        if np.all(start < 0):
            return -math.inf, 0.0, "nonzero (started negative)"
    return -math.inf, math.inf, ""


def fitted_parameters(compiled: CompiledModel, params: Any, derive: Any) -> list[Fitted]:
    """`fit`'s `params` (names, or name -> start or `Parameter`) as `Fitted` entries."""
    if isinstance(params, str) or not isinstance(params, (Mapping, list, tuple)):
        raise InputError(
            "params: expected a list of parameter names or a mapping name -> initial value "
            f"or Parameter, got {type(params).__name__} {params!r}."
        )
    items = params.items() if isinstance(params, Mapping) else [(p, None) for p in params]
    out: list[Fitted] = []
    for name, given in items:
        if not isinstance(name, str):
            name = getattr(name, "name", name)  # a SymPy symbol
        if not isinstance(name, str):
            raise InputError(f"params: {name!r} is not a parameter name.")
        if any(f.name == name for f in out):
            raise InputError(f"params: {name!r} is given twice.")
        spec = given if isinstance(given, Parameter) else Parameter(given)
        out.append(_one(compiled, name, spec, derive))
    if not out:
        raise InputError("params: no parameter to fit; name at least one.")
    return out


def _one(compiled: CompiledModel, name: str, spec: Parameter, derive: Any) -> Fitted:
    where = f"params[{name!r}]"
    model_param = name in compiled.params
    if not model_param and derive is None:
        raise InputError(
            f"{where}: not a parameter of {compiled.name!r}{closest(name, compiled.params)}; "
            f"the parameters are {sorted(compiled.params)}. A fitted quantity that is not a "
            "model parameter needs derive= to turn it into parameter values."
        )
    if model_param:
        current: Any = compiled.params[name]
        if not eqx.is_array(current):
            raise InputError(
                f"{where}: {name} is a learned part ({type(current).__name__}), not a number; "
                "fit numbers, or train the learned part."
            )
        shape = tuple(np.shape(current))
        start = spec.initial if spec.initial is not None else np.asarray(current)
    else:
        if spec.initial is None:
            raise InputError(
                f"{where}: {name} is not a model parameter (derive turns it into parameter "
                f"values), so it has no value to start from: give one, e.g. "
                f"{{{name!r}: Parameter(1.0, lower=0.0)}}."
            )
        shape = tuple(np.shape(spec.initial))
        start = spec.initial
    value = real_array(start, f"{where} (initial value)", expected="a real number or array")
    try:
        value = np.broadcast_to(value, shape).astype(float)
    except ValueError:
        raise InputError(
            f"{where}: the initial value has shape {np.shape(value)}; {name} has shape {shape}."
        ) from None
    if not np.all(np.isfinite(value)):
        raise InputError(f"{where}: the initial value is not finite ({start!r}).")
    lower, upper, why = -math.inf, math.inf, []
    if model_param:
        pspec = compiled.parameter_specs.get(name)
        if pspec is not None:
            lo, hi, sign = _sign_bounds(pspec.symbol, value)
            if sign:
                lower, upper = lo, hi
                why.append(f"declared {sign}")
            if pspec.domain is not None:
                lower, upper = max(lower, pspec.domain[0]), min(upper, pspec.domain[1])
                why.append(f"declared domain [{pspec.domain[0]:g}, {pspec.domain[1]:g}]")
    if spec.lower is not None and spec.lower > lower:
        lower = spec.lower
        why.append(f"Parameter lower = {spec.lower:g}")
    if spec.upper is not None and spec.upper < upper:
        upper = spec.upper
        why.append(f"Parameter upper = {spec.upper:g}")
    reason = ", ".join(why) or "unbounded"
    if not lower < upper:
        raise InputError(f"{where}: its bounds leave no room: ({lower:g}, {upper:g}) ({reason}).")
    inside = (value > lower) & (value < upper)
    if not np.all(inside):
        bad = value.reshape(-1)[int(np.argmin(inside.reshape(-1)))]
        raise InputError(
            f"{where}: the initial value {bad:g} is not strictly inside ({lower:g}, {upper:g}), "
            f"the bounds of {name} ({reason}); start inside them."
        )
    return Fitted(name, shape, model_param, value, lower, upper, reason)


class Transform(eqx.Module):
    """The map from the unconstrained vector $z$ (all fitted entries, flat) to the fitted
    values (name -> array), and back to a flat vector of values."""

    start: jax.Array
    lower: jax.Array
    upper: jax.Array
    kinds: tuple[str, ...] = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)
    shapes: tuple[tuple[int, ...], ...] = eqx.field(static=True)

    def __init__(self, fitted: list[Fitted]):
        self.start = jnp.asarray(np.concatenate([f.initial.reshape(-1) for f in fitted]))
        self.lower = jnp.asarray(np.concatenate([np.full(f.size, f.lower) for f in fitted]))
        self.upper = jnp.asarray(np.concatenate([np.full(f.size, f.upper) for f in fitted]))
        self.kinds = tuple(k for f in fitted for k in [f.kind] * f.size)
        self.names = tuple(f.name for f in fitted)
        self.shapes = tuple(f.shape for f in fitted)

    def flat_values(self, z: jax.Array) -> jax.Array:
        """$v(z)$, entry by entry (see the module docstring)."""
        v0, lo, hi = self.start, self.lower, self.upper
        # Finite stand-ins where a bound is absent keep every branch finite under `where`.
        lo_f = jnp.where(jnp.isfinite(lo), lo, 0.0)
        hi_f = jnp.where(jnp.isfinite(hi), hi, 1.0)
        masks = {kind: np.array([k == kind for k in self.kinds], dtype=bool) for kind in _KINDS}
        u0 = jnp.where(masks["interval"], (v0 - lo_f) / (hi_f - lo_f), 0.5)
        branches = {
            "free": v0 + jnp.maximum(jnp.abs(v0), 1.0) * z,
            "lower": lo_f + (v0 - lo_f) * jnp.exp(z),
            "upper": hi_f - (hi_f - v0) * jnp.exp(z),
            "interval": lo_f + (hi_f - lo_f) * jax.nn.sigmoid(z + jnp.log(u0) - jnp.log1p(-u0)),
        }
        out = branches["free"]
        for kind in _KINDS[1:]:
            if masks[kind].any():
                out = jnp.where(masks[kind], branches[kind], out)
        return out

    def unflatten(self, flat: jax.Array) -> dict[str, jax.Array]:
        """A flat vector of values as name -> array of the name's shape."""
        out, i = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = math.prod(shape)
            out[name] = flat[i : i + size].reshape(shape)
            i += size
        return out

    def values(self, z: jax.Array) -> dict[str, jax.Array]:
        return self.unflatten(self.flat_values(z))
