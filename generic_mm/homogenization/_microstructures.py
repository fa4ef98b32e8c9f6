"""Microstructures: integer arrays of phase indices on 2D pixel or 3D voxel grids."""

from __future__ import annotations

import math

import numpy as np

from .._errors import InputError
from .._validate import finite_number


def _shape(shape, where: str) -> tuple[int, ...]:
    try:
        out = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise InputError(f"{where}: shape must be a tuple of 2 or 3 ints, got {shape!r}.") from None
    if len(out) not in (2, 3) or min(out) < 2:
        raise InputError(f"{where}: shape must be 2 or 3 ints >= 2, got {shape!r}.")
    return out


def _fraction(value, where: str) -> float:
    f = finite_number(value, f"{where}: fraction")
    if not 0 < f < 1:
        raise InputError(f"{where}: fraction must be in (0, 1), got {value!r}.")
    return f


def as_microstructure(array) -> np.ndarray:
    """Validate a NumPy array of phase indices (2D or 3D, integers 0..P-1, each present)."""
    arr = np.asarray(array)
    if arr.ndim not in (2, 3):
        raise InputError(f"microstructure: expected a 2D or 3D array, got {arr.ndim}D.")
    if min(arr.shape) < 2:
        raise InputError(f"microstructure: every axis needs >= 2 cells, got shape {arr.shape}.")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError("microstructure: phase indices must be integers.")
    elif arr.dtype.kind not in "iub":
        raise InputError(f"microstructure: phase indices must be integers, got {arr.dtype}.")
    arr = arr.astype(np.int32)
    if arr.min() < 0:
        raise InputError("microstructure: phase indices must be >= 0.")
    missing = sorted(set(range(int(arr.max()) + 1)) - set(np.unique(arr).tolist()))
    if missing:
        raise InputError(
            f"microstructure: phases must be numbered 0..{int(arr.max())} without gaps; "
            f"phase(s) {missing} do not occur."
        )
    return arr


def _centres(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Pixel-centre coordinates in units of pixels, one open grid per axis."""
    return tuple(np.ogrid[tuple(slice(0, n) for n in shape)])


def laminate(shape, fraction: float, *, axis: int = 0, periods: int = 1) -> np.ndarray:
    """Layers normal to `axis`: phase 1 takes `fraction` of every period (rounded to whole
    cells; the realised fraction is `np.mean(m == 1)`)."""
    shape = _shape(shape, "laminate")
    f = _fraction(fraction, "laminate")
    if not 0 <= axis < len(shape):
        raise InputError(f"laminate: axis must be in 0..{len(shape) - 1}, got {axis}.")
    n = shape[axis]
    if periods < 1 or n % periods:
        raise InputError(f"laminate: periods must divide the {n} cells along axis {axis}.")
    cells = n // periods
    k = round(f * cells)
    if not 0 < k < cells:
        raise InputError(f"laminate: fraction {f} leaves a phase with no cell of {cells}.")
    layer = (np.arange(n) % cells < k).astype(np.int32)
    return np.broadcast_to(
        np.expand_dims(layer, [a for a in range(len(shape)) if a != axis]), shape
    ).copy()


def inclusion(shape, fraction: float) -> np.ndarray:
    """One centred disk (2D) or sphere (3D) of phase 1 in phase 0 with volume `fraction`."""
    shape = _shape(shape, "inclusion")
    f = _fraction(fraction, "inclusion")
    d = len(shape)
    n = min(shape)
    unit = math.pi if d == 2 else 4 * math.pi / 3
    radius = (f * math.prod(shape) / unit) ** (1 / d)
    if radius > n / 2:
        raise InputError(f"inclusion: fraction {f} needs a radius beyond the cell ({radius:.1f}).")
    r2 = sum((x + 0.5 - s / 2) ** 2 for x, s in zip(_centres(shape), shape, strict=True))
    return (r2 <= radius**2).astype(np.int32)


def checkerboard(shape, tiles: int = 2) -> np.ndarray:
    """A checkerboard of `tiles` squares (cubes) per axis; `tiles` must divide every axis."""
    shape = _shape(shape, "checkerboard")
    if tiles < 2 or tiles % 2 or any(n % tiles for n in shape):
        raise InputError(f"checkerboard: tiles must be even and divide every axis of {shape}.")
    index = sum(x * tiles // s for x, s in zip(_centres(shape), shape, strict=True))
    return (np.asarray(index) % 2).astype(np.int32)


def random_inclusions(shape, fraction: float, radius: float, *, seed: int = 0) -> np.ndarray:
    """Overlapping disks/spheres of `radius` (pixels) at random centres (periodic), added
    until phase 1 reaches `fraction` (to within one inclusion)."""
    shape = _shape(shape, "random_inclusions")
    f = _fraction(fraction, "random_inclusions")
    if not 0.5 <= radius < min(shape) / 2:
        raise InputError(f"random_inclusions: radius must be in [0.5, {min(shape) / 2}).")
    rng = np.random.default_rng(seed)
    out = np.zeros(shape, dtype=np.int32)
    centres = _centres(shape)
    total = math.prod(shape)
    while out.sum() < f * total:
        c = rng.uniform(0, shape)
        r2 = 0
        for x, s, ci in zip(centres, shape, c, strict=True):
            dx = np.abs(x + 0.5 - ci)
            r2 = r2 + np.minimum(dx, s - dx) ** 2
        out[r2 <= radius**2] = 1
    return out


def gaussian_field(
    shape, fraction: float, correlation_length: float, *, seed: int = 0
) -> np.ndarray:
    """A thresholded periodic Gaussian random field (Gaussian covariance of
    `correlation_length` pixels); phase 1 is exactly the top `fraction` of the field."""
    shape = _shape(shape, "gaussian_field")
    f = _fraction(fraction, "gaussian_field")
    if not correlation_length > 0:
        raise InputError("gaussian_field: correlation_length must be positive.")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(shape)
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    k2 = sum(q**2 for q in freqs)
    field = np.fft.ifftn(
        np.fft.fftn(noise) * np.exp(-2 * (math.pi * correlation_length) ** 2 * k2)
    ).real
    order = np.argsort(field, axis=None)
    out = np.zeros(math.prod(shape), dtype=np.int32)
    out[order[len(order) - round(f * len(order)) :]] = 1
    return out.reshape(shape)


def volume_fractions(microstructure) -> np.ndarray:
    """The realised volume fraction of every phase."""
    m = as_microstructure(microstructure)
    return np.bincount(m.ravel()) / m.size
