"""Model files under attack: every hostile file ends in a `ModelFileError` naming the file,
the key and the entry, within seconds and bounded memory (the CLI exits 2), and random
damage to a valid file gives a `ModelFileError` or a model, never anything else."""

import contextlib
import copy
import json
import math
import re
import signal
import time
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

import generic_mm as gm
from generic_mm.cli import main

BASE = """\
name = "target"
state = ["q", "p", "s"]
[assumptions]
negative = ["a"]
[parameters]
k = 1.0
a = -1.0
[definitions]
V = "k*q**2/2"
[generic]
energy = "p**2/2 + V + exp(s)"
entropy = "s"
poisson = [["0", "1", "0"], ["-1", "0", "0"], ["0", "0", "0"]]
[initial]
q = 1.0
p = 0.0
s = 0.0
[simulation]
t1 = 1.0
"""


def _energy(expr: str) -> str:
    return BASE.replace('energy = "p**2/2 + V + exp(s)"', f'energy = "p**2/2 + V + {expr}"')


def _definitions(lines: list[str], energy: str) -> str:
    text = BASE.replace('V = "k*q**2/2"', "\n".join(['V = "k*q**2/2"', *lines]))
    return text.replace('energy = "p**2/2 + V + exp(s)"', f'energy = "p**2/2 + V + {energy}"')


def _doubling(n: int) -> str:
    lines = ['d0 = "q"'] + [f'd{i} = "sin(d{i - 1}) + cos(d{i - 1})"' for i in range(1, n + 1)]
    return _definitions(lines, f"d{n}")


def _nested_sin(levels: int, per: int = 25) -> str:
    lines = ['d0 = "q"'] + [
        f'd{i} = "' + "sin(" * per + f"d{i - 1}" + ")" * per + '"' for i in range(1, levels + 1)
    ]
    return _definitions(lines, f"d{levels}")


BIG = "9" * 400

# (file text, where the message must point, what it must say)
HOSTILE = {
    "floor_of_huge_exp": (
        _energy("floor(exp(10**40))"),
        r"\[generic\] energy",
        "too large for double precision",
    ),
    "ceiling_of_pi_exponent": (
        _energy("ceiling(E**(pi*10**30))"),
        r"\[generic\] energy",
        r"exponent 3\.14e\+30 is larger than 64",
    ),
    "symbolic_base_huge_exponent": (
        _energy("q**(10**40*pi)"),
        r"\[generic\] energy",
        r"exponent 3\.14e\+40 is larger than 64",
    ),
    "huge_float_exponent": (_energy("q**1e300"), r"\[generic\] energy", "exponent 1e\\+300"),
    "overflowing_float": (_energy("1e308*10*q"), r"\[generic\] energy", "too large"),
    "nested_power_exponent": (
        _energy("(q**64)**64"),
        r"\[generic\] energy",
        "exponent 4096 is larger than 64",
    ),
    "power_tower": (_energy("2**2**2**2**2"), r"\[generic\] energy", "exponent 65536"),
    "power_of_huge_base": (_energy("(10**40)**8*q"), r"\[generic\] energy", "too large"),
    "exp_tower": (_energy("exp(exp(exp(exp(1))))"), r"\[generic\] energy", "too large"),
    "gamma_factorial": (_energy("gamma(10**6)*q"), r"\[generic\] energy", "larger than 170"),
    "loggamma_factorial": (
        _energy("loggamma(10**30)*q"),
        r"\[generic\] energy",
        "larger than 170",
    ),
    "floor_beyond_2_53": (_energy("floor(1e20)*q"), r"\[generic\] energy", r"beyond 2\*\*53"),
    "huge_rational": (_energy("(1/10**40)**60*q"), r"\[generic\] energy", "4096 bits"),
    "max_of_imaginary": (_energy("Max(sqrt(-1), q)"), r"\[generic\] energy", "no real value"),
    "heaviside_of_log_negative": (
        _energy("Heaviside(log(-2))*q"),
        r"\[generic\] energy",
        "no real value",
    ),
    "piecewise_imaginary_condition": (
        _energy("Piecewise((q, sqrt(-1) > 0), (0, True))"),
        r"\[generic\] energy",
        "no real value",
    ),
    "max_of_sqrt_of_negative_symbol": (
        _energy("Max(sqrt(a), q)"),
        r"\[generic\] energy",
        r"Max\(\) cannot take these arguments",
    ),
    "piecewise_compares_non_real": (
        _energy("Piecewise((q, sqrt(a) > 0), (0, True))"),
        r"\[generic\] energy",
        "cannot take these arguments",
    ),
    "asin_out_of_domain": (_energy("Max(q, asin(3))"), r"\[generic\] energy", "no real value"),
    "piecewise_symbol_condition": (
        _energy("Piecewise((q, q), (0, True))"),
        r"\[generic\] energy",
        "q is not a condition",
    ),
    "piecewise_not_symbol_condition": (
        _energy("Piecewise((q, not q), (0, True))"),
        r"\[generic\] energy",
        "q is not a condition",
    ),
    "piecewise_number_condition": (
        _energy("Piecewise((q, 1), (0, True))"),
        r"\[generic\] energy",
        "1 is not a condition",
    ),
    "deep_unary_minus": (
        _energy("-" * 5000 + "q"),
        r"\[generic\] energy",
        "nested|too deeply",
    ),
    "fullwidth_k_in_expression": (
        _energy("\uff4b*q"),
        r"\[generic\] energy",
        "FULLWIDTH LATIN SMALL LETTER K.*would be read as 'k'",
    ),
    "bold_E_in_expression": (
        _energy("\U0001d404*q"),
        r"\[generic\] energy",
        "MATHEMATICAL BOLD CAPITAL E.*would be read as 'E'",
    ),
    "fullwidth_parameter_name": (
        BASE.replace("k = 1.0", '"\uff4b" = 1.0'),
        r"\[parameters\] \uff4b",
        "FULLWIDTH LATIN SMALL LETTER K",
    ),
    "fullwidth_state_name": (
        BASE.replace('state = ["q", "p", "s"]', 'state = ["q", "p", "\uff53"]'),
        r"state\[2\]",
        "FULLWIDTH LATIN SMALL LETTER S",
    ),
    "micro_sign_definition": (
        BASE.replace('V = "k*q**2/2"', 'V = "k*q**2/2"\n"\u00b5" = "q"'),
        r"\[definitions\] \u00b5",
        "MICRO SIGN",
    ),
    "keyword_state_name": (
        BASE.replace('state = ["q", "p", "s"]', 'state = ["q", "p", "lambda"]'),
        r"state\[2\]",
        "'lambda' is reserved",
    ),
    "doubling_definitions": (
        _doubling(40),
        r"\[definitions\] d1[0-9]",
        "more than 50,000 nodes",
    ),
    "cancellation_reveals_huge_number": (
        _definitions(['A = "q"', 'B = "floor(exp(exp(A) - exp(q) + 10**40))"'], "B"),
        r"\[definitions\] B",
        "too large for double precision",
    ),
    "numeric_definition_as_exponent": (
        _definitions(['A = "10**40*pi"'], "q**A"),
        r"\[generic\] energy",
        r"exponent 3\.14e\+40",
    ),
    "numeric_definition_tower": (
        _definitions(['A = "exp(700)"', 'B = "exp(A)"'], "B*q"),
        r"\[definitions\] B",
        "too large",
    ),
    "too_deep_after_substitution": (
        _nested_sin(5),
        r"\[definitions\] d4",
        "nested 10[0-9] levels deep",
    ),
    "too_many_operations": (
        _definitions(
            [f'e{i} = "' + " + ".join(f"sin(q*{j})" for j in range(30)) + '"' for i in range(100)],
            "e0",
        ),
        r"\[definitions\] e[0-9]+",
        "more than 5,000 operations",
    ),
    "too_many_states": (
        BASE.replace(
            'state = ["q", "p", "s"]', "state = [" + ", ".join(f'"x{i}"' for i in range(3000)) + "]"
        ),
        "state",
        "3000 state variables.*structured",
    ),
    "too_many_definitions": (
        _definitions([f'w{i} = "q"' for i in range(1001)], "q"),
        r"\[definitions\]",
        "1,002 definitions; at most 1,000",
    ),
    "huge_integer_parameter": (
        BASE.replace("k = 1.0", f"k = {BIG}"),
        r"\[parameters\] k",
        "integer of 400 digits",
    ),
    "huge_integer_initial": (
        BASE.replace("q = 1.0", f"q = {BIG}"),
        r"\[initial\] q",
        "integer of 400 digits",
    ),
    "huge_integer_domain": (
        BASE + f"[domain]\nq = [0, {BIG}]\n",
        r"\[domain\] q",
        "integer of 400 digits",
    ),
    "huge_integer_t1": (
        BASE.replace("t1 = 1.0", f"t1 = {BIG}"),
        r"\[simulation\] t1",
        "integer of 400 digits",
    ),
    "huge_integer_points": (
        BASE.replace("t1 = 1.0", f"t1 = 1.0\npoints = {BIG}"),
        r"\[simulation\] points",
        "expected an integer from 2 to",
    ),
    "huge_integer_in_expression": (
        BASE.replace('entropy = "s"', f"entropy = {BIG}"),
        r"\[generic\] entropy",
        "more than 40 digits",
    ),
    "integer_beyond_python_digit_limit": (
        BASE.replace("k = 1.0", "k = " + "9" * 5000),
        "not valid TOML",
        "limit",
    ),
    "arrays_nested_5000_deep": (
        BASE.replace("k = 1.0", "k = " + "[" * 5000 + "]" * 5000),
        "not valid TOML",
        "nested too deeply",
    ),
    "inline_tables_nested_3000_deep": (
        BASE.replace("k = 1.0", "k = " + "{a = " * 3000 + "1" + "}" * 3000),
        "not valid TOML",
        "nested too deeply",
    ),
    "assumption_not_a_name": (
        BASE.replace('negative = ["a"]', 'negative = [["a"]]'),
        r"\[assumptions\] negative",
        "is not a state variable or parameter",
    ),
    "contradictory_assumptions": (
        BASE.replace('negative = ["a"]', 'negative = ["a"]\npositive = ["a"]'),
        r"\[assumptions\]",
        "contradictory",
    ),
    "unit_of_unknown_name": (
        BASE + '[units]\nzz = "K"\n',
        r"\[units\] zz",
        "not a state variable, parameter or observable",
    ),
    "unit_with_mathtext": (
        BASE + '[units]\nq = "$\\\\frac{1}{0}$"\n',
        r"\[units\] q",
        "plain printable text",
    ),
    "process_named_like_a_key": (
        BASE.replace(
            "[initial]",
            "[generic.friction.symmetric]\nentries = {}\n[initial]",
        ),
        r"\[generic\] friction.symmetric",
        "cannot name a process",
    ),
    "terminal_escape_in_name": (
        BASE.replace('name = "target"', 'name = "\\u001b[2Jgone"'),
        "name",
        "control character",
    ),
    "division_by_zero_via_atan2": (
        _energy("atan2(0, 0)*q"),
        r"\[generic\] energy",
        "infinite or undefined",
    ),
    "pole_of_tan": (_energy("tan(pi/2)*q"), r"\[generic\] energy", "infinite or undefined"),
    "end_before_start": (
        BASE.replace("t1 = 1.0", "t1 = -1.0"),
        r"\[simulation\] t1",
        "not after t0",
    ),
}


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail, rather than hang, when the guarded code is broken."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _write(tmp_path, text: str, name: str = "hostile.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_refused_quickly_naming_file_key_and_entry(tmp_path, case):
    text, where, what = HOSTILE[case]
    path = _write(tmp_path, text)
    start = time.perf_counter()
    with deadline(20), pytest.raises(gm.ModelFileError) as err:
        gm.load_model(path)
    elapsed = time.perf_counter() - start
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert elapsed < 5.0, f"took {elapsed:.1f} s"
    assert re.search(where, message), message
    assert re.search(what, message), message


def test_oversized_file_is_refused_before_parsing(tmp_path):
    path = _write(tmp_path, BASE + "# " + "x" * 1_100_000 + "\n")
    with pytest.raises(gm.ModelFileError, match="larger than 1,000,000 bytes"):
        gm.load_model(path)


def test_exponential_definitions_stay_within_bounded_memory(tmp_path):
    path = _write(tmp_path, _doubling(40))
    tracemalloc.start()
    try:
        with deadline(20), pytest.raises(gm.ModelFileError, match="more than 50,000 nodes"):
            gm.load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100e6


def test_within_the_budgets_a_file_loads(tmp_path):
    # The limits leave room: 12 doubling definitions (about 12,000 nodes expanded), 90 levels
    # of nesting after substitution, 100 state variables.
    model = gm.load_model(_write(tmp_path, _doubling(12), "ok1.toml"))
    assert "d12" in model.definitions
    model = gm.load_model(_write(tmp_path, _nested_sin(3, per=29), "ok2.toml"))
    assert "d3" in model.definitions
    many = BASE.replace(
        'state = ["q", "p", "s"]',
        'state = ["q", "p", "s", ' + ", ".join(f'"x{i}"' for i in range(97)) + "]",
    ).replace("s = 0.0\n", "s = 0.0\n" + "".join(f"x{i} = 0.0\n" for i in range(97)))
    many = many.replace(
        'poisson = [["0", "1", "0"], ["-1", "0", "0"], ["0", "0", "0"]]',
        'poisson = { entries = { "q,p" = "1" }, antisymmetric = true }',
    )
    assert gm.load_model(_write(tmp_path, many, "ok3.toml")).n == 100


@pytest.mark.parametrize(
    "case",
    [
        "floor_of_huge_exp",
        "doubling_definitions",
        "arrays_nested_5000_deep",
        "fullwidth_k_in_expression",
        "huge_integer_parameter",
    ],
)
def test_cli_exits_2_with_the_message(tmp_path, capsys, case):
    text, where, _ = HOSTILE[case]
    path = _write(tmp_path, text)
    with deadline(60):
        assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err


# -- random damage to a valid file ------------------------------------------------------


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(data: dict) -> str:
    lines = [
        f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)
    ]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


GOOD = {
    "name": "osc",
    "state": ["q", "p", "s"],
    "parameters": {"k": 1.0, "gamma": 0.1},
    "definitions": {"V": "k*q**2/2", "T": {"value": "exp(s)", "unit": "K"}},
    "units": {"q": "m"},
    "generic": {
        "energy": "p**2/2 + V + exp(s)",
        "entropy": "s",
        "poisson": {"entries": {"q,p": "1"}, "antisymmetric": True},
        "friction": {"damping": {"entries": {"p,p": "gamma*T"}, "symmetric": True}},
    },
    "domain": {"q": [-1.0, 1.0]},
    "initial": {"q": 1.0, "p": 0.0, "s": 0.0},
    "simulation": {"t1": 1.0, "points": 11},
}

SNIPPETS = [
    "q",
    "k*q",
    "floor(exp(10**40))",
    "Max(sqrt(-1), q)",
    "Piecewise((q, q), (0, True))",
    "q**(10**40*pi)",
    "\uff4b",
    "V",
    "T",
    "1/0",
    "entries",
    "symmetric",
    "q,p",
    "DiscreteGradient",
]
leaves = (
    st.booleans()
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(SNIPPETS)
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(SNIPPETS), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(data, prefix=()):
    for key, value in data.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


PATHS = list(_paths(GOOD))


def _damaged(path, value, new_key):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if new_key is None:
        target[path[-1]] = value
    else:
        target[new_key] = value
    return data


@settings(max_examples=150)
@given(st.sampled_from(PATHS), values, st.none() | st.sampled_from(SNIPPETS))
def test_damaged_file_loads_or_is_refused_cleanly(tmp_path_factory, path, value, new_key):
    file = tmp_path_factory.mktemp("fuzz") / "damaged.toml"
    file.write_text(_toml(_damaged(path, value, new_key)), encoding="utf-8")
    try:
        model = gm.load_model(file)
    except gm.ModelFileError as err:
        assert str(err).startswith(f"{file}: ")
        return
    assert isinstance(model, gm.GenericModel)
