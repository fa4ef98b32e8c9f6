"""TOML model files -> `GenericModel`, and back.

Schema (see docs/model-files.md): `name`, `description`, `state`, `[assumptions]`,
`[parameters]`, `[definitions]` (observables unless `private`), `[units]`, `[generic]`
(`energy`, `entropy`, `poisson`, `friction`; each operator dense as lists of rows, sparse as
`{entries = {"p,s" = "..."}, symmetric = true}`, or a table of named couplings / processes),
`[domain]`, `[initial]`, `[simulation]`. Unknown keys are errors: nothing is ignored.

Files are untrusted: sizes are bounded (bytes, state variables, expressions; see
`_parser.py` and `_guard.py`), and every failure is a `ModelFileError` naming the file,
table, key and entry.
"""

from __future__ import annotations

import keyword
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sympy as sp

from .._errors import ModelError, ModelFileError
from .._expressions import closest
from .._files import writable_target, write_atomic as write_atomic
from .._model import GenericModel
from ._guard import Guard
from ._operators import read_operators
from ._parser import ExpressionError, nfkc_problem, parse_expression
from ._solvers import SOLVERS as SOLVERS, make_solver as make_solver
from ._writer import model_to_toml

TABLES = (
    "assumptions",
    "parameters",
    "definitions",
    "units",
    "generic",
    "domain",
    "initial",
    "simulation",
)
TOP_LEVEL = ("name", "description", "state", *TABLES)
ASSUMPTIONS = ("positive", "nonnegative", "negative", "nonpositive")
DEFINITION_KEYS = ("value", "private", "unit")
SIMULATION = {
    "t0": float,
    "t1": float,
    "points": int,
    "solver": str,
    "rtol": float,
    "atol": float,
    "dt0": float,
    "max_steps": int,
}
MAX_FILE_BYTES = 1_000_000
MAX_STATE = 100
MAX_PARAMETERS = 10_000
MAX_DEFINITIONS = 1_000
MAX_COUNT = {"points": 1_000_000, "max_steps": 100_000_000}
MIN_COUNT = {"points": 2, "max_steps": 1}  # a trajectory has at least its two end points
MAX_UNIT_LENGTH = 40
_POSITIVE = ("rtol", "atol", "dt0")


class _File:
    """Error reporting bound to one file."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, where: str, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {where}: {message}")


def _check_keys(f: _File, table: Mapping, allowed, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise f.error(
                where,
                f"unknown key {key!r}{closest(str(key), allowed)}; allowed: {', '.join(allowed)}",
            )


def _number(f: _File, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise f.error(where, f"expected a number, got {type(value).__name__} {value!r}")
    try:
        out = float(value)
    except OverflowError:  # a TOML integer of hundreds of digits
        out = math.inf
    if not math.isfinite(out):
        shown = value if isinstance(value, float) else _long_integer(value)
        raise f.error(where, f"expected a finite number within double precision, got {shown}")
    return out


def _text(f: _File, value: Any, where: str, newlines: bool) -> str:
    if not isinstance(value, str):
        raise f.error(where, f"expected a string, got {type(value).__name__}")
    # Printed by `generic-mm show` and in reports: no terminal control sequences.
    allowed = "\n\t" if newlines else ""
    bad = next((c for c in value if not (c.isprintable() or c in allowed)), None)
    if bad is not None:
        raise f.error(where, f"contains the control character {bad!r}")
    return value


def _long_integer(value: int) -> str:
    if value.bit_length() < 14_000:
        return f"an integer of {len(str(abs(value)))} digits"
    # str() of an integer beyond 4,300 digits raises: count them from the bit length
    return f"an integer of about {math.ceil(value.bit_length() * math.log10(2))} digits"


def _identifier(f: _File, name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise f.error(
            where,
            f"{name!r} is not a valid name (letters, digits, underscores; no leading underscore)",
        )
    problem = nfkc_problem(name)
    if problem:
        raise f.error(where, f"{name!r}: {problem}")
    if name in ("pi", "Piecewise") or keyword.iskeyword(name):
        raise f.error(where, f"{name!r} is reserved; choose another name")
    return name


def load_model(path: str | os.PathLike) -> GenericModel:
    """Read a TOML model file into a [`generic_mm.GenericModel`][].

    The model also carries the file's `description`, `initial_state` (from `[initial]`),
    `simulation` defaults (from `[simulation]`), definitions (unexpanded), observables (the
    definitions not marked private) and units. Expressions are parsed safely (see
    `generic_mm.io.parse_expression`): nothing in the file is executed.

    **Raises:** `ModelFileError` naming the file, table, key and entry.
    """
    f = _File(Path(path))
    try:
        with open(f.path, "rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ModelFileError(f"{f.path}: cannot read the file: {err.strerror or err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ModelFileError(f"{f.path}: larger than {MAX_FILE_BYTES:,} bytes; not a model file?")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{f.path}: not a UTF-8 text file") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(f"{f.path}: not valid TOML: nested too deeply") from None
    except ValueError as err:  # TOMLDecodeError, and integers beyond Python's digit limit
        raise ModelFileError(f"{f.path}: not valid TOML: {err}") from None
    return _build(f, data)


def _build(f: _File, data: dict) -> GenericModel:
    _check_keys(f, data, TOP_LEVEL, "top level")
    for key in ("state", "generic"):
        if key not in data:
            raise f.error("top level", f"missing required key {key!r}")
    for key in ("name", "description"):
        if key in data:
            _text(f, data[key], key, newlines=key == "description")
    tables = {k: data.get(k, {}) for k in TABLES}
    for key, value in tables.items():
        if not isinstance(value, dict):
            raise f.error(f"[{key}]", f"expected a table, got {type(value).__name__}")
    state_names = _state(f, data["state"])
    params = _parameters(f, tables["parameters"], state_names)
    symbols = _symbols(f, state_names, params, tables["assumptions"])
    names: dict[str, sp.Expr] = dict(symbols)
    guard = Guard()
    definitions, public, units = _definitions(f, tables["definitions"], names, guard)
    fields = _generic(f, tables["generic"], names, state_names, guard)
    units = _units(f, tables["units"], units, [*state_names, *params, *public], definitions)
    initial = None
    if "initial" in data:
        initial = _initial(f, tables["initial"], state_names)
    try:
        return GenericModel(
            state=[symbols[n] for n in state_names],
            params={symbols[n]: v for n, v in params.items()},
            name=data.get("name", f.path.stem),
            domain=_domain(f, tables["domain"], [*state_names, *params]),
            description=data.get("description"),
            initial_state=initial,
            simulation=_simulation(f, tables["simulation"]),
            definitions=definitions or None,
            observables={n: sp.Symbol(n, real=True) for n in public} or None,
            units=units or None,
            **fields,
        )
    except ModelError as err:
        raise ModelFileError(f"{f.path}: {err}") from None


def _state(f: _File, state: Any) -> list[str]:
    if not isinstance(state, list) or not state:
        raise f.error("state", 'expected a non-empty list of names, e.g. state = ["q", "p"]')
    if len(state) > MAX_STATE:
        raise f.error(
            "state",
            f"{len(state)} state variables; a model file holds a flat model of at most "
            f"{MAX_STATE}. Build larger systems (chains, grids, fields) as structured models "
            "in Python (generic_mm.structured), whose operators are sparse.",
        )
    seen: list[str] = []
    for i, name in enumerate(state):
        _identifier(f, name, f"state[{i}]")
        if name in seen:
            raise f.error(f"state[{i}]", f"{name!r} appears twice")
        seen.append(name)
    return seen


def _parameters(f: _File, table: dict, state: list[str]) -> dict[str, float]:
    if len(table) > MAX_PARAMETERS:
        raise f.error("[parameters]", f"{len(table):,} parameters; at most {MAX_PARAMETERS:,}")
    params = {}
    for key, value in table.items():
        where = f"[parameters] {key}"
        _identifier(f, key, where)
        if key in state:
            raise f.error(where, f"{key!r} is also a state variable; use distinct names")
        params[key] = _number(f, value, where)
    return params


def _symbols(f: _File, state: list[str], params: dict, assumptions: dict) -> dict[str, sp.Symbol]:
    _check_keys(f, assumptions, ASSUMPTIONS, "[assumptions]")
    flags: dict[str, dict[str, bool]] = {n: {"real": True} for n in (*state, *params)}
    for kind, names in assumptions.items():
        if not isinstance(names, list):
            raise f.error(f"[assumptions] {kind}", "expected a list of names")
        for name in names:
            if not isinstance(name, str) or name not in flags:
                raise f.error(
                    f"[assumptions] {kind}",
                    f"{name!r} is not a state variable or parameter{closest(str(name), flags)}",
                )
            flags[name][kind] = True
    try:
        return {name: sp.Symbol(name, **kw) for name, kw in flags.items()}
    except ValueError as err:  # contradictory assumptions (positive and negative)
        raise f.error("[assumptions]", f"contradictory assumptions: {err}") from None


def _definition_entry(f: _File, entry: Any, where: str) -> tuple[Any, bool, str | None]:
    """(expression text, private, unit) of one `[definitions]` entry."""
    if not isinstance(entry, dict):
        return entry, False, None
    _check_keys(f, entry, DEFINITION_KEYS, where)
    if "value" not in entry:
        raise f.error(where, 'missing "value": write { value = "expression", private = true }')
    private = entry.get("private", False)
    if not isinstance(private, bool):
        raise f.error(f"{where}.private", f"expected true or false, got {private!r}")
    unit = entry.get("unit")
    if unit is not None:
        unit = _unit(f, unit, f"{where}.unit")
        if private:
            raise f.error(
                f"{where}.unit", "a private definition is not an observable and has no unit"
            )
    return entry["value"], private, unit


def _definitions(
    f: _File, table: dict, names: dict[str, sp.Expr], guard: Guard
) -> tuple[dict[str, sp.Expr], list[str], dict[str, str]]:
    """Definitions as written (each later one uses the symbols of the earlier ones), the
    names of the public ones (observables) and their units."""
    if len(table) > MAX_DEFINITIONS:
        raise f.error("[definitions]", f"{len(table):,} definitions; at most {MAX_DEFINITIONS:,}")
    later = set(table)
    definitions: dict[str, sp.Expr] = {}
    public: list[str] = []
    units: dict[str, str] = {}
    for key, entry in table.items():
        where = f"[definitions] {key}"
        later.discard(key)
        _identifier(f, key, where)
        if key in names:
            raise f.error(where, f"{key!r} is already a state variable, parameter or definition")
        text, private, unit = _definition_entry(f, entry, where)
        symbol = sp.Symbol(key, real=True)
        try:
            expr = parse_expression(text, names, later=later, guard=guard)
            guard.define(symbol, expr)
        except ExpressionError as err:
            raise f.error(where, str(err)) from None
        names[key] = symbol
        definitions[key] = expr
        if not private:
            public.append(key)
        if unit is not None:
            units[key] = unit
    return definitions, public, units


def _generic(
    f: _File, generic: dict, names: dict[str, sp.Expr], state: list[str], guard: Guard
) -> dict[str, Any]:
    _check_keys(f, generic, ("energy", "entropy", "poisson", "friction"), "[generic]")

    def parse(text: Any, where: str) -> sp.Expr:
        try:
            expr = parse_expression(text, names, guard=guard)
            guard.admit(expr)
        except ExpressionError as err:
            raise f.error(where, str(err)) from None
        return expr

    def identifier(name: Any, where: str) -> str:
        return _identifier(f, name, where)

    out: dict[str, Any] = {}
    for key in ("energy", "entropy"):
        if key not in generic:
            raise f.error("[generic]", f"missing {key!r}")
        out[key] = parse(generic[key], f"[generic] {key}")
    for key in ("poisson", "friction"):
        out[key] = read_operators(generic.get(key), key, state, parse, f.error, identifier)
    return out


def _unit(f: _File, unit: Any, where: str) -> str:
    if not isinstance(unit, str):
        raise f.error(where, f'expected a unit as a string, e.g. "K", got {unit!r}')
    if len(unit) > MAX_UNIT_LENGTH or not unit.isprintable() or "$" in unit:
        raise f.error(
            where,
            f"a unit is plain printable text of at most {MAX_UNIT_LENGTH} characters without "
            f"'$', got {unit[:MAX_UNIT_LENGTH]!r}",
        )
    return unit


def _units(
    f: _File, table: dict, units: dict[str, str], known: list[str], definitions: Mapping
) -> dict[str, str]:
    out = dict(units)
    for name, unit in table.items():
        where = f"[units] {name}"
        if name in definitions and name not in known:
            raise f.error(where, f"{name!r} is a private definition, not an observable")
        if name not in known:
            raise f.error(
                where,
                f"{name!r} is not a state variable, parameter or observable{closest(name, known)}",
            )
        if name in out:
            raise f.error(where, f"the unit of {name!r} is also given in [definitions]")
        out[name] = _unit(f, unit, where)
    return {name: out[name] for name in known if name in out}


def _domain(f: _File, table: dict, known: list[str]) -> dict[str, tuple[float, float]]:
    domain = {}
    for key, value in table.items():
        where = f"[domain] {key}"
        if key not in known:
            raise f.error(
                where, f"{key!r} is not a state variable or parameter{closest(key, known)}"
            )
        if not isinstance(value, list) or len(value) != 2:
            raise f.error(where, f"expected [lo, hi], got {value!r}")
        lo, hi = _number(f, value[0], where), _number(f, value[1], where)
        if not lo < hi:
            raise f.error(where, f"expected lo < hi, got [{lo}, {hi}]")
        domain[key] = (lo, hi)
    return domain


def _initial(f: _File, table: dict, state: list[str]) -> dict[str, float]:
    initial = {k: _number(f, v, f"[initial] {k}") for k, v in table.items()}
    for k in initial:
        if k not in state:
            raise f.error(f"[initial] {k}", f"not a state variable{closest(k, state)}")
    missing = [n for n in state if n not in initial]
    if missing:
        raise f.error("[initial]", f"missing initial value(s) for {', '.join(missing)}")
    return initial


def _simulation(f: _File, table: dict) -> dict[str, Any]:
    _check_keys(f, table, tuple(SIMULATION), "[simulation]")
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[simulation] {key}"
        kind = SIMULATION[key]
        if kind is str:
            if not isinstance(value, str) or value not in SOLVERS:
                raise f.error(
                    where,
                    f"unknown solver {value!r}{closest(str(value), SOLVERS)}; one of "
                    f"{', '.join(SOLVERS)}",
                )
            out[key] = value
        elif kind is int:
            low, top = MIN_COUNT[key], MAX_COUNT[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                big = isinstance(value, int) and abs(value) >= 10**20
                shown = _long_integer(value) if big else repr(value)
                raise f.error(where, f"expected an integer from {low} to {top:,}, got {shown}")
            out[key] = value
        else:
            out[key] = _number(f, value, where)
            if key in _POSITIVE and out[key] <= 0:
                raise f.error(where, f"expected a positive number, got {value!r}")
    t0, t1 = out.get("t0", 0.0), out.get("t1")
    if t1 is not None and t1 <= t0:
        raise f.error("[simulation] t1", f"the end time {t1} is not after t0 = {t0}")
    return out


def save_model(model: GenericModel, path: str | os.PathLike) -> Path:
    """Write a model to a TOML file that [`generic_mm.load_model`][] reads back to the same
    model: definitions unexpanded (private ones marked), observables, named processes and
    couplings, units, `[initial]` and `[simulation]`, so the saved file runs as the original
    did. The file is written atomically.

    **Returns:** the path written.

    **Raises:** `InputError` when the folder does not exist or `path` is a folder;
    `ModelFileError` when the model cannot be written as a model file.
    """
    if not isinstance(model, GenericModel):
        raise ModelFileError(f"save_model: expected a GenericModel, got {type(model).__name__}")
    target = writable_target(path, "save_model")
    text = model_to_toml(model)
    # Refuse to write what could not be read back.
    try:
        _build(_File(target), tomllib.loads(text))
    except ModelFileError as err:
        raise ModelFileError(
            f"save_model: the model cannot be written as a model file: {err}"
        ) from None
    write_atomic(target, text.encode("utf-8"))
    return target
