"""jaxtyping aliases shared across the package (documentation and runtime checks)."""

from jaxtyping import Array, ArrayLike, Float

State = Float[Array, " n"]
"""One state vector."""

BatchedState = Float[Array, "*batch n"]
"""A state vector, optionally with leading batch axes."""

Matrix = Float[Array, "n n"]
"""An operator (Poisson or friction matrix) at one state."""

Scalar = Float[Array, ""]
"""A scalar such as the energy or entropy of one state."""

RealScalarLike = float | int | Float[ArrayLike, ""]
"""A Python number or a 0-d array."""

__all__ = ["State", "BatchedState", "Matrix", "Scalar", "RealScalarLike"]
