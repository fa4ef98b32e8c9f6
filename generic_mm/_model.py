"""`GenericModel`: the symbolic description of a GENERIC system, validated on construction."""

from __future__ import annotations

import abc
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sympy as sp

from ._codegen import unsupported_parts
from ._errors import ModelError

_SCALAR_FIELDS = ("energy", "entropy")
_MATRIX_FIELDS = ("poisson", "friction")


def _closest(name: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _as_scalar_expr(value: Any, where: str) -> sp.Expr:
    if isinstance(value, str):
        raise ModelError(
            f"{where}: got the string {value!r}; pass a SymPy expression. Text is never evaluated: "
            "to read a model from a text file use generic_mm.load_model."
        )
    if isinstance(value, bool):
        raise ModelError(
            f"{where}: got the boolean {value!r}; expected a SymPy expression or number."
        )
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ModelError(f"{where}: got the non-finite number {value!r}.")
        return sp.Integer(value) if isinstance(value, int) else sp.Float(value)
    if isinstance(value, sp.MatrixBase):
        raise ModelError(
            f"{where}: got a {value.shape[0]}x{value.shape[1]} matrix; expected a scalar."
        )
    if not isinstance(value, sp.Expr):
        raise ModelError(
            f"{where}: got {type(value).__name__} {value!r}; expected a SymPy expression or number."
        )
    problem = unsupported_parts(value)
    if problem:
        raise ModelError(f"{where}: {problem}")
    return value


def _as_matrix(value: Any, field: str, n: int, names: Sequence[str]) -> sp.ImmutableMatrix:
    if value is None or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    ):
        return sp.ImmutableMatrix.zeros(n, n)
    if isinstance(value, sp.MatrixBase):
        rows = [[value[i, j] for j in range(value.shape[1])] for i in range(value.shape[0])]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        rows = []
        for i, row in enumerate(value):
            if not isinstance(row, Sequence) or isinstance(row, str):
                raise ModelError(
                    f"{field}[{i}]: expected a row (a list of {n} entries), got {type(row).__name__}."
                )
            rows.append(list(row))
    else:
        raise ModelError(
            f"{field}: expected a SymPy Matrix or nested lists of shape ({n}, {n}), "
            f"got {type(value).__name__}."
        )
    if len(rows) != n:
        raise ModelError(
            f"{field}: has {len(rows)} rows but the state has {n} variables; "
            f"expected a {n}x{n} matrix (one row and column per state variable)."
        )
    for i, row in enumerate(rows):
        if len(row) != n:
            raise ModelError(
                f"{field}: row {i} ({names[i]}) has {len(row)} entries; expected {n} "
                f"(the operator must be square, {n}x{n})."
            )
    entries = [
        [_as_scalar_expr(rows[i][j], f"{field}[{names[i]}, {names[j]}]") for j in range(n)]
        for i in range(n)
    ]
    return sp.ImmutableMatrix(entries)


class AbstractModel(abc.ABC):
    """A model that is not one flat SymPy system (e.g. `generic_mm.structured.StructuredModel`).

    It hands the core what a flat model gets from code generation: parameter leaves, a
    state layout and an `AbstractFunctions`, plus its own consistency report; `compile`,
    `check` and `simulate` then treat it as any model.
    """

    name: str

    @abc.abstractmethod
    def _compile_parts(self):
        """`(params, data, layout, functions)` for `CompiledModel`."""

    @abc.abstractmethod
    def _check(self, *, samples: int, rtol: float, seed: int, symbolic_timeout: float):
        """The `ConsistencyReport` of the model."""

    @abc.abstractmethod
    def _cached(self, key, build):
        """`build()`, computed once per key."""


class GenericModel:
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
    - `domain`: state symbol or parameter (or name) -> sampling interval `(lo, hi)` used by
        the numeric checks. Without one, states are sampled in $[-2, 2]$, or
        log-uniformly in $[0.1, 10]$ for symbols declared `positive=True`; parameters
        without a domain are fixed at their defaults.

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
        params: Mapping[sp.Symbol | str, float] | None = None,
        name: str | None = None,
        domain: Mapping[sp.Symbol | str, tuple[float, float]] | None = None,
        *,
        description: str | None = None,
        initial_state: Mapping[sp.Symbol | str, float] | None = None,
        simulation: Mapping[str, Any] | None = None,
    ):
        if name is not None and not isinstance(name, str):
            raise ModelError(f"name: expected a string, got {type(name).__name__}.")
        self.name: str = name if name is not None else "GENERIC model"
        self.state: tuple[sp.Symbol, ...] = _parse_state(state)
        names = [s.name for s in self.state]
        n = len(self.state)
        self.energy: sp.Expr = _as_scalar_expr(energy, "energy")
        self.entropy: sp.Expr = _as_scalar_expr(entropy, "entropy")
        self.poisson: sp.ImmutableMatrix = _as_matrix(poisson, "poisson", n, names)
        self.friction: sp.ImmutableMatrix = _as_matrix(friction, "friction", n, names)
        self.params: dict[sp.Symbol, float] = self._resolve_params(params or {})
        self.domain: dict[str, tuple[float, float]] = self._resolve_domain(domain or {})
        if description is not None and not isinstance(description, str):
            raise ModelError(f"description: expected a string, got {type(description).__name__}.")
        self.description: str | None = description
        self.initial_state: dict[str, float] | None = self._resolve_initial(initial_state)
        if simulation is not None and not isinstance(simulation, Mapping):
            raise ModelError(
                f"simulation: expected a mapping of options, got {type(simulation).__name__}."
            )
        self.simulation: dict[str, Any] = dict(simulation or {})
        self._cache: dict[Any, Any] = {}

    # -- construction helpers -------------------------------------------------------------
    def _fields(self):
        yield "energy", self.energy
        yield "entropy", self.entropy
        n = len(self.state)
        for field in _MATRIX_FIELDS:
            mat = getattr(self, field)
            for i in range(n):
                for j in range(n):
                    yield f"{field}[{self.state[i].name}, {self.state[j].name}]", mat[i, j]

    def _resolve_params(self, params: Mapping[Any, Any]) -> dict[sp.Symbol, float]:
        if not isinstance(params, Mapping):
            raise ModelError(
                f"params: expected a mapping symbol -> value, got {type(params).__name__}."
            )
        state_names = {s.name for s in self.state}
        # The symbols the expressions actually use, by name.
        used: dict[str, sp.Symbol] = {}
        for where, expr in self._fields():
            for sym in expr.free_symbols:
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
            resolved[symbol] = _as_param_value(value, f"params[{pname!r}]")
            _check_sign(symbol, resolved[symbol], f"params[{pname!r}]")
        param_names = {s.name for s in resolved}
        for where, expr in self._fields():
            unknown = sorted(
                s.name for s in expr.free_symbols if s.name not in state_names | param_names
            )
            if unknown:
                hint = _closest(unknown[0], state_names | param_names)
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
                    f"{_closest(str(dname), by_name)}."
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
                    f"initial_state[{name!r}]: not a state variable{_closest(str(name), names)}."
                )
            out[name] = _as_param_value(value, f"initial_state[{name!r}]")
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

    def _cached(self, key: str, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def grad_energy(self) -> sp.ImmutableMatrix:
        r"""$\nabla E$ as an $n\times 1$ SymPy matrix (derived once, cached)."""
        return self._cached("grad_energy", lambda: _gradient(self.energy, self.state))

    @property
    def grad_entropy(self) -> sp.ImmutableMatrix:
        r"""$\nabla S$ as an $n\times 1$ SymPy matrix (derived once, cached)."""
        return self._cached("grad_entropy", lambda: _gradient(self.entropy, self.state))

    @property
    def reversible_rate(self) -> sp.ImmutableMatrix:
        r"""$L\nabla E$, the reversible part of $\dot x$."""
        return self._cached("rev", lambda: _matvec(self.poisson, self.grad_energy))

    @property
    def irreversible_rate(self) -> sp.ImmutableMatrix:
        r"""$M\nabla S$, the irreversible part of $\dot x$."""
        return self._cached("irr", lambda: _matvec(self.friction, self.grad_entropy))

    @property
    def rates(self) -> sp.ImmutableMatrix:
        r"""$\dot x = L\nabla E + M\nabla S$ as an $n\times 1$ SymPy matrix."""
        return self._cached("rates", lambda: self.reversible_rate + self.irreversible_rate)

    @property
    def entropy_production(self) -> sp.Expr:
        r"""$\nabla S\cdot M\nabla S$, the entropy production rate."""
        return self._cached("sigma", lambda: (self.grad_entropy.T * self.irreversible_rate)[0, 0])

    def with_params(self, **values: float) -> GenericModel:
        """A copy of this model with new default parameter values (by name)."""
        names = set(self.param_names)
        for key in values:
            if key not in names:
                raise ModelError(f"with_params: {key!r} is not a parameter{_closest(key, names)}.")
        params = {s: values.get(s.name, v) for s, v in self.params.items()}
        return GenericModel(
            self.state,
            self.energy,
            self.entropy,
            self.poisson,
            self.friction,
            params=params,
            name=self.name,
            domain=self.domain,
            description=self.description,
            initial_state=self.initial_state,
            simulation=self.simulation,
        )

    def __repr__(self) -> str:
        return (
            f"GenericModel(name={self.name!r}, state={list(self.state_names)}, "
            f"params={ {s.name: v for s, v in self.params.items()} })"
        )


def _parse_state(state: Any) -> tuple[sp.Symbol, ...]:
    if isinstance(state, (str, sp.Basic)) or not isinstance(state, Iterable):
        raise ModelError(
            f"state: expected a list of SymPy symbols or names, got {type(state).__name__} {state!r}."
        )
    symbols: list[sp.Symbol] = []
    seen: set[str] = set()
    for i, item in enumerate(state):
        if isinstance(item, str):
            if not item.isidentifier():
                raise ModelError(f"state[{i}]: {item!r} is not a valid variable name.")
            item = sp.Symbol(item, real=True)
        if not isinstance(item, sp.Symbol):
            raise ModelError(
                f"state[{i}]: expected a SymPy Symbol, got {type(item).__name__} {item!r}; state "
                "variables must be plain symbols, not expressions."
            )
        if item.name in seen:
            raise ModelError(f"state[{i}]: {item.name!r} appears twice in the state.")
        seen.add(item.name)
        symbols.append(item)
    if not symbols:
        raise ModelError("state: the state is empty; give at least one state variable.")
    return tuple(symbols)


def _as_param_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or isinstance(value, str):
        raise ModelError(f"{where}: expected a real number, got {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ModelError(
            f"{where}: expected a real number, got {type(value).__name__} {value!r}."
        ) from None
    if not math.isfinite(out):
        raise ModelError(f"{where}: expected a finite number, got {out}.")
    return out


def _check_sign(symbol: sp.Symbol, value: float, where: str) -> None:
    for assumption, ok in (
        ("positive", value > 0),
        ("nonnegative", value >= 0),
        ("negative", value < 0),
        ("nonpositive", value <= 0),
    ):
        if getattr(symbol, f"is_{assumption}") and not ok:
            raise ModelError(
                f"{where}: {symbol.name} is declared {assumption} but its value is {value}."
            )


def _gradient(expr: sp.Expr, state: Sequence[sp.Symbol]) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([sp.diff(expr, s) for s in state])


def _matvec(mat: sp.MatrixBase, vec: sp.MatrixBase) -> sp.ImmutableMatrix:
    # Multiply skipping structural zeros: keeps the expressions as small as the model.
    n = mat.shape[0]
    out = []
    for i in range(n):
        terms = [mat[i, j] * vec[j] for j in range(n) if mat[i, j] != 0 and vec[j] != 0]
        out.append(sp.Add(*terms))
    return sp.ImmutableMatrix(out)
