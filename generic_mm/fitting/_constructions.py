r"""The constructions that keep a learned part inside the GENERIC structure.

- `ProjectedFriction`: $M = (PA)(PA)^T$ with $A(x)$ learned ($m\times r$ on the chosen
  variables) and $P = I - \nabla E\,\nabla E^T/|\nabla E|^2$ (on those variables): symmetric
  and positive semi-definite exactly, $M\nabla E = 0$ to round-off.
- `ProjectedSkew`: $L = PAP$ with $A$ learned and skew, $P = I - \nabla S\,\nabla S^T/|\nabla
  S|^2$: antisymmetric exactly, $L\nabla S = 0$ to round-off; the Jacobi identity is not
  implied and is judged by sampling.
- `CasimirPoisson`: $L = U^{-1}J_0U^{-T}$, constant, with $U$ learned and $J_0$ canonical on
  the first $2k$ coordinates of $z = Ux$ and zero on the rest: antisymmetric and Jacobi
  exactly (a constant operator); any entropy that depends on $x$ only through the remaining
  coordinates (`casimirs(x, p)`) satisfies $L\nabla S = 0$.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import InputError

__all__ = ["CasimirPoisson", "ProjectedFriction", "ProjectedSkew", "mlp"]


def mlp(
    in_size: int | Literal["scalar"],
    out_size: int | Literal["scalar"],
    *,
    width: int = 32,
    depth: int = 2,
    key: Any,
    activation: Callable = jax.nn.tanh,
    scale: float = 1.0,
) -> eqx.nn.MLP:
    """A float64 `equinox.nn.MLP` (tanh by default, smooth: the structure differentiates
    it); `in_size`/`out_size` as equinox takes them (`"scalar"` for a scalar). `scale`
    multiplies the last layer's initial weights (a small learned correction starts small)."""
    net = eqx.nn.MLP(
        in_size, out_size, width, depth, activation=activation, key=key, dtype=jnp.float64
    )
    if scale != 1.0:
        last = net.layers[-1]
        net = eqx.tree_at(lambda n: n.layers[-1].weight, net, last.weight * scale)
        if last.bias is not None:
            net = eqx.tree_at(lambda n: n.layers[-1].bias, net, last.bias * scale)
    return net


def _value(p: Mapping[str, Any], name: str, x: jax.Array) -> jax.Array:
    """A learned part's output at `x`: a module is called, an array is taken as is."""
    part = p[name]
    return jnp.asarray(part(x) if callable(part) else part)


def _projector(g: jax.Array) -> jax.Array:
    """$I - gg^T/|g|^2$ (the identity where $g = 0$)."""
    norm2 = jnp.dot(g, g)
    safe = jnp.where(norm2 > 0, norm2, 1.0)
    return jnp.eye(g.shape[0]) - jnp.where(norm2 > 0, 1.0, 0.0) * jnp.outer(g, g) / safe


@dataclasses.dataclass(frozen=True, eq=False)
class ProjectedFriction:
    r"""A learned dissipative process $M = (PA)(PA)^T$ acting on the variables `on` (all by
    default), $P = I - gg^T/|g|^2$ with $g$ the energy gradient restricted to `on`: symmetric
    and positive semi-definite by construction, $M\nabla E = 0$ to round-off.

    - `param`: the parameter holding the learned factor: a module mapping the model's
      input features (the state by default; see `LearnedModel(features=)`) to
      `len(on) * rank` numbers, or a constant array of that size.
    - `on`: the variables the process couples (names); `None`: all.
    - `rank`: the number of independent channels (columns of $A$); default `len(on)`.
    """

    param: str
    on: tuple[str, ...] | None = None
    rank: int | None = None

    def __post_init__(self):
        if self.on is not None:
            on = tuple(self.on)
            if not on or len(set(on)) != len(on):
                raise InputError(
                    f"ProjectedFriction({self.param!r}): on names each variable once, got {on}."
                )
            object.__setattr__(self, "on", on)
        if self.rank is not None and (
            not isinstance(self.rank, int) or isinstance(self.rank, bool) or self.rank < 1
        ):
            raise InputError(
                f"ProjectedFriction({self.param!r}): rank must be a positive integer, got "
                f"{self.rank!r}."
            )

    def matrix(self, x, features, p, gE, index: tuple[int, ...]) -> jax.Array:
        m = len(index)
        rank = self.rank or m
        A = _value(p, self.param, features).reshape(m, rank)
        idx = jnp.asarray(index)
        PA = _projector(gE[idx]) @ A
        block = PA @ PA.T
        return jnp.zeros((x.shape[0], x.shape[0]), block.dtype).at[jnp.ix_(idx, idx)].set(block)

    def outputs(self, m: int) -> int:
        return m * (self.rank or m)


@dataclasses.dataclass(frozen=True, eq=False)
class ProjectedSkew:
    r"""A learned reversible coupling $L = PAP$, $A = B - B^T$ from the learned $B$
    (`param`: a module of the input features with `n * n` outputs, or a constant `(n, n)`
    array), $P = I - \nabla S\,\nabla S^T/|\nabla S|^2$: antisymmetric by construction,
    $L\nabla S = 0$ to round-off. The Jacobi identity does not follow and is judged by
    `generic_mm.check`."""

    param: str

    def matrix(self, x, features, p, gS) -> jax.Array:
        n = x.shape[0]
        B = _value(p, self.param, features).reshape(n, n)
        P = _projector(gS)
        X = P @ (B - B.T) @ P
        return 0.5 * (X - X.T)  # antisymmetric to the last bit

    def outputs(self, n: int) -> int:
        return n * n


@dataclasses.dataclass(frozen=True, eq=False)
class CasimirPoisson:
    r"""A learned constant Poisson operator $L = U^{-1}J_0U^{-T}$ with $U$ the `(n, n)` array
    in parameter `param` (learned; start it at the identity) and $J_0$ canonical on the first
    `2 * pairs` coordinates of $z = Ux$ (pairs $(z_{2i}, z_{2i+1})$) and zero on the rest.
    $L$ is antisymmetric and satisfies Jacobi exactly (it is constant). Its Casimirs are the
    functions of the last `n - 2 * pairs` coordinates, `casimirs(x, p)`: an entropy written
    through them has $L\nabla S = 0$ exactly."""

    param: str
    pairs: int

    def _J0(self, n: int) -> jax.Array:
        J = np.zeros((n, n))
        for i in range(self.pairs):
            J[2 * i, 2 * i + 1], J[2 * i + 1, 2 * i] = 1.0, -1.0
        return jnp.asarray(J)

    def matrix(self, x, features, p, gS) -> jax.Array:
        del features, gS
        U = jnp.asarray(p[self.param])
        B = jnp.linalg.solve(U, self._J0(x.shape[0]))  # U^{-1} J0
        X = jnp.linalg.solve(U, B.T).T  # U^{-1} J0 U^{-T}
        return 0.5 * (X - X.T)  # antisymmetric to the last bit

    def casimirs(self, x: jax.Array, p: Mapping[str, Any]) -> jax.Array:
        """The coordinates $(Ux)_{2k:}$ on which $L$ vanishes (write $S$ through them)."""
        return (jnp.asarray(p[self.param]) @ x)[2 * self.pairs :]


Construction = ProjectedFriction | ProjectedSkew | CasimirPoisson
