r"""A damped oscillator in a heat bath.

$x = (q, p, s)$, $E = p^2/2m + k q^2/2 + c T_0 e^{s/c}$, $S = s$, bath temperature
$T = T_0 e^{s/c}$. With $w = (0, 1, -p/(mT))$ and $M = \gamma T w w^T$:
$\dot p = -kq - \gamma p/m$ and $T\dot s = \gamma p^2/m^2$. The mechanical energy ends in the
bath: $T_\infty = T_0 + E_{mech}(0)/c$.

With noise (`gm.simulate(..., noise=kB)`) it is a Brownian oscillator in a finite bath: the
stationary law $e^{S/k_B}$ on the energy shell $E$ makes $H/E \sim \mathrm{Beta}(1, c/k_B)$
($H$ the oscillator's energy), so $\langle p^2/m\rangle = \langle kq^2\rangle =
k_BE/(c + k_B) = k_B\langle T\rangle$ (see the fluctuations page).
"""

import sympy as sp

from .._model import GenericModel

DESCRIPTION = (
    "A mass on a spring, damped by a bath whose temperature rises as it absorbs the energy."
)

q, p, s = sp.symbols("q p s", real=True)
m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
DEFAULTS = {"m": 1.0, "k": 1.0, "gamma": 0.1, "c": 1.0, "T0": 1.0}
initial_state = {"q": 1.0, "p": 0.0, "s": 0.0}


def model(**params: float) -> GenericModel:
    """The damped oscillator; keyword arguments override `DEFAULTS`."""
    T = T0 * sp.exp(s / c)
    w = sp.Matrix([0, 1, -p / (m * T)])
    values = {**DEFAULTS, **params}
    return GenericModel(
        name="damped oscillator in a heat bath",
        state=[q, p, s],
        params={sym: values[sym.name] for sym in (m, k, gamma, c, T0)},
        energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
        entropy=s,
        poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
        friction=gamma * T * w * w.T,
    )
