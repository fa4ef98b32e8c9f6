"""Structure-preserving GENERIC time integrators, as Diffrax solvers."""

from ._discrete_gradient import (
    DENSE_LIMIT as DENSE_LIMIT,
    DiscreteGradient as DiscreteGradient,
    discrete_rate as discrete_rate,
    gonzalez as gonzalez,
    oblique_projector as oblique_projector,
)
from ._stochastic import StochasticDiscreteGradient as StochasticDiscreteGradient
