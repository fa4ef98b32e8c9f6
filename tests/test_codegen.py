"""The SymPy -> JAX code generator against SymPy's own numerical evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm._codegen import Program
from generic_mm.models import MODULES

x, y = sp.symbols("x y", real=True)
a = sp.Symbol("a", positive=True)

EXPRESSIONS = [
    x**2 * y + 3 * x - sp.Rational(1, 3),
    sp.exp(x) * sp.sin(y) + sp.cos(x * y) - sp.tan(x / 3),
    sp.log(a + x**2) + sp.sqrt(a + y**2) + 1 / sp.sqrt(a + x**2) + sp.cbrt(a + x**2),
    (x + y) ** -3 + a**1.5 + x**7,
    sp.sinh(x) + sp.cosh(y) + sp.tanh(x * y) + sp.asinh(x) + sp.atan(y) + sp.atan2(y, x + 3),
    sp.Abs(x - y) + sp.sign(x) + sp.Max(x, y, a) + sp.Min(x, 0.5) + sp.floor(3 * y) + sp.ceiling(x),
    sp.erf(x) + sp.erfc(y) + sp.gamma(a + 2) + sp.loggamma(a + 1) + sp.Heaviside(x),
    sp.Piecewise((x**2, x < 0), (sp.sin(x), sp.And(x >= 0, y > 0)), (y, True)),
    sp.sec(x / 4) + sp.csc(y + 5) + sp.cot(x + 7) + sp.acos(x / 3) + sp.asin(y / 3),
    0.5 * x * y + sp.pi * x + sp.E,
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=range(len(EXPRESSIONS)))
def test_program_matches_sympy(expr):
    prog = Program([x, y], [a], [expr])
    f = jax.jit(prog)
    rng = np.random.default_rng(0)
    for xv, yv, av in rng.uniform([-2, -2, 0.5], [2, 2, 3], size=(20, 3)):
        expected = float(expr.subs({x: xv, y: yv, a: av}).evalf(30))
        (got,) = f(jnp.array([xv, yv]), jnp.array([av]))
        assert got.dtype == jnp.float64
        assert abs(float(got) - expected) <= 1e-12 * max(1.0, abs(expected))


def test_matrix_and_vector_outputs_keep_shape_and_zeros():
    mat = sp.Matrix([[0, x], [-x, 0]])
    vec = sp.Matrix([x * y, 0])
    L, v, s = Program([x, y], [], [mat, vec, x + y])(jnp.array([2.0, 3.0]), jnp.zeros(0))
    np.testing.assert_array_equal(L, [[0, 2], [-2, 0]])
    np.testing.assert_array_equal(v, [6, 0])
    assert s.shape == () and float(s) == 5.0


def test_cse_shares_subexpressions():
    big = sp.exp(sp.sin(x * y) ** 2)
    prog = Program([x, y], [], [big + x, big * y, sp.cos(big)])
    assert len(prog.assignments) >= 1
    # the shared subexpression is computed once: every output refers to it
    shared = prog.assignments[-1][0]
    assert all(shared in e.free_symbols for e in prog.reduced)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_vector_field_matches_symbolic_rates_and_autodiff(module):
    model = module.model()
    cm = gm.compile(model)
    rng = np.random.default_rng(1)
    y0 = np.array([module.initial_state[n] for n in model.state_names]) + rng.normal(
        0, 0.1, model.n
    )
    subs = {**dict(zip(model.state, y0)), **model.params}
    expected = np.array([float(e.subs(subs)) for e in model.rates])
    np.testing.assert_allclose(
        cm.vector_field(0.0, jnp.asarray(y0)), expected, rtol=1e-12, atol=1e-14
    )
    # symbolic gradients agree with autodiff of the compiled energy and entropy
    np.testing.assert_allclose(cm.grad_energy(y0), jax.grad(cm.energy)(jnp.asarray(y0)), rtol=1e-12)
    np.testing.assert_allclose(
        cm.grad_entropy(y0), jax.grad(cm.entropy)(jnp.asarray(y0)), rtol=1e-12
    )
    # and L grad E + M grad S assembled from the operators
    L, M, gE, gS = cm.operators(jnp.asarray(y0))
    np.testing.assert_allclose(L @ gE + M @ gS, expected, rtol=1e-10, atol=1e-13)


def test_parameters_are_differentiable_leaves():
    cm = gm.compile(MODULES[0].model())
    y0 = jnp.array([1.0, 0.5, 0.1])

    def f(c):
        return c.vector_field(0.0, y0)[1]  # dp/dt = -k q - gamma p / m

    g = jax.grad(f)(cm)
    assert float(g.params["k"]) == pytest.approx(-1.0)
    assert float(g.params["gamma"]) == pytest.approx(-0.5)
    # args override parameters without recompiling
    assert float(cm.vector_field(0.0, y0, {"k": 2.0})[1]) == pytest.approx(-2.0 - 0.05)
    with pytest.raises(
        gm.InputError, match=r"args\['kk'\]: not a parameter \(did you mean 'k'\?\)"
    ):
        cm.vector_field(0.0, y0, {"kk": 2.0})


def test_compile_is_cached_per_model():
    model = MODULES[1].model()
    assert gm.compile(model) is gm.compile(model)


def test_high_inverse_powers_have_finite_second_derivatives_at_small_lengths():
    """sigma^12/x^12 with sigma, x ~ 1e-10 (Lennard-Jones in metres): as a quotient its
    second derivative divided by (x^12)^3 ~ 1e-339, which underflows to 0 (inf); as
    integer_pow(x, -12) it is finite and exact."""
    x, sigma = sp.symbols("x sigma", positive=True)
    prog = Program([x], [sigma], [(sigma / x) ** 12 - (sigma / x) ** 6])

    def f(v):
        return prog(jnp.reshape(v, (1,)), jnp.asarray([3.4e-10]))[0]

    r = 3.8e-10
    d2 = float(jax.grad(jax.grad(f))(r))
    expected = 156 * 3.4e-10**12 / r**14 - 42 * 3.4e-10**6 / r**8
    assert np.isfinite(d2) and d2 == pytest.approx(expected, rel=1e-12)
