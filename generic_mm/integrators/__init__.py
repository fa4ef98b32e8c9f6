"""Structure-preserving GENERIC time integrators, as Diffrax solvers."""

from ._chord import DENSE_LIMIT as DENSE_LIMIT, ChordNewton as ChordNewton
from ._discrete_gradient import (
    discrete_rate as discrete_rate,
    gonzalez as gonzalez,
    oblique_projector as oblique_projector,
)
from ._solvers import (
    TRIPLE_JUMP as TRIPLE_JUMP,
    DiscreteGradient as DiscreteGradient,
    DiscreteGradient4 as DiscreteGradient4,
)
from ._stochastic import StochasticDiscreteGradient as StochasticDiscreteGradient
