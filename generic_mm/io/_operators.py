"""`[generic] poisson` and `friction` in model files: one operator, or a table of named
couplings / processes, each dense (a list of rows) or sparse (`{entries = {...}}`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy as sp

from .._errors import ModelFileError
from .._expressions import closest

FILL = {"poisson": "antisymmetric", "friction": "symmetric"}
OPERATOR_KEYS = ("entries", "symmetric", "antisymmetric")
"""The keys of one sparse operator; a table of named operators may not use them as names."""

Error = Callable[[str, str], ModelFileError]
Parse = Callable[[Any, str], sp.Expr]


def read_operators(
    value: Any,
    field: str,
    state: Sequence[str],
    parse: Parse,
    error: Error,
    identifier: Callable[[Any, str], str],
) -> sp.ImmutableMatrix | dict[str, sp.ImmutableMatrix] | None:
    """The operator(s) `[generic] field` describes: `None` when absent, one matrix, or
    name -> matrix when the table's keys are names rather than `entries`/`symmetric`/...

    `parse(text, where)` parses one entry; `error(where, message)` builds the error;
    `identifier(name, where)` validates a process name.
    """
    where = f"[generic] {field}"
    if value is None:
        return None
    if isinstance(value, dict) and value:
        reserved = [k for k in value if k in OPERATOR_KEYS]
        names = [k for k in value if k not in OPERATOR_KEYS]
        if names and not reserved:
            return {
                identifier(name, f"{where}.{name}"): _operator(
                    op, field, f"{where}.{name}", state, parse, error
                )
                for name, op in value.items()
            }
        if names:
            raise error(
                where,
                f"mixes the keys of one sparse operator ({', '.join(reserved)}) with process "
                f"names ({', '.join(names)}); give either one operator or name = operator "
                f"for each (the names {', '.join(OPERATOR_KEYS)} are reserved)",
            )
        _refuse_reserved_names(value, where, error)
    return _operator(value, field, where, state, parse, error)


def _refuse_reserved_names(value: dict, where: str, error: Error) -> None:
    # `[generic.friction.entries]` holding rows, or `symmetric = [[...]]`, is an operator
    # named like a key: say so rather than report a confusing type error.
    for key in OPERATOR_KEYS:
        v = value.get(key)
        if key == "entries":
            named = isinstance(v, list) or (
                isinstance(v, dict) and any(isinstance(x, (dict, list)) for x in v.values())
            )
        else:
            named = isinstance(v, (dict, list))
        if named:
            raise error(
                f"{where}.{key}",
                f"{key!r} is a key of a sparse operator and cannot name a process or "
                "coupling; choose another name",
            )


def _operator(
    value: Any, field: str, where: str, state: Sequence[str], parse: Parse, error: Error
) -> sp.ImmutableMatrix:
    n = len(state)
    rows: list[list[Any]] = [[sp.S.Zero] * n for _ in range(n)]
    if isinstance(value, list):
        if len(value) != n:
            raise error(where, f"has {len(value)} rows; expected {n} (one per state variable)")
        for i, row in enumerate(value):
            if not isinstance(row, list) or len(row) != n:
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise error(f"{where} row {i} ({state[i]})", f"has {got} entries; expected {n}")
            for j, text in enumerate(row):
                rows[i][j] = parse(text, f"{where}[{state[i]}, {state[j]}]")
        return sp.ImmutableMatrix(rows)
    if not isinstance(value, dict):
        raise error(
            where,
            'expected a list of rows, a table with entries = {"a,b" = "..."}, or a table of '
            "named operators",
        )
    fill = FILL[field]
    allowed = ("entries", fill)
    for key in value:
        if key not in allowed:
            raise error(
                where, f"unknown key {key!r}{closest(str(key), allowed)}; allowed: entries, {fill}"
            )
    mirror = value.get(fill, False)
    if not isinstance(mirror, bool):
        raise error(f"{where}.{fill}", "expected true or false")
    entries = value.get("entries", {})
    if not isinstance(entries, dict):
        raise error(f"{where}.entries", 'expected a table "row,column" = "expression"')
    _fill(rows, entries, field, where, state, mirror, parse, error)
    return sp.ImmutableMatrix(rows)


def _fill(
    rows: list[list[Any]],
    entries: Mapping[str, Any],
    field: str,
    where: str,
    state: Sequence[str],
    mirror: bool,
    parse: Parse,
    error: Error,
) -> None:
    index = {name: i for i, name in enumerate(state)}
    given: set[tuple[int, int]] = set()
    for key, text in entries.items():
        at = f"{where}.entries[{key!r}]"
        parts = [p.strip() for p in str(key).split(",")]
        if len(parts) != 2 or any(p not in index for p in parts):
            bad = next((p for p in parts if p not in index), key)
            raise error(
                at,
                f'expected "row,column" with state names; {bad!r} is not one{closest(bad, state)}',
            )
        i, j = index[parts[0]], index[parts[1]]
        for pos in {(i, j), (j, i)} if mirror else {(i, j)}:
            if pos in given:
                raise error(at, f"entry ({state[pos[0]]}, {state[pos[1]]}) is given twice")
            given.add(pos)
        expr = parse(text, at)
        rows[i][j] = expr
        if mirror and i != j:
            rows[j][i] = expr if field == "friction" else -expr
        elif mirror and field == "poisson" and expr != 0:
            raise error(at, "a diagonal entry of an antisymmetric operator must be 0")
