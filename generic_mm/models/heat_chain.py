r"""A chain of $n$ cells conducting heat, written as one flat `GenericModel`.

$x = (s_0, \dots, s_{n-1})$, $T_i = e^{s_i/C}$, $E = \sum_i C T_i$, $S = \sum_i s_i$; Fourier
exchange between neighbours with conductance $\kappa$: each edge $(i, j)$ adds
$\kappa\begin{pmatrix}T_j/T_i & -1\\ -1 & T_i/T_j\end{pmatrix}$ to $M$. Insulated ends.
A model with tens of variables, for checking and benchmarking at size.
"""

import sympy as sp

from .._model import GenericModel

DESCRIPTION = "A chain of cells exchanging heat with their neighbours (flat model, n variables)."
DEFAULTS = {"C": 1.0, "kappa": 0.3}


def model(n: int = 30, **params: float) -> GenericModel:
    """The chain of `n` cells; keyword arguments override `DEFAULTS`."""
    s = sp.symbols(f"s0:{n}", real=True)
    C, kappa = sp.Symbol("C", positive=True), sp.Symbol("kappa", positive=True)
    T = [sp.exp(si / C) for si in s]
    M = sp.zeros(n, n)
    for i in range(n - 1):
        j = i + 1
        M[i, i] += kappa * T[j] / T[i]
        M[j, j] += kappa * T[i] / T[j]
        M[i, j] -= kappa
        M[j, i] -= kappa
    values = {**DEFAULTS, **params}
    return GenericModel(
        list(s),
        sum(C * t for t in T),
        sum(s),
        None,
        M,
        params={C: values["C"], kappa: values["kappa"]},
        name=f"heat conduction chain, {n} cells",
    )
