"""GenericModel validation: every mistake names the field and entry."""

import pytest
import sympy as sp

import generic_mm as gm
from generic_mm.models import damped_oscillator

from .helpers import k, oscillator, p, q, s


def make(**changes):
    return oscillator(**changes)


def test_valid_model_attributes():
    m = make(name="osc")
    assert m.n == 3 and m.state_names == ("q", "p", "s")
    assert m.param_names == ("k",) and m.params[k] == 1.0
    assert m.friction == sp.zeros(3, 3)
    assert list(m.grad_energy) == [k * q, p, 1]
    assert list(m.rates) == [p, -k * q, 0]
    assert m.entropy_production == 0


def test_params_by_name_resolve_to_expression_symbol():
    m = make(params={"k": 2.0})
    assert m.params == {k: 2.0}
    assert m.with_params(k=3.0).params == {k: 3.0}


def test_string_state_names_become_real_symbols():
    m = gm.GenericModel(["x"], sp.Symbol("x", real=True) ** 2, 0, None, None)
    assert m.state[0].is_real


@pytest.mark.parametrize(
    "changes, match",
    [
        (
            dict(energy=p**2 / 2 + sp.Symbol("kk") * q**2),
            r"energy: unknown symbol\(s\) 'kk' \(did you mean 'k'\?\)",
        ),
        (dict(poisson=[[0, 1], [-1, 0]]), r"poisson: has 2 rows but the state has 3 variables"),
        (
            dict(friction=[[0, 0, 0], [0, 0], [0, 0, 0]]),
            r"friction: row 1 \(p\) has 2 entries; expected 3",
        ),
        (
            dict(poisson=[[0, 1, 0], [-1, 0, sp.Symbol("zz")], [0, 0, 0]]),
            r"poisson\[p, s\]: unknown symbol",
        ),
        (dict(params={k: 1.0, "q": 2.0}), r"params\['q'\]: 'q' is a state variable"),
        (dict(params={k: "one"}), r"params\['k'\]: expected a real number"),
        (dict(params={k: float("nan")}), r"params\['k'\]: expected a finite number"),
        (dict(params={}), r"unknown symbol\(s\) 'k'"),
        (dict(state=[q, q, s]), r"state\[1\]: 'q' appears twice"),
        (dict(state=[q, p + 1, s]), r"state\[1\]: expected a SymPy Symbol"),
        (dict(state=[]), r"state: the state is empty"),
        (dict(energy="p**2/2"), r"energy: got the string"),
        (dict(energy=sp.Matrix([1, 2])), r"energy: got a 2x1 matrix; expected a scalar"),
        (dict(entropy=sp.Function("f")(s)), r"entropy: contains the undefined function f\(s\)"),
        (dict(entropy=s * sp.I), r"entropy: contains the imaginary unit"),
        (dict(entropy=sp.besselj(0, s)), r"entropy: uses besselj"),
        (dict(entropy=sp.Derivative(s**2, s)), r"entropy: contains an unevaluated Derivative"),
        (dict(energy=sp.oo * q), r"energy: contains oo"),
        (dict(domain={"x": (0, 1)}), r"domain\['x'\]: not a state variable or parameter"),
        (dict(domain={k: (-1, 1)}), r"domain\['k'\]: k is declared positive"),
        (dict(domain={q: (1, 0)}), r"domain\['q'\]: expected finite lo < hi"),
        (dict(domain={q: "ab"}), r"domain\['q'\]: expected an interval"),
        (dict(poisson="L"), r"poisson: expected a SymPy Matrix or nested lists"),
        (dict(name=3), r"name: expected a string"),
        (
            dict(energy=p**2 / 2 + sp.Symbol("k") * q**2 / 2 + k * s),
            r"two different symbols are both named 'k'",
        ),
    ],
)
def test_bad_input_names_field_and_entry(changes, match):
    with pytest.raises(gm.ModelError, match=match):
        make(**changes)


def test_model_error_is_value_error():
    assert issubclass(gm.ModelError, ValueError)


def test_with_params_rejects_unknown():
    with pytest.raises(
        gm.ModelError, match=r"'gama' is not a parameter \(did you mean 'gamma'\?\)"
    ):
        damped_oscillator.model().with_params(gama=1.0)


def test_symbolic_rates_of_damped_oscillator():
    m = damped_oscillator.model()
    qq, pp, ss = m.state
    mm, kk, g = (sp.Symbol(n, positive=True) for n in ("m", "k", "gamma"))
    assert sp.simplify(m.rates[1] - (-kk * qq - g * pp / mm)) == 0
    c, T0 = sp.Symbol("c", positive=True), sp.Symbol("T0", positive=True)
    T = T0 * sp.exp(ss / c)
    assert sp.simplify(m.rates[2] - g * pp**2 / (mm**2 * T)) == 0
