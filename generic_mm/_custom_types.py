"""jaxtyping aliases shared across the package (documentation and runtime checks).

Shapes are written here only: a dimension string inside a signature is parsed as a
forward reference by typeguard's instrumentation (which the tests run under), and fails.
"""

import equinox as eqx
from jaxtyping import Array, ArrayLike, Bool, Float, Int

State = Float[Array, " n"]
"""One state vector."""

StateLike = Float[ArrayLike, " n"]
"""One state vector as an argument: a JAX or NumPy array."""

BatchedState = Float[Array, "*batch n"]
"""A state vector, optionally with leading batch axes."""

Matrix = Float[Array, "n n"]
"""An operator (Poisson or friction matrix) at one state."""

Scalar = Float[Array, ""]
"""A scalar such as the energy or entropy of one state."""

RealScalarLike = float | int | Float[ArrayLike, ""]
"""A Python number or a 0-d array."""

ParamLeaf = Float[Array, " *shape"] | eqx.Module
"""A parameter value of a compiled model: a scalar, one value per cell or edge, or a
learned part (an `equinox.Module`, such as a neural network, whose arrays are its
parameters: `generic_mm.fitting`)."""

DataLeaf = Int[Array, " ..."]
"""Integer data of a compiled model, such as an edge list."""

Times = Float[Array, "*tbatch T"]
"""Saved times: `(T,)`, shared by an ensemble, or `(B, T)` when each member saves at its
own solver steps."""

Series = Float[Array, "*batch T"]
"""A scalar at `T` saved times, optionally with leading (ensemble) batch axes."""

StateSeries = Float[Array, "*batch T n"]
"""States at `T` saved times, optionally with leading batch axes."""

FieldSeries = Float[Array, "..."]
"""One variable or field at `T` saved times: shape `(*batch, T, *field)` (jaxtyping allows
one variadic axis group, so only the dtype is checked)."""

Flags = Bool[Array, "*batch T"]
"""One flag per saved time, optionally with leading batch axes."""

BatchedScalar = Float[Array, "*batch"]
"""One number per ensemble member (a 0-d array without an ensemble)."""

BatchedCount = Int[Array, "*batch"]
"""One count per ensemble member (a 0-d array without an ensemble)."""

Tensor = Float[Array, "a b"]
"""An effective material tensor (Voigt stiffness, conductivity, ...)."""

LoadCases = Float[Array, "k k"]
"""Mean gradients or fluxes of the `k` load cases of a cell problem, one column per case."""

__all__ = [
    "State",
    "StateLike",
    "BatchedState",
    "Matrix",
    "Scalar",
    "RealScalarLike",
    "ParamLeaf",
    "DataLeaf",
    "Times",
    "Series",
    "StateSeries",
    "FieldSeries",
    "Flags",
    "BatchedScalar",
    "BatchedCount",
    "Tensor",
    "LoadCases",
]
