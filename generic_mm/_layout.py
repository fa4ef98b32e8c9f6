"""`StateLayout`: how the flat state vector `y` is made of named variables and fields.

A flat `GenericModel` has one scalar per name. A structured model has blocks: for each cell
kind, `count` cells each carrying the same local variables, stored cell-major
(`y[offset + i * k + j]` is variable `j` of cell `i`) and viewed as fields of the kind's
shape (a grid's shape, or `(count,)`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from ._errors import InputError
from ._expressions import closest
from ._validate import require_finite


@dataclasses.dataclass(frozen=True)
class Block:
    """`variables` repeated over cells of `shape` (`()` for plain scalars); a kind `name`."""

    name: str | None
    variables: tuple[str, ...]
    shape: tuple[int, ...]
    offset: int

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def size(self) -> int:
        return self.count * len(self.variables)


@dataclasses.dataclass(frozen=True, eq=False)
class StateLayout:
    """The named parts of a state vector. Hashable by identity (it is a static field)."""

    blocks: tuple[Block, ...]

    @classmethod
    def flat(cls, names: tuple[str, ...]) -> StateLayout:
        return cls((Block(None, tuple(names), (), 0),))

    @classmethod
    def fields(cls, kinds: list[tuple[str, tuple[str, ...], tuple[int, ...]]]) -> StateLayout:
        blocks, offset = [], 0
        for name, variables, shape in kinds:
            block = Block(name, tuple(variables), tuple(shape), offset)
            blocks.append(block)
            offset += block.size
        return cls(tuple(blocks))

    @property
    def n(self) -> int:
        return sum(b.size for b in self.blocks)

    @property
    def is_flat(self) -> bool:
        return len(self.blocks) == 1 and self.blocks[0].shape == ()

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names (flat models) or field names (structured models): `var`, or
        `kind.var` where kinds share a variable name."""
        table = self._lookup()
        out = []
        for b in self.blocks:
            for v in b.variables:
                out.append(v if v in table and table[v][0] is b else f"{b.name}.{v}")
        return tuple(out)

    def _lookup(self) -> dict[str, tuple[Block, int]]:
        table: dict[str, tuple[Block, int]] = {}
        short: dict[str, list[tuple[Block, int]]] = {}
        for b in self.blocks:
            for j, v in enumerate(b.variables):
                if b.name is not None:
                    table[f"{b.name}.{v}"] = (b, j)
                short.setdefault(v, []).append((b, j))
        for v, hits in short.items():
            if len(hits) == 1:
                table[v] = hits[0]
        return table

    def locate(self, name: str, where: str = "state") -> tuple[Block, int]:
        table = self._lookup()
        if not isinstance(name, str) or name not in table:
            raise InputError(
                f"{where}[{name!r}]: not a state variable{closest(str(name), table)}; "
                f"the state is {list(self.names)}."
            )
        return table[name]

    def index(self, name: str) -> int:
        block, j = self.locate(name)
        if block.shape != ():
            raise InputError(f"{name!r} is a field of shape {block.shape}, not one variable.")
        return block.offset + j

    def select(self, ys: Any, name: str) -> Any:
        """The variable or field `name` from states of shape `(..., n)`."""
        block, j = self.locate(name, "trajectory")
        if block.shape == ():
            return ys[..., block.offset + j]
        part = ys[..., block.offset : block.offset + block.size]
        part = part.reshape(*part.shape[:-1], *block.shape, len(block.variables))
        return part[..., j]

    def pack(self, values: Mapping[str, Any], where: str = "y0") -> jnp.ndarray:
        """A state vector `(n,)` from one value per name: numbers, or arrays of a field's shape
        (a number fills the whole field)."""
        given: dict[tuple[int, int], Any] = {}
        for name, value in values.items():
            block, j = self.locate(name, where)
            key = (self.blocks.index(block), j)
            if key in given:
                raise InputError(f"{where}: {name!r} is given twice.")
            a = jnp.asarray(value, dtype=float)
            if a.shape not in ((), block.shape):
                raise InputError(
                    f"{where}[{name!r}]: expected a number or an array of shape {block.shape}, "
                    f"got shape {a.shape}."
                )
            require_finite(a, f"{where}[{name!r}]")
            given[key] = jnp.broadcast_to(a, block.shape)
        parts = []
        for bi, b in enumerate(self.blocks):
            missing = [v for j, v in enumerate(b.variables) if (bi, j) not in given]
            if missing:
                what = ", ".join(repr(v if b.name is None else f"{b.name}.{v}") for v in missing)
                raise InputError(f"{where}: missing initial value(s) for {what}.")
            cols = [given[bi, j].reshape(-1) for j in range(len(b.variables))]
            parts.append(jnp.stack(cols, axis=-1).reshape(-1))
        return jnp.concatenate(parts)

    def describe(self, y: Any) -> str:
        """One line: every value of a flat state; min/max of every field of a structured one."""
        y = np.asarray(y)
        if self.is_flat:
            return ", ".join(f"{n}={v:.6g}" for n, v in zip(self.blocks[0].variables, y))
        out = []
        for name in self.names:
            f = np.asarray(self.select(y, name))
            out.append(f"{name} in [{f.min():.6g}, {f.max():.6g}]")
        return ", ".join(out)
