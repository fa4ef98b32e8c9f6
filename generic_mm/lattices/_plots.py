"""Dispersion curves along high-symmetry paths, swept over deformations."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .._files import writable_target, write_atomic
from .._plot import FORMATS

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def route_points(lattice, route: Sequence[str] | None, points: int):
    """Wave vectors along `route` (names of high-symmetry points), their distance along
    the path, and the tick positions `{label: distance}`."""
    named = lattice.high_symmetry_points()
    if isinstance(route, str):
        raise InputError(
            f"route: expected a list of point names such as ['Γ', 'M'], got {route!r}."
        )
    route = (
        tuple(route)
        if route is not None
        else (("Γ", "X") if lattice.dim == 1 else ("Γ", "M", "K", "Γ"))
    )
    if len(route) < 2 or any(name not in named for name in route):
        raise InputError(f"route: expected two or more of {list(named)}, got {list(route)}.")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise InputError(f"points: expected an integer >= 2, got {points!r}.")
    ks, xs, ticks, start = [], [], [(route[0], 0.0)], 0.0
    for a, b in zip(route[:-1], route[1:]):
        ka, kb = named[a], named[b]
        length = float(np.linalg.norm(kb - ka))
        t = np.linspace(0.0, 1.0, int(points))[: -1 if b != route[-1] else None]
        ks.append(ka + t[:, None] * (kb - ka))
        xs.append(start + t * length)
        start += length
        ticks.append((b, start))
    return np.concatenate(ks), np.concatenate(xs), ticks


def plot_dispersion(
    lattice,
    deformations: Any,
    *,
    route: Sequence[str] | None = None,
    points: int = 200,
    quantity: str = "omega",
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """See [`Lattice.plot_dispersion`][generic_mm.lattices.Lattice.plot_dispersion]."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    if quantity not in ("omega", "omega2"):
        raise InputError(f"quantity: expected 'omega' or 'omega2', got {quantity!r}.")
    target = None
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"path: expected a file name, got {type(path).__name__}.")
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix not in FORMATS:
            raise InputError(f"path {os.fspath(path)}: use one of {', '.join(FORMATS)}.")
        target = writable_target(path, "path")
    try:
        if isinstance(deformations, (str, bytes)):
            raise TypeError
        arr = np.asarray(deformations, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "deformations: expected stretches (chains) or 2x2 deformation gradients, got "
            f"{type(deformations).__name__}."
        ) from None
    if lattice.dim == 1:
        defs = list(np.atleast_1d(arr))
    else:
        defs = [arr] if arr.shape == (2, 2) else list(arr)
    if not defs:
        raise InputError("deformations: give at least one deformation.")
    Fs = [lattice._deformation(F, f"deformations[{i}]") for i, F in enumerate(defs)]
    ks, xs, ticks = route_points(lattice, route, points)
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    cmap = colormaps["viridis"]
    for i, F in enumerate(Fs):
        w2 = np.asarray(lattice.dispersion(ks if lattice.dim == 2 else ks[:, 0], F))
        w2 = w2.reshape(len(ks), -1)
        y = w2 if quantity == "omega2" else np.sign(w2) * np.sqrt(np.abs(w2))
        colour = cmap(0.85 * i / max(len(Fs) - 1, 1))
        label = _label(lattice, F)
        for b in range(y.shape[1]):
            ax.plot(xs, y[:, b], color=colour, lw=1.4, label=label if b == 0 else None)
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xticks([x for _, x in ticks], [name for name, _ in ticks])
    for _, x in ticks:
        ax.axvline(x, color="0.8", lw=0.6)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylabel(r"$\omega^2$" if quantity == "omega2" else r"$\omega$ (imaginary: $-|\omega|$)")
    ax.set_xlabel("referential wave vector")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title if title is not None else f"phonons of the {lattice.kind} lattice")
    if target is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format=target.suffix.lstrip(".").lower())
        write_atomic(target, buf.getvalue())
    return fig


def _label(lattice, F: np.ndarray) -> str:
    if lattice.dim == 1:
        return f"λ = {F[0, 0]:.4g}"
    if np.allclose(F, F[0, 0] * np.eye(2)):
        return f"F = {F[0, 0]:.4g} I"
    return "F = [[{:.4g}, {:.4g}], [{:.4g}, {:.4g}]]".format(*F.reshape(-1))
