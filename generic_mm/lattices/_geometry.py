"""Bravais lattices: neighbour shells, reciprocal vectors, deformations and paths."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import InputError
from .._validate import real_array

TRIANGULAR = np.array([[1.0, 0.0], [0.5, np.sqrt(3.0) / 2]])
"""Primitive vectors of the triangular lattice at unit spacing (rows)."""


@dataclasses.dataclass(frozen=True)
class Shell:
    """One neighbour shell: every bond vector of one length, each bond once (half of the
    `+R`/`-R` pairs), in lattice coordinates (`offsets`) and at unit spacing (`vectors`)."""

    index: int
    distance: float
    offsets: np.ndarray  # (n_half, d) integers
    vectors: np.ndarray  # (n_half, d) Cartesian, unit spacing


def shells(basis: np.ndarray, count: int) -> list[Shell]:
    """The first `count` neighbour shells of the lattice with primitive vectors `basis`
    (rows, unit nearest-neighbour spacing)."""
    d = basis.shape[0]
    reach = count + 2
    axes = [np.arange(-reach, reach + 1)] * d
    offsets = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    offsets = offsets[np.any(offsets != 0, axis=1)]
    # each bond once: the first nonzero offset positive
    first = offsets[np.arange(len(offsets)), np.argmax(offsets != 0, axis=1)]
    offsets = offsets[first > 0]
    vectors = offsets @ basis
    norms = np.linalg.norm(vectors, axis=1)
    dist = np.round(norms, 9)  # grouping only: the shell keeps the unrounded distance
    levels = np.unique(dist)[:count]
    out = []
    for i, level in enumerate(levels):
        pick = dist == level
        order = np.lexsort(offsets[pick].T[::-1])
        out.append(
            Shell(
                i + 1,
                float(norms[pick][0]),
                offsets[pick][order],
                vectors[pick][order].astype(float),
            )
        )
    return out


def reciprocal(basis: np.ndarray) -> np.ndarray:
    """Reciprocal vectors `b` (rows) with `a_i . b_j = delta_ij` (no factor 2 pi)."""
    return np.linalg.inv(basis).T


def uniaxial(stretch: Any, angle: float = 0.0) -> np.ndarray:
    r"""$F = I + (\lambda - 1)\,e\otimes e$: a stretch $\lambda$ along $e = (\cos\theta,
    \sin\theta)$ with the transverse direction held (a uniaxial *strain*)."""
    lam = _stretch(stretch, "uniaxial")
    if isinstance(angle, bool) or not isinstance(angle, (int, float, np.number)):
        raise InputError(f"uniaxial: angle must be a number (radians), got {angle!r}.")
    e = np.array([np.cos(angle), np.sin(angle)])
    return np.eye(2) + (lam - 1.0) * np.outer(e, e)


def equibiaxial(stretch: Any) -> np.ndarray:
    r"""$F = \lambda I$: the same stretch in every direction."""
    return _stretch(stretch, "equibiaxial") * np.eye(2)


def _stretch(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InputError(f"{where}: the stretch must be a number, got {value!r}.")
    lam = float(value)
    if not (np.isfinite(lam) and lam > 0):
        raise InputError(f"{where}: the stretch must be positive and finite, got {value!r}.")
    return lam


PATHS: dict[str, Callable[..., np.ndarray]] = {"uniaxial": uniaxial, "equibiaxial": equibiaxial}


def deformation_gradient(value: Any, dim: int, where: str) -> np.ndarray:
    """A stretch (chains) or a 2x2 deformation gradient as a `(dim, dim)` float array with
    positive determinant."""
    expected = "a stretch" if dim == 1 else "a 2x2 deformation gradient"
    arr = np.array(real_array(value, where, expected=expected))
    if dim == 1 and arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.shape != (dim, dim):
        raise InputError(
            f"{where}: expected {'a number (the stretch)' if dim == 1 else 'shape (2, 2)'}, "
            f"got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{where}: expected finite numbers, got {value!r}.")
    if not np.linalg.det(arr) > 0:
        raise InputError(
            f"{where}: the deformation must keep orientation (a positive stretch, det F > 0); "
            f"got det F = {np.linalg.det(arr):g}."
        )
    return arr
