"""The model-file expression parser: what it builds, what it refuses, and fuzzing."""

import math

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from generic_mm.io import ExpressionError, Guard, parse_expression
from generic_mm.io._parser import nfkc_problem
from generic_mm.io._writer import expression_text as _text

x, y, k = sp.symbols("x y k", real=True)
NAMES = {"x": x, "y": y, "k": k}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x + 2*y - 3", x + 2 * y - 3),
        ("p", None),
        ("k*x**2/2", k * x**2 / 2),
        ("-x**2", -(x**2)),
        ("exp(x/k) + log(y) + sqrt(k)", sp.exp(x / k) + sp.log(y) + sp.sqrt(k)),
        ("Max(x, y, 0) + abs(x) + min(x, 1)", sp.Max(x, y, 0) + sp.Abs(x) + sp.Min(x, 1)),
        ("atan2(y, x) + tanh(x) + erf(y)", sp.atan2(y, x) + sp.tanh(x) + sp.erf(y)),
        (
            "Piecewise((x, x < 0), (y, (x >= 0) and (y > 1)), (0, True))",
            sp.Piecewise((x, x < 0), (y, sp.And(x >= 0, y > 1)), (0, True)),
        ),
        ("2.5e-3*x + pi + E", sp.Float(2.5e-3) * x + sp.pi + sp.E),
        ("x**(1/3)", x ** sp.Rational(1, 3)),
        (3, sp.Integer(3)),
        (0.5, sp.Float(0.5)),
    ],
)
def test_parses_to_the_intended_expression(text, expected):
    if expected is None:
        with pytest.raises(ExpressionError, match="undefined symbol 'p'"):
            parse_expression(text, NAMES)
        return
    assert parse_expression(text, NAMES) == expected


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "__import__('os').system('echo hacked')",
            "only calls of named functions|the name '__import__'",
        ),
        ("x.__class__", "attribute access not allowed"),
        ("(lambda: 1)()", "only calls of named functions"),
        ("lambda: 1", "lambda not allowed"),
        ("[i for i in range(10)]", "comprehensions not allowed"),
        ("__builtins__", "the name '__builtins__' is not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("exp(x, base=2)", "keyword arguments"),
        ("x[0]", "subscripts not allowed"),
        ("'text'", "str literals"),
        ("x if y else k", "conditional expressions"),
        ("x @ y", "the operator MatMult is not allowed"),
        ("x // y", "the operator FloorDiv is not allowed"),
        ("2**10**10", "exponent .* larger than 64"),
        ("x**1000", "exponent 1000 is larger than 64"),
        ("9" * 100, "more than 40 digits"),
        ("(" * 300 + "x" + ")" * 300, "too deeply nested|nested more than|syntax error"),
        ("-" * 100 + "x", "nested more than"),
        ("x + " * 6000 + "x", "longer than|more than 5000 parts"),
        ("x +", "syntax error"),
        ("", "empty expression"),
        ("1/0", "divides by zero"),
        ("gamma(1000000)", "larger than 170"),
        ("x < y", "comparisons \\(only in Piecewise conditions\\)"),
        ("exp", "'exp' is a function; call it"),
        ("exp(x, y)", r"exp\(\) takes 1 argument\(s\), got 2"),
        ("gama(x)", "unknown function 'gama' \\(did you mean 'gamma'\\?\\)"),
        ("kk*x", "undefined symbol 'kk' \\(did you mean 'k'\\?\\)"),
        ("True", "the boolean True is not allowed"),
        ("(x := 3)", "assignment not allowed"),
    ],
)
def test_refuses_everything_else_without_executing(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_expression(text, NAMES)


def test_later_definitions_are_named():
    with pytest.raises(ExpressionError, match="refers to 'T', which is defined later"):
        parse_expression("2*T", NAMES, later={"T"})


def test_parser_never_executes(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    text = f"__import__('pathlib').Path('{marker}').touch()"
    with pytest.raises(ExpressionError):
        parse_expression(text, NAMES)
    assert not marker.exists()


# -- fuzzing ---------------------------------------------------------------------------

atoms = (
    st.sampled_from([x, y, k])
    | st.integers(-20, 20).map(sp.Integer)
    | st.sampled_from([sp.Rational(1, 3), sp.Float(0.25), sp.Float(1.5e-7), sp.pi])
)
unary = st.sampled_from([sp.exp, sp.sin, sp.cos, sp.log, sp.tanh, sp.Abs, sp.sqrt, sp.atan, sp.erf])


def _trees(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: ab[0] + ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] * ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] - ab[1]),
        st.tuples(children, st.integers(-4, 4)).map(lambda ab: ab[0] ** ab[1]),
        st.tuples(unary, children).map(lambda fa: fa[0](fa[1])),
        st.tuples(children, children).map(lambda ab: sp.Max(ab[0], ab[1])),
    )


expressions = st.recursive(atoms, _trees, max_leaves=12).filter(
    lambda e: isinstance(e, sp.Expr) and not e.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)
)


@settings(max_examples=200)
@given(expressions)
def test_printed_expressions_parse_back_to_the_same_expression(expr):
    parsed = parse_expression(_text(expr), NAMES)
    # SymPy may distribute a sign differently (-(a + b)*c vs (-a - b)*c): same expression
    assert parsed == expr or sp.expand(parsed - expr) == 0


ALPHABET = "xyk0123456789.+-*/()eE ,_<>=!abcdefghijlmnopqrstuvw'\"[]{}:;@%&|^~#\\\n\t"


def _parses_or_is_refused(text):
    try:
        expr = parse_expression(text, NAMES)
    except ExpressionError:
        return
    assert isinstance(expr, sp.Expr)
    assert expr.free_symbols <= {x, y, k}


@settings(max_examples=400)
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_random_text_parses_or_is_refused_cleanly(text):
    _parses_or_is_refused(text)


TOKENS = [
    "x",
    "y",
    "k",
    "1",
    "2.5",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "**",
    "exp(",
    "log(",
    ",",
    "Max(",
    "__class__",
    ".",
    "lambda",
    ":",
    "[",
    "]",
    "<",
    "and",
    "Piecewise(",
    "True",
    "import",
    "os",
    "9" * 30,
    "1e308",
    "**99",
    "__import__(",
]


@settings(max_examples=400)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
def test_random_token_soup_parses_or_is_refused_cleanly(tokens):
    _parses_or_is_refused(" ".join(tokens))


# -- structure and bounds ------------------------------------------------------------------


def test_long_sums_and_products_are_flat_chains_not_deep_nests():
    # Python nests `a + b + c ...` one level per operator; 500 terms are one SymPy Add.
    text = " + ".join(f"{i}*x**{i % 7}" for i in range(1, 501))
    assert parse_expression(text, NAMES) == sp.Add(*[i * x ** (i % 7) for i in range(1, 501)])
    assert parse_expression("x - y - k", NAMES) == x - y - k
    assert parse_expression("x / y / k", NAMES) == x / (y * k)
    assert parse_expression("x / y * k", NAMES) == x * k / y
    assert parse_expression("2**3**2", NAMES) == 512  # ** is right-associative


def test_numbers_are_checked_in_double_precision_before_sympy_sees_them():
    guard = Guard()
    assert guard.value(sp.exp(sp.Integer(700))) == pytest.approx(math.exp(700))
    assert guard.value(x + 1) is None  # depends on a symbol
    with pytest.raises(ExpressionError, match="too large for double precision"):
        guard.value(sp.exp(sp.Integer(710)))
    with pytest.raises(ExpressionError, match="complex numbers are not allowed"):
        guard.value(sp.I * x)
    with pytest.raises(ExpressionError, match="no real value"):
        guard.apply(sp.acosh, [sp.Rational(1, 2)], "acosh")


def test_expression_dags_are_walked_without_recursion():
    f = sp.Function("f")  # unevaluated: SymPy itself does not recurse while building
    deep = x
    for _ in range(20_000):
        deep = f(deep)
    assert Guard().value(deep) is None


def test_definitions_are_sized_as_expanded_without_expanding():
    guard = Guard()
    d = [sp.Symbol(f"d{i}", real=True) for i in range(40)]
    guard.define(d[0], x)
    with pytest.raises(ExpressionError, match="more than 50,000 nodes"):
        for i in range(1, 40):
            guard.define(d[i], sp.sin(d[i - 1]) + sp.cos(d[i - 1]))
    assert i < 20  # refused once the expansion would be too large, long before 2**40


@pytest.mark.parametrize(
    "text, char",
    [("\uff4b*x", "FULLWIDTH LATIN SMALL LETTER K"), ("\U0001d404", "MATHEMATICAL BOLD CAPITAL E")],
)
def test_characters_python_would_fold_are_refused(text, char):
    with pytest.raises(ExpressionError, match=f"{char}.* at column 1 would be read as"):
        parse_expression(text, NAMES)
    assert nfkc_problem("k_1") is None


def test_long_integers_print_so_that_they_parse_back():
    big = sp.Integer(10**100 + 7)
    for expr in (big * x, x / big, sp.Rational(10**60 + 1, 10**55 + 3) * y):
        assert parse_expression(_text(expr), NAMES) == expr
