"""Turning user input into SymPy expressions, with errors that name the field and entry.

Public-in-package helpers shared by every way of building a model (flat, structured,
composites, model files).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sympy as sp

from ._codegen import unsupported_parts
from ._errors import ModelError
from ._validate import finite_number, violated_assumption


def closest(name: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def as_scalar_expr(value: Any, where: str) -> sp.Expr:
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


def as_matrix(value: Any, field: str, n: int, names: Sequence[str]) -> sp.ImmutableMatrix:
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
        [as_scalar_expr(rows[i][j], f"{field}[{names[i]}, {names[j]}]") for j in range(n)]
        for i in range(n)
    ]
    return sp.ImmutableMatrix(entries)


def parse_state(state: Any) -> tuple[sp.Symbol, ...]:
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


def as_param_value(value: Any, where: str) -> float:
    """`value` as a finite float, or `ModelError` naming `where`."""
    return finite_number(value, where, ModelError)


def check_sign(symbol: sp.Symbol, value: float, where: str) -> None:
    """`ModelError` when `value` breaks a sign assumption of `symbol`."""
    bad = violated_assumption(symbol, value)
    if bad is not None:
        raise ModelError(f"{where}: {symbol.name} is declared {bad[0]} but its value is {value}.")


def entry(mat: sp.MatrixBase, i: int, j: int) -> sp.Expr:
    """`mat[i, j]`: one entry of a model's matrix, a scalar expression (SymPy's own typing
    of indexing also allows sub-matrices and lists)."""
    return cast(sp.Expr, mat[i, j])


def graph_nodes(expr: sp.Basic):
    """Every node of `expr`, each shared subexpression once: SymPy's own walks recurse
    through the tree, exponentially larger than the graph when definitions are chained."""
    seen: set[int] = set()
    stack: list[sp.Basic] = [expr]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(node.args)


def symbols_in(expr: sp.Basic) -> set[sp.Symbol]:
    """The free symbols of an expression that passed `as_scalar_expr` (no bound variables:
    its check refuses integrals, sums and lambdas), found by `graph_nodes`."""
    return {node for node in graph_nodes(expr) if isinstance(node, sp.Symbol)}


def gradient(expr: sp.Expr, state: Sequence[sp.Symbol]) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([sp.diff(expr, s) for s in state])


def matvec(mat: sp.MatrixBase, vec: sp.MatrixBase) -> sp.ImmutableMatrix:
    # Multiply skipping structural zeros: keeps the expressions as small as the model.
    n = mat.shape[0]
    out = []
    for i in range(n):
        terms = [mat[i, j] * vec[j] for j in range(n) if mat[i, j] != 0 and vec[j] != 0]
        out.append(sp.Add(*terms))
    return sp.ImmutableMatrix(out)
