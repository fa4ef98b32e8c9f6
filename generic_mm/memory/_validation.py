"""Argument checks of the memory package: each error names the argument (and entry) and
says what was received and what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validate import positive_number as number

__all__ = ["count", "number", "uniform_times", "vector"]


def count(value: Any, where: str, *, least: int = 1) -> int:
    """`value` as an int >= `least` (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise InputError(f"{where}: expected an integer >= {least}, got {value!r}.")
    return int(value)


def vector(value: Any, where: str, *, length: int | None = None) -> np.ndarray:
    """`value` as a finite 1-d float64 array (of `length` entries when given)."""
    try:
        if isinstance(value, (str, bytes)) or np.iscomplexobj(value):
            raise TypeError
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"{where}: expected a 1-d array of real numbers, got {type(value).__name__}."
        ) from None
    if arr.ndim != 1:
        raise InputError(f"{where}: expected a 1-d array, got shape {arr.shape}.")
    if length is not None and arr.shape[0] != length:
        raise InputError(f"{where}: expected {length} entries, got {arr.shape[0]}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where}[{i}]: expected a finite number, got {arr[i]}.")
    return arr


def uniform_times(ts: Any, where: str = "ts", *, least: int = 3) -> tuple[np.ndarray, float]:
    """`ts` as a uniform grid starting at 0, and its spacing `h`."""
    t = vector(ts, where)
    if t.size < least:
        raise InputError(f"{where}: expected at least {least} times, got {t.size}.")
    h = (t[-1] - t[0]) / (t.size - 1)
    if t[0] != 0.0:
        raise InputError(f"{where}: must start at t = 0 (lag zero), got {t[0]:g}.")
    if not h > 0 or np.max(np.abs(np.diff(t) - h)) > 1e-9 * max(h, abs(t[-1])):
        i = int(np.argmax(np.abs(np.diff(t) - h))) if h > 0 else 0
        raise InputError(
            f"{where}: expected increasing, evenly spaced times; the step from ts[{i}] to "
            f"ts[{i + 1}] is {t[i + 1] - t[i]:g}, the mean step {h:g}."
        )
    return t, float(h)
