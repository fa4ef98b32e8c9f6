"""Concurrent multiscale: macroscopic models whose every cell carries an RVE with its own
micro state (FE^2 for transient conduction), checked, compiled and simulated like any
model; the resolved and hierarchical models of the same problem on the same elements, and
their comparison across scale ratios."""

from ._builders import (
    coarse_temperature as coarse_temperature,
    hierarchical_conduction as hierarchical_conduction,
    nested_conduction as nested_conduction,
    resolved_conduction as resolved_conduction,
)
from ._nested import NestedModel as NestedModel
from ._study import Comparison as Comparison, compare_models as compare_models
