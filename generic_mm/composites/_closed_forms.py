r"""Closed forms of the uniform, linearised averaged composite.

With the phases' heat capacities $C_i = f_i\rho_ic_i$ per unit composite volume and the
exchange Laplacian $G$ ($G_{aa} = \sum_bH_{ab}$, $G_{ab} = -H_{ab}$), the phase temperatures
of a uniform composite at fixed strain obey $C\dot T = -GT$; under a harmonic strain the
thermal stresses $\beta_i = f_iM_i\alpha_i$ couple them to the mechanics. Everything here is
a number computed from the phases and interfaces of a
[`generic_mm.composites.Composite`][]; the methods of that class are the public entry
points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._errors import InputError, ModelError
from .._validate import positive_number


def heat_capacities(composite) -> dict[str, float]:
    """$C_i = f_i\\rho_ic_i$ per phase, per unit composite volume."""
    return {n: p.fraction * p.linear.C for n, p in composite.phases.items()}


def exchange_laplacian(composite) -> np.ndarray:
    """The exchange Laplacian $G$ over the phases (in `composite.phases` order)."""
    names = list(composite.phases)
    G = np.zeros((len(names), len(names)))
    for (a, b), H in composite.exchange.items():
        i, j = names.index(a), names.index(b)
        G[np.ix_([i, j], [i, j])] += H * np.array([[1.0, -1.0], [-1.0, 1.0]])
    return G


def relaxation_rates(composite) -> np.ndarray:
    """The nonzero eigenvalues of $C^{-1}G$, ascending."""
    C = np.array(list(heat_capacities(composite).values()))
    G = exchange_laplacian(composite)
    w = np.linalg.eigvalsh(G / np.sqrt(np.outer(C, C)))
    return np.sort(w[w > 1e-12 * max(1.0, float(np.max(np.abs(w))))])


def relaxation_time(composite) -> float:
    """The slowest exchange time, $1/\\min$ of the relaxation rates."""
    rates = relaxation_rates(composite)
    if rates.size == 0:
        raise ModelError(f"{composite.name}: no interfaces exchange heat, nothing relaxes.")
    return 1.0 / float(rates[0])


def checked_temperatures(composite, temperatures: Mapping[str, float]) -> dict[str, float]:
    """`temperatures` as positive floats, exactly one per phase."""
    if not isinstance(temperatures, Mapping):
        raise InputError(
            f"temperatures: expected a mapping phase -> temperature, got {temperatures!r}."
        )
    missing = [n for n in composite.phases if n not in temperatures]
    if missing:
        raise InputError(
            f"temperatures: missing phase {missing[0]!r}; give {list(composite.phases)}."
        )
    extra = set(temperatures) - set(composite.phases)
    if extra:
        raise InputError(f"temperatures: unknown phase(s) {sorted(extra)}.")
    return {
        n: positive_number(temperatures[n], f"temperatures[{n!r}]", InputError)
        for n in composite.phases
    }


def equilibrium_temperature(composite, temperatures: Mapping[str, float]) -> float:
    """$T_{eq} = \\sum C_iT_i/\\sum C_i$."""
    T, C = checked_temperatures(composite, temperatures), heat_capacities(composite)
    return sum(C[n] * T[n] for n in C) / sum(C.values())


def entropy_change(composite, temperatures: Mapping[str, float]) -> float:
    """$\\Delta S = \\sum C_i\\ln(T_{eq}/T_i)$."""
    T, C = checked_temperatures(composite, temperatures), heat_capacities(composite)
    Teq = equilibrium_temperature(composite, T)
    return sum(C[n] * math.log(Teq / T[n]) for n in C)


def thermal_stresses(composite) -> np.ndarray:
    """$\\beta_i = f_iM_i\\alpha_i$ per phase (in `composite.phases` order)."""
    return np.array([p.fraction * p.linear.beta for p in composite.phases.values()])


def moduli(composite) -> dict[str, float]:
    """The isothermal, relaxed and unrelaxed iso-strain moduli."""
    C = np.array(list(heat_capacities(composite).values()))
    beta = thermal_stresses(composite)
    iso = sum(p.fraction * p.linear.modulus for p in composite.phases.values())
    relaxed = iso + composite.T0 * beta.sum() ** 2 / C.sum()
    unrelaxed = iso + composite.T0 * float(np.sum(beta**2 / C))
    return {"isothermal": iso, "relaxed": float(relaxed), "unrelaxed": unrelaxed}


def complex_modulus(composite, omega) -> np.ndarray:
    """$M^*(\\omega) = M_T + i\\omega T_0\\beta^T(i\\omega C + G)^{-1}\\beta$."""
    omega = np.atleast_1d(np.asarray(omega, dtype=float))
    beta = thermal_stresses(composite)
    C = np.diag(list(heat_capacities(composite).values()))
    G = exchange_laplacian(composite)
    iso = moduli(composite)["isothermal"]
    T0 = composite.T0
    return np.array(
        [iso + 1j * w * T0 * beta @ np.linalg.solve(1j * w * C + G, beta) for w in omega]
    )


def loss_factor(composite, omega) -> np.ndarray:
    """$Q^{-1} = \\mathrm{Im}\\,M^*/\\mathrm{Re}\\,M^*$."""
    M = complex_modulus(composite, omega)
    return np.imag(M) / np.real(M)


def zener_loss_factor(composite, omega) -> np.ndarray:
    """Zener's Debye peak $\\Delta\\,\\omega\\bar\\tau/(1 + (\\omega\\bar\\tau)^2)$."""
    m = moduli(composite)
    MU, MR = m["unrelaxed"], m["relaxed"]
    delta = (MU - MR) / math.sqrt(MU * MR)
    tau = relaxation_time(composite) * math.sqrt(MU / MR)
    w = np.asarray(omega, dtype=float)
    return delta * w * tau / (1 + (w * tau) ** 2)
