"""generic_mm: thermodynamically consistent modeling in the GENERIC formalism.

Importing `generic_mm` enables JAX's 64-bit mode: the consistency checks and the
conservation properties need float64.
"""

import importlib.metadata

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from ._checks import check as check
from ._compiled import (
    CompiledModel as CompiledModel,
    GenericTerm as GenericTerm,
    compile as compile,
)
from ._config import enable_compilation_cache as enable_compilation_cache
from ._errors import (
    ConsistencyError as ConsistencyError,
    InputError as InputError,
    ModelError as ModelError,
    ModelFileError as ModelFileError,
    SimulationError as SimulationError,
    SolverError as SolverError,
)
from ._model import (
    AbstractModel as AbstractModel,
    GenericModel as GenericModel,
    SourceForm as SourceForm,
)
from ._plot import plot as plot
from ._region import ParameterSpec as ParameterSpec
from ._report import (
    CONDITIONS as CONDITIONS,
    CheckResult as CheckResult,
    ConsistencyReport as ConsistencyReport,
)
from ._simulate import simulate as simulate
from ._trajectory import (
    Conjugates as Conjugates,
    Trajectory as Trajectory,
    load_trajectory as load_trajectory,
)
from .fitting import (
    Experiment as Experiment,
    FitResult as FitResult,
    fit as fit,
)
from .integrators import (
    ChordNewton as ChordNewton,
    DiscreteGradient as DiscreteGradient,
    DiscreteGradient4 as DiscreteGradient4,
    StochasticDiscreteGradient as StochasticDiscreteGradient,
)
from .io import load_model as load_model, save_model as save_model

__version__ = importlib.metadata.version("generic_mm")
