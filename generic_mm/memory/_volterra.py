r"""Memory kernels from velocity autocorrelations: a second-kind Volterra inversion."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import InputError
from ._validation import number, uniform_times, vector


def _derivatives(c: np.ndarray, h: float, even: bool) -> tuple[np.ndarray, np.ndarray]:
    r"""$C'$ and $C''$ on the grid, second order everywhere: central differences inside
    (at $t = 0$ too when $C$ is even, $C_{-1} = C_1$), one-sided stencils otherwise, and
    $C'(0) = 0$ (the equation at $t = 0$)."""
    d1, d2 = np.empty_like(c), np.empty_like(c)
    d1[0] = 0.0
    d1[1:-1] = (c[2:] - c[:-2]) / (2 * h)
    d1[-1] = (3 * c[-1] - 4 * c[-2] + c[-3]) / (2 * h)
    if even:
        d2[0] = 2 * (c[1] - c[0]) / h**2
    else:
        d2[0] = (2 * c[0] - 5 * c[1] + 4 * c[2] - c[3]) / h**2
    d2[1:-1] = (c[2:] - 2 * c[1:-1] + c[:-2]) / h**2
    d2[-1] = (2 * c[-1] - 5 * c[-2] + 4 * c[-3] - c[-4]) / h**2
    return d1, d2


def extract_kernel(ts: Any, vacf: Any, mass: float, *, even: bool = True) -> np.ndarray:
    r"""The memory kernel of a free particle from its velocity autocorrelation, by
    inverting

    $$\dot C(t) = -\frac{1}{M}\int_0^t K(s)\,C(t - s)\,ds.$$

    Differentiating once gives an equation of the second kind (stable to march),

    $$K(t)\,C(0) = -M\ddot C(t) - \int_0^t K(s)\,\dot C(t - s)\,ds,$$

    discretised with the trapezoid rule on the samples' grid ($\dot C(0) = 0$ makes each
    step explicit) and second-order differences for $\dot C$, $\ddot C$: the error is
    $O(h^2)$. Sampling noise is amplified by the second difference: smooth noisy
    correlations (or average more) first.

    **Arguments:**

    - `ts`: evenly spaced times from 0 (at least 4).
    - `vacf`: $C(t)$ at `ts` (e.g. [`generic_mm.memory.impulse_vacf`][]); $C(0) > 0$.
    - `mass`: $M$.
    - `even`: $C$ is a smooth even function of $t$, as for every resolved Hamiltonian
        system (its kernel has $K'(0) = 0$): $\ddot C(0)$ from the central difference with
        $C(-h) = C(h)$. Give `False` for the VACF of a Prony-kernel GLE, whose
        $\dddot C(0) = -K'(0)C(0)/M \ne 0$ makes the even extension first order at
        $t = 0$; a one-sided stencil is used instead (less accurate on fast oscillations).

    **Returns:** $K$ at `ts`, a NumPy array.

    **Raises:** `InputError` for uneven or too few times, or $C(0) \le 0$.
    """
    t, h = uniform_times(ts, least=4)
    c = vector(vacf, "vacf", length=t.size)
    M = number(mass, "mass")
    if not c[0] > 0:
        raise InputError(f"vacf[0]: C(0) = <v^2> must be positive, got {c[0]:g}.")
    d1, d2 = _derivatives(c, h, bool(even))
    K = np.empty_like(c)
    K[0] = -M * d2[0] / c[0]
    for n in range(1, t.size):
        # trapezoid: h [K_0 C'_n / 2 + sum_{j=1}^{n-1} K_j C'_{n-j} + K_n C'_0 / 2], C'_0 = 0
        conv = h * (0.5 * K[0] * d1[n] + K[1:n] @ d1[n - 1 : 0 : -1])
        K[n] = -(M * d2[n] + conv) / c[0]
    return K
