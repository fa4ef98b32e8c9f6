r"""Two gas containers: a piston between two ideal gases that exchange heat through it.

The benchmark of learned GENERIC models (Shang and Öttinger 2020; GFINNs, Zhang, Shin and
Karniadakis 2022). State $x = (q, p, S_1, S_2)$: the piston's position and momentum and the
gases' entropies; the gases fill $V_1 = Aq$ and $V_2 = A(2\ell - q)$ and have the
Sackur-Tetrode energies $E_i = \big(e^{S_i/Nk_B}/(\hat cV_i)\big)^{2/3}$, so
$T_i = \partial E_i/\partial S_i = \tfrac{2}{3}E_i/Nk_B$ and the pressure on the piston is
$\tfrac{2}{3}E_i/V_i$.
$$E = \frac{p^2}{2m} + E_1 + E_2,\qquad S = S_1 + S_2,$$
$L$ canonical in $(q, p)$ and zero on the entropies, and heat flows through the piston,
$$M = \alpha\begin{pmatrix}0&0&0&0\\0&0&0&0\\0&0&1/T_1^2&-1/(T_1T_2)\\
0&0&-1/(T_1T_2)&1/T_2^2\end{pmatrix},$$
so $T_1\dot S_1 = \alpha(T_2 - T_1)/(T_1T_2)$: the piston oscillates, the gases' temperatures
equalise, $E$ is conserved and $S$ grows at the rate $\alpha(1/T_1 - 1/T_2)^2$. The values
(`DEFAULTS`, $Nk_B = m = \hat c = A = \ell = 1$, $\alpha = 1/2$) and the box of initial
states (`SAMPLING`) follow the published benchmark's set-up.
"""

import sympy as sp

from .._model import GenericModel

DESCRIPTION = "A piston between two ideal gases that exchange heat (the learned-GENERIC benchmark)."

q, p, S1, S2 = sp.symbols("q p S1 S2", real=True)
m, alpha, nkb, c_hat, ell, area = sp.symbols("m alpha nkb c_hat ell A", positive=True)
DEFAULTS = {"m": 1.0, "alpha": 0.5, "nkb": 1.0, "c_hat": 1.0, "ell": 1.0, "A": 1.0}
initial_state = {"q": 1.0, "p": 0.5, "S1": 2.0, "S2": 1.5}
SAMPLING = {"q": (0.2, 1.8), "p": (-1.0, 1.0), "S1": (1.0, 3.0), "S2": (1.0, 3.0)}
"""The box the benchmark draws its initial states from (as GFINNs do)."""


def gas_energy(S, V, nkb=nkb, c_hat=c_hat):
    """The Sackur-Tetrode energy $(e^{S/Nk_B}/(\\hat cV))^{2/3}$ of one gas."""
    return (sp.exp(S / nkb) / (c_hat * V)) ** sp.Rational(2, 3)


def model(**params: float) -> GenericModel:
    """The two gas containers; keyword arguments override `DEFAULTS`."""
    values = {**DEFAULTS, **params}
    E1 = gas_energy(S1, area * q)
    E2 = gas_energy(S2, area * (2 * ell - q))
    T1, T2 = 2 * E1 / (3 * nkb), 2 * E2 / (3 * nkb)
    w = sp.Matrix([0, 0, 1 / T1, -1 / T2])
    return GenericModel(
        name="two gas containers",
        state=[q, p, S1, S2],
        params={s: values[s.name] for s in (m, alpha, nkb, c_hat, ell, area)},
        energy=p**2 / (2 * m) + E1 + E2,
        entropy=S1 + S2,
        poisson=sp.Matrix([[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
        friction={"heat": alpha * w * w.T},
        observables={"T1": T1, "T2": T2},
        domain={"q": (0.05, 1.95), "S1": (0.0, 4.0), "S2": (0.0, 4.0), "p": (-3.0, 3.0)},
    )


def temperatures(x, *, nkb=1.0, c_hat=1.0, ell=1.0, A=1.0):
    """The gases' temperatures $(T_1, T_2)$ at the state `x` `(q, p, S_1, S_2)`, in JAX (for
    the inputs of learned parts; the defaults are `DEFAULTS`)."""
    import jax.numpy as jnp

    def energy(S, V):
        return (jnp.exp(S / nkb) / (c_hat * V)) ** (2 / 3)

    E1, E2 = energy(x[2], A * x[0]), energy(x[3], A * (2 * ell - x[0]))
    return jnp.stack([2 * E1 / (3 * nkb), 2 * E2 / (3 * nkb)])
