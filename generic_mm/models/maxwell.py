r"""A Maxwell viscoelastic element (spring and dashpot in series) with heat.

The total strain $\varepsilon$ is held fixed (a parameter); the state is the viscous strain
and the entropy, $x = (\varepsilon_v, s)$, with $E = G(\varepsilon - \varepsilon_v)^2/2
+ C T_0 e^{s/C}$, $S = s$, $T = T_0 e^{s/C}$. The stress $\sigma = G(\varepsilon - \varepsilon_v)$
drives the dashpot, $\eta\dot\varepsilon_v = \sigma$; with $w = (1, \sigma/T)$,
$M = (T/\eta) w w^T$ gives that flow and the heating $T\dot s = \sigma^2/\eta$.
Closed form (stress relaxation): $\sigma(t) = G\varepsilon\, e^{-G t/\eta}$; finally
$T_\infty = T_0 + G\varepsilon^2/2C$ (from $\varepsilon_v(0) = 0$, $s(0) = 0$).
"""

import sympy as sp

from .._model import GenericModel

DESCRIPTION = (
    "Stress relaxation of a Maxwell element (spring + dashpot) whose dissipation heats it."
)

eps_v, s = sp.symbols("eps_v s", real=True)
G, eta, C, T0 = sp.symbols("G eta C T0", positive=True)
eps = sp.Symbol("eps", real=True)
DEFAULTS = {"G": 1.0, "eta": 2.0, "eps": 0.5, "C": 1.0, "T0": 1.0}
initial_state = {"eps_v": 0.0, "s": 0.0}


def model(**params: float) -> GenericModel:
    """The Maxwell element; keyword arguments override `DEFAULTS`."""
    T = T0 * sp.exp(s / C)
    sigma = G * (eps - eps_v)
    w = sp.Matrix([1, sigma / T])
    values = {**DEFAULTS, **params}
    return GenericModel(
        name="Maxwell viscoelastic element with heat",
        state=[eps_v, s],
        params={sym: values[sym.name] for sym in (G, eta, eps, C, T0)},
        energy=G * (eps - eps_v) ** 2 / 2 + C * T,
        entropy=s,
        poisson=None,
        friction=(T / eta) * w * w.T,
    )
