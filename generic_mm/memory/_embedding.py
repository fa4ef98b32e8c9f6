r"""The generalized Langevin equation as a GENERIC model (Prony embedding), and its
Markovian limit.

State $(q, p, u_1, [w_1,] \dots, s)$: a particle, one auxiliary force $u_k$ per exponential
(a pair $u_k, w_k$ per damped cosine) and the entropy $s$ of a heat bath. The exchange
$p \leftrightarrow u_k$ (and the rotation $u_k \leftrightarrow w_k$) is reversible, with
constant antisymmetric $L$; the relaxation of $u_k, w_k$ is dissipative, one friction block
per kernel term, and sends its heat to the bath.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sympy as sp

from .. import GenericModel, InputError
from .._expressions import as_scalar_expr
from ._kernels import PronyKernel
from ._validation import number

_S = sp.Symbol("s", real=True)
_T = sp.Symbol("T", positive=True)  # stands for the bath temperature (a definition)


def as_potential(potential: Any, x: sp.Symbol) -> sp.Expr:
    """`potential` (None, an expression in a symbol named like `x`, or a function of `x`)
    as an expression of `x`."""
    if potential is None:
        return sp.Integer(0)
    # Never sympify: a string would be parsed and evaluated (as_scalar_expr refuses text).
    value = (
        potential(x) if callable(potential) and not isinstance(potential, sp.Basic) else potential
    )
    V = as_scalar_expr(value, "potential")
    return cast(
        sp.Expr, V.xreplace({y: x for y in V.free_symbols if getattr(y, "name", None) == x.name})
    )


def _particle(mass: Any, potential: Any):
    """Symbols, energy and parameters of the particle: $p^2/2m + V(q)$."""
    q, p = sp.symbols("q p", real=True)
    m = sp.Symbol("m", positive=True)
    return q, p, m, as_potential(potential, q), {m: number(mass, "mass")}


def _bath(T0: Any, heat_capacity: Any):
    r"""Bath energy and temperature: $C T_0 e^{s/C}$ ($T = T_0 e^{s/C}$), or, without a
    heat capacity, an ideal reservoir $T_0 s$ ($T = T_0$)."""
    T0s = sp.Symbol("T0", positive=True)
    params = {T0s: number(T0, "T0")}
    if heat_capacity is None:
        return T0s * _S, T0s, params
    C = sp.Symbol("C", positive=True)
    params[C] = number(heat_capacity, "bath_heat_capacity")
    return C * T0s * sp.exp(_S / C), T0s * sp.exp(_S / C), params


def potential_params(params: Mapping | None) -> dict:
    """The potential's parameter values (symbol or name -> value), as a dict."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(
            f"params: expected a mapping symbol -> value for the potential's parameters, "
            f"got {type(params).__name__}."
        )
    return dict(params)


def _relaxation(n: int, s_index: int, rows: list[int], variables, c, tau) -> sp.Matrix:
    r"""$M_k = (c_k T/\tau_k)\sum_x v_x v_x^T$, $v_x = e_x - (x/(c_k T)) e_s$: the auxiliary
    variables `x` relax with rate $1/\tau_k$ and their energy becomes heat
    ($v_x\cdot\nabla E = x/c_k - T x/(c_k T) = 0$)."""
    M = sp.zeros(n, n)
    for i, x in zip(rows, variables):
        v = sp.zeros(n, 1)
        v[i] = 1
        v[s_index] = -x / (c * _T)
        M += (c * _T / tau) * (v * v.T)
    return M


def gle_model(
    kernel: PronyKernel,
    *,
    mass: float = 1.0,
    potential: Any = None,
    params: Mapping | None = None,
    T0: float = 1.0,
    bath_heat_capacity: float | None = None,
    name: str | None = None,
) -> GenericModel:
    r"""The generalized Langevin equation with a Prony kernel, as a GENERIC model.

    $$m\dot v = -V'(q) - \int_0^t K(t - t')\,v(t')\,dt' + R(t),\qquad
    K(t) = \sum_k c_k e^{-t/\tau_k}\cos\omega_k t,$$

    embedded with auxiliary forces $u_k$ (and $w_k$ for a damped cosine) and a heat bath of
    entropy $s$:

    $$E = \frac{p^2}{2m} + V(q) + \sum_k \frac{u_k^2 + w_k^2}{2c_k} + e(s),\qquad S = s,$$

    $$\dot p = -V'(q) + \sum_k u_k,\quad \dot u_k = -c_k v - u_k/\tau_k - \omega_k w_k,\quad
    \dot w_k = \omega_k u_k - w_k/\tau_k,\quad T\dot s = \sum_k \frac{u_k^2 + w_k^2}{c_k\tau_k}.$$

    The coupling `exchange_k` ($L_{p u_k} = c_k = -L_{u_k p}$, $L_{u_k w_k} = -\omega_k c_k$)
    is reversible; the process `relaxation_k` is
    $M_k = (c_k T/\tau_k)\sum_x v_xv_x^T$ with $v_x = e_x - x/(c_k T)\,e_s$. The deterministic
    solution from $u_k(0) = w_k(0) = 0$ is the GLE without $R$; with noise ($BB^T = 2k_BM$)
    each $u_k$ is an Ornstein-Uhlenbeck force with $\langle u_k(t)u_k(0)\rangle =
    k_BTc_ke^{-t/\tau_k}\cos\omega_kt$: the second fluctuation-dissipation theorem (see the
    memory page).

    **Arguments:**

    - `kernel`: a [`generic_mm.memory.PronyKernel`][].
    - `mass`: the particle's mass $m$.
    - `potential`: $V(q)$, a SymPy expression in a symbol named `q` (or a function
        `q -> expression`); `None`: a free particle.
    - `params`: values of the potential's parameters (symbol or name -> value).
    - `T0`: the bath temperature at $s = 0$.
    - `bath_heat_capacity`: $C$ of a finite bath $e = CT_0e^{s/C}$, $T = T_0e^{s/C}$;
        `None` (default): an ideal reservoir $e = T_0 s$ at constant $T = T_0$.
    - `name`: the model's name.

    **Returns:** a `GenericModel` with state `q, p, u1, [w1,] ..., s`, parameters `m`, `T0`,
    [`C`,] `c_k`, `tau_k` [, `omega_k`] (so `with_params` and ensembles over them need no
    rebuild), observables `v` (velocity), `F_mem` ($\sum_k u_k$, the force of the bath
    on the particle) and `T`, and named processes `relaxation_1`, ...

    **Example:**

    ```python
    model = gle_model(PronyKernel([1.0], [0.5]), mass=1.0)
    assert gm.check(model).ok
    ```
    """
    if not isinstance(kernel, PronyKernel):
        raise InputError(
            f"kernel: expected a PronyKernel (fit one with fit_prony), got {type(kernel).__name__}."
        )
    q, p, m, V, values = _particle(mass, potential)
    e_bath, T, bath_params = _bath(T0, bath_heat_capacity)
    values.update(bath_params)
    aux: list[sp.Symbol] = []
    layout: list[tuple[int, list[int], list[sp.Symbol]]] = []  # term -> (k, rows, variables)
    for k in range(1, kernel.n_terms + 1):
        names = [f"u{k}", f"w{k}"] if kernel.oscillatory[k - 1] else [f"u{k}"]
        xs = [sp.Symbol(nm, real=True) for nm in names]
        layout.append((k, list(range(2 + len(aux), 2 + len(aux) + len(xs))), xs))
        aux += xs
    state = [q, p, *aux, _S]
    n, s_index = len(state), len(state) - 1
    mechanics = sp.zeros(n, n)
    mechanics[0, 1], mechanics[1, 0] = 1, -1
    poisson: dict[str, Any] = {"mechanics": mechanics}
    friction: dict[str, Any] = {}
    energy = p**2 / (2 * m) + V + e_bath
    for (k, rows, xs), c_k, tau_k, w_k in zip(
        layout, kernel.weights, kernel.times, kernel.frequencies
    ):
        c, tau = sp.Symbol(f"c{k}", positive=True), sp.Symbol(f"tau{k}", positive=True)
        values[c], values[tau] = float(c_k), float(tau_k)
        energy += sum(x**2 for x in xs) / (2 * c)
        L = sp.zeros(n, n)
        L[1, rows[0]], L[rows[0], 1] = c, -c
        if len(xs) == 2:
            omega = sp.Symbol(f"omega{k}", positive=True)
            values[omega] = float(w_k)
            L[rows[0], rows[1]], L[rows[1], rows[0]] = -omega * c, omega * c
        poisson[f"exchange_{k}"] = L
        friction[f"relaxation_{k}"] = _relaxation(n, s_index, rows, xs, c, tau)
    return GenericModel(
        state=state,
        energy=energy,
        entropy=_S,
        poisson=poisson,
        friction=friction,
        params={**values, **potential_params(params)},
        name=name or f"GLE particle, {kernel.n_terms}-term Prony kernel",
        description="A particle with a Prony-series memory kernel embedded by auxiliary "
        "forces that relax into a heat bath.",
        definitions={"T": T},
        # The bath's force on the particle is sum_k u_k; a cosine pair's w_k only rotates
        # with its u_k.
        observables={
            "v": p / m,
            "F_mem": sum((xs[0] for _, _, xs in layout), sp.Integer(0)),
            "T": _T,
        },
    )


def markovian_model(
    friction: PronyKernel | float,
    *,
    mass: float = 1.0,
    potential: Any = None,
    params: Mapping | None = None,
    T0: float = 1.0,
    bath_heat_capacity: float | None = None,
    name: str | None = None,
) -> GenericModel:
    r"""The Markovian limit of [`generic_mm.memory.gle_model`][]: the same particle and bath
    with instantaneous friction $\gamma = \int_0^\infty K\,dt$,

    $$\dot p = -V'(q) - \gamma v,\qquad T\dot s = \gamma v^2,\qquad
    M = \gamma T\,w w^T,\ w = e_p - (v/T)\,e_s.$$

    **Arguments:** as `gle_model`; `friction` is a `PronyKernel` (its integral is used) or
    the coefficient $\gamma > 0$.

    **Returns:** a `GenericModel` with state `q, p, s`, parameters `m`, `gamma`, `T0` [, `C`],
    observables `v`, `F_mem` ($-\gamma v$) and `T`, and the process `friction`.
    """
    if isinstance(friction, PronyKernel):
        gamma_value = friction.integral()
    else:
        gamma_value = number(friction, "friction")
    q, p, m, V, values = _particle(mass, potential)
    e_bath, T, bath_params = _bath(T0, bath_heat_capacity)
    gamma = sp.Symbol("gamma", positive=True)
    values.update(bath_params)
    values[gamma] = gamma_value
    w = sp.Matrix([0, 1, -p / (m * _T)])
    return GenericModel(
        state=[q, p, _S],
        energy=p**2 / (2 * m) + V + e_bath,
        entropy=_S,
        poisson={"mechanics": [[0, 1, 0], [-1, 0, 0], [0, 0, 0]]},
        friction={"friction": gamma * _T * w * w.T},
        params={**values, **potential_params(params)},
        name=name or "Markovian particle (instantaneous friction)",
        description="The memoryless limit of a GLE particle: friction equal to the kernel's "
        "integral, into the same heat bath.",
        definitions={"T": T},
        observables={"v": p / m, "F_mem": -gamma * p / m, "T": _T},
    )
