"""Values for reprs: arrays printed by value, as NumPy prints them, not by shape and dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

# Entries this far below the largest one are round-off of a solve; NumPy would otherwise
# switch the whole array to scientific notation for one 1e-17 next to order-one entries.
ROUNDOFF = 1e-12


def array_repr(value: Any, *, prefix: str = "") -> str:
    """`value` (a concrete array or number) to 7 significant digits; entries below
    `ROUNDOFF` times the largest shown as 0. Continuation lines are indented to follow
    `prefix`, the text the result is printed after."""
    a = np.asarray(value)
    if a.dtype.kind == "f" and a.size:
        finite = np.abs(a[np.isfinite(a)])
        scale = finite.max(initial=0.0)
        a = np.where(np.abs(a) <= ROUNDOFF * scale, 0.0, a)
    if a.ndim == 0:
        return f"{a.item():.7g}" if a.dtype.kind == "f" else str(a.item())
    return np.array2string(a, precision=7, separator=", ", prefix=prefix, max_line_width=100)
