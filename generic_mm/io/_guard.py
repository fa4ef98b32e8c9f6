"""What an expression from a model file may make SymPy compute, and how large it may grow.

SymPy evaluates as it builds: `floor(exp(10**40))` asks for the integer part of a
43-quintillion-digit number, `gamma(10**7)` for a factorial, `Max(I, x)` raises. A model file
is untrusted, so every SymPy object the parser builds goes through a `Guard`, which, before
SymPy is called:

- evaluates every number-valued subexpression in double precision, bottom-up, and refuses
  values that are not finite real doubles (`exp(10**40)` overflows, `sqrt(-1)` is not real);
- refuses numeric exponents larger than `MAX_EXPONENT` in magnitude, whatever their form
  (`x**(10**40*pi)` as much as `x**1000`), and `floor`/`ceiling` of numbers beyond
  $2^{53}$ and `gamma`/`loggamma` of numbers beyond 170 (exact integer parts and factorials);
- turns any error SymPy raises while building into an `ExpressionError`.

Definitions stay symbols in the model (it expands them); the guard tracks what each one
expands to. Before an expression is accepted its expanded size and depth are counted over the
expression DAG, without expanding (40 definitions each using the previous one twice expand to
$2^{40}$ nodes), and refused beyond `MAX_EXPANDED_NODES` / `MAX_EXPANDED_DEPTH`; within the
budget it is expanded here once, through the same checks, so that the model's own expansion
cannot meet a number the parser did not see (`exp(a) - exp(x)` with `a = x` cancels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp
from sympy.logic.boolalg import BooleanAtom

MAX_EXPONENT = 64
MAX_BITS = 4096
MAX_FLOOR = 2.0**53
MAX_GAMMA = 170.0
MAX_EXPANDED_NODES = 50_000
MAX_EXPANDED_DEPTH = 100
MAX_TOTAL_NODES = 500_000
MAX_OPERATIONS = 5_000


class ExpressionError(ValueError):
    """An expression in a model file was refused; the message says why."""


def _show(node: Any, width: int = 60) -> str:
    text = str(node)
    return text if len(text) <= width else text[: width - 3] + "..."


def _call_text(label: str, args: Sequence[Any]) -> str:
    parts = [_show(a, 30) for a in args]
    if label == "/":
        return f"1/({parts[0]})"
    if label == "**":
        return f"({parts[0]})**({parts[1]})"
    if label in ("+", "*"):
        return f" {label} ".join(parts)
    return f"{label}({', '.join(parts)})"


def _log(v: float) -> float:
    if v <= 0:
        raise ValueError("log of a non-positive number")
    return math.log(v)


def _loggamma(v: float) -> float:
    if v <= 0:
        raise ValueError("loggamma of a non-positive number")
    return math.lgamma(v)


def _heaviside(v: float, h0: float = 0.5) -> float:
    return 1.0 if v > 0 else 0.0 if v < 0 else h0


def _pow(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise ZeroDivisionError
    return math.pow(base, exponent)


_FLOAT: dict[Any, Callable[..., Any]] = {
    sp.Add: lambda *v: math.fsum(v),
    sp.Mul: lambda *v: math.prod(v),
    sp.Pow: _pow,
    sp.sqrt: math.sqrt,
    sp.cbrt: lambda v: math.pow(v, 1 / 3),
    sp.exp: math.exp,
    sp.log: _log,
    sp.sin: math.sin,
    sp.cos: math.cos,
    sp.tan: math.tan,
    sp.asin: math.asin,
    sp.acos: math.acos,
    sp.atan: math.atan,
    sp.atan2: math.atan2,
    sp.sinh: math.sinh,
    sp.cosh: math.cosh,
    sp.tanh: math.tanh,
    sp.asinh: math.asinh,
    sp.acosh: math.acosh,
    sp.atanh: math.atanh,
    sp.sec: lambda v: 1 / math.cos(v),
    sp.csc: lambda v: 1 / math.sin(v),
    sp.cot: lambda v: 1 / math.tan(v),
    sp.Abs: abs,
    sp.sign: lambda v: float((v > 0) - (v < 0)),
    sp.Max: max,
    sp.Min: min,
    sp.Heaviside: _heaviside,
    sp.floor: math.floor,
    sp.ceiling: math.ceil,
    sp.erf: math.erf,
    sp.erfc: math.erfc,
    sp.gamma: math.gamma,
    sp.loggamma: _loggamma,
}
_INFINITE = (sp.zoo, sp.oo, -sp.oo, sp.nan)


def bottom_up(root: sp.Basic, memo: dict, visit: Callable[[sp.Basic, list], Any]) -> Any:
    """`visit(node, results of its arguments)` for every node of `root` not yet in `memo`,
    children first, each shared subexpression once; iterative, so depth costs no stack."""
    stack = [root]
    while stack:
        node = stack[-1]
        if node in memo:
            stack.pop()
            continue
        todo = [a for a in node.args if a not in memo]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        memo[node] = visit(node, [memo[a] for a in node.args])
    return memo[root]


class Guard:
    """Builds SymPy objects for one model file within bounds (see the module docstring)."""

    def __init__(self) -> None:
        self.values: dict[sp.Basic, float | None] = {}
        self.sizes: dict[sp.Basic, tuple[int, int]] = {}
        self.expansions: dict[sp.Basic, sp.Basic] = {}
        self.total = 0
        self.operations = 0

    def charge(self, operations: int) -> None:
        """Count `operations` (calls, operators) towards the file's budget: SymPy spends up to
        about a millisecond on each (`sin` looks for multiples of pi)."""
        self.operations += operations
        if self.operations > MAX_OPERATIONS:
            raise ExpressionError(
                f"the file's expressions hold more than {MAX_OPERATIONS:,} operations "
                "(function calls and operators) in all"
            )

    # -- numbers ------------------------------------------------------------------------

    def value(self, expr: sp.Basic) -> float | None:
        """The double-precision value of a number-valued `expr` (`None` when it depends on
        a symbol or is not a number), or `ExpressionError` when it has none."""
        return bottom_up(expr, self.values, self._visit_value)

    def _visit_value(self, node: sp.Basic, args: list) -> float | None:
        if not node.args:
            return self._atom(node)
        if not isinstance(node, sp.Expr):
            return None  # relations, logic, Piecewise pairs: their parts were checked
        if isinstance(node, sp.Pow):
            self._exponent(args[1], lambda: _show(node))
        if any(v is None for v in args):
            return None
        func = _FLOAT.get(node.func)
        if func is None:
            return self._evalf(node)
        return self._finite(func, args, lambda: _show(node))

    def _atom(self, node: sp.Basic) -> float | None:
        if node is sp.I:
            raise ExpressionError(
                "complex numbers are not allowed (the square root or logarithm of a negative "
                "number?)"
            )
        if node in _INFINITE:
            raise ExpressionError("evaluates to an infinite or undefined value (division by zero?)")
        if isinstance(node, sp.Rational):
            if max(node.p.bit_length(), node.q.bit_length()) > MAX_BITS:
                raise ExpressionError(f"an exact number with more than {MAX_BITS} bits")
            try:
                return node.p / node.q
            except OverflowError:
                raise ExpressionError(
                    f"the number {_show(node)} is too large for double precision"
                ) from None
        if isinstance(node, (sp.Float, sp.NumberSymbol)):
            v = float(node)
            if not math.isfinite(v):
                raise ExpressionError(f"the number {_show(node)} is too large for double precision")
            return v
        if isinstance(node, (sp.Symbol, BooleanAtom)) or not isinstance(node, sp.Expr):
            return None
        raise ExpressionError(f"{_show(node)} is not allowed in model expressions")

    @staticmethod
    def _finite(func: Callable[..., Any], args: Sequence[Any], shown: Callable[[], str]) -> float:
        try:
            v = float(func(*args))
        except OverflowError:
            v = math.inf
        except ZeroDivisionError:
            raise ExpressionError(f"{shown()} divides by zero") from None
        except (ValueError, TypeError):
            raise ExpressionError(f"{shown()} has no real value") from None
        if not math.isfinite(v):
            raise ExpressionError(f"{shown()} is too large for double precision")
        return v

    def _evalf(self, node: sp.Basic) -> float | None:
        # Functions SymPy produced by itself (all arguments already checked and bounded).
        try:
            v = complex(node.evalf(20))  # type: ignore[arg-type]
        except (TypeError, ValueError, ArithmeticError):
            return None
        if v.imag != 0:
            raise ExpressionError(f"{_show(node)} has no real value")
        if not math.isfinite(v.real):
            raise ExpressionError(f"{_show(node)} is too large for double precision")
        return v.real

    def _exponent(self, exponent: float | None, shown: Callable[[], str]) -> None:
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            integral = exponent.is_integer() and abs(exponent) < 1e15
            value = f"{exponent:.0f}" if integral else f"{exponent:.3g}"
            raise ExpressionError(
                f"exponent {value} is larger than {MAX_EXPONENT} in magnitude (in {shown()})"
            )

    # -- building -----------------------------------------------------------------------

    def apply(self, func: Callable[..., Any], args: Sequence[Any], name: str = "") -> Any:
        """`func(*args)` once the arguments are known to be safe for it."""
        label = name or getattr(func, "__name__", str(func))
        values = [self.value(a) if isinstance(a, sp.Basic) else None for a in args]
        if func is sp.Pow:
            self._exponent(values[1], lambda: _call_text("**", args))
        known = values[0] if len(values) == 1 else None
        if known is not None and func in (sp.gamma, sp.loggamma) and abs(known) > MAX_GAMMA:
            raise ExpressionError(f"{label}() of a number larger than {MAX_GAMMA:g} is not allowed")
        if known is not None and func in (sp.floor, sp.ceiling) and abs(known) > MAX_FLOOR:
            raise ExpressionError(
                f"{label}() of a number beyond 2**53 ({known:.3g}) is not allowed: doubles "
                "are integers there"
            )
        if args and all(v is not None for v in values) and func in _FLOAT:
            self._finite(_FLOAT[func], values, lambda: _call_text(label, args))
        try:
            out = func(*args)
        except ExpressionError:
            raise
        except (TypeError, ValueError, ArithmeticError, AttributeError) as err:
            raise ExpressionError(f"{label}() cannot take these arguments: {err}") from None
        except RecursionError:
            raise ExpressionError("expression too deeply nested") from None
        self.value(out)
        return out

    # -- definitions and sizes -------------------------------------------------------------

    def _visit_size(self, node: sp.Basic, args: list) -> tuple[int, int]:
        size = 1 + sum(a[0] for a in args)
        depth = 1 + max((a[1] for a in args), default=0)
        return min(size, MAX_EXPANDED_NODES + 1), depth

    def admit(self, expr: sp.Basic) -> sp.Basic:
        """Check `expr` with every definition substituted (size, depth, values) and return
        the expanded form; counts towards the file's total."""
        size, depth = bottom_up(expr, self.sizes, self._visit_size)
        if size > MAX_EXPANDED_NODES:
            raise ExpressionError(
                f"with the definitions substituted it would have more than "
                f"{MAX_EXPANDED_NODES:,} nodes; definitions that use earlier ones several "
                "times grow exponentially"
            )
        if depth > MAX_EXPANDED_DEPTH:
            raise ExpressionError(
                f"with the definitions substituted it would be nested {depth} levels deep "
                f"(at most {MAX_EXPANDED_DEPTH})"
            )
        self.total += size
        if self.total > MAX_TOTAL_NODES:
            raise ExpressionError(
                f"the model's expressions, with the definitions substituted, exceed "
                f"{MAX_TOTAL_NODES:,} nodes in all"
            )
        return bottom_up(expr, self.expansions, self._visit_expand)

    def _visit_expand(self, node: sp.Basic, args: list) -> sp.Basic:
        if all(a is b for a, b in zip(args, node.args)):
            return node
        return self.apply(node.func, args)

    def define(self, symbol: sp.Symbol, expr: sp.Basic) -> None:
        """Record that `symbol` stands for `expr` (which may use earlier definitions)."""
        expanded = self.admit(expr)
        self.sizes[symbol] = bottom_up(expr, self.sizes, self._visit_size)
        self.expansions[symbol] = expanded
        self.values[symbol] = self.value(expanded)
