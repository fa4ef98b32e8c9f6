"""Regular grids and edge lists: the graphs that structured models live on."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._errors import ModelError

_FACES = ("x-", "x+", "y-", "y+", "z-", "z+")


class Grid:
    r"""A 1D, 2D or 3D regular grid of cells, numbered in C order (`np.ravel_multi_index`).

    **Arguments:**

    - `shape`: cells per axis, e.g. `(64,)` or `(128, 128)`.
    - `periodic`: `True`/`False` for all axes or one flag per axis. A non-periodic axis is
        insulated unless something is attached to its faces (e.g. a reservoir, through
        [`generic_mm.structured.Grid.face_edges`][]).
    - `spacing`: cell size per axis (a number for all axes).

    **Example:** `Grid((64, 32), periodic=(True, False)).edges` lists every pair of
    neighbouring cells once, shape `(n_edges, 2)`.
    """

    def __init__(
        self,
        shape: int | Sequence[int],
        *,
        periodic: bool | Sequence[bool] = False,
        spacing: float | Sequence[float] = 1.0,
    ):
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if not 1 <= len(shape) <= 3 or any(
            not isinstance(s, (int, np.integer)) or s < 1 for s in shape
        ):
            raise ModelError(f"Grid: shape must be 1 to 3 positive integers, got {shape!r}.")
        d = len(shape)
        flags = (periodic,) * d if isinstance(periodic, bool) else tuple(periodic)
        if len(flags) != d or not all(isinstance(f, bool) for f in flags):
            raise ModelError(f"Grid: periodic must be a bool or {d} bools, got {periodic!r}.")
        for axis, (n, f) in enumerate(zip(shape, flags)):
            if f and n < 3:
                raise ModelError(
                    f"Grid: a periodic axis needs at least 3 cells (axis {axis} has {n}): with "
                    "fewer, neighbours repeat."
                )
        h = (spacing,) * d if isinstance(spacing, (int, float)) else tuple(spacing)
        if len(h) != d or not all(math.isfinite(x) and x > 0 for x in h):
            raise ModelError(f"Grid: spacing must be positive, one per axis; got {spacing!r}.")
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.periodic: tuple[bool, ...] = flags
        self.spacing: tuple[float, ...] = tuple(float(x) for x in h)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def count(self) -> int:
        """The number of cells."""
        return math.prod(self.shape)

    def axis_edges(self, axis: int) -> np.ndarray:
        """Neighbour pairs `(i, j)` along `axis` (j one step further), shape `(n, 2)`."""
        if not 0 <= axis < self.ndim:
            raise ModelError(f"Grid.axis_edges: axis must be in [0, {self.ndim}), got {axis}.")
        idx = np.arange(self.count).reshape(self.shape)
        nxt = np.roll(idx, -1, axis=axis)
        if not self.periodic[axis]:
            keep = [slice(None)] * self.ndim
            keep[axis] = slice(0, self.shape[axis] - 1)
            idx, nxt = idx[tuple(keep)], nxt[tuple(keep)]
        return np.stack([idx.reshape(-1), nxt.reshape(-1)], axis=1)

    @property
    def edges(self) -> np.ndarray:
        """All neighbour pairs, axis by axis, shape `(n_edges, 2)`."""
        return np.concatenate([self.axis_edges(a) for a in range(self.ndim)])

    def face(self, name: str) -> np.ndarray:
        """Indices of the cells on a face: `"x-"`, `"x+"`, `"y-"`, `"y+"`, `"z-"`, `"z+"`."""
        if name not in _FACES[: 2 * self.ndim]:
            raise ModelError(
                f"Grid.face: unknown face {name!r}; a {self.ndim}D grid has faces "
                f"{list(_FACES[: 2 * self.ndim])}."
            )
        axis, last = _FACES.index(name) // 2, name.endswith("+")
        if self.periodic[axis]:
            raise ModelError(f"Grid.face: axis {axis} is periodic; it has no face {name!r}.")
        idx = np.arange(self.count).reshape(self.shape)
        return np.take(idx, -1 if last else 0, axis=axis).reshape(-1)

    def face_edges(self, name: str, other: int = 0) -> np.ndarray:
        """Pairs `(cell on face name, other)`: every face cell joined to one cell `other` of
        another kind (e.g. a reservoir), shape `(n_face, 2)`."""
        cells = self.face(name)
        return np.stack([cells, np.full_like(cells, other)], axis=1)

    def area_over_spacing(self, axis: int) -> float:
        """$A/h$ of a face normal to `axis`: the cell's cross-section $A$ (the product of
        the other spacings) over its spacing $h$ along `axis`. Times a conductivity, the
        conductance between two cell centres one step apart."""
        if not 0 <= axis < self.ndim:
            raise ModelError(
                f"Grid.area_over_spacing: axis must be in [0, {self.ndim}), got {axis}."
            )
        area = math.prod(h for d, h in enumerate(self.spacing) if d != axis)
        return area / self.spacing[axis]

    def edge_geometry(self) -> np.ndarray:
        """[`area_over_spacing`][generic_mm.structured.Grid.area_over_spacing] of every
        edge, in the order of [`edges`][generic_mm.structured.Grid.edges], shape
        `(n_edges,)`."""
        per_axis = [
            np.full(len(self.axis_edges(a)), self.area_over_spacing(a)) for a in range(self.ndim)
        ]
        return np.concatenate(per_axis)

    def face_geometry(self, name: str) -> np.ndarray:
        """[`area_over_spacing`][generic_mm.structured.Grid.area_over_spacing] of the faces
        of the cells on face `name`, in the order of
        [`face`][generic_mm.structured.Grid.face], shape `(n_face,)`."""
        cells = self.face(name)
        return np.full(len(cells), self.area_over_spacing(_FACES.index(name) // 2))

    def coordinates(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates per axis, each of the grid's shape."""
        axes = [(np.arange(n) + 0.5) * h for n, h in zip(self.shape, self.spacing)]
        return tuple(np.meshgrid(*axes, indexing="ij"))

    def __repr__(self) -> str:
        return f"Grid(shape={self.shape}, periodic={self.periodic}, spacing={self.spacing})"


def as_edges(edges, sides: Sequence[tuple[str, int]], where: str) -> np.ndarray:
    """Validate an edge list: integers of shape `(n, arity)`, each column within its side's
    cell count (`sides`: one `(kind name, count)` per column); no cell joined to itself."""
    arity = len(sides)
    try:
        arr = np.asarray(edges)
    except Exception:  # noqa: BLE001 - anything unconvertible is reported the same way
        raise ModelError(f"{where}: expected an integer array of cell indices.") from None
    if arity == 1 and arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != arity:
        raise ModelError(
            f"{where}: expected an integer array of shape (n_edges, {arity}), got {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ModelError(f"{where}: the edge list is empty.")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ModelError(f"{where}: cell indices must be integers, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    for j, (kind, n) in enumerate(sides):
        bad = (arr[:, j] < 0) | (arr[:, j] >= n)
        if bad.any():
            k = int(np.argmax(bad))
            raise ModelError(
                f"{where}: entry {k} refers to cell {int(arr[k, j])} of {kind!r} (side {j}), "
                f"which has cells 0..{n - 1}."
            )
    for j in range(arity):
        for k in range(j + 1, arity):
            if sides[j][0] == sides[k][0]:
                same = arr[:, j] == arr[:, k]
                if same.any():
                    e = int(np.argmax(same))
                    raise ModelError(
                        f"{where}: entry {e} joins cell {int(arr[e, j])} of {sides[j][0]!r} "
                        "to itself."
                    )
    return arr
