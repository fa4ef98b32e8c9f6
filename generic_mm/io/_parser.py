"""A safe parser for the expressions in model files: Python's `ast`, an allow-list, SymPy.

Nothing from the text is evaluated as Python: `ast.parse` only builds a syntax tree, which
is walked node by node; each allowed node becomes a SymPy object. Anything else (attribute
access, subscripts, lambdas, comprehensions, strings, keywords, dunder names, calls of
anything but the listed mathematical functions) is refused, as are inputs that could
exhaust memory or time (long text, deep nesting, many nodes, huge exponents or literals).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping
from typing import cast

import sympy as sp
from sympy.logic.boolalg import Boolean

MAX_LENGTH = 20_000
MAX_NODES = 5_000
MAX_DEPTH = 60
MAX_EXPONENT = 64
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
_BINOPS = {
    ast.Add: sp.Add,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: sp.Mul,
    ast.Div: lambda a, b: a / b,
    ast.Pow: None,
}
_COMPARE = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}


class ExpressionError(ValueError):
    """An expression in a model file was refused; the message says why."""


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


def _suggest(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Builder:
    def __init__(self, names: Mapping[str, sp.Expr], later: set[str]):
        self.names = names
        self.later = later

    def build(self, node: ast.AST, depth: int = 0, condition: bool = False) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} levels deep")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self._constant(node.value, condition)
        if isinstance(node, ast.Name):
            return self._name(node.id, condition)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self._value(node.operand, d)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, d)
            if isinstance(node.op, ast.Not) and condition:
                return sp.Not(self.build(node.operand, d, condition=True))
            raise ExpressionError(f"the operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExpressionError(
                    f"the operator {type(node.op).__name__} is not allowed; use + - * / **"
                )
            left, right = self._value(node.left, d), self._value(node.right, d)
            if isinstance(node.op, ast.Pow):
                return self._pow(left, right)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            return self._call(node, d)
        if condition and isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise ExpressionError(
                    "conditions compare two expressions with one of < <= > >= == !="
                )
            return _COMPARE[type(node.ops[0])](
                self.build(node.left, d), self.build(node.comparators[0], d)
            )
        if condition and isinstance(node, ast.BoolOp):
            parts = [self._condition(v, d) for v in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        raise ExpressionError(f"{_describe(node)} not allowed in model expressions")

    def _value(self, node: ast.AST, depth: int) -> sp.Expr:
        # Outside a condition every node builds an expression: numbers, names (whose values
        # are expressions), arithmetic and function calls.
        return cast(sp.Expr, self.build(node, depth))

    def _condition(self, node: ast.AST, depth: int) -> Boolean:
        out = self.build(node, depth, condition=True)
        if not isinstance(out, Boolean):
            raise ExpressionError(
                f"{out} is not a condition; compare two expressions with < <= > >= == !="
            )
        return out

    def _constant(self, value, condition: bool) -> sp.Basic:
        if isinstance(value, bool):
            if condition and value is True:
                return sp.true
            raise ExpressionError(f"the boolean {value} is not allowed here")
        return self._number(value)

    @staticmethod
    def _number(value) -> sp.Expr:
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_DIGITS:
                raise ExpressionError(f"integer literal with more than {MAX_DIGITS} digits")
            return sp.Integer(value)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ExpressionError(f"the number {value} is not finite")
            return sp.Float(value)
        raise ExpressionError(f"{type(value).__name__} literals ({value!r}) are not allowed")

    def _name(self, name: str, condition: bool) -> sp.Basic:
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
            f"undefined symbol {name!r}{_suggest(name, [*self.names, *CONSTANTS])}; declare it "
            "in state, [parameters] or [definitions]"
        )

    def _pow(self, base: sp.Expr, exponent: sp.Expr) -> sp.Basic:
        if exponent.is_Number and abs(float(exponent)) > MAX_EXPONENT:
            raise ExpressionError(f"exponent {exponent} is larger than {MAX_EXPONENT} in magnitude")
        if base.is_Number and exponent.is_Number and abs(float(base)) > 1e12:
            raise ExpressionError("powers of huge numbers are not allowed")
        return sp.Pow(base, exponent)

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
                f"unknown function {name!r}{_suggest(name, FUNCTIONS)}; allowed: "
                f"{', '.join(sorted(FUNCTIONS))}, Piecewise"
            )
        lo, hi = _ARITY.get(name, (1, 1))
        if not lo <= len(node.args) <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExpressionError(f"{name}() takes {expected} argument(s), got {len(node.args)}")
        args = [self._value(a, d) for a in node.args]
        if name in ("gamma", "loggamma") and args[0].is_Number and abs(float(args[0])) > 170:
            raise ExpressionError(f"{name}() of a number larger than 170 is not allowed")
        return FUNCTIONS[name](*args)

    def _piecewise(self, node: ast.Call, d: int) -> sp.Basic:
        pieces = []
        for arg in node.args:
            if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                raise ExpressionError("Piecewise takes pairs (expression, condition)")
            value = self.build(arg.elts[0], d)
            cond = self.build(arg.elts[1], d, condition=True)
            pieces.append((value, cond))
        if not pieces:
            raise ExpressionError("Piecewise needs at least one (expression, condition) pair")
        return sp.Piecewise(*pieces)


def parse_expression(
    text: object, names: Mapping[str, sp.Expr], *, later: set[str] | frozenset = frozenset()
) -> sp.Expr:
    """Parse `text` into a SymPy expression, allowing only the symbols in `names`.

    **Arguments:**

    - `text`: the expression (a string; numbers are accepted too).
    - `names`: name -> SymPy object for every name the expression may use.
    - `later`: names defined later in the file (for a clearer error).

    **Raises:** `ExpressionError` with the reason; nothing in `text` is ever executed.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"expected an expression, got the boolean {text}")
    if isinstance(text, (int, float)):
        return _Builder._number(text)
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression as a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"syntax error at column {err.offset}: {err.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression too deeply nested or malformed") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts")
    try:
        expr = _Builder(names, set(later)).build(tree.body)
    except RecursionError:
        raise ExpressionError("expression too deeply nested") from None
    if not isinstance(expr, sp.Expr):
        raise ExpressionError("a condition is not a value; conditions belong in Piecewise")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ExpressionError("evaluates to an infinite or undefined value (division by zero?)")
    return expr
