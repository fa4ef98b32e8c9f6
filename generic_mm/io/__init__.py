"""Model files: `load_model` and `save_model` (TOML), and the safe expression parser."""

from ._guard import Guard as Guard
from ._modelfile import (
    MAX_COUNT as MAX_COUNT,
    load_model as load_model,
    save_model as save_model,
)
from ._parser import (
    CONSTANTS as CONSTANTS,
    FUNCTIONS as FUNCTIONS,
    ExpressionError as ExpressionError,
    parse_expression as parse_expression,
)
from ._solvers import (
    SDE_SOLVERS as SDE_SOLVERS,
    SOLVERS as SOLVERS,
    make_solver as make_solver,
    takes_fixed_steps as takes_fixed_steps,
)
