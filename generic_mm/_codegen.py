r"""SymPy expressions -> JAX functions, with common-subexpression elimination.

No source text is generated and nothing is `exec`-ed: `sympy.cse` turns the outputs into a
list of assignments, and `Program.__call__` walks that list with `jax.numpy` operations.
The walk happens only while JAX traces; the compiled XLA program is the same as for a
hand-written function (see `benchmarks/bench_core.py`).

Unlike `lambdify(modules="jax")`, every supported function maps to a `jax.numpy` function
(never to `math`), integer powers become `lax.integer_pow`, and quotients are emitted as
divisions, except by powers $x^n$, $n \ge 2$, which become `integer_pow(x, -n)`: the
derivatives of a quotient divide by $(x^n)^2$, $(x^n)^3$, which underflow for small $x$.
`Piecewise` becomes nested `jnp.where`, which evaluates every branch (as any vectorised
select does): keep each branch finite over the whole domain.
"""

from __future__ import annotations

import abc
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import lineax as lx
import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from ._errors import InputError
from ._noise import psd_factor

_UNARY: dict[type, Callable] = {
    sp.exp: jnp.exp,
    sp.log: jnp.log,
    sp.sin: jnp.sin,
    sp.cos: jnp.cos,
    sp.tan: jnp.tan,
    sp.asin: jnp.arcsin,
    sp.acos: jnp.arccos,
    sp.atan: jnp.arctan,
    sp.sinh: jnp.sinh,
    sp.cosh: jnp.cosh,
    sp.tanh: jnp.tanh,
    sp.asinh: jnp.arcsinh,
    sp.acosh: jnp.arccosh,
    sp.atanh: jnp.arctanh,
    sp.sec: lambda x: 1 / jnp.cos(x),
    sp.csc: lambda x: 1 / jnp.sin(x),
    sp.cot: lambda x: 1 / jnp.tan(x),
    sp.Abs: jnp.abs,
    sp.sign: jnp.sign,
    sp.floor: jnp.floor,
    sp.ceiling: jnp.ceil,
    sp.erf: jsp.erf,
    sp.erfc: jsp.erfc,
    sp.gamma: jsp.gamma,
    sp.loggamma: jsp.gammaln,
}
_NARY: dict[type, Callable] = {
    sp.Max: lambda *a: functools.reduce(jnp.maximum, a),
    sp.Min: lambda *a: functools.reduce(jnp.minimum, a),
    sp.atan2: jnp.arctan2,
    sp.Heaviside: lambda x, h0=0.5: jnp.heaviside(x, h0),
}
_RELATIONAL: dict[type, Callable] = {
    sp.StrictLessThan: jnp.less,
    sp.LessThan: jnp.less_equal,
    sp.StrictGreaterThan: jnp.greater,
    sp.GreaterThan: jnp.greater_equal,
    sp.Equality: jnp.equal,
    sp.Unequality: jnp.not_equal,
}
_LOGICAL: dict[type, Callable] = {
    sp.And: lambda *a: functools.reduce(jnp.logical_and, a),
    sp.Or: lambda *a: functools.reduce(jnp.logical_or, a),
    sp.Not: jnp.logical_not,
}

SUPPORTED_FUNCTIONS: tuple[str, ...] = tuple(
    sorted(f.__name__ for f in (*_UNARY, *_NARY)) + ["Piecewise", "sqrt (as a power)"]
)
"""Names of the SymPy functions that can appear in a model."""


def unsupported_parts(expr: sp.Basic) -> str | None:
    """Why `expr` cannot be compiled, or `None` when it can."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Add, sp.Mul, sp.Pow)):
            if node.is_Number and not node.is_finite:
                return f"contains {node}, which is not a finite number."
            if node is sp.I or (node.is_Number and not node.is_real):
                return f"contains the imaginary unit in {node}; models are real-valued."
            continue
        if node is sp.I:
            return "contains the imaginary unit I; models are real-valued."
        if node in (sp.nan, sp.zoo, sp.oo, -sp.oo):
            return f"contains {node}, which is not a finite number."
        if isinstance(node, sp.core.function.AppliedUndef):
            return (
                f"contains the undefined function {node}; write it out in terms of the state "
                "and parameters."
            )
        if isinstance(node, (sp.Derivative, sp.Integral, sp.Sum, sp.Product, sp.Subs)):
            return f"contains an unevaluated {type(node).__name__} ({node}); evaluate it first (.doit())."
        if type(node) in _UNARY or type(node) in _NARY or isinstance(node, sp.Piecewise):
            continue
        if isinstance(node, (ExprCondPair, sp.logic.boolalg.BooleanAtom)):
            continue
        if type(node) in _RELATIONAL or type(node) in _LOGICAL:
            continue
        if isinstance(node, sp.Tuple):
            continue
        return (
            f"uses {type(node).__name__} ({node}), which generic_mm cannot compile; supported "
            f"functions: {', '.join(SUPPORTED_FUNCTIONS)}."
        )
    return None


def _number(expr: sp.Number | sp.NumberSymbol) -> float:
    return float(expr)


class _Evaluator:
    """Evaluates SymPy trees with jax.numpy, given values for the symbols."""

    def __init__(self, env: dict[sp.Basic, jax.Array]):
        self.env = env

    def __call__(self, expr: sp.Basic) -> Any:
        """The value of `expr`: a JAX array, or a Python float or bool for constants (kept
        as Python numbers so that XLA sees them as literals)."""
        if expr.is_Symbol:
            return self.env[expr]
        if isinstance(expr, (sp.Number, sp.NumberSymbol)):
            return _number(expr)
        if expr is sp.true:
            return True
        if expr is sp.false:
            return False
        if expr.is_Add:
            return functools.reduce(operator.add, map(self, expr.args))
        if isinstance(expr, sp.Mul):
            return self._mul(expr)
        if expr.is_Pow:
            return self._pow(*expr.args)
        kind = type(expr)
        if kind in _UNARY:
            return _UNARY[kind](self(expr.args[0]))
        if kind in _NARY:
            return _NARY[kind](*map(self, expr.args))
        if kind in _RELATIONAL:
            return _RELATIONAL[kind](self(expr.args[0]), self(expr.args[1]))
        if kind in _LOGICAL:
            return _LOGICAL[kind](*map(self, expr.args))
        if isinstance(expr, sp.Piecewise):
            return self._piecewise(expr)
        raise TypeError(f"generic_mm cannot compile {kind.__name__}: {expr}")  # pragma: no cover

    def _mul(self, expr: sp.Mul):
        num, den = [], []
        for factor in expr.args:
            if isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp < -1:
                # x**-n as a power, not 1/x**n: a quotient's second derivative divides by
                # (x**n)**3, which underflows for small x (Lennard-Jones in metres: inf)
                num.append(self._pow(factor.base, factor.exp))
            elif isinstance(factor, sp.Pow) and factor.exp.is_Number and factor.exp.is_negative:
                den.append(self._pow(factor.base, -factor.exp))
            elif isinstance(factor, sp.Rational) and not factor.is_Integer:
                num.append(float(factor.p))
                den.append(float(factor.q))
            else:
                num.append(self(factor))
        negate = len(num) > 1 and isinstance(num[0], float) and num[0] == -1.0
        if negate:
            num = num[1:]
        top = functools.reduce(operator.mul, num) if num else 1.0
        if negate:
            top = -top
        if not den:
            return top
        return top / functools.reduce(operator.mul, den)

    def _pow(self, base: sp.Basic, exp: sp.Basic):
        b = self(base)
        if isinstance(exp, sp.Integer):
            e = int(exp)
            if e == 1:
                return b
            if e >= 0:
                return b**e
            return 1.0 / b if e == -1 else jax.lax.integer_pow(jnp.asarray(b, dtype=float), e)
        if exp == sp.Rational(1, 2):
            return jnp.sqrt(b)
        if exp == sp.Rational(-1, 2):
            return jax.lax.rsqrt(jnp.asarray(b, dtype=float))
        if exp == sp.Rational(1, 3):
            return jnp.cbrt(b)
        return jnp.power(b, self(exp))

    def _piecewise(self, expr: sp.Piecewise):
        result = None
        for pair in reversed(expr.args):
            value, cond = pair.args
            v = self(value)
            if result is None:
                if cond is not sp.true:
                    # No branch applies: NaN, as SymPy's Piecewise is undefined there.
                    result = jnp.where(self(cond), v, jnp.nan)
                else:
                    result = v
            else:
                result = jnp.where(self(cond), v, result)
        return result


class Program:
    """A set of SymPy outputs compiled, via `sympy.cse`, into one JAX function `f(y, p)`.

    `outputs` is a sequence of scalars, column vectors or matrices; calling the program with
    a state `y` (shape `(n,)`) and a parameter vector `p` returns a tuple of arrays of the
    same shapes (vectors as `(n,)`).
    """

    def __init__(
        self,
        inputs: Sequence[sp.Symbol],
        params: Sequence[sp.Symbol],
        outputs: Sequence[sp.Basic],
    ):
        self.inputs = tuple(inputs)
        self.params = tuple(params)
        self.shapes: list[tuple[int, ...]] = []
        flat: list[sp.Basic] = []
        for out in outputs:
            if isinstance(out, sp.MatrixBase):
                shape = (out.shape[0],) if out.shape[1] == 1 else tuple(out.shape)
                self.shapes.append(shape)
                flat.extend(out[i, j] for i in range(out.shape[0]) for j in range(out.shape[1]))
            else:
                self.shapes.append(())
                if isinstance(out, int):
                    out = sp.Integer(out)
                elif isinstance(out, float):
                    out = sp.Float(out)
                flat.append(out)
        symbols = sp.numbered_symbols("_cse", cls=sp.Dummy)
        self.assignments, reduced = sp.cse(flat, symbols=symbols, order="none")
        # Given a list, cse returns the reduced expressions as a list.
        self.reduced: list[sp.Basic] = list(cast("list[sp.Basic]", reduced))

    def __call__(self, y: jax.Array, p: jax.Array) -> tuple[jax.Array, ...]:
        env: dict[sp.Basic, jax.Array] = {s: y[i] for i, s in enumerate(self.inputs)}
        env.update({s: p[i] for i, s in enumerate(self.params)})
        ev = _Evaluator(env)
        for sym, expr in self.assignments:
            env[sym] = ev(expr)
        dtype = jnp.result_type(y.dtype, p.dtype, float)
        outs, pos = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape)) if shape else 1
            exprs = self.reduced[pos : pos + size]
            pos += size
            outs.append(_assemble(exprs, shape, ev, dtype))
        return tuple(outs)


def _assemble(exprs: Sequence[sp.Basic], shape: tuple[int, ...], ev: _Evaluator, dtype):
    if not shape:
        return jnp.asarray(ev(exprs[0]), dtype=dtype)
    # A stack (a concatenation XLA fuses) rather than a scatter into zeros: under vmap a
    # scatter with constant indices costs as much as the arithmetic itself.
    values = [jnp.asarray(ev(e) if e != 0 else 0.0, dtype=dtype) for e in exprs]
    batch = jnp.broadcast_shapes(*(v.shape for v in values))
    return jnp.stack([jnp.broadcast_to(v, batch) for v in values]).reshape(shape)


class AbstractFunctions(abc.ABC):
    """What a compiled model evaluates: the interface between a model and `CompiledModel`.

    Every method takes a state `y` (shape `(n,)`), the parameters `p` (a dict name ->
    array) and `data` (a dict of integer arrays such as edge lists; empty for flat models). `ModelFunctions` implements it for a flat `GenericModel` (dense SymPy operators);
    `generic_mm.structured` implements it with gathers over edges and segment sums, without
    ever forming an `n x n` matrix (except in `operators`, for small models and checks).
    """

    @abc.abstractmethod
    def rates(self, y, p, data) -> jax.Array:
        """`L grad E + M grad S`."""

    @abc.abstractmethod
    def thermodynamics(self, y, p, data) -> tuple[jax.Array, jax.Array, jax.Array]:
        """`(E, S, grad S . M grad S)`."""

    @abc.abstractmethod
    def gradients(self, y, p, data) -> tuple[jax.Array, jax.Array]:
        """`(grad E, grad S)`."""

    @abc.abstractmethod
    def operators(self, y, p, data) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """`(L, M, grad E, grad S)` with dense `L` and `M`."""

    @abc.abstractmethod
    def apply(self, y, p, data, v_poisson, v_friction) -> tuple[jax.Array, jax.Array]:
        """`(L(y) v_poisson, M(y) v_friction)`: the operators as matrix-free products."""

    @property
    def observable_names(self) -> tuple[str, ...]:
        """The names of the model's observables (named derived quantities)."""
        return ()

    @property
    def process_names(self) -> tuple[str, ...]:
        """The names of the dissipative processes whose entropy production is reported."""
        return ("friction",)

    def observables(self, y, p, data) -> dict[str, jax.Array]:
        """Name -> value of every observable (a field's shape for per-cell observables)."""
        return {}

    def production_by_process(self, y, p, data) -> dict[str, jax.Array]:
        """Process name -> `grad S . M_k grad S`; the values sum to the entropy production."""
        return {"friction": self.thermodynamics(y, p, data)[2]}

    def record(self, y, p, data) -> dict[str, Any]:
        """Everything a trajectory saves at one state: `energy`, `entropy`,
        `entropy_production`, `processes` (dict), `observables` (dict), `grad_energy`,
        `grad_entropy`. Kinds of model may compute it in one pass."""
        E, S, sigma = self.thermodynamics(y, p, data)
        gE, gS = self.gradients(y, p, data)
        return {
            "energy": E,
            "entropy": S,
            "entropy_production": sigma,
            "processes": self.production_by_process(y, p, data),
            "observables": self.observables(y, p, data),
            "grad_energy": gE,
            "grad_entropy": gS,
        }

    def divergence(self, y, p, data) -> jax.Array:
        r"""$\mathrm{div}\,M$: $(\mathrm{div}\,M)_i = \sum_j\partial M_{ij}/\partial x_j$, the
        drift that fluctuating GENERIC adds (times $k_B$)."""
        raise InputError(f"noise: {type(self).__name__} supplies no noise.")

    def noise_dim(self, data) -> int:
        """The number of independent Wiener processes the noise uses."""
        raise InputError(f"noise: {type(self).__name__} supplies no noise.")

    def noise_operator(self, y, p, data, scale) -> lx.AbstractLinearOperator:
        """`scale * B(y)` as a linear operator from the Wiener increments (shape
        `(noise_dim,)`) to the state, with $BB^T = M$; never a dense `n x n` matrix for
        structured models."""
        raise InputError(f"noise: {type(self).__name__} supplies no noise.")

    def fields(self, y, p, data) -> dict[str, dict[str, jax.Array]]:
        """Energy, entropy and entropy production per cell (structured models only)."""
        raise InputError(
            "fields: this is a flat model (one SymPy matrix); fields exist for structured models."
        )


class ModelFunctions(AbstractFunctions):
    """The JAX programs generated for one `GenericModel`; built lazily, each once.

    Each `program(key)` has the signature `f(y, p_vector) -> tuple`, with `p_vector` the
    parameters in the order of `model.param_names`; the methods take the parameter dict.
    """

    def __init__(self, model):
        self._model = model
        self._programs: dict[str, Program] = {}
        self._names = tuple(model.param_names)

    def program(self, key: str) -> Program:
        """The program `key`: `rates`, `thermodynamics`, `gradients`, `operators` or
        `record` (E, S, production, production per process, observables, grad E, grad S)."""
        if key not in self._programs:
            m = self._model
            outputs = {
                "rates": lambda: [m.rates],
                "thermodynamics": lambda: [m.energy, m.entropy, m.entropy_production],
                "gradients": lambda: [m.grad_energy, m.grad_entropy],
                "operators": lambda: [m.poisson, m.friction, m.grad_energy, m.grad_entropy],
                "noise": lambda: [self._divergence(), *self._blocks()],
                "record": lambda: [
                    m.energy,
                    m.entropy,
                    m.entropy_production,
                    *m.entropy_production_by_process.values(),
                    *m.observables.values(),
                    m.grad_energy,
                    m.grad_entropy,
                ],
            }[key]()
            self._programs[key] = Program(m.state, m.param_symbols, outputs)
        return self._programs[key]

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(self._model.observables)

    # -- noise ------------------------------------------------------------------------------
    def _divergence(self) -> sp.ImmutableMatrix:
        m = self._model
        M, x = m.friction, m.state
        return sp.ImmutableMatrix(
            [sp.Add(*(sp.diff(M[i, j], x[j]) for j in range(len(x)))) for i in range(len(x))]
        )

    @functools.cached_property
    def supports(self) -> tuple[tuple[int, ...], ...]:
        """Per process: the state indices its friction matrix touches (rows with a
        structurally nonzero entry); its noise factor lives on them."""
        out = []
        for M in self._model.processes.values():
            n = M.shape[0]
            out.append(tuple(i for i in range(n) if any(M[i, j] != 0 for j in range(n))))
        return tuple(out)

    def _blocks(self) -> list[sp.ImmutableMatrix]:
        return [
            sp.ImmutableMatrix(M.extract(list(idx), list(idx)))
            for M, idx in zip(self._model.processes.values(), self.supports)
            if idx
        ]

    def divergence(self, y, p, data):
        return self.program("noise")(y, self._vector(p))[0].reshape(-1)

    def noise_dim(self, data) -> int:
        return sum(len(idx) for idx in self.supports)

    def noise_operator(self, y, p, data, scale):
        blocks = self.program("noise")(y, self._vector(p))[1:]
        n = len(self._model.state)
        B = jnp.zeros((n, self.noise_dim(data)), dtype=y.dtype)
        col = 0
        for idx, block in zip((i for i in self.supports if i), blocks):
            k = len(idx)
            factor = psd_factor(jnp.reshape(block, (k, k)))
            B = B.at[jnp.asarray(idx)[:, None], col + jnp.arange(k)[None, :]].set(factor)
            col += k
        return lx.MatrixLinearOperator(scale * B)

    @property
    def process_names(self) -> tuple[str, ...]:
        return tuple(self._model.processes)

    def _vector(self, p) -> jax.Array:
        if not self._names:
            return jnp.zeros((0,))
        return jnp.stack([jnp.asarray(p[k], dtype=float) for k in self._names])

    def rates(self, y, p, data):
        return self.program("rates")(y, self._vector(p))[0]

    def thermodynamics(self, y, p, data):
        return self.program("thermodynamics")(y, self._vector(p))

    def record(self, y, p, data):
        out = self.program("record")(y, self._vector(p))
        k, m = len(self.process_names), len(self.observable_names)
        E, S, sigma = out[:3]
        return {
            "energy": E,
            "entropy": S,
            "entropy_production": sigma,
            "processes": dict(zip(self.process_names, out[3 : 3 + k])),
            "observables": dict(zip(self.observable_names, out[3 + k : 3 + k + m])),
            "grad_energy": out[-2].reshape(-1),
            "grad_entropy": out[-1].reshape(-1),
        }

    def observables(self, y, p, data):
        return self.record(y, p, data)["observables"]

    def production_by_process(self, y, p, data):
        return self.record(y, p, data)["processes"]

    def gradients(self, y, p, data):
        return self.program("gradients")(y, self._vector(p))

    def operators(self, y, p, data):
        L, M, gE, gS = self.program("operators")(y, self._vector(p))
        # `Program` returns an n x 1 matrix as a vector: give a 1 x 1 operator its shape.
        n = len(self._model.state)
        return L.reshape(n, n), M.reshape(n, n), gE, gS

    def apply(self, y, p, data, v_poisson, v_friction):
        L, M, _, _ = self.operators(y, p, data)
        return L @ v_poisson, M @ v_friction


def model_functions(model) -> ModelFunctions:
    """The (cached) `ModelFunctions` of a `GenericModel`."""
    return model.cached("functions", lambda: ModelFunctions(model))
