r"""Layered media: the exact Floquet-Bloch branch of a periodic multilayer (Rytov's
transfer-matrix relation) and its long-wave series, the references of second-order
homogenization."""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from .._errors import InputError
from .._validate import positive_array


def _layers(thicknesses, moduli, densities, what: str, count: int | None = None):
    d = positive_array(thicknesses, "thicknesses").reshape(-1)
    E = positive_array(moduli, "moduli").reshape(-1)
    r = positive_array(densities, "densities").reshape(-1)
    if count is not None and len(d) != count:
        raise InputError(f"thicknesses: {what} takes {count} layers, got {len(d)}.")
    if len(d) < 1 or len(E) != len(d) or len(r) != len(d):
        raise InputError(
            f"moduli, densities: expected one value per layer ({len(d)} thicknesses), got "
            f"{len(E)} moduli and {len(r)} densities."
        )
    return d, E, r


def rytov(k, thicknesses, moduli, densities) -> np.ndarray:
    r"""The exact lowest Floquet-Bloch branch $\omega(k)$ of a 1D periodic multilayer
    (Rytov 1956): the smallest $\omega \ge 0$ with $\cos kl = \tfrac12\operatorname{tr}
    \prod_j T_j(\omega)$, $T_j = \begin{pmatrix}\cos\theta_j & \sin\theta_j/(Z_j\omega)\\
    -Z_j\omega\sin\theta_j & \cos\theta_j\end{pmatrix}$, $\theta_j = \omega d_j/c_j$,
    $c_j = \sqrt{E_j/\rho_j}$, $Z_j = \rho_jc_j$ (for two layers $\cos kl =
    \cos\theta_1\cos\theta_2 - \tfrac12(Z_1/Z_2 + Z_2/Z_1)\sin\theta_1\sin\theta_2$).

    Waves normal to the layers: $E$ is the P-wave modulus $\lambda + 2\mu$ or the shear
    modulus $\mu$. For conduction, with conductivities as `moduli` and capacities as
    `densities`, $\omega^2$ is the decay rate of the slowest mode.

    **Arguments:**

    - `k`: wave numbers (any shape); the branch is even and $2\pi/l$-periodic in $k$.
    - `thicknesses`, `moduli`, `densities`: one positive value per layer of a period.

    **Returns:** $\omega$, a NumPy array of `k`'s shape.
    """
    d, E, r = _layers(thicknesses, moduli, densities, "rytov")
    kk = np.asarray(k, dtype=float)
    if not np.all(np.isfinite(kk)):
        raise InputError(f"k: expected finite wave numbers, got {k!r}.")
    l, c, Z = d.sum(), np.sqrt(E / r), np.sqrt(E * r)
    K = l / np.sum(d / E)
    speed = np.sqrt(K / (np.sum(d * r) / l))

    def half_trace(w):
        T = np.eye(2)
        for dj, cj, Zj, Ej in zip(d, c, Z, E):
            t = w * dj / cj
            # sin(t)/(Z w) = sinc(t) d/E stays finite at w = 0.
            layer = np.array(
                [[np.cos(t), np.sinc(t / np.pi) * dj / Ej], [-Zj * w * np.sin(t), np.cos(t)]]
            )
            T = layer @ T
        return 0.5 * np.trace(T)

    out = np.zeros(kk.size)
    for i, q in enumerate(np.abs(kk.reshape(-1)) % (2 * np.pi / l)):
        q = min(q, 2 * np.pi / l - q)
        if q * l < 1e-12:
            continue
        # The first band runs from f = 1 at w = 0 down to f = -1: scan for the crossing
        # (the long-wave estimate c q sets the scale), then refine.
        target, grid = np.cos(q * l), np.linspace(0.0, 4 * speed * q, 801)
        f = np.array([half_trace(w) for w in grid])
        below = np.flatnonzero(f[1:] < target) + 1
        if below.size:
            j = below[0]
            root = scipy.optimize.brentq(
                lambda w, t=target: half_trace(w) - t,
                grid[j - 1],
                grid[j],
                xtol=1e-300,
                rtol=4 * np.finfo(float).eps,
            )
            out[i] = float(root)  # type: ignore[arg-type]
        else:
            # At the zone edge of a medium without a gap f only touches -1: its minimum.
            j = int(np.argmax((f[1:-1] <= f[:-2]) & (f[1:-1] <= f[2:]))) + 1
            out[i] = scipy.optimize.minimize_scalar(
                half_trace,
                bounds=(grid[j - 1], grid[j + 1]),
                method="bounded",
                options={"xatol": 1e-14 * grid[j]},
            ).x
    return out.reshape(kk.shape)


def laminate_dispersion(thicknesses, moduli, densities) -> tuple[float, float]:
    r"""The long-wave dispersion of a bilaminate, in closed form (the series of
    [`rytov`][generic_mm.homogenization.rytov]'s relation):
    $\omega^2 = c^2k^2(1 - \beta(kl)^2) + O(k^6)$ with $l = d_1 + d_2$,
    $c^2 = E_h/\bar\rho$, $E_h = l/(d_1/E_1 + d_2/E_2)$, $\bar\rho = (\rho_1d_1 +
    \rho_2d_2)/l$ and
    $\beta = d_1^2d_2^2(E_1\rho_1 - E_2\rho_2)^2/[12(E_1d_2 + E_2d_1)^2(\rho_1d_1 +
    \rho_2d_2)^2]$: zero when the impedances match, positive otherwise.

    **Arguments:** `thicknesses`, `moduli`, `densities`: two positive values each. For
    conduction: conductivities and capacities, and $c^2$ is the diffusivity $K/\bar c$.

    **Returns:** `(c, beta)`.
    """
    (d1, d2), (E1, E2), (r1, r2) = _layers(thicknesses, moduli, densities, "laminate_dispersion", 2)
    l = d1 + d2
    c = math.sqrt(E1 * E2 * l**2 / ((E1 * d2 + E2 * d1) * (r1 * d1 + r2 * d2)))
    beta = (d1 * d2 * (E1 * r1 - E2 * r2)) ** 2 / (
        12 * (E1 * d2 + E2 * d1) ** 2 * (r1 * d1 + r2 * d2) ** 2
    )
    return c, float(beta)
