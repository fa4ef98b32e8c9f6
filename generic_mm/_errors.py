"""Exception classes. Every one of them says where the problem is and what to do."""


class ModelError(ValueError):
    """A `GenericModel` was given something it cannot use.

    The message names the field (`energy`, `poisson`, ...), the entry where there is one
    (`friction[1, 2]`), what was received and what was expected.
    """


class ConsistencyError(ValueError):
    """A model failed a thermodynamic consistency condition.

    Raised by `generic_mm.compile` and `generic_mm.simulate` when `check=True`; the attached
    `report` (a `ConsistencyReport`) names the failed conditions and their counterexamples.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class SimulationError(RuntimeError):
    """A time integration failed (non-finite state, `max_steps` reached, step size collapse).

    The message gives the time and state where the solver stopped and what to try.
    """


class SolverError(RuntimeError):
    """An iterative solve (e.g. an RVE cell problem) did not converge; the message says which
    and what to try."""


class InputError(ValueError):
    """Arguments to `simulate` or `check` (initial state, parameters, times) are malformed."""


class ModelFileError(ValueError):
    """A model file could not be read: the message names the file, the table and key (and the
    matrix entry) and says what is wrong."""
