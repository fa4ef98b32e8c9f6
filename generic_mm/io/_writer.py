"""`GenericModel` -> the TOML text of a model file (what `save_model` writes)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy as sp

from .._errors import ModelFileError
from .._model import GenericModel

ASSUMPTIONS = ("positive", "nonnegative", "negative", "nonpositive")
DENSE_UP_TO = 6
"""Operators of models with at most this many state variables are written as rows."""
_DIGITS = 30


class _Printer(sp.printing.str.StrPrinter):
    """`str` of SymPy expressions that `parse_expression` reads back exactly."""

    def _print_Exp1(self, expr):
        return "exp(1)"  # "E" may be a symbol of the model (e.g. Young's modulus)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        # Integer literals are limited to 40 digits: write longer ones in chunks.
        value = int(expr)
        if abs(value) < 10**_DIGITS:
            return str(value)
        high, low = divmod(abs(value), 10**_DIGITS)
        sign = "-" if value < 0 else ""
        return f"{sign}({self._print_Integer(sp.Integer(high))}*10**{_DIGITS} + {low})"

    def _print_Rational(self, expr):
        if max(abs(expr.p), expr.q) < 10**_DIGITS:
            return super()._print_Rational(expr)
        p, q = self._print_Integer(sp.Integer(expr.p)), self._print_Integer(sp.Integer(expr.q))
        return f"({p})/({q})"

    def _print_Relational(self, expr):
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_And(self, expr):
        return "(" + " and ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " or ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(not {self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        return f"Heaviside({', '.join(self._print(a) for a in expr.args)})"


def expression_text(expr: sp.Basic) -> str:
    """The text of `expr` in a model file."""
    return _Printer().doprint(expr)


def toml_str(s: str) -> str:
    """`s` as a TOML basic string."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(name: str) -> str:
    """`name` as a TOML key: bare when it can be, quoted otherwise."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml_str(name)


def _num(v: float) -> str:
    return repr(float(v))


def _expr(expr: sp.Basic) -> str:
    return toml_str(expression_text(expr))


def model_to_toml(model: GenericModel) -> str:
    """The TOML text of a model (what `save_model` writes): definitions unexpanded, named
    operators by name, units, `[initial]` and `[simulation]`."""
    lines = [f"name = {toml_str(model.name)}"]
    if model.description:
        lines.append(f"description = {toml_str(model.description)}")
    lines.append("state = [" + ", ".join(toml_str(n) for n in model.state_names) + "]")
    lines += _assumptions(model)
    if model.params:
        lines += ["", "[parameters]"]
        lines += [f"{toml_key(s.name)} = {_num(model.params[s])}" for s in model.param_symbols]
    lines += _definitions(model)
    if model.units:
        lines += ["", "[units]"]
        lines += [f"{toml_key(k)} = {toml_str(v)}" for k, v in model.units.items()]
    source = model.source_form()
    lines += ["", "[generic]", f"energy = {_expr(source.energy)}"]
    lines.append(f"entropy = {_expr(source.entropy)}")
    lines += _operators(model, "poisson", source.poisson, model.named_couplings)
    lines += _operators(model, "friction", source.friction, model.named_processes)
    if model.domain:
        lines += ["", "[domain]"]
        lines += [
            f"{toml_key(k)} = [{_num(lo)}, {_num(hi)}]" for k, (lo, hi) in model.domain.items()
        ]
    if model.initial_state:
        lines += ["", "[initial]"]
        lines += [f"{toml_key(k)} = {_num(v)}" for k, v in model.initial_state.items()]
    if model.simulation:
        lines += ["", "[simulation]"]
        for k, v in model.simulation.items():
            lines.append(f"{toml_key(k)} = {toml_str(v) if isinstance(v, str) else repr(v)}")
    return "\n".join(lines) + "\n"


def _assumptions(model: GenericModel) -> list[str]:
    symbols = (*model.state, *model.param_symbols)
    kinds = {k: [s.name for s in symbols if getattr(s, f"is_{k}")] for k in ASSUMPTIONS}
    # positive implies nonnegative: write the strongest statement only
    kinds["nonnegative"] = [n for n in kinds["nonnegative"] if n not in kinds["positive"]]
    kinds["nonpositive"] = [n for n in kinds["nonpositive"] if n not in kinds["negative"]]
    if not any(kinds.values()):
        return []
    return [
        "",
        "[assumptions]",
        *(f"{k} = [" + ", ".join(toml_str(n) for n in v) + "]" for k, v in kinds.items() if v),
    ]


def _definitions(model: GenericModel) -> list[str]:
    """Definitions in order (private unless an observable of the same name stands for the
    definition itself), then observables that are not definitions, as public definitions."""
    source = model.source_form()
    observables: Mapping[str, sp.Basic] = source.observables
    lines = []
    for name, expr in source.definitions.items():
        obs = observables.get(name)
        if obs is None:
            lines.append(f"{toml_key(name)} = {{ value = {_expr(expr)}, private = true }}")
        elif isinstance(obs, sp.Symbol) and obs.name == name:
            lines.append(f"{toml_key(name)} = {_expr(expr)}")
        else:
            raise ModelFileError(
                f"observables[{name!r}]: differs from the definition of the same name; a model "
                "file has one expression per name"
            )
    for name, expr in observables.items():
        if name not in source.definitions:
            lines.append(f"{toml_key(name)} = {_expr(expr)}")
    return ["", "[definitions]", *lines] if lines else []


def _operators(
    model: GenericModel, field: str, ops: Mapping[str, sp.ImmutableMatrix], named: bool
) -> list[str]:
    ops = {k: m for k, m in ops.items() if named or any(e != 0 for e in m)}
    if not ops:
        return []
    if not named:
        (mat,) = ops.values()
        if model.n <= DENSE_UP_TO:
            return [f"{field} = {_rows(mat)}"]
        return ["", f"[generic.{field}]", *_sparse(model, field, mat, f"generic.{field}")]
    if model.n <= DENSE_UP_TO:
        return ["", f"[generic.{field}]", *(f"{toml_key(k)} = {_rows(m)}" for k, m in ops.items())]
    lines = []
    for name, mat in ops.items():
        header = f"generic.{field}.{toml_key(name)}"
        lines += ["", f"[{header}]", *_sparse(model, field, mat, header)]
    return lines


def _rows(mat: sp.MatrixBase) -> str:
    n = mat.shape[0]
    return (
        "["
        + ", ".join("[" + ", ".join(_expr(mat[i, j]) for j in range(n)) + "]" for i in range(n))
        + "]"
    )


def _sparse(model: GenericModel, field: str, mat: sp.MatrixBase, header: str) -> list[str]:
    n, names = model.n, model.state_names
    sign = 1 if field == "friction" else -1
    mirrored = all(mat[j, i] == sign * mat[i, j] for i in range(n) for j in range(i, n))
    fill = "symmetric" if field == "friction" else "antisymmetric"
    cells = [(i, j) for i in range(n) for j in range(i if mirrored else 0, n) if mat[i, j] != 0]
    lines = [f"{fill} = true"] if mirrored else []
    if not cells:
        return [*lines, "entries = {}"]
    lines += ["", f"[{header}.entries]"]
    lines += [f"{toml_str(f'{names[i]},{names[j]}')} = {_expr(mat[i, j])}" for i, j in cells]
    return lines
