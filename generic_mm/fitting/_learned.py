r"""Learned constitutive parts inside a known GENERIC structure: `LearnedModel`.

A learned part is a leaf of the model's parameters (an `equinox.Module`, e.g. an MLP), so a
learned model is compiled, checked and simulated like any other model, and trained by
differentiating `simulate`'s own solve with respect to those leaves. The constructions that
keep the structure exact whatever the weights are in `_constructions.py`.

`generic_mm.check` judges all six conditions on a learned model at states sampled in its
declared `domain` (where the learned parts are meant to hold: the data's range), Jacobi
included (by `jax.jacfwd` of $L$), and fails them all where the model is not finite there.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .._checks import CheckOptions
from .._codegen import AbstractFunctions
from .._compiled import compile as compile_model
from .._errors import InputError
from .._layout import StateLayout
from .._model import AbstractModel, CompiledParts, GenericModel
from .._region import ParameterSpec
from .._report import CONDITIONS, CheckResult, ConsistencyReport
from .._sampling import SampledChecks
from ._constructions import CasimirPoisson, ProjectedFriction, ProjectedSkew

__all__ = ["LearnedModel"]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


class LearnedModel(AbstractModel):
    r"""A flat GENERIC model whose energy, entropy, Poisson or friction operator are JAX
    functions, some of them learned (modules in `params`), assembled in the GENERIC form
    $\dot x = L\nabla E + M\nabla S$ (gradients by `jax.grad`).

    **Arguments:**

    - `name`, `state`: the model's name and its state variables' names.
    - `energy`, `entropy`: functions `f(x, p) -> scalar` of the state `x` (shape `(n,)`)
      and the parameter dict `p` (numbers as arrays, learned parts as modules).
    - `poisson`: `None` (no reversible part), a function `(x, p) -> (n, n)` (a known
      operator), or a construction (`ProjectedSkew`, `CasimirPoisson`).
    - `friction`: `None`, a function `(x, p) -> (n, n)`, a construction
      (`ProjectedFriction`), or a dict process name -> either (their sum is $M$; each is
      checked and its entropy production reported on its own).
    - `params`: name -> number, array or `equinox.Module` (a learned part).
    - `domain`: state variable -> `(low, high)` for every variable: where the model is meant
      to hold (for learned parts, the range of the training data) and where `check`
      samples it.
    - `features`: `(x, p) -> array`, the input of the constructions' learned parts (default
      the state itself).
    - `observables`: name -> `(x, p) -> value`.
    - `units`: name -> unit, as the other model kinds take it.
    """

    def __init__(
        self,
        name: str,
        state: Sequence[str],
        energy: Callable,
        entropy: Callable,
        *,
        poisson: Any = None,
        friction: Any = None,
        params: Mapping[str, Any] | None = None,
        domain: Mapping[str, tuple[float, float]],
        features: Callable | None = None,
        observables: Mapping[str, Callable] | None = None,
        units: Mapping[str, str] | None = None,
    ):
        self.name = str(name)
        if isinstance(state, str) or not all(isinstance(s, str) for s in state):
            raise InputError(
                f"{self.name}: state: expected a list of variable names, got {state!r}."
            )
        self.state = tuple(state)
        if len(set(self.state)) != len(self.state) or not self.state:
            raise InputError(f"{self.name}: state: names must be unique and not empty.")
        for field, f in (("energy", energy), ("entropy", entropy)):
            if not callable(f):
                raise InputError(f"{self.name}: {field}: expected a function (x, p) -> scalar.")
        self.energy, self.entropy = energy, entropy
        self.poisson = self._operator(poisson, "poisson", (ProjectedSkew, CasimirPoisson))
        if isinstance(friction, Mapping):
            if not friction:
                raise InputError(f"{self.name}: friction: an empty dict names no process.")
            self.friction = {
                str(k): self._operator(v, f"friction[{k!r}]", (ProjectedFriction,))
                for k, v in friction.items()
            }
        elif friction is None:
            self.friction = {}
        else:
            self.friction = {"friction": self._operator(friction, "friction", (ProjectedFriction,))}
        self.params = self._params(params or {})
        self.domain = self._domain(domain)
        for label, part in (("poisson", self.poisson), *self.friction.items()):
            param = getattr(part, "param", None)
            if param is not None and param not in self.params:
                raise InputError(
                    f"{self.name}: {label}: the construction reads params[{param!r}], which is "
                    f"not given; params are {sorted(self.params)}."
                )
            on = getattr(part, "on", None)
            for v in on or ():
                if v not in self.state:
                    raise InputError(
                        f"{self.name}: {label}: on names {v!r}, not a state variable of "
                        f"{list(self.state)}."
                    )
        self.features = features
        self.observables = dict(observables or {})
        for k, f in self.observables.items():
            if not callable(f):
                raise InputError(f"{self.name}: observables[{k!r}]: expected a function (x, p).")
        self.units = types.MappingProxyType(dict(units or {}))
        self._trial()
        self._freeze()

    def _trial(self) -> None:
        """Evaluate every part once at the centre of the domain, so that a part of the wrong
        shape (an energy that is not a scalar, a learned factor with the wrong number of
        outputs) is named here, not deep inside a traced program."""
        x = jnp.asarray([(a + b) / 2 for a, b in self.domain.values()])
        fn, p = LearnedFunctions(self), dict(self.params)
        where = f"at the centre of the domain ({', '.join(f'{v} = {c:.4g}' for v, c in zip(self.state, np.asarray(x)))})"
        for label, f in (("energy", self.energy), ("entropy", self.entropy)):
            try:
                # traced, as check and simulate will run it (Python control flow on the
                # state fails here, named, not inside a compiled program)
                value = jax.eval_shape(lambda y, f=f: jnp.asarray(f(y, p)), x)
            except Exception as err:  # a user function: any failure is the user's to fix
                raise InputError(
                    f"{self.name}: {label}(x, p) failed {where}: {type(err).__name__}: {err}"
                ) from None
            if value.size != 1:
                raise InputError(
                    f"{self.name}: {label}(x, p) must return a scalar, got shape {value.shape}."
                )
        try:
            jax.eval_shape(lambda y: (fn.operators(y, p, {}), fn.observables(y, p, {})), x)
        except InputError:
            raise
        except Exception as err:
            raise InputError(
                f"{self.name}: evaluating the operators or observables failed {where}: "
                f"{type(err).__name__}: {err}. A learned part must have the outputs its "
                "construction reads: ProjectedFriction len(on) * rank, ProjectedSkew n * n, "
                "CasimirPoisson an (n, n) array; a known operator function an (n, n) matrix."
            ) from None

    # -- construction ------------------------------------------------------------------------
    def _operator(self, value, field: str, kinds: tuple[type, ...]):
        if value is None or isinstance(value, kinds) or callable(value):
            return value
        raise InputError(
            f"{self.name}: {field}: expected None, a function (x, p) -> (n, n) or one of "
            f"{', '.join(k.__name__ for k in kinds)}; got {type(value).__name__}."
        )

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in params.items():
            if not isinstance(k, str):
                raise InputError(f"{self.name}: params: keys must be names (str), got {k!r}.")
            if _is_number(v):
                if not math.isfinite(float(v)):
                    raise InputError(f"{self.name}: params[{k!r}]: not finite ({v!r}).")
                out[k] = jnp.asarray(float(v))
            elif isinstance(v, eqx.Module):
                out[k] = v
            else:
                try:
                    arr = jnp.asarray(v, dtype=float)
                except (TypeError, ValueError):
                    raise InputError(
                        f"{self.name}: params[{k!r}]: expected a number, an array or an "
                        f"equinox.Module, got {type(v).__name__}."
                    ) from None
                if not bool(jnp.all(jnp.isfinite(arr))):
                    raise InputError(f"{self.name}: params[{k!r}]: contains non-finite values.")
                out[k] = arr
        return out

    def _domain(self, domain: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        if not isinstance(domain, Mapping):
            raise InputError(f"{self.name}: domain: expected a dict variable -> (low, high).")
        missing = [v for v in self.state if v not in domain]
        extra = [k for k in domain if k not in self.state]
        if missing or extra:
            raise InputError(
                f"{self.name}: domain: give (low, high) for every state variable"
                + (f"; missing {missing}" if missing else "")
                + (f"; not state variables: {extra}" if extra else "")
                + ". It is where the learned parts are meant to hold (the data's range) and "
                "where check samples the model."
            )
        out = {}
        for v in self.state:
            try:
                lo, hi = (float(a) for a in domain[v])
            except (TypeError, ValueError):
                raise InputError(
                    f"{self.name}: domain[{v!r}]: expected (low, high), got {domain[v]!r}."
                ) from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InputError(
                    f"{self.name}: domain[{v!r}]: expected finite low < high, got ({lo}, {hi})."
                )
            out[v] = (lo, hi)
        return out

    @classmethod
    def from_model(
        cls,
        base: GenericModel,
        *,
        name: str | None = None,
        energy: Callable | None = None,
        entropy: Callable | None = None,
        poisson: Any = "known",
        friction: Any = "known",
        params: Mapping[str, Any] | None = None,
        domain: Mapping[str, tuple[float, float]] | None = None,
        features: Callable | None = None,
        observables: Mapping[str, Callable] | None = None,
    ) -> LearnedModel:
        """A learned model that keeps the known parts of a symbolic `base` model (compiled
        by its own code generation) and replaces the parts given: `energy`, `entropy` (a
        function `(x, p)`), `poisson`, `friction` (as in the constructor; the default
        `"known"` keeps the base's, `None` drops it). `params` adds to the base's parameter
        values; `domain` defaults to the base's declared domain (every variable must then
        have one); the base's observables are kept (plus `observables`)."""
        if not isinstance(base, GenericModel):
            raise InputError(f"from_model: expected a GenericModel, got {type(base).__name__}.")
        known = compile_model(base, check=False)
        fn, data = known.functions, known.data
        names = tuple(known.state_names)
        base_params = dict(known.params)

        def known_ops(x, p):
            return fn.operators(x, {k: p[k] for k in base_params}, data)

        def known_energy(x, p):
            return fn.thermodynamics(x, {k: p[k] for k in base_params}, data)[0]

        def known_entropy(x, p):
            return fn.thermodynamics(x, {k: p[k] for k in base_params}, data)[1]

        def known_poisson(x, p):
            return known_ops(x, p)[0]

        def known_friction(x, p):
            return known_ops(x, p)[1]

        if domain is None:
            declared = {str(k): v for k, v in base.domain.items()}
            domain = {v: declared[v] for v in names if v in declared}
        extra = dict(params or {})
        clash = sorted(set(extra) & set(base_params))
        if clash:
            raise InputError(
                f"from_model: params {clash} are parameters of the base model already."
            )

        def base_observable(key):
            return lambda x, p: fn.observables(x, {k: p[k] for k in base_params}, data)[key]

        obs = {k: base_observable(k) for k in known.observable_names}
        obs.update(observables or {})
        return cls(
            name or f"{base.name} (learned)",
            names,
            known_energy if energy is None else energy,
            known_entropy if entropy is None else entropy,
            poisson=known_poisson if isinstance(poisson, str) and poisson == "known" else poisson,
            friction=known_friction
            if isinstance(friction, str) and friction == "known"
            else friction,
            params={**{k: v for k, v in base_params.items()}, **extra},
            domain=domain,
            features=features,
            observables=obs,
            units=dict(base.units),
        )

    def with_params(self, **values: Any) -> LearnedModel:
        """A copy with some parameter values (numbers, arrays, trained modules) replaced."""
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise InputError(
                f"{self.name}: with_params: {unknown} are not parameters; they are "
                f"{sorted(self.params)}."
            )
        return LearnedModel(
            self.name,
            self.state,
            self.energy,
            self.entropy,
            poisson=self.poisson,
            friction=dict(self.friction) or None,
            params={**self.params, **values},
            domain=self.domain,
            features=self.features,
            observables=self.observables,
            units=dict(self.units),
        )

    # -- the model interface -----------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.state)

    def numeric_params(self) -> dict[str, Any]:
        """The parameters that are arrays (numbers), not learned modules."""
        return {k: v for k, v in self.params.items() if not isinstance(v, eqx.Module)}

    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        """The numbers (0-d parameters), pinned to their values: the checks sample the state
        domain at those values only, so `simulate` and `fit` refuse other values (derive a
        model with `with_params`, which is checked again). Learned modules and arrays (learned
        parts, trained by default) have none."""
        specs = {}
        pin = vars(self).get("_pinned", True)  # `train` integrates an unpinned copy
        for k, v in self.numeric_params().items():
            values = np.asarray(v, dtype=float)
            if values.ndim:  # an array is a learned part (trained by default), not a number
                continue
            domain = (float(values), float(values)) if pin else None
            specs[k] = ParameterSpec(sp.Symbol(k, real=True), values.reshape(-1), domain)
        return specs

    def state_specs(self) -> Mapping[str, tuple[sp.Symbol, tuple[float, float] | None]]:
        """Every state variable with its declared domain: `simulate` warns about initial
        states outside it (the learned parts were checked, and trained, only inside)."""
        return {v: (sp.Symbol(v, real=True), self.domain[v]) for v in self.state}

    def compile_parts(self) -> CompiledParts:
        return CompiledParts(
            params=dict(self.params),
            data={},
            layout=StateLayout.flat(self.state),
            functions=LearnedFunctions(self),
        )

    def consistency_report(self, options: CheckOptions) -> ConsistencyReport:
        fn = LearnedFunctions(self)
        p = dict(self.params)
        rng = np.random.default_rng(options.seed)
        lo = np.array([self.domain[v][0] for v in self.state])
        hi = np.array([self.domain[v][1] for v in self.state])
        ys = rng.uniform(lo, hi, (options.samples, self.n))

        def ops_of(parts):
            return lambda y: fn.operators(y, p, {}, parts=parts)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            whole = ops_of(None)
            L, M, gE, gS = jax.jit(jax.vmap(whole))(jnp.asarray(ys))
            judged = SampledChecks.from_arrays(
                self.state, ys, L, M, gE, gS, rtol=options.rtol, operators=whole
            )
            judged.require_finite = True
            results = {
                "poisson_antisymmetric": judged.antisymmetric(),
                "jacobi_identity": judged.jacobi(),
                "friction_symmetric": judged.symmetric(),
                "friction_positive_semidefinite": judged.positive_semidefinite(),
                "poisson_degeneracy": judged.poisson_degeneracy(),
                "friction_degeneracy": judged.friction_degeneracy(),
            }
            processes: dict[str, list[CheckResult]] = {}
            if len(self.friction) > 1:
                for name in self.friction:
                    _, Mk, _, _ = jax.jit(jax.vmap(ops_of((name,))))(jnp.asarray(ys))
                    part = SampledChecks.from_arrays(
                        self.state, ys, L, Mk, gE, gS, rtol=options.rtol
                    )
                    part.require_finite = True
                    processes[name] = [
                        part.symmetric(),
                        part.positive_semidefinite(),
                        part.friction_degeneracy(),
                    ]
                for cond in (
                    "friction_symmetric",
                    "friction_positive_semidefinite",
                    "friction_degeneracy",
                ):
                    failed = [
                        (k, r)
                        for k, rs in processes.items()
                        for r in rs
                        if r.name == cond and not r.passed
                    ]
                    if failed and results[cond].passed:
                        k, r = failed[0]
                        results[cond] = CheckResult(
                            cond,
                            False,
                            "sampled",
                            f"fails for process {k!r}: {r.message}",
                            counterexample=r.counterexample,
                            residual=r.residual,
                        )
        E, S = jax.jit(jax.vmap(lambda y: fn.thermodynamics(y, p, {})[:2]))(jnp.asarray(ys))
        bad = ~judged.finite | ~np.isfinite(np.asarray(E)) | ~np.isfinite(np.asarray(S))
        if bad.any():
            k = int(np.argmax(bad))
            where = ", ".join(f"{v} = {x:.4g}" for v, x in zip(self.state, ys[k]))
            message = (
                f"not finite at {int(bad.sum())} of {ys.shape[0]} sampled states of the "
                f"declared domain (e.g. {where}): the model is undefined there; narrow the "
                "domain to where it is defined"
            )
            counter = dict(zip(self.state, (float(x) for x in ys[k])))
            results = {
                c: CheckResult(c, False, "sampled", message, counterexample=counter)
                for c in CONDITIONS
            }
        region = [f"{v} in [{a:.4g}, {b:.4g}], declared" for v, (a, b) in self.domain.items()]
        return ConsistencyReport(
            self.name, [results[c] for c in CONDITIONS], region=region, processes=processes
        )

    def __repr__(self) -> str:
        learned = sorted(k for k, v in self.params.items() if isinstance(v, eqx.Module))
        return (
            f"LearnedModel({self.name!r}, state={list(self.state)}, learned parts {learned}, "
            f"processes {list(self.friction)})"
        )


class LearnedFunctions(AbstractFunctions):
    """The compiled functions of a `LearnedModel` (dense operators: learned models are
    small)."""

    def __init__(self, model: LearnedModel):
        self.model = model
        self.n = model.n

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(self.model.observables)

    @property
    def process_names(self) -> tuple[str, ...]:
        return tuple(self.model.friction) or ("friction",)

    def gradients(self, y, p, data):
        del data
        gE = jax.grad(lambda x: jnp.asarray(self.model.energy(x, p), dtype=float).reshape(()))(y)
        gS = jax.grad(lambda x: jnp.asarray(self.model.entropy(x, p), dtype=float).reshape(()))(y)
        return gE, gS

    def _features(self, y, p):
        f = self.model.features
        return y if f is None else f(y, p)

    def _poisson(self, y, p, gS, features):
        L = self.model.poisson
        if L is None:
            return jnp.zeros((self.n, self.n))
        if isinstance(L, ProjectedSkew | CasimirPoisson):
            return L.matrix(y, features, p, gS)
        return jnp.asarray(L(y, p), dtype=float).reshape(self.n, self.n)

    def _frictions(self, y, p, gE, features, parts=None) -> dict[str, jax.Array]:
        out = {}
        for name, M in self.model.friction.items():
            if parts is not None and name not in parts:
                continue
            if isinstance(M, ProjectedFriction):
                index = tuple(
                    range(self.n) if M.on is None else (self.model.state.index(v) for v in M.on)
                )
                out[name] = M.matrix(y, features, p, gE, index)
            else:
                assert callable(M)
                out[name] = jnp.asarray(M(y, p), dtype=float).reshape(self.n, self.n)
        return out

    def operators(self, y, p, data, parts=None):
        gE, gS = self.gradients(y, p, data)
        features = self._features(y, p)
        L = self._poisson(y, p, gS, features)
        Ms = self._frictions(y, p, gE, features, parts)
        M = sum(Ms.values(), jnp.zeros((self.n, self.n)))
        return L, M, gE, gS

    def rates(self, y, p, data):
        L, M, gE, gS = self.operators(y, p, data)
        return L @ gE + M @ gS

    def thermodynamics(self, y, p, data):
        del data
        E = jnp.asarray(self.model.energy(y, p), dtype=float).reshape(())
        S = jnp.asarray(self.model.entropy(y, p), dtype=float).reshape(())
        _, M, _, gS = self.operators(y, p, {})
        return E, S, gS @ M @ gS

    def apply(self, y, p, data, v_poisson, v_friction):
        L, M, _, _ = self.operators(y, p, data)
        return L @ v_poisson, M @ v_friction

    def observables(self, y, p, data):
        del data
        return {k: jnp.asarray(f(y, p), dtype=float) for k, f in self.model.observables.items()}

    def production_by_process(self, y, p, data):
        gE, gS = self.gradients(y, p, data)
        Ms = self._frictions(y, p, gE, self._features(y, p))
        if not Ms:
            return {"friction": jnp.zeros(())}
        return {k: gS @ M @ gS for k, M in Ms.items()}
