r"""Where the consistency checks look: the sampled region of every state variable and
parameter, and what a model knows about its parameters.

A passed check speaks for the region it covered. Each variable is sampled over a declared
domain when the model gives one, otherwise over a documented default derived from its sign
assumption (and, for a parameter, from its value):

| symbol | state variable (no domain) | parameter with values $v$ (no domain) |
|---|---|---|
| `positive` | log-uniform in $[10^{-2}, 10^{2}]$ | log-uniform in $[\min v/10, 10\max v]$ |
| `negative` | mirrored | mirrored |
| `nonnegative` | $0$ (1/8 of the samples) or log-uniform in $[10^{-2}, 10^{2}]$ | $0$ or log-uniform in $[10^{-4} c, c]$, $c = 10\max(\max v, 1)$ |
| real | half uniform in $[-2, 2]$, half $\pm$ log-uniform in $[10^{-2}, 10]$ | uniform in $[\min v - 2c, \max v + 2c]$, $c = \max(\max\lvert v\rvert, 1)$ |

A sign-free parameter's default region always holds both signs: nothing stops a user from
running a negative value, so nothing may be assumed about its sign. A quarter of the
samples put every parameter at the model's own values (for structured models: the values
that occur together on one cell or edge).

A free conjugate of a structured model whose observed range $[l, h]$ holds zero is sampled
"spread": half uniform in $[l, h]$, half a sign (each with probability 1/2) and a magnitude
log-uniform over the `_SPREAD_DECADES` below that side's own edge ($-l$ or $h$), so values
near zero, where a sign or a ratio turns, are sampled however wide the range.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ._errors import InputError
from ._validate import SIGN_ASSUMPTIONS, is_traced, violated_assumption

_STATE_LOG_RANGE = (1e-2, 1e2)
_REAL_CORE = 2.0
_REAL_EDGE = 10.0
_PARAM_DECADES = 1.0
_ACTUAL_FRACTION = 0.25
_ZERO_FRACTION = 0.125
_SPREAD_DECADES = 16.0
"""How far below each edge a "spread" axis draws its signed log magnitudes: about the
decades float64 resolves. An observed conjugate range is set by states far out in the
region, so a model's own small scales (a damage law's regularisation, 1e-6 of its energy
scale) can lie 12 decades or more below its edge; 10 decades missed them."""


def _sign(symbol: sp.Symbol) -> str:
    for kind in ("positive", "negative", "nonnegative", "nonpositive"):
        if getattr(symbol, f"is_{kind}"):
            return kind
    return "real"


@dataclasses.dataclass(frozen=True)
class Axis:
    """How one variable is sampled: the interval `(lo, hi)`, whether it is log-spaced (a
    signed log scale for sign-free state variables), and whether it was declared."""

    name: str
    lo: float
    hi: float
    kind: str  # "uniform", "log", "neglog", "zero+log", "zero+neglog", "mixed", "spread"
    declared: bool

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lo, hi = self.lo, self.hi
        if self.kind == "uniform":
            return rng.uniform(lo, hi, n)
        if self.kind == "log":
            return np.exp(rng.uniform(math.log(lo), math.log(hi), n))
        if self.kind == "neglog":
            return -np.exp(rng.uniform(math.log(-hi), math.log(-lo), n))
        a, b = _STATE_LOG_RANGE
        if self.kind in ("zero+log", "zero+neglog"):
            top = hi if self.kind == "zero+log" else -lo
            mag = np.exp(rng.uniform(math.log(top * a / b), math.log(top), n))
            out = np.where(rng.uniform(size=n) < _ZERO_FRACTION, 0.0, mag)
            return out if self.kind == "zero+log" else -out
        if self.kind == "spread":
            # half uniform, half signed log: a wide interval around zero still puts samples
            # near zero, where a sign or a ratio turns
            signed = self._signed_log(rng, n)
            return np.where(rng.uniform(size=n) < 0.5, rng.uniform(lo, hi, n), signed)
        # "mixed": half uniform in the core, half signed log-uniform out to the box edge
        core = rng.uniform(-_REAL_CORE, _REAL_CORE, n)
        mag = np.exp(rng.uniform(math.log(a), math.log(hi), n)) * rng.choice([-1.0, 1.0], n)
        return np.where(rng.uniform(size=n) < 0.5, core, mag)

    def _signed_log(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The signed log half of a "spread" axis: a side of zero (each with probability
        1/2 where both have width; a side of zero width gets none), then a magnitude
        log-uniform over the `_SPREAD_DECADES` below that side's own edge. Every sample is
        inside `[lo, hi]` as drawn: clipping magnitudes drawn below the larger edge piled
        them onto the nearer edge of a lopsided interval."""
        sides = [(w, sign) for w, sign in ((-self.lo, -1.0), (self.hi, 1.0)) if w > 0]
        if not sides:
            return np.zeros(n)
        width, sign = (np.array(c) for c in zip(*sides))
        pick = rng.integers(0, len(sides), n)
        return sign[pick] * width[pick] * 10.0 ** rng.uniform(-_SPREAD_DECADES, 0.0, n)

    def describe(self, unit: str | None = None) -> str:
        how = "declared" if self.declared else "default"
        scale = (
            " (log)"
            if "log" in self.kind
            else " (uniform and signed log)"
            if self.kind == "spread"
            else ""
        )
        unit = f" {unit}" if unit else ""
        return f"{self.name} in [{self.lo:.3g}, {self.hi:.3g}]{unit}{scale}, {how}"


def state_axis(symbol: sp.Symbol, domain: tuple[float, float] | None) -> Axis:
    """The sampling axis of a state variable (or a free input such as a conjugate)."""
    if domain is not None:
        lo, hi = domain
        kind = "log" if lo > 0 and hi / lo > 20 else "uniform"
        return Axis(symbol.name, lo, hi, kind, True)
    a, b = _STATE_LOG_RANGE
    sign = _sign(symbol)
    if sign == "positive":
        return Axis(symbol.name, a, b, "log", False)
    if sign == "negative":
        return Axis(symbol.name, -b, -a, "neglog", False)
    if sign == "nonnegative":
        return Axis(symbol.name, 0.0, b, "zero+log", False)
    if sign == "nonpositive":
        return Axis(symbol.name, -b, 0.0, "zero+neglog", False)
    return Axis(symbol.name, -_REAL_EDGE, _REAL_EDGE, "mixed", False)


def parameter_axis(symbol: sp.Symbol, values: Any, domain: tuple[float, float] | None) -> Axis:
    """The sampling axis of a parameter with the model's `values` (a number or per-cell
    array) and an optional declared domain."""
    if domain is not None:
        lo, hi = domain
        kind = "log" if lo > 0 and hi / lo > 20 else "uniform"
        return Axis(symbol.name, lo, hi, kind, True)
    v = np.asarray(values, dtype=float).reshape(-1)
    f = 10.0**_PARAM_DECADES
    sign = _sign(symbol)
    if sign == "positive":
        return Axis(symbol.name, float(v.min()) / f, float(v.max()) * f, "log", False)
    if sign == "negative":
        return Axis(symbol.name, float(v.min()) * f, float(v.max()) / f, "neglog", False)
    if sign in ("nonnegative", "nonpositive"):
        c = max(float(np.abs(v).max()), 1.0) * f
        if sign == "nonnegative":
            return Axis(symbol.name, 0.0, c, "zero+log", False)
        return Axis(symbol.name, -c, 0.0, "zero+neglog", False)
    c = max(float(np.abs(v).max()), 1.0)
    return Axis(symbol.name, float(v.min()) - 2 * c, float(v.max()) + 2 * c, "uniform", False)


@dataclasses.dataclass(frozen=True, eq=False)
class Region:
    """The sampled region of a check: one axis per input and per parameter, and the
    parameter combinations that actually occur (`actual`, shape `(m, n_params)`)."""

    inputs: tuple[Axis, ...]
    params: tuple[Axis, ...]
    actual: np.ndarray

    def sample(self, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """States `(samples, n_inputs)` and parameter vectors `(samples, n_params)`."""
        rng = np.random.default_rng(seed)
        ys = np.stack([a.sample(rng, samples) for a in self.inputs], axis=-1)
        if not self.params:
            return ys, np.zeros((samples, 0))
        ps = np.stack([a.sample(rng, samples) for a in self.params], axis=-1)
        n_actual = max(1, int(_ACTUAL_FRACTION * samples))
        rows = rng.integers(0, self.actual.shape[0], n_actual)
        ps[:n_actual] = self.actual[rows]
        return ys, ps

    def describe(self, units: Mapping[str, str] | None = None) -> list[str]:
        """One line per axis; `units` (name -> unit) labels the intervals."""
        units = units or {}
        return [a.describe(units.get(a.name)) for a in (*self.inputs, *self.params)]

    @property
    def defaulted(self) -> tuple[str, ...]:
        """Names of the variables whose interval was defaulted rather than declared."""
        return tuple(a.name for a in (*self.inputs, *self.params) if not a.declared)


@dataclasses.dataclass(frozen=True, eq=False)
class ParameterSpec:
    """One parameter as the checks and `simulate` see it: its symbol (with its sign
    assumptions), the model's values (a number, or one per cell or edge) and its declared
    domain (or `None`)."""

    symbol: sp.Symbol
    values: np.ndarray
    domain: tuple[float, float] | None

    @property
    def name(self) -> str:
        return self.symbol.name

    @property
    def axis(self) -> Axis:
        return parameter_axis(self.symbol, self.values, self.domain)

    def validate(self, value: Any, where: str, *, warn: bool = True) -> None:
        """Refuse a value (scalar or batch) that breaks the symbol's sign assumptions or
        the declared domain; warn when it leaves the defaulted region the checks covered.
        Traced values cannot be inspected and are left to the caller."""
        if is_traced(value):
            return
        arr = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{where}: contains non-finite values ({value!r}).")
        bad = violated_assumption(self.symbol, arr)
        if bad is not None:
            assumption, entry = bad
            raise InputError(
                f"{where}: {self.name} is declared {assumption} but got {entry:g}; the "
                "consistency check (and its proofs) assume it. Use a value that is "
                f"{assumption}, or declare the parameter without that assumption."
            )
        if self.domain is not None:
            lo, hi = self.domain
            if np.any((arr < lo) | (arr > hi)):
                out = arr.reshape(-1)[np.argmax(((arr < lo) | (arr > hi)).reshape(-1))]
                raise InputError(
                    f"{where}: {out:g} is outside the declared domain [{lo:g}, {hi:g}] of "
                    f"{self.name}, the region over which the model was checked; widen the "
                    "domain (and check again) to run there."
                )
            return
        axis = self.axis
        outside = ((arr < axis.lo) | (arr > axis.hi)).reshape(-1)
        if warn and outside.any():
            warnings.warn(
                f"{where}: {self.name} = {arr.reshape(-1)[np.argmax(outside)]:g} lies outside "
                f"[{axis.lo:.3g}, {axis.hi:.3g}], the default region the consistency check "
                f"sampled (no domain declared for {self.name}); declare a domain for it and "
                "check again to cover the values you run.",
                stacklevel=3,
            )


def validate_overrides(
    specs: Mapping[str, ParameterSpec],
    overrides: Mapping[str, Any],
    where: str = "params",
    *,
    warn: bool = True,
) -> None:
    """Validate parameter overrides (name -> value or batch) against their specs; `warn`
    about values outside a defaulted check region (pointless for an unchecked model)."""
    for name, value in overrides.items():
        spec = specs.get(name)
        if spec is not None:
            spec.validate(value, f"{where}[{name!r}]", warn=warn)


def any_violation(specs: Mapping[str, ParameterSpec], params: Mapping[str, Any]):
    """A JAX boolean: does any parameter value break its sign assumptions or declared domain?
    For traced values (inside `jit`, `grad`, `vmap`), which `validate` cannot inspect: the
    caller turns it into a run-time error with `equinox.error_if`."""
    import jax.numpy as jnp

    bad = jnp.asarray(False)
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            continue
        v = jnp.asarray(value)
        for assumption, test in SIGN_ASSUMPTIONS:
            if getattr(spec.symbol, f"is_{assumption}"):
                bad = bad | ~jnp.all(test(v))
        if spec.domain is not None:
            lo, hi = spec.domain
            bad = bad | jnp.any((v < lo) | (v > hi))
    return bad


def actual_rows(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Stack per-parameter columns (each of length m, or scalars) into `(m, n_params)`."""
    if not columns:
        return np.zeros((1, 0))
    arrays = [np.asarray(c, dtype=float).reshape(-1) for c in columns]
    m = max(a.shape[0] for a in arrays)
    return np.stack([np.broadcast_to(a, (m,)) if a.shape[0] == 1 else a for a in arrays], -1)
