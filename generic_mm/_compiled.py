"""`CompiledModel` (an `equinox.Module`) and `generic_mm.compile`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array

from ._checks import check as _check
from ._codegen import AbstractFunctions
from ._custom_types import DataLeaf, Matrix, ParamLeaf, RealScalarLike, Scalar, State, StateLike
from ._errors import InputError
from ._expressions import closest
from ._layout import StateLayout
from ._model import AbstractModel
from ._region import ParameterSpec, validate_overrides


class CompiledModel(eqx.Module):
    r"""A GENERIC model compiled to JAX: $\dot x = L\nabla E + M\nabla S$ and its observables.

    Parameters are array leaves (`params`, a dict name -> 0-d float64 array), so `jax.grad`
    with respect to them works through `diffrax.diffeqsolve`, and `jax.vmap` over them needs
    no recompilation. All methods act on one state `y` of shape `(n,)`; `jax.vmap` them for
    batches.

    Obtain one with [`generic_mm.compile`][]; use [`generic_mm.CompiledModel.term`][] to hand
    it to `diffrax.diffeqsolve` directly.
    """

    params: dict[str, ParamLeaf]
    data: dict[str, DataLeaf]
    layout: StateLayout = eqx.field(static=True)
    name: str = eqx.field(static=True)
    checked: bool = eqx.field(static=True)
    functions: AbstractFunctions = eqx.field(static=True)
    specs: _Specs = eqx.field(static=True)

    @property
    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        """Name -> `ParameterSpec`: sign assumptions and declared domains that parameter
        overrides are validated against."""
        return self.specs.specs

    @property
    def warns(self) -> bool:
        """Whether parameter values outside the sampled region draw a warning: the model
        was checked and some condition was judged by sampling (not proved symbolically)."""
        return self.checked and self.specs.sampled

    @property
    def n(self) -> int:
        """The number of state variables."""
        return self.layout.n

    @property
    def state_names(self) -> tuple[str, ...]:
        """The state variables' names (a structured model: its fields' names)."""
        return self.layout.names

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names, in the order of the generated code's parameter vector."""
        return tuple(sorted(self.params))

    def _p(self, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        values: dict[str, object] = dict(self.params)
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise InputError(
                    f"args: expected None or a mapping parameter name -> value, got "
                    f"{type(overrides).__name__}."
                )
            for key, value in overrides.items():
                if key not in values:
                    raise InputError(f"args[{key!r}]: not a parameter{closest(str(key), values)}.")
                values[key] = value
        return values

    def vector_field(self, t: RealScalarLike, y: StateLike, args: Mapping | None = None) -> State:
        r"""$\dot x = L(x)\nabla E(x) + M(x)\nabla S(x)$, with the signature diffrax expects.

        `args` is `None` (use `self.params`) or a mapping of parameter overrides.
        """
        del t
        return self.functions.rates(y, self._p(args), self.data)

    def energy(self, y: StateLike) -> Scalar:
        """$E(x)$."""
        return self.functions.thermodynamics(y, self._p(), self.data)[0]

    def entropy(self, y: StateLike) -> Scalar:
        """$S(x)$."""
        return self.functions.thermodynamics(y, self._p(), self.data)[1]

    def entropy_production(self, y: StateLike) -> Scalar:
        r"""$\nabla S\cdot M\nabla S \ge 0$, the rate of entropy production."""
        return self.functions.thermodynamics(y, self._p(), self.data)[2]

    def thermodynamics(self, y: StateLike) -> tuple[Scalar, Scalar, Scalar]:
        """`(E, S, entropy production)` at `y`, evaluated together (shared subexpressions)."""
        return self.functions.thermodynamics(y, self._p(), self.data)

    def observables(self, y: StateLike) -> dict[str, Array]:
        """The model's observables at `y`: name -> value (for per-cell observables of a
        structured model, a field of the cell kind's shape)."""
        return self.functions.observables(y, self._p(), self.data)

    def production_by_process(self, y: StateLike) -> dict[str, Scalar]:
        r"""Process name -> $\nabla S\cdot M_k\nabla S$; the values sum to
        `entropy_production(y)`."""
        return self.functions.production_by_process(y, self._p(), self.data)

    def record(self, y: StateLike) -> dict[str, Any]:
        """Everything a trajectory saves at `y` (E, S, production total and per process,
        observables, grad E, grad S), evaluated in one pass."""
        return self.functions.record(y, self._p(), self.data)

    @property
    def observable_names(self) -> tuple[str, ...]:
        """The names of the observables."""
        return self.functions.observable_names

    @property
    def process_names(self) -> tuple[str, ...]:
        """The names of the dissipative processes."""
        return self.functions.process_names

    @property
    def units(self) -> dict[str, str]:
        """Name -> unit, as the model declares them."""
        return dict(self.specs.units)

    def gradients(self, y: StateLike) -> tuple[State, State]:
        r"""`(grad E, grad S)` at `y`, evaluated together."""
        return self.functions.gradients(y, self._p(), self.data)

    def grad_energy(self, y: StateLike) -> State:
        r"""$\nabla E(x)$ (derived symbolically)."""
        return self.functions.gradients(y, self._p(), self.data)[0]

    def grad_entropy(self, y: StateLike) -> State:
        r"""$\nabla S(x)$ (derived symbolically)."""
        return self.functions.gradients(y, self._p(), self.data)[1]

    def poisson(self, y: StateLike) -> Matrix:
        """The Poisson operator $L(x)$."""
        return self.functions.operators(y, self._p(), self.data)[0]

    def friction(self, y: StateLike) -> Matrix:
        """The friction operator $M(x)$."""
        return self.functions.operators(y, self._p(), self.data)[1]

    def operators(self, y: StateLike) -> tuple[Matrix, Matrix, State, State]:
        r"""`(L, M, grad E, grad S)` at `y`, evaluated together."""
        return self.functions.operators(y, self._p(), self.data)

    def apply(
        self, y: StateLike, v_poisson: StateLike, v_friction: StateLike
    ) -> tuple[State, State]:
        """`(L(y) v_poisson, M(y) v_friction)` without forming `L` or `M` (for structured
        models; a flat model multiplies its dense operators)."""
        return self.functions.apply(y, self._p(), self.data, v_poisson, v_friction)

    def divergence(self, y: StateLike) -> State:
        r"""$\mathrm{div}\,M$, $(\mathrm{div}\,M)_i = \sum_j\partial M_{ij}/\partial x_j$
        (derived symbolically): fluctuating GENERIC's Ito drift is $k_B$ times it."""
        return self.functions.divergence(y, self._p(), self.data)

    @property
    def noise_dim(self) -> int:
        """The number of independent Wiener processes of the noise (one per variable in
        the support of each dissipative process, per edge for structured models)."""
        return self.functions.noise_dim(self.data)

    def noise_operator(
        self, y: StateLike, scale: RealScalarLike = 1.0
    ) -> lx.AbstractLinearOperator:
        r"""`scale` times a factor $B(y)$ of the friction operator, $BB^T = M$, as a Lineax
        operator from Wiener increments (shape `(noise_dim,)`) to the state (with
        `scale` $=\sqrt{2k_B}$ it is the noise of fluctuating GENERIC). Each dissipative
        process is factored on its own support; no dense `n x n` matrix for structured
        models."""
        return self.functions.noise_operator(y, self._p(), self.data, scale)

    def fields(self, y: StateLike) -> dict[str, dict[str, Array]]:
        """Per cell kind: `energy`, `entropy` and `entropy_production` densities as arrays
        of the kind's shape (structured models only). Interaction energies and entropy
        production are shared equally by the cells an interaction joins, so each field
        sums to its total."""
        return self.functions.fields(y, self._p(), self.data)

    @property
    def term(self) -> GenericTerm:
        """The model as a Diffrax term, for `diffrax.diffeqsolve` with any solver.

        It behaves as `diffrax.ODETerm(self.vector_field)` and also carries the model, which
        structure-preserving solvers such as [`generic_mm.DiscreteGradient`][] need.
        """
        return GenericTerm(self)

    def with_params(self, **values) -> CompiledModel:
        """A copy with some parameter values replaced (by name); arrays allowed."""
        new = dict(self.params)
        for key, value in values.items():
            if key not in new:
                raise InputError(f"with_params: {key!r} is not a parameter{closest(key, new)}.")
            new[key] = jnp.asarray(value, dtype=float)
        validate_overrides(self.parameter_specs, values, "with_params", warn=self.warns)
        return eqx.tree_at(lambda c: c.params, self, new)

    def index(self, name: str) -> int:
        """The position of the state variable `name`."""
        return self.layout.index(name)


def compile(model: AbstractModel, *, check: bool = True) -> CompiledModel:
    """Compile a model (`GenericModel`, `StructuredModel`, ...) to a
    [`generic_mm.CompiledModel`][].

    Code is generated once per model (with common-subexpression elimination) and cached:
    compiling the same model again returns the same object, so jitted functions of it are
    not retraced.

    **Arguments:**

    - `model`: the symbolic model.
    - `check`: run [`generic_mm.check`][] first (cached) and raise `ConsistencyError` if a
        condition fails. With `check=False` the compiled model is marked unchecked and
        `simulate` refuses it unless also given `check=False`.

    **Returns:** a `CompiledModel`.
    """
    if not isinstance(model, AbstractModel):
        raise InputError(
            f"compile: expected a model (GenericModel, StructuredModel, ...), got "
            f"{type(model).__name__}."
        )
    sampled = False
    if check:
        report = _check(model)
        report.raise_if_failed()
        results = [*report, *(r for part in report.processes.values() for r in part)]
        sampled = any(r.method == "sampled" for r in results)
    return model.cached(("compiled", bool(check)), lambda: _build(model, bool(check), sampled))


def _build(model: AbstractModel, checked: bool, sampled: bool = False) -> CompiledModel:
    params, data, layout, functions = model.compile_parts()
    return CompiledModel(
        params=params,
        data=data,
        layout=layout,
        name=model.name,
        checked=checked,
        functions=functions,
        specs=_Specs(model.parameter_specs(), model.state_specs(), model.units, sampled),
    )


class _Specs:
    """The parameter and state specs of a compiled model: a static field, hashed by
    identity."""

    def __init__(
        self,
        specs: Mapping[str, ParameterSpec],
        states: Mapping[str, Any],
        units: Mapping[str, str],
        sampled: bool = False,
    ):
        self.specs = dict(specs)
        self.states = dict(states)
        self.units = dict(units)
        # Did the check judge any condition by sampling a region? Only then can a value
        # outside that region be unverified (a symbolic proof holds everywhere).
        self.sampled = sampled


class GenericTerm(diffrax.AbstractTerm):
    r"""A Diffrax term for $\dot x = L\nabla E + M\nabla S$ that carries its `CompiledModel`.

    For ordinary solvers it is the ODE term of `model.vector_field` (control: time). Pass
    the compiled model as `args` (`diffeqsolve(cm.term, solver, ..., args=cm)`): then the
    vector field is that model's, and structure-preserving solvers such as
    [`generic_mm.DiscreteGradient`][] read $E$, $S$, $L$ and $M$ from it. `args` may also be
    `None` or a mapping of parameter overrides (ordinary solvers only). Obtain one from
    [`generic_mm.CompiledModel.term`][].
    """

    model: CompiledModel

    def vf(self, t, y, args):
        # A CompiledModel as `args` (what `simulate` passes, and what structure-preserving
        # solvers read E, S, L and M from) replaces the term's own model.
        if isinstance(args, CompiledModel):
            return args.vector_field(t, y)
        return self.model.vector_field(t, y, args)

    def contr(self, t0, t1, **kwargs):
        return t1 - t0

    def prod(self, vf, control):
        return control * vf
