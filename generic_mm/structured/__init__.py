"""Structured models: cell templates and interaction templates over lattices, grids and graphs."""

from ._graph import Grid as Grid
from ._model import FLAT_LIMIT as FLAT_LIMIT, StructuredModel as StructuredModel
from ._physics import (
    entropic_exchange as entropic_exchange,
    heat_conduction as heat_conduction,
)
from ._templates import Cells as Cells, Interaction as Interaction, Side as Side
