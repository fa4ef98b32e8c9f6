"""TOML model files -> `GenericModel`, and back.

Schema (see docs/model-files.md): `name`, `description`, `state`, `[assumptions]`,
`[parameters]`, `[definitions]`, `[generic]` (`energy`, `entropy`, `poisson`, `friction`;
operators dense as lists of rows or sparse as `{entries = {"p,s" = "..."}, symmetric = true}`),
`[domain]`, `[initial]`, `[simulation]`. Unknown keys are errors: nothing is ignored.
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sympy as sp

from .._errors import ModelError, ModelFileError
from .._expressions import closest
from .._model import GenericModel
from ._parser import ExpressionError, parse_expression

TABLES = ("assumptions", "parameters", "definitions", "generic", "domain", "initial", "simulation")
TOP_LEVEL = ("name", "description", "state", *TABLES)
ASSUMPTIONS = ("positive", "nonnegative", "negative", "nonpositive")
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
SOLVERS = ("Tsit5", "Dopri5", "Dopri8", "Heun", "Bosh3", "Kvaerno3", "Kvaerno5", "ImplicitEuler")


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
    if not math.isfinite(value):
        raise f.error(where, f"expected a finite number, got {value}")
    return float(value)


def _identifier(f: _File, name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise f.error(
            where,
            f"{name!r} is not a valid name (letters, digits, underscores; no leading underscore)",
        )
    if name in ("pi", "Piecewise"):
        raise f.error(where, f"{name!r} is reserved; choose another name")
    return name


def load_model(path: str | os.PathLike) -> GenericModel:
    """Read a TOML model file into a [`generic_mm.GenericModel`][].

    The model also carries the file's `description`, `initial_state` (from `[initial]`) and
    `simulation` defaults (from `[simulation]`). Expressions are parsed safely (see
    `generic_mm.io.parse_expression`): nothing in the file is executed.

    **Raises:** `ModelFileError` naming the file, table, key and entry.
    """
    f = _File(Path(path))
    try:
        raw = f.path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"{f.path}: cannot read the file: {err.strerror or err}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{f.path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{f.path}: not valid TOML: {err}") from None
    return _build(f, data)


def _build(f: _File, data: dict) -> GenericModel:
    _check_keys(f, data, TOP_LEVEL, "top level")
    for key in ("state", "generic"):
        if key not in data:
            raise f.error("top level", f"missing required key {key!r}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise f.error(key, f"expected a string, got {type(data[key]).__name__}")
    tables = {k: data.get(k, {}) for k in TABLES}
    for key, value in tables.items():
        if not isinstance(value, dict):
            raise f.error(f"[{key}]", f"expected a table, got {type(value).__name__}")
    state_names = _state(f, data["state"])
    params = {
        _identifier(f, k, f"[parameters] {k}"): _number(f, v, f"[parameters] {k}")
        for k, v in tables["parameters"].items()
    }
    for name in params:
        if name in state_names:
            raise f.error(
                f"[parameters] {name}", f"{name!r} is also a state variable; use distinct names"
            )
    symbols = _symbols(f, state_names, params, tables["assumptions"])
    names: dict[str, sp.Expr] = dict(symbols)
    _definitions(f, tables["definitions"], names)
    fields = _generic(f, tables["generic"], names, state_names)
    domain = {}
    for key, value in tables["domain"].items():
        where = f"[domain] {key}"
        if not isinstance(value, list) or len(value) != 2:
            raise f.error(where, f"expected [lo, hi], got {value!r}")
        domain[key] = (_number(f, value[0], where), _number(f, value[1], where))
    initial = None
    if "initial" in data:
        initial = {k: _number(f, v, f"[initial] {k}") for k, v in tables["initial"].items()}
        for k in initial:
            if k not in state_names:
                raise f.error(f"[initial] {k}", f"not a state variable{closest(k, state_names)}")
        missing = [n for n in state_names if n not in initial]
        if missing:
            raise f.error("[initial]", f"missing initial value(s) for {', '.join(missing)}")
    simulation = _simulation(f, tables["simulation"])
    try:
        return GenericModel(
            state=[symbols[n] for n in state_names],
            params={symbols[n]: v for n, v in params.items()},
            name=data.get("name", f.path.stem),
            domain=domain,
            description=data.get("description"),
            initial_state=initial,
            simulation=simulation,
            **fields,
        )
    except ModelError as err:
        raise ModelFileError(f"{f.path}: {err}") from None


def _state(f: _File, state: Any) -> list[str]:
    if not isinstance(state, list) or not state:
        raise f.error("state", 'expected a non-empty list of names, e.g. state = ["q", "p"]')
    seen: list[str] = []
    for i, name in enumerate(state):
        _identifier(f, name, f"state[{i}]")
        if name in seen:
            raise f.error(f"state[{i}]", f"{name!r} appears twice")
        seen.append(name)
    return seen


def _symbols(f: _File, state: list[str], params: dict, assumptions: dict) -> dict[str, sp.Symbol]:
    _check_keys(f, assumptions, ASSUMPTIONS, "[assumptions]")
    flags: dict[str, dict[str, bool]] = {n: {"real": True} for n in (*state, *params)}
    for kind, names in assumptions.items():
        if not isinstance(names, list):
            raise f.error(f"[assumptions] {kind}", "expected a list of names")
        for name in names:
            if name not in flags:
                raise f.error(
                    f"[assumptions] {kind}",
                    f"{name!r} is not a state variable or parameter{closest(str(name), flags)}",
                )
            flags[name][kind] = True
    return {name: sp.Symbol(name, **kw) for name, kw in flags.items()}


def _definitions(f: _File, definitions: dict, names: dict[str, sp.Expr]) -> None:
    order = list(definitions)
    for i, (key, text) in enumerate(definitions.items()):
        where = f"[definitions] {key}"
        _identifier(f, key, where)
        if key in names:
            raise f.error(where, f"{key!r} is already a state variable, parameter or definition")
        try:
            names[key] = parse_expression(text, names, later=set(order[i + 1 :]))
        except ExpressionError as err:
            raise f.error(where, str(err)) from None


def _generic(f: _File, generic: dict, names: dict, state: list[str]) -> dict[str, Any]:
    _check_keys(f, generic, ("energy", "entropy", "poisson", "friction"), "[generic]")
    out: dict[str, Any] = {}
    for key in ("energy", "entropy"):
        if key not in generic:
            raise f.error("[generic]", f"missing {key!r}")
        try:
            out[key] = parse_expression(generic[key], names)
        except ExpressionError as err:
            raise f.error(f"[generic] {key}", str(err)) from None
    out["poisson"] = _operator(f, generic.get("poisson"), "poisson", names, state)
    out["friction"] = _operator(f, generic.get("friction"), "friction", names, state)
    return out


def _operator(f: _File, value: Any, field: str, names: dict, state: list[str]) -> sp.Matrix:
    n = len(state)
    mat = sp.zeros(n, n)
    if value is None:
        return mat
    where = f"[generic] {field}"

    def parse(text, i, j):
        try:
            return parse_expression(text, names)
        except ExpressionError as err:
            raise f.error(f"{where}[{state[i]}, {state[j]}]", str(err)) from None

    if isinstance(value, list):
        if len(value) != n:
            raise f.error(where, f"has {len(value)} rows; expected {n} (one per state variable)")
        for i, row in enumerate(value):
            if not isinstance(row, list) or len(row) != n:
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise f.error(f"{where} row {i} ({state[i]})", f"has {got} entries; expected {n}")
            for j, text in enumerate(row):
                mat[i, j] = parse(text, i, j)
        return mat
    if not isinstance(value, dict):
        raise f.error(where, 'expected a list of rows or a table with entries = {"a,b" = "..."}')
    fill = "symmetric" if field == "friction" else "antisymmetric"
    _check_keys(f, value, ("entries", fill), where)
    mirror = value.get(fill, False)
    if not isinstance(mirror, bool):
        raise f.error(f"{where}.{fill}", "expected true or false")
    entries = value.get("entries", {})
    if not isinstance(entries, dict):
        raise f.error(f"{where}.entries", 'expected a table "row,column" = "expression"')
    given: set[tuple[int, int]] = set()
    for key, text in entries.items():
        parts = [p.strip() for p in str(key).split(",")]
        if len(parts) != 2 or any(p not in state for p in parts):
            bad = next((p for p in parts if p not in state), key)
            raise f.error(
                f"{where}.entries[{key!r}]",
                f'expected "row,column" with state names; {bad!r} is not one{closest(bad, state)}',
            )
        i, j = state.index(parts[0]), state.index(parts[1])
        for pos in {(i, j), (j, i)} if mirror else {(i, j)}:
            if pos in given:
                raise f.error(
                    f"{where}.entries[{key!r}]",
                    f"entry ({state[pos[0]]}, {state[pos[1]]}) is given twice",
                )
            given.add(pos)
        expr = parse(text, i, j)
        mat[i, j] = expr
        if mirror and i != j:
            mat[j, i] = expr if fill == "symmetric" else -expr
        elif mirror and fill == "antisymmetric" and expr != 0:
            raise f.error(
                f"{where}.entries[{key!r}]",
                "a diagonal entry of an antisymmetric operator must be 0",
            )
    return mat


def _simulation(f: _File, table: dict) -> dict[str, Any]:
    _check_keys(f, table, tuple(SIMULATION), "[simulation]")
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[simulation] {key}"
        kind = SIMULATION[key]
        if kind is str:
            if value not in SOLVERS:
                raise f.error(
                    where,
                    f"unknown solver {value!r}{closest(str(value), SOLVERS)}; one of {', '.join(SOLVERS)}",
                )
            out[key] = value
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise f.error(where, f"expected a positive integer, got {value!r}")
            out[key] = value
        else:
            out[key] = _number(f, value, where)
    return out


# -- writing ------------------------------------------------------------------------------


class _Printer(sp.printing.str.StrPrinter):
    """`str` of SymPy expressions that `parse_expression` reads back exactly."""

    def _print_Exp1(self, expr):
        return "exp(1)"  # "E" may be a symbol of the model (e.g. Young's modulus)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Relational(self, expr):
        ops = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        return f"({self._print(expr.lhs)} {ops[expr.rel_op]} {self._print(expr.rhs)})"

    def _print_And(self, expr):
        return "(" + " and ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " or ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(not {self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        return f"Heaviside({', '.join(self._print(a) for a in expr.args)})"


def _text(expr: sp.Basic) -> str:
    return _Printer().doprint(expr)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _toml_num(v: float) -> str:
    return repr(float(v))


def model_to_toml(model: GenericModel) -> str:
    """The TOML text of a model (what `save_model` writes)."""
    lines = [f"name = {_toml_str(model.name)}"]
    if model.description:
        lines.append(f"description = {_toml_str(model.description)}")
    lines.append("state = [" + ", ".join(_toml_str(n) for n in model.state_names) + "]")
    symbols = (*model.state, *model.param_symbols)
    kinds = {k: [s.name for s in symbols if getattr(s, f"is_{k}")] for k in ASSUMPTIONS}
    # positive implies nonnegative: write the strongest statement only
    kinds["nonnegative"] = [n for n in kinds["nonnegative"] if n not in kinds["positive"]]
    kinds["nonpositive"] = [n for n in kinds["nonpositive"] if n not in kinds["negative"]]
    if any(kinds.values()):
        lines += ["", "[assumptions]"]
        lines += [
            f"{k} = [" + ", ".join(_toml_str(n) for n in v) + "]" for k, v in kinds.items() if v
        ]
    if model.params:
        lines += ["", "[parameters]"]
        lines += [f"{s.name} = {_toml_num(model.params[s])}" for s in model.param_symbols]
    lines += [
        "",
        "[generic]",
        f"energy = {_toml_str(_text(model.energy))}",
        f"entropy = {_toml_str(_text(model.entropy))}",
    ]
    names = model.state_names
    for field in ("poisson", "friction"):
        mat = getattr(model, field)
        nonzero = [(i, j) for i in range(model.n) for j in range(model.n) if mat[i, j] != 0]
        if not nonzero:
            continue
        if model.n <= 6:
            rows = ", ".join(
                "[" + ", ".join(_toml_str(_text(mat[i, j])) for j in range(model.n)) + "]"
                for i in range(model.n)
            )
            lines.append(f"{field} = [{rows}]")
        else:
            lines += ["", f"[generic.{field}.entries]"]
            lines += [
                f"{_toml_str(f'{names[i]},{names[j]}')} = {_toml_str(_text(mat[i, j]))}"
                for i, j in nonzero
            ]
    if model.domain:
        lines += ["", "[domain]"]
        lines += [
            f"{k} = [{_toml_num(lo)}, {_toml_num(hi)}]" for k, (lo, hi) in model.domain.items()
        ]
    if model.initial_state:
        lines += ["", "[initial]"]
        lines += [f"{k} = {_toml_num(v)}" for k, v in model.initial_state.items()]
    if model.simulation:
        lines += ["", "[simulation]"]
        for k, v in model.simulation.items():
            lines.append(f"{k} = {_toml_str(v) if isinstance(v, str) else repr(v)}")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and a rename: never a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: GenericModel, path: str | os.PathLike) -> Path:
    """Write a model to a TOML file that [`generic_mm.load_model`][] reads back to the same
    model (the file is written atomically).

    **Returns:** the path written.
    """
    if not isinstance(model, GenericModel):
        raise ModelFileError(f"save_model: expected a GenericModel, got {type(model).__name__}")
    text = model_to_toml(model)
    # Refuse to write what could not be read back.
    _build(_File(Path(path)), tomllib.loads(text))
    write_atomic(Path(path), text.encode("utf-8"))
    return Path(path)
