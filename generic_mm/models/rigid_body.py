r"""A free rigid body with internal friction, heating a bath.

$x = (m_1, m_2, m_3, s)$: body angular momentum and the entropy of the body's internal heat
bath ($U = C T_0 e^{s/C}$, $T = T_0 e^{s/C}$). $E = \sum_i m_i^2/2I_i + U(s)$, $S = s$.
Reversible part: Euler's equations, $L = -\mathrm{skew}(m)$ (state dependent; satisfies
Jacobi), so $\dot m = m\times\omega$, $\omega_i = m_i/I_i$.
Friction: with $a_k = e_k\times m$ and $w_k = (a_k, -a_k\cdot\omega/T)$,
$M = \gamma T \sum_k w_k w_k^T$ gives $\dot m \mathrel{+}= \gamma\, m\times(m\times\omega)$ and
$T\dot s = \gamma |m\times\omega|^2$. Both parts conserve the Casimir $|m|^2$; rotational
energy is dissipated until the body spins about its axis of largest inertia, with
$E_{rot} = |m|^2/2I_{max}$ and $T_\infty = T_0 + (E_{rot}(0) - |m|^2/2I_{max})/C$.
"""

import sympy as sp

from .._model import GenericModel

DESCRIPTION = (
    "A free rigid body whose internal friction turns rotational energy into heat, conserving |m|."
)

m1, m2, m3, s = sp.symbols("m1 m2 m3 s", real=True)
I1, I2, I3, gamma, C, T0 = sp.symbols("I1 I2 I3 gamma C T0", positive=True)
DEFAULTS = {"I1": 1.0, "I2": 2.0, "I3": 3.0, "gamma": 0.05, "C": 1.0, "T0": 1.0}
initial_state = {"m1": 1.0, "m2": 0.2, "m3": 0.1, "s": 0.0}


def model(**params: float) -> GenericModel:
    """The rigid body; keyword arguments override `DEFAULTS`."""
    m = sp.Matrix([m1, m2, m3])
    omega = sp.Matrix([m1 / I1, m2 / I2, m3 / I3])
    T = T0 * sp.exp(s / C)
    skew = sp.Matrix([[0, -m3, m2], [m3, 0, -m1], [-m2, m1, 0]])
    L = sp.zeros(4, 4)
    L[:3, :3] = -skew
    M = sp.zeros(4, 4)
    for k in range(3):
        a = sp.eye(3)[:, k].cross(m)
        w = sp.Matrix([*a, -a.dot(omega) / T])
        M += w * w.T
    values = {**DEFAULTS, **params}
    return GenericModel(
        name="rigid body with internal friction",
        state=[m1, m2, m3, s],
        params={sym: values[sym.name] for sym in (I1, I2, I3, gamma, C, T0)},
        energy=m1**2 / (2 * I1) + m2**2 / (2 * I2) + m3**2 / (2 * I3) + C * T,
        entropy=s,
        poisson=L,
        friction=gamma * T * M,
    )
