"""Fitting GENERIC models to data: parameters by nonlinear least squares through the solves
(`generic_mm.fit`), and learned constitutive parts inside a known structure
(`LearnedModel`, trained with `train`)."""

from ._constructions import (
    CasimirPoisson as CasimirPoisson,
    ProjectedFriction as ProjectedFriction,
    ProjectedSkew as ProjectedSkew,
    mlp as mlp,
)
from ._data import Experiment as Experiment, load_experiments as load_experiments
from ._fit import fit as fit
from ._learned import LearnedModel as LearnedModel
from ._params import Parameter as Parameter
from ._result import FitResult as FitResult
from ._train import (
    Rates as Rates,
    Training as Training,
    Trajectories as Trajectories,
    train as train,
)

__all__ = [
    "CasimirPoisson",
    "Experiment",
    "FitResult",
    "LearnedModel",
    "Parameter",
    "ProjectedFriction",
    "ProjectedSkew",
    "Rates",
    "Trajectories",
    "Training",
    "fit",
    "load_experiments",
    "mlp",
    "train",
]
