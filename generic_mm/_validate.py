"""Input validation shared by every layer: one home for "is this traced?" and the
finite/positive number checks, so that every error reads the same way.

Each function takes `where` (the argument, field or entry being validated) and an
exception class, so callers keep their own error type (`ModelError` while building a
model, `InputError` for arguments).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.core
import numpy as np

from ._errors import InputError


def is_traced(x: Any) -> bool:
    """Whether any leaf of the PyTree `x` is a JAX tracer (inside `jit`, `grad`, `vmap`)."""
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def require_finite(value: Any, where: str, error: type[Exception] = InputError) -> None:
    """Raise `error` if the (concrete) array `value` has a non-finite entry; traced values
    cannot be inspected and pass."""
    if not is_traced(value) and not np.all(np.isfinite(np.asarray(value))):
        raise error(f"{where}: contains non-finite values ({value!r}).")


def real_array(value: Any, where: str, error: type[Exception] = InputError, *, expected: str):
    """`value` as a float64 array (a NumPy array, or a JAX array when traced); strings and
    complex numbers are refused with `error`: "{where}: expected {expected}, got ..."."""
    try:
        if isinstance(value, (str, bytes)) or np.iscomplexobj(value):
            raise TypeError
        if is_traced(value):
            return jax.numpy.asarray(value, dtype=float)
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise error(
            f"{where}: expected {expected}, got {type(value).__name__} {value!r}."
        ) from None


def finite_number(value: Any, where: str, error: type[Exception] = InputError) -> float:
    """`value` as a finite float (booleans and strings refused)."""
    if isinstance(value, (bool, str)):
        raise error(f"{where}: expected a real number, got {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise error(
            f"{where}: expected a real number, got {type(value).__name__} {value!r}."
        ) from None
    if not math.isfinite(out):
        raise error(f"{where}: expected a finite number, got {out}.")
    return out


def positive_number(
    value: Any, where: str, error: type[Exception] = InputError, *, allow_zero: bool = False
) -> float:
    """`value` as a finite float that is > 0 (>= 0 with `allow_zero`)."""
    need = "nonnegative" if allow_zero else "positive"
    if isinstance(value, (bool, str)):
        raise error(f"{where}: expected a finite {need} number, got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise error(f"{where}: expected a finite {need} number, got {value!r}.") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise error(f"{where}: expected a finite {need} number, got {value!r}.")
    return v


def positive_array(
    value: Any, where: str, error: type[Exception] = InputError, *, allow_zero: bool = False
) -> np.ndarray:
    """`value` as a float64 array whose entries are all finite and > 0 (>= 0 with
    `allow_zero`)."""
    need = "nonnegative" if allow_zero else "positive"
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise error(f"{where}: expected {need} numbers, got {value!r}.") from None
    bad = ~np.isfinite(arr) | (arr < 0) | ((arr == 0) & (not allow_zero))
    if np.any(bad):
        first = arr.reshape(-1)[int(np.argmax(bad.reshape(-1)))]
        raise error(f"{where}: expected finite {need} values, got {first!r} among {arr.tolist()}.")
    return arr


SIGN_ASSUMPTIONS: tuple[tuple[str, Any], ...] = (
    ("positive", lambda v: v > 0),
    ("nonnegative", lambda v: v >= 0),
    ("negative", lambda v: v < 0),
    ("nonpositive", lambda v: v <= 0),
    ("nonzero", lambda v: v != 0),
)
"""The SymPy sign assumptions a parameter value is validated against, with their tests."""


def violated_assumption(symbol: Any, value: Any) -> tuple[str, float] | None:
    """The first sign assumption of the SymPy `symbol` that some entry of (concrete)
    `value` violates, with that entry; `None` when all hold (or `value` is traced)."""
    if is_traced(value):
        return None
    arr = np.asarray(value, dtype=float).reshape(-1)
    for assumption, test in SIGN_ASSUMPTIONS:
        if getattr(symbol, f"is_{assumption}"):
            ok = test(arr)
            if not np.all(ok):
                return assumption, float(arr[int(np.argmin(ok))])
    return None
