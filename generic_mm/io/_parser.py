"""A safe parser for the expressions in model files: Python's `ast`, an allow-list, SymPy.

Nothing from the text is evaluated as Python: `ast.parse` only builds a syntax tree, which
is walked node by node; each allowed node becomes a SymPy object, built through a `Guard`
(see `_guard.py`) that keeps SymPy's own evaluation bounded. Anything else (attribute
access, subscripts, lambdas, comprehensions, strings, keywords, dunder names, calls of
anything but the listed mathematical functions) is refused, as are inputs that could
exhaust memory or time (long text, deep nesting, many nodes, huge exponents or numbers) and
characters that Python would silently read as others (Unicode NFKC folding).
"""

from __future__ import annotations

import ast
import operator
import unicodedata
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from .._expressions import closest
from ._guard import MAX_EXPONENT as MAX_EXPONENT, ExpressionError as ExpressionError, Guard

MAX_LENGTH = 20_000
MAX_NODES = 5_000
MAX_DEPTH = 60
MAX_DIGITS = 40

FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "cbrt": sp.cbrt,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "atan2": sp.atan2,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "asinh": sp.asinh,
    "acosh": sp.acosh,
    "atanh": sp.atanh,
    "sec": sp.sec,
    "csc": sp.csc,
    "cot": sp.cot,
    "Abs": sp.Abs,
    "abs": sp.Abs,
    "sign": sp.sign,
    "Max": sp.Max,
    "max": sp.Max,
    "Min": sp.Min,
    "min": sp.Min,
    "Heaviside": sp.Heaviside,
    "floor": sp.floor,
    "ceiling": sp.ceiling,
    "erf": sp.erf,
    "erfc": sp.erfc,
    "gamma": sp.gamma,
    "loggamma": sp.loggamma,
}
"""Functions a model file may call (SymPy's names; `abs`, `max`, `min` as aliases)."""

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
"""Named constants a model file may use."""

_ARITY = {
    "atan2": (2, 2),
    "Max": (1, 32),
    "max": (1, 32),
    "Min": (1, 32),
    "min": (1, 32),
    "Heaviside": (1, 2),
}
_OPERATIONS = (ast.Call, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)
_COMPARE = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.Call: "this call",
        ast.JoinedStr: "strings",
        ast.NamedExpr: "assignment",
        ast.Starred: "unpacking",
        ast.IfExp: "conditional expressions (use Piecewise)",
        ast.List: "lists",
        ast.Dict: "dicts",
        ast.Set: "sets",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.Compare: "comparisons (only in Piecewise conditions) are",
        ast.BoolOp: "and/or (only in Piecewise conditions) are",
    }
    return kinds.get(type(node), type(node).__name__)


def nfkc_problem(text: str) -> str | None:
    """Why `text` is refused for holding characters that Unicode NFKC normalization changes
    (Python folds identifiers so: a fullwidth `ｋ` is `k`, a bold `𝐸` is `E`), or `None`."""
    if unicodedata.normalize("NFKC", text) == text:
        return None
    for column, char in enumerate(text, 1):
        folded = unicodedata.normalize("NFKC", char)
        if folded != char:
            return (
                f"the character {char!r} ({unicodedata.name(char, 'unnamed')}) at column "
                f"{column} would be read as {folded!r}; write {folded!r} if that is meant"
            )
    return "contains characters that Unicode normalization (NFKC) changes"


def _is_condition(value: object) -> bool:
    # Symbols are SymPy Booleans too: a bare name is not a condition.
    return isinstance(value, (Relational, BooleanFunction, BooleanAtom))


def _chain(node: ast.BinOp, ops: tuple[type, ...]) -> list[tuple[type | None, ast.expr]]:
    """The operands of `a + b - c ...` (or `a * b / c ...`) with their operators, left to
    right: Python nests such chains one level per operator, SymPy builds them flat."""
    items: list[tuple[type | None, ast.expr]] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, ops):
        items.append((type(current.op), current.right))
        current = current.left
    items.append((None, current))
    items.reverse()
    return items


class _Builder:
    def __init__(self, names: Mapping[str, sp.Expr], later: Collection[str], guard: Guard):
        self.names = names
        self.later = later
        self.guard = guard

    def build(self, node: ast.AST, depth: int = 0, condition: bool = False) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} levels deep")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self._constant(node.value, condition)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, d, condition)
        if isinstance(node, ast.BinOp):
            return self._binary(node, d)
        if isinstance(node, ast.Call):
            return self._call(node, d)
        if condition and isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise ExpressionError(
                    "conditions compare two expressions with one of < <= > >= == !="
                )
            left, right = self._value(node.left, d), self._value(node.comparators[0], d)
            return self.guard.apply(_COMPARE[type(node.ops[0])], (left, right), "comparison")
        if condition and isinstance(node, ast.BoolOp):
            parts = [self._condition(v, d) for v in node.values]
            func = sp.And if isinstance(node.op, ast.And) else sp.Or
            return self.guard.apply(func, parts)
        raise ExpressionError(f"{_describe(node)} not allowed in model expressions")

    def _value(self, node: ast.AST, depth: int) -> sp.Expr:
        out = self.build(node, depth)
        if not isinstance(out, sp.Expr):  # e.g. Piecewise of conditions
            raise ExpressionError(f"{out} is a condition, not a value")
        return out

    def _condition(self, node: ast.AST, depth: int) -> sp.Basic:
        out = self.build(node, depth, condition=True)
        if not _is_condition(out):
            raise ExpressionError(
                f"{out} is not a condition; compare two expressions with < <= > >= == !="
            )
        return out

    def _unary(self, node: ast.UnaryOp, d: int, condition: bool) -> sp.Basic:
        if isinstance(node.op, ast.USub):
            return self.guard.apply(operator.neg, (self._value(node.operand, d),), "-")
        if isinstance(node.op, ast.UAdd):
            return self._value(node.operand, d)
        if isinstance(node.op, ast.Not) and condition:
            return self.guard.apply(sp.Not, (self._condition(node.operand, d),), "not")
        raise ExpressionError(f"the operator {type(node.op).__name__} is not allowed")

    def _binary(self, node: ast.BinOp, d: int) -> sp.Basic:
        if isinstance(node.op, ast.Pow):
            base, exponent = self._value(node.left, d), self._value(node.right, d)
            return self.guard.apply(sp.Pow, (base, exponent), "**")
        if isinstance(node.op, (ast.Add, ast.Sub)):
            terms = []
            for op, operand in _chain(node, (ast.Add, ast.Sub)):
                term = self._value(operand, d)
                if op is ast.Sub:
                    term = self.guard.apply(operator.neg, (term,), "-")
                terms.append(term)
            return self.guard.apply(sp.Add, terms, "+")
        if isinstance(node.op, (ast.Mult, ast.Div)):
            factors = []
            for op, operand in _chain(node, (ast.Mult, ast.Div)):
                factor = self._value(operand, d)
                if op is ast.Div:
                    factor = self.guard.apply(sp.Pow, (factor, sp.S.NegativeOne), "/")
                factors.append(factor)
            return self.guard.apply(sp.Mul, factors, "*")
        raise ExpressionError(
            f"the operator {type(node.op).__name__} is not allowed; use + - * / **"
        )

    def _constant(self, value: object, condition: bool) -> sp.Basic:
        if isinstance(value, bool):
            if condition and value is True:
                return sp.true
            raise ExpressionError(f"the boolean {value} is not allowed here")
        return self.guard.apply(_number, (value,), "number")

    def _name(self, name: str) -> sp.Basic:
        if name.startswith("__"):
            raise ExpressionError(f"the name {name!r} is not allowed")
        if name in self.names:  # declared names shadow constants (E may be a modulus)
            return self.names[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.later:
            raise ExpressionError(f"refers to {name!r}, which is defined later; define it first")
        if name in FUNCTIONS:
            raise ExpressionError(f"{name!r} is a function; call it, e.g. {name}(x)")
        raise ExpressionError(
            f"undefined symbol {name!r}{closest(name, [*self.names, *CONSTANTS])}; declare it "
            "in state, [parameters] or [definitions]"
        )

    def _call(self, node: ast.Call, d: int) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(
                f"only calls of named functions are allowed ({_describe(node.func)} is not)"
            )
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"{name}(): keyword arguments and unpacking are not allowed")
        if name == "Piecewise":
            return self._piecewise(node, d)
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {name!r}{closest(name, FUNCTIONS)}; allowed: "
                f"{', '.join(sorted(FUNCTIONS))}, Piecewise"
            )
        lo, hi = _ARITY.get(name, (1, 1))
        if not lo <= len(node.args) <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExpressionError(f"{name}() takes {expected} argument(s), got {len(node.args)}")
        args = [self._value(a, d) for a in node.args]
        return self.guard.apply(FUNCTIONS[name], args, name)

    def _piecewise(self, node: ast.Call, d: int) -> sp.Basic:
        pieces = []
        for arg in node.args:
            if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                raise ExpressionError("Piecewise takes pairs (expression, condition)")
            pieces.append((self._value(arg.elts[0], d), self._condition(arg.elts[1], d)))
        if not pieces:
            raise ExpressionError("Piecewise needs at least one (expression, condition) pair")
        return self.guard.apply(sp.Piecewise, pieces, "Piecewise")


def _number(value: Any) -> sp.Expr:
    if isinstance(value, bool):
        raise ExpressionError(f"expected an expression, got the boolean {value}")
    if isinstance(value, int):
        if abs(value) >= 10**MAX_DIGITS:
            raise ExpressionError(f"integer literal with more than {MAX_DIGITS} digits")
        return sp.Integer(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ExpressionError(f"the number {value} is not finite")
        return sp.Float(value)
    raise ExpressionError(f"{type(value).__name__} literals ({value!r}) are not allowed")


def parse_expression(
    text: object,
    names: Mapping[str, sp.Expr],
    *,
    later: Collection[str] = frozenset(),
    guard: Guard | None = None,
) -> sp.Expr:
    """Parse `text` into a SymPy expression, allowing only the symbols in `names`.

    **Arguments:**

    - `text`: the expression (a string; numbers are accepted too).
    - `names`: name -> SymPy object for every name the expression may use.
    - `later`: names defined later in the file (for a clearer error).
    - `guard`: the `Guard` of the file being read (it knows what the definitions expand to);
        a fresh one by default.

    **Raises:** `ExpressionError` with the reason; nothing in `text` is ever executed.
    """
    guard = Guard() if guard is None else guard
    if isinstance(text, (bool, int, float)):
        return guard.apply(_number, (text,), "number")
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression as a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("empty expression")
    problem = nfkc_problem(text)
    if problem:
        raise ExpressionError(problem)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        at = f" at column {err.offset}" if err.offset else ""
        raise ExpressionError(f"syntax error{at}: {err.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression too deeply nested or malformed") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts")
    guard.charge(sum(isinstance(node, _OPERATIONS) for node in nodes))
    try:
        expr = _Builder(names, later, guard).build(tree.body)
    except RecursionError:
        raise ExpressionError("expression too deeply nested") from None
    if not isinstance(expr, sp.Expr):
        raise ExpressionError("a condition is not a value; conditions belong in Piecewise")
    return cast(sp.Expr, expr)
