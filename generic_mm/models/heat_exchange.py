r"""Two bodies exchanging heat, in entropy variables.

$x = (s_1, s_2)$, $E = \sum_i C_i T_{ref} e^{s_i/C_i}$ (constant heat capacities $C_i$,
temperatures $T_i = T_{ref} e^{s_i/C_i}$), $S = s_1 + s_2$,
$M = \kappa \begin{pmatrix} T_2/T_1 & -1 \\ -1 & T_1/T_2 \end{pmatrix}$. Then
$T_1\dot s_1 = \kappa (T_2 - T_1)$ and $\dot S = \kappa (T_1 - T_2)^2/(T_1 T_2)$. Closed forms:
$T_{eq} = \sum C_i T_{i,0}/\sum C_i$ and $\Delta S = \sum C_i \ln(T_{eq}/T_{i,0})$.
"""

import math

import sympy as sp

from .._model import GenericModel
from ..structured import entropic_exchange

DESCRIPTION = "Two bodies with constant heat capacities exchanging heat through a conductance."

s1, s2 = sp.symbols("s1 s2", real=True)
C1, C2, kappa, Tref = sp.symbols("C1 C2 kappa Tref", positive=True)
DEFAULTS = {"C1": 1.0, "C2": 2.0, "kappa": 0.5, "Tref": 1.0}


def state_for_temperatures(T1: float, T2: float, **params: float) -> dict[str, float]:
    """The entropies that give body temperatures `T1`, `T2`."""
    v = {**DEFAULTS, **params}
    return {"s1": v["C1"] * math.log(T1 / v["Tref"]), "s2": v["C2"] * math.log(T2 / v["Tref"])}


initial_state = state_for_temperatures(2.0, 1.0)


def model(**params: float) -> GenericModel:
    """The two bodies; keyword arguments override `DEFAULTS`."""
    T1 = Tref * sp.exp(s1 / C1)
    T2 = Tref * sp.exp(s2 / C2)
    values = {**DEFAULTS, **params}
    return GenericModel(
        name="two bodies exchanging heat",
        state=[s1, s2],
        params={sym: values[sym.name] for sym in (C1, C2, kappa, Tref)},
        energy=C1 * T1 + C2 * T2,
        entropy=s1 + s2,
        poisson=None,
        friction=entropic_exchange(kappa, T1, T2),
    )
