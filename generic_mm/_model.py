"""The model interface (`AbstractModel`) and `GenericModel`, a flat SymPy GENERIC system."""

from __future__ import annotations

import abc
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias, TypeVar, cast

import jax.numpy as jnp
import numpy as np
import sympy as sp

from ._checks import CheckOptions, check_parts
from ._codegen import model_functions
from ._errors import ModelError
from ._expressions import (
    as_matrix,
    as_param_value,
    as_scalar_expr,
    check_sign,
    closest,
    entry,
    gradient,
    graph_nodes,
    matvec,
    parse_state,
    symbols_in,
)
from ._layout import StateLayout
from ._region import ParameterSpec, Region, actual_rows, state_axis
from ._report import CONDITIONS, ConsistencyReport
from ._sampling import OperatorBlock

_MATRIX_FIELDS = ("poisson", "friction")
_DEFAULT_NAMES = {"poisson": "poisson", "friction": "friction"}

_V = TypeVar("_V")
SymbolMapping: TypeAlias = Mapping[sp.Symbol, _V] | Mapping[str, _V] | Mapping[sp.Symbol | str, _V]
"""A mapping keyed by SymPy symbols, by their names, or by both."""


class CompiledParts(NamedTuple):
    """What a model hands `generic_mm.compile`: parameter leaves (name -> array), integer
    data leaves (e.g. edge lists), the state layout and the functions to evaluate."""

    params: dict[str, Any]
    data: dict[str, Any]
    layout: StateLayout
    functions: Any


class SourceForm(NamedTuple):
    """A model's expressions as written: definitions unexpanded (what `generic-mm show` prints
    and `save_model` writes). `poisson` and `friction` map each coupling / process name to
    its operator (an unnamed operator under the name `poisson` / `friction`)."""

    definitions: dict[str, sp.Expr]
    energy: sp.Expr
    entropy: sp.Expr
    poisson: dict[str, sp.ImmutableMatrix]
    friction: dict[str, sp.ImmutableMatrix]
    observables: dict[str, sp.Expr]


class AbstractModel(abc.ABC):
    """The interface every kind of model implements: what `compile`, `check` and
    `simulate` need, and nothing else.

    - `compile_parts()`: the parameter leaves, data, state layout and JAX functions
        ([`generic_mm.CompiledModel`][] is built from them);
    - `consistency_report(options)`: the six GENERIC conditions, decided for this kind of
        model (flat: one operator block; structured: one per template);
    - `parameter_specs()`: each parameter's symbol (sign assumptions), values and declared
        domain, against which `simulate` validates parameter overrides.

    Shared behaviour lives here once: results are cached per model (`cached`), and models
    are immutable after construction, so a cached report or compiled model never goes
    stale (derive a changed model with `with_params`).
    """

    name: str
    units: Mapping[str, str] = types.MappingProxyType({})
    """Name (state variable or field, parameter, observable) -> unit, as declared."""

    @abc.abstractmethod
    def compile_parts(self) -> CompiledParts:
        """The parts `generic_mm.compile` assembles into a `CompiledModel`."""

    @abc.abstractmethod
    def consistency_report(self, options: CheckOptions) -> ConsistencyReport:
        """Decide the six conditions (use `generic_mm.check`, which caches this)."""

    @abc.abstractmethod
    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        """Name -> `ParameterSpec` for every parameter."""

    def state_specs(self) -> Mapping[str, tuple[sp.Symbol, tuple[float, float] | None]]:
        """Variable or field name (as in the state layout) -> `(symbol, declared domain or
        None)`: `simulate` refuses initial states that break the symbol's sign assumptions
        (the proofs rely on them) and warns outside a declared domain. A model kind that
        does not override it gets neither."""
        return {}

    def cached(self, key: Any, build):
        """`build()`, computed once per key for this model."""
        cache = vars(self).setdefault("_cache", {})
        if key not in cache:
            cache[key] = build()
        return cache[key]

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen", False):
            raise AttributeError(
                f"{type(self).__name__} is immutable (its checks and compiled code are cached); "
                f"build a new model, or use with_params to change parameter values."
            )
        object.__setattr__(self, name, value)


class GenericModel(AbstractModel):
    r"""A GENERIC model $\dot x = L(x)\nabla E(x) + M(x)\nabla S(x)$, written in SymPy.

    The model is validated when constructed: every symbol must be a state variable or a
    parameter, operators must be $n\times n$, expressions must use only functions that
    `generic_mm` can compile. Thermodynamic consistency is checked separately by
    [`generic_mm.check`][].

    **Arguments:**

    - `state`: the state variables, SymPy symbols (or names, which become real symbols).
    - `energy`, `entropy`: scalar SymPy expressions $E(x)$, $S(x)$.
    - `poisson`: the Poisson operator $L(x)$, a SymPy Matrix or nested lists, $n\times n$
        (`None` or `0` for none).
    - `friction`: the friction operator $M(x)$, same forms.
    - `params`: parameter symbol (or its name) -> default value.
    - `name`: a human-readable name.
    - `domain`: state symbol or parameter (or name) -> interval `(lo, hi)`: the region the
        numeric checks sample, and, for a parameter, the values `simulate` accepts. Without
        one, a variable is sampled over a default derived from its sign assumption (and a
        parameter's value); the report says which intervals were defaulted (see
        [`generic_mm.check`][]).

    **Raises:** `ModelError` (a `ValueError`) naming the field and entry at fault.

    **Example:**

    ```python
    q, p = sp.symbols("q p", real=True)
    k = sp.Symbol("k", positive=True)
    model = gm.GenericModel(
        state=[q, p], energy=p**2 / 2 + k * q**2 / 2, entropy=0,
        poisson=[[0, 1], [-1, 0]], friction=None, params={k: 1.0},
    )
    ```
    """

    def __init__(
        self,
        state: Sequence[sp.Symbol | str],
        energy: Any,
        entropy: Any,
        poisson: Any,
        friction: Any,
        params: SymbolMapping[float] | None = None,
        name: str | None = None,
        domain: SymbolMapping[tuple[float, float]] | None = None,
        *,
        description: str | None = None,
        initial_state: SymbolMapping[float] | None = None,
        simulation: Mapping[str, Any] | None = None,
        definitions: SymbolMapping[Any] | None = None,
        observables: SymbolMapping[Any] | None = None,
        units: SymbolMapping[str] | None = None,
    ):
        if name is not None and not isinstance(name, str):
            raise ModelError(f"name: expected a string, got {type(name).__name__}.")
        self.name: str = name if name is not None else "GENERIC model"
        self.state: tuple[sp.Symbol, ...] = parse_state(state)
        names = [s.name for s in self.state]
        n = len(self.state)
        raw_defs = self._resolve_definitions(definitions)
        expand = _Expander(raw_defs)
        self.definitions: Mapping[str, sp.Expr] = types.MappingProxyType(raw_defs)
        raw_energy = as_scalar_expr(energy, "energy")
        raw_entropy = as_scalar_expr(entropy, "entropy")
        raw_ops = {
            field: _operators(value, field, n, names)
            for field, value in (("poisson", poisson), ("friction", friction))
        }
        self.named_couplings: bool = isinstance(poisson, Mapping)
        self.named_processes: bool = isinstance(friction, Mapping)
        raw_observables = self._resolve_observables(observables)
        self.energy: sp.Expr = expand(raw_energy, "energy")
        self.entropy: sp.Expr = expand(raw_entropy, "entropy")
        self.couplings: Mapping[str, sp.ImmutableMatrix] = types.MappingProxyType(
            {
                k: expand.matrix(m, f"poisson[{k!r}]" if self.named_couplings else "poisson", names)
                for k, m in raw_ops["poisson"].items()
            }
        )
        self.processes: Mapping[str, sp.ImmutableMatrix] = types.MappingProxyType(
            {
                k: expand.matrix(
                    m, f"friction[{k!r}]" if self.named_processes else "friction", names
                )
                for k, m in raw_ops["friction"].items()
            }
        )
        self.poisson: sp.ImmutableMatrix = _total(self.couplings.values(), n)
        self.friction: sp.ImmutableMatrix = _total(self.processes.values(), n)
        self.observables: Mapping[str, sp.Expr] = types.MappingProxyType(
            {k: expand(v, f"observables[{k!r}]") for k, v in raw_observables.items()}
        )
        self._source = SourceForm(
            dict(raw_defs),
            raw_energy,
            raw_entropy,
            dict(raw_ops["poisson"]),
            dict(raw_ops["friction"]),
            dict(raw_observables),
        )
        self.params: Mapping[sp.Symbol, float] = types.MappingProxyType(
            self._resolve_params(params or {})
        )
        self._check_definitions(raw_defs)
        self._check_names()
        self.domain: Mapping[str, tuple[float, float]] = types.MappingProxyType(
            self._resolve_domain(domain or {})
        )
        self.units: Mapping[str, str] = types.MappingProxyType(self._resolve_units(units or {}))
        if description is not None and not isinstance(description, str):
            raise ModelError(f"description: expected a string, got {type(description).__name__}.")
        self.description: str | None = description
        self.initial_state: dict[str, float] | None = self._resolve_initial(initial_state)
        if simulation is not None and not isinstance(simulation, Mapping):
            raise ModelError(
                f"simulation: expected a mapping of options, got {type(simulation).__name__}."
            )
        self.simulation: dict[str, Any] = dict(simulation or {})
        self._freeze()

    # -- construction helpers -------------------------------------------------------------
    def _fields(self):
        yield "energy", self.energy
        yield "entropy", self.entropy
        names = self.state_names
        for field, ops, named in (
            ("poisson", self.couplings, self.named_couplings),
            ("friction", self.processes, self.named_processes),
        ):
            for key, mat in ops.items():
                label = f"{field}[{key!r}]" if named else field
                for i, a in enumerate(names):
                    for j, b in enumerate(names):
                        yield f"{label}[{a}, {b}]", entry(mat, i, j)
        for key, expr in self.observables.items():
            yield f"observables[{key!r}]", expr

    def _resolve_definitions(self, definitions: Any) -> dict[str, sp.Expr]:
        return self._named_expressions(definitions, "definitions", "")

    def _resolve_observables(self, observables: Any) -> dict[str, sp.Expr]:
        return self._named_expressions(
            observables, "observables", " (traj[name] already gives it); choose another name"
        )

    def _named_expressions(self, value: Any, field: str, hint: str) -> dict[str, sp.Expr]:
        """`value` (None or an ordered mapping name -> expression) as names -> expressions,
        no name a state variable or given twice."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ModelError(
                f"{field}: expected an ordered mapping name -> expression, got "
                f"{type(value).__name__}."
            )
        state = set(self.state_names)
        out: dict[str, sp.Expr] = {}
        for key, expr in value.items():
            name = _name_of(key, field)
            if name in state:
                raise ModelError(f"{field}[{name!r}]: {name!r} is a state variable{hint}.")
            if name in out:
                raise ModelError(f"{field}: {name!r} is given twice.")
            out[name] = as_scalar_expr(expr, f"{field}[{name!r}]")
        return out

    def _check_definitions(self, definitions: Mapping[str, sp.Expr]) -> None:
        known = {*self.state_names, *self.param_names}
        for name, expr in definitions.items():
            if name in self.param_names:
                raise ModelError(f"definitions[{name!r}]: {name!r} is a parameter.")
            for sym in symbols_in(expr):
                if sym.name in known:
                    continue
                if sym.name in definitions:
                    raise ModelError(
                        f"definitions[{name!r}]: refers to {sym.name!r}, which is defined "
                        "later (or is itself); define it first."
                    )
                raise ModelError(
                    f"definitions[{name!r}]: unknown symbol {sym.name!r}"
                    f"{closest(sym.name, known | set(definitions))}; a definition may use "
                    "state variables, parameters and earlier definitions."
                )
            known.add(name)

    def _check_names(self) -> None:
        for name in self.observables:
            if name in self.param_names:
                raise ModelError(f"observables[{name!r}]: {name!r} is a parameter.")
        shared = set(self.couplings) & set(self.processes)
        if shared and (self.named_couplings or self.named_processes):
            raise ModelError(
                f"friction: the name {sorted(shared)[0]!r} is both a reversible coupling "
                "(poisson) and a dissipative process (friction); give them distinct names."
            )

    def _resolve_units(self, units: Mapping[Any, Any]) -> dict[str, str]:
        if not isinstance(units, Mapping):
            raise ModelError(f"units: expected a mapping name -> unit, got {type(units).__name__}.")
        known = {*self.state_names, *self.param_names, *self.observables}
        out: dict[str, str] = {}
        for key, value in units.items():
            name = _name_of(key, "units")
            if name not in known:
                raise ModelError(
                    f"units[{name!r}]: not a state variable, parameter or observable"
                    f"{closest(name, known)}."
                )
            if not isinstance(value, str):
                raise ModelError(
                    f"units[{name!r}]: expected a string such as 'K' or 'J/K', got "
                    f"{type(value).__name__} {value!r}."
                )
            out[name] = value
        return out

    def _resolve_params(self, params: Mapping[Any, Any]) -> dict[sp.Symbol, float]:
        if not isinstance(params, Mapping):
            raise ModelError(
                f"params: expected a mapping symbol -> value, got {type(params).__name__}."
            )
        state_names = {s.name for s in self.state}
        # The symbols the expressions actually use, by name.
        used: dict[str, sp.Symbol] = {}
        for where, expr in self._fields():
            for sym in symbols_in(expr):
                other = used.setdefault(sym.name, sym)
                if other != sym:
                    raise ModelError(
                        f"{where}: two different symbols are both named {sym.name!r} "
                        f"(assumptions {other.assumptions0} and {sym.assumptions0}); "
                        "use one symbol per name."
                    )
        for s in self.state:
            if s.name in used and used[s.name] != s:
                raise ModelError(
                    f"state: {s.name!r} is used in the expressions with other assumptions "
                    f"({used[s.name].assumptions0}) than the state symbol ({s.assumptions0}); "
                    "use the same symbol."
                )
        resolved: dict[sp.Symbol, float] = {}
        for key, value in params.items():
            if isinstance(key, sp.Symbol):
                pname = key.name
            elif isinstance(key, str) and key:
                pname = key
            else:
                raise ModelError(f"params: key {key!r} is neither a SymPy Symbol nor a name.")
            if pname in state_names:
                raise ModelError(
                    f"params[{pname!r}]: {pname!r} is a state variable; a symbol cannot be both "
                    "a state variable and a parameter."
                )
            symbol = used.get(
                pname, key if isinstance(key, sp.Symbol) else sp.Symbol(pname, real=True)
            )
            if symbol in resolved:
                raise ModelError(f"params: {pname!r} is given twice.")
            resolved[symbol] = as_param_value(value, f"params[{pname!r}]")
            check_sign(symbol, resolved[symbol], f"params[{pname!r}]")
        param_names = {s.name for s in resolved}
        for where, expr in self._fields():
            unknown = sorted(
                s.name for s in symbols_in(expr) if s.name not in state_names | param_names
            )
            if unknown:
                hint = closest(unknown[0], state_names | param_names)
                raise ModelError(
                    f"{where}: unknown symbol(s) {', '.join(map(repr, unknown))}{hint}; every symbol "
                    "must be a state variable or a parameter with a default value in params."
                )
        return resolved

    def _resolve_domain(self, domain: Mapping[Any, Any]) -> dict[str, tuple[float, float]]:
        if not isinstance(domain, Mapping):
            raise ModelError(
                f"domain: expected a mapping symbol -> (lo, hi), got {type(domain).__name__}."
            )
        by_name = {s.name: s for s in (*self.state, *self.params)}
        out: dict[str, tuple[float, float]] = {}
        for key, interval in domain.items():
            dname = key.name if isinstance(key, sp.Symbol) else key
            if not isinstance(dname, str) or dname not in by_name:
                raise ModelError(
                    f"domain[{dname!r}]: not a state variable or parameter of this model"
                    f"{closest(str(dname), by_name)}."
                )
            try:
                lo, hi = (float(v) for v in interval)
            except (TypeError, ValueError):
                raise ModelError(
                    f"domain[{dname!r}]: expected an interval (lo, hi) of two numbers, got {interval!r}."
                ) from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ModelError(f"domain[{dname!r}]: expected finite lo < hi, got ({lo}, {hi}).")
            sym = by_name[dname]
            if sym.is_positive and lo <= 0:
                raise ModelError(
                    f"domain[{dname!r}]: {dname} is declared positive but the interval ({lo}, {hi}) "
                    "reaches zero or below; use lo > 0."
                )
            if sym.is_nonnegative and lo < 0:
                raise ModelError(
                    f"domain[{dname!r}]: {dname} is declared nonnegative but the interval starts at {lo}."
                )
            if sym in self.params:
                value = self.params[sym]
                if not lo <= value <= hi:
                    raise ModelError(
                        f"domain[{dname!r}]: the value of {dname}, {value:g}, lies outside "
                        f"({lo:g}, {hi:g}); the domain must contain the parameter's value."
                    )
            out[dname] = (lo, hi)
        return out

    def _resolve_initial(self, initial: Mapping[Any, Any] | None) -> dict[str, float] | None:
        if initial is None:
            return None
        if not isinstance(initial, Mapping):
            raise ModelError(
                f"initial_state: expected a mapping name -> value, got {type(initial).__name__}."
            )
        names = self.state_names
        out: dict[str, float] = {}
        for key, value in initial.items():
            name = key.name if isinstance(key, sp.Symbol) else key
            if name not in names:
                raise ModelError(
                    f"initial_state[{name!r}]: not a state variable{closest(str(name), names)}."
                )
            out[name] = as_param_value(value, f"initial_state[{name!r}]")
        missing = [n for n in names if n not in out]
        if missing:
            raise ModelError(
                f"initial_state: missing value(s) for {', '.join(map(repr, missing))}."
            )
        return {n: out[n] for n in names}

    # -- public properties -----------------------------------------------------------------
    @property
    def n(self) -> int:
        """The number of state variables."""
        return len(self.state)

    @property
    def state_names(self) -> tuple[str, ...]:
        """The names of the state variables, in order."""
        return tuple(s.name for s in self.state)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        """The parameter symbols, in a fixed order (sorted by name)."""
        return tuple(sorted(self.params, key=lambda s: s.name))

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameter names, in the order of `param_symbols`."""
        return tuple(s.name for s in self.param_symbols)

    @property
    def observable_names(self) -> tuple[str, ...]:
        """The names of the observables, in the order given."""
        return tuple(self.observables)

    @property
    def process_names(self) -> tuple[str, ...]:
        """The names of the dissipative processes (`friction`), in the order given."""
        return tuple(self.processes)

    def source_form(self) -> SourceForm:
        """The expressions as written, definitions unexpanded (see `SourceForm`)."""
        return self._source

    @property
    def grad_energy(self) -> sp.ImmutableMatrix:
        r"""$\nabla E$ as an $n\times 1$ SymPy matrix (derived once, cached)."""
        return self.cached("grad_energy", lambda: gradient(self.energy, self.state))

    @property
    def grad_entropy(self) -> sp.ImmutableMatrix:
        r"""$\nabla S$ as an $n\times 1$ SymPy matrix (derived once, cached)."""
        return self.cached("grad_entropy", lambda: gradient(self.entropy, self.state))

    @property
    def reversible_rate(self) -> sp.ImmutableMatrix:
        r"""$L\nabla E$, the reversible part of $\dot x$."""
        return self.cached("rev", lambda: matvec(self.poisson, self.grad_energy))

    @property
    def irreversible_rate(self) -> sp.ImmutableMatrix:
        r"""$M\nabla S$, the irreversible part of $\dot x$."""
        return self.cached("irr", lambda: matvec(self.friction, self.grad_entropy))

    @property
    def rates(self) -> sp.ImmutableMatrix:
        r"""$\dot x = L\nabla E + M\nabla S$ as an $n\times 1$ SymPy matrix."""
        return self.cached("rates", lambda: self.reversible_rate + self.irreversible_rate)

    @property
    def entropy_production(self) -> sp.Expr:
        r"""$\nabla S\cdot M\nabla S$, the entropy production rate."""
        return self.cached("sigma", lambda: (self.grad_entropy.T * self.irreversible_rate)[0, 0])

    @property
    def entropy_production_by_process(self) -> dict[str, sp.Expr]:
        r"""Process name -> $\nabla S\cdot M_k\nabla S$ (they sum to `entropy_production`)."""

        def build():
            gS = self.grad_entropy
            return {k: (gS.T * matvec(m, gS))[0, 0] for k, m in self.processes.items()}

        return self.cached("sigma_k", build)

    # -- the model interface ----------------------------------------------------------------
    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        """Name -> `ParameterSpec` (symbol, default value, declared domain or `None`)."""
        return self.cached(
            "specs",
            lambda: {
                s.name: ParameterSpec(s, np.asarray(self.params[s]), self.domain.get(s.name))
                for s in self.param_symbols
            },
        )

    def state_specs(self) -> Mapping[str, tuple[sp.Symbol, tuple[float, float] | None]]:
        return {v.name: (v, self.domain.get(v.name)) for v in self.state}

    def region(self) -> Region:
        """Where the sampled checks look (see `generic_mm.check`)."""
        specs = self.parameter_specs()
        return Region(
            inputs=tuple(state_axis(s, self.domain.get(s.name)) for s in self.state),
            params=tuple(specs[n].axis for n in self.param_names),
            actual=actual_rows([specs[n].values for n in self.param_names]),
        )

    def consistency_report(self, options: CheckOptions) -> ConsistencyReport:
        block = OperatorBlock(
            self.name,
            self.state,
            self.param_symbols,
            self.poisson,
            self.friction,
            self.grad_energy,
            self.grad_entropy,
            program=model_functions(self).program("operators"),
        )
        region = self.region()
        results, parts = check_parts(
            block,
            self.couplings if self.named_couplings else None,
            self.processes if self.named_processes else None,
            region,
            options,
        )
        return ConsistencyReport(
            self.name,
            [results[c] for c in CONDITIONS],
            region=region.describe(self.units),
            defaulted=region.defaulted,
            processes={k: [r[c] for c in CONDITIONS if c in r] for k, r in parts.items()},
        )

    def compile_parts(self) -> CompiledParts:
        params = {s.name: jnp.asarray(self.params[s], dtype=float) for s in self.param_symbols}
        return CompiledParts(params, {}, StateLayout.flat(self.state_names), model_functions(self))

    def with_params(self, **values: float) -> GenericModel:
        """A copy of this model with new default parameter values (by name)."""
        names = set(self.param_names)
        for key in values:
            if key not in names:
                raise ModelError(f"with_params: {key!r} is not a parameter{closest(key, names)}.")
        params = {s: values.get(s.name, v) for s, v in self.params.items()}
        src = self._source
        return GenericModel(
            self.state,
            src.energy,
            src.entropy,
            src.poisson if self.named_couplings else _total(src.poisson.values(), self.n),
            src.friction if self.named_processes else _total(src.friction.values(), self.n),
            params=params,
            name=self.name,
            domain=self.domain,
            description=self.description,
            initial_state=self.initial_state,
            simulation=self.simulation,
            definitions=src.definitions,
            observables=src.observables,
            units=self.units,
        )

    def _repr_latex_(self) -> str:
        r"""The equations, for Jupyter: $\dot x$, $E$, $S$ and the observables."""
        rows = [
            rf"\dot{{{sp.latex(x)}}} &= {sp.latex(r)}"
            for x, r in zip(self.state, self.rates.flat())
        ]
        rows.append(rf"E &= {sp.latex(self.energy)}")
        rows.append(rf"S &= {sp.latex(self.entropy)}")
        rows += [rf"{_latex_name(k)} &= {sp.latex(v)}" for k, v in self.observables.items()]
        return "$$\\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"

    def __repr__(self) -> str:
        return (
            f"GenericModel(name={self.name!r}, state={list(self.state_names)}, "
            f"params={ {s.name: v for s, v in self.params.items()} })"
        )


def _latex_name(name: str) -> str:
    """A name in LaTeX: `T1` as $T_{1}$, `sigma_xy` as $\\sigma_{xy}$, `kinetic` upright."""
    text = sp.latex(sp.Symbol(name))
    if "\\" in text or "_" in text or len(name) == 1:
        return text
    return rf"\mathrm{{{name}}}"


def _name_of(key: Any, where: str) -> str:
    name = key.name if isinstance(key, sp.Symbol) else key
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelError(
            f"{where}: names must be identifiers (SymPy symbols or strings), got {key!r}."
        )
    return name


def _operators(
    value: Any, field: str, n: int, names: Sequence[str]
) -> dict[str, sp.ImmutableMatrix]:
    """`field` as name -> matrix: a mapping of named operators, or one operator under the
    name `field` (none when it is zero)."""
    if isinstance(value, Mapping):
        if not value:
            raise ModelError(
                f"{field}: got an empty mapping; give None for no operator, or name -> matrix."
            )
        out: dict[str, sp.ImmutableMatrix] = {}
        for key, mat in value.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ModelError(f"{field}: names must be identifiers, got {key!r}.")
            out[key] = as_matrix(mat, f"{field}[{key!r}]", n, names)
        return out
    mat = as_matrix(value, field, n, names)
    return {_DEFAULT_NAMES[field]: mat} if any(e != 0 for e in mat) else {}


def _total(mats, n: int) -> sp.ImmutableMatrix:
    total = sp.ImmutableMatrix.zeros(n, n)
    for m in mats:
        total = total + m
    return sp.ImmutableMatrix(total)


def _require_defined(expr: sp.Basic, where: str) -> None:
    """Refuse an expansion that produced an undefined or complex number (a definition that
    is 0 under a division, say). Each entry passed `as_scalar_expr` as written, so only the
    numbers can have changed; the walk visits every shared node once (chained definitions
    make trees exponentially larger than their graphs)."""
    for node in graph_nodes(expr):
        if node.is_Atom and node.is_number and not (node.is_finite and node.is_real):
            raise ModelError(
                f"{where}: substituting the definitions gives {node}, which is not a finite "
                "real number (a definition that vanishes under a division?)."
            )


class _Expander:
    """Substitutes definitions (by name) into expressions; each definition is expanded once,
    in order."""

    def __init__(self, definitions: Mapping[str, sp.Expr]):
        self.values: dict[str, sp.Expr] = {}
        for name, expr in definitions.items():
            self.values[name] = self._sub(expr)

    def _sub(self, expr: sp.Expr) -> sp.Expr:
        if not self.values:
            return expr
        repl = {s: self.values[s.name] for s in symbols_in(expr) if s.name in self.values}
        return cast(sp.Expr, expr.xreplace(repl)) if repl else expr

    def __call__(self, expr: sp.Expr, where: str) -> sp.Expr:
        out = self._sub(expr)
        if out is not expr:
            _require_defined(out, where)
        return out

    def matrix(
        self, mat: sp.ImmutableMatrix, where: str, names: Sequence[str]
    ) -> sp.ImmutableMatrix:
        if not self.values:
            return mat
        rows, cols = mat.shape
        return sp.ImmutableMatrix(
            rows,
            cols,
            [
                self(entry(mat, i, j), f"{where}[{names[i]}, {names[j]}]")
                for i in range(rows)
                for j in range(cols)
            ],
        )
