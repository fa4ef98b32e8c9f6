r"""Kac-Zwanzig: a particle coupled to $N$ harmonic bath oscillators, and the spectral
densities that choose their frequencies and couplings."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import numpy as np
import sympy as sp

from .. import InputError
from ..structured import Cells, Interaction, StructuredModel
from ._correlation import ResolvedSystem
from ._embedding import as_potential, potential_params
from ._kernels import CosineKernel, array_module
from ._validation import count, number


class AbstractSpectralDensity(eqx.Module):
    r"""A bath spectral density $J(\omega)$, with the continuum kernel it implies,

    $$K(t) = \frac{2}{\pi}\int_0^\infty \frac{J(\omega)}{\omega}\cos(\omega t)\,d\omega,
    \qquad \int_0^\infty K\,dt = \lim_{\omega\to 0} J(\omega)/\omega = \gamma.$$
    """

    @abc.abstractmethod
    def __call__(self, omega: Any) -> Any:
        r"""$J(\omega)$."""

    @abc.abstractmethod
    def kernel(self, t: Any) -> Any:
        """The continuum memory kernel $K(t)$."""

    @property
    @abc.abstractmethod
    def default_max_frequency(self) -> float:
        """Where the discretisation stops by default (the neglected tail is small)."""

    def discretize(self, n: int, max_frequency: float | None = None) -> CosineKernel:
        r"""$N$ oscillators at the midpoints $\omega_j = (j - \frac12)\Delta\omega$ of
        $[0, \omega_\mathrm{max}]$, with weights $w_j = c_j^2/(m_j\omega_j^2) =
        \frac{2}{\pi}\frac{J(\omega_j)}{\omega_j}\Delta\omega$: the midpoint rule of the
        continuum kernel. It recurs: $K_N(t + 2\pi/\Delta\omega) = -K_N(t)$."""
        n = count(n, "n_oscillators")
        w_max = self.default_max_frequency if max_frequency is None else max_frequency
        w_max = number(w_max, "max_frequency")
        dw = w_max / n
        omega = (np.arange(1, n + 1) - 0.5) * dw
        return CosineKernel(2.0 / np.pi * np.asarray(self(omega)) / omega * dw, omega)


def _check_rates(gamma: float, cutoff: float, who: str) -> None:
    number(gamma, f"{who}: gamma")
    number(cutoff, f"{who}: cutoff")


class Ohmic(AbstractSpectralDensity):
    r"""Ohmic with an exponential cutoff: $J(\omega) = \gamma\omega e^{-\omega/\Lambda}$,
    $K(t) = \frac{2\gamma}{\pi}\frac{\Lambda}{1 + \Lambda^2t^2}$ (memory time $1/\Lambda$, a
    $t^{-2}$ tail)."""

    gamma: float
    cutoff: float

    def __check_init__(self):
        _check_rates(self.gamma, self.cutoff, "Ohmic")

    def __call__(self, omega: Any) -> Any:
        return self.gamma * omega * array_module(omega).exp(-omega / self.cutoff)

    def kernel(self, t: Any) -> Any:
        return 2 * self.gamma / np.pi * self.cutoff / (1 + (self.cutoff * t) ** 2)

    @property
    def default_max_frequency(self) -> float:
        return 14.0 * self.cutoff  # J/omega there: e^-14 ~ 1e-6 of its peak


class Debye(AbstractSpectralDensity):
    r"""Debye (Drude-Lorentz): $J(\omega) = \gamma\omega\Lambda^2/(\Lambda^2 + \omega^2)$,
    $K(t) = \gamma\Lambda e^{-\Lambda t}$: exactly one Prony term."""

    gamma: float
    cutoff: float

    def __check_init__(self):
        _check_rates(self.gamma, self.cutoff, "Debye")

    def __call__(self, omega: Any) -> Any:
        return self.gamma * omega * self.cutoff**2 / (self.cutoff**2 + omega**2)

    def kernel(self, t: Any) -> Any:
        return self.gamma * self.cutoff * array_module(t).exp(-self.cutoff * t)

    @property
    def default_max_frequency(self) -> float:
        # J/omega falls only like omega^-2: the neglected tail lowers K(0) by about
        # (2/pi) cutoff / max_frequency (1.3 %) and rings at max_frequency.
        return 50.0 * self.cutoff


SPECTRAL_DENSITIES: Mapping[str, Callable[[float, float], AbstractSpectralDensity]] = {
    "ohmic": Ohmic,
    "debye": Debye,
}


def _density(spectral_density: Any, gamma: Any, cutoff: Any) -> AbstractSpectralDensity:
    if isinstance(spectral_density, AbstractSpectralDensity):
        for name, value in (("gamma", gamma), ("cutoff", cutoff)):
            if value is not None:
                raise InputError(
                    f"{name}: the spectral density {spectral_density!r} already fixes it; "
                    "give either a density object or a name with gamma and cutoff."
                )
        return spectral_density
    if spectral_density not in SPECTRAL_DENSITIES:
        raise InputError(
            f"spectral_density: expected one of {sorted(SPECTRAL_DENSITIES)} or an "
            f"AbstractSpectralDensity, got {spectral_density!r}."
        )
    return SPECTRAL_DENSITIES[spectral_density](
        number(1.0 if gamma is None else gamma, "gamma"),
        number(1.0 if cutoff is None else cutoff, "cutoff"),
    )


def kac_zwanzig(
    n_oscillators: int,
    spectral_density: str | AbstractSpectralDensity = "ohmic",
    *,
    gamma: float | None = None,
    cutoff: float | None = None,
    mass: float = 1.0,
    bath_mass: float = 1.0,
    max_frequency: float | None = None,
    potential: Any = None,
    params: Mapping | None = None,
) -> ResolvedSystem:
    r"""A particle coupled to $N$ harmonic oscillators (Kac-Zwanzig), resolved:

    $$H = \frac{P^2}{2M} + V(Q) + \sum_j\Big[\frac{p_j^2}{2m_j} + \frac{m_j\omega_j^2}{2}
    \Big(q_j - \frac{c_j Q}{m_j\omega_j^2}\Big)^2\Big],$$

    whose exact memory kernel is $K_N(t) = \sum_j \frac{c_j^2}{m_j\omega_j^2}\cos\omega_jt$.
    The oscillators sit at the midpoints of $[0, \omega_\mathrm{max}]$ with spacing
    $\Delta\omega = \omega_\mathrm{max}/N$ and couplings from the spectral density (see
    [`generic_mm.memory.AbstractSpectralDensity.discretize`][]), so $K_N$ follows the
    continuum kernel up to the recurrence: the usable window is
    $t < \pi/\Delta\omega$, half the recurrence time $2\pi/\Delta\omega$.

    **Arguments:**

    - `n_oscillators`: $N$.
    - `spectral_density`: `"ohmic"`, `"debye"` (with `gamma`, `cutoff`, default 1), or an
        `Ohmic`/`Debye` object.
    - `mass`: the particle's mass $M$; `bath_mass`: every $m_j$.
    - `max_frequency`: $\omega_\mathrm{max}$ (default: the density's, where its tail is
        negligible).
    - `potential`: $V(Q)$, an expression in a symbol named `Q` (or a function); `params`:
        its parameters' values.

    **Returns:** a [`generic_mm.memory.ResolvedSystem`][]: the `StructuredModel` (cells
    `particle` with fields `Q`, `P`, cells `oscillator` with fields `q`, `p`), the tagged
    momentum `P`, the exact `kernel`, the `continuum` kernel and the `window`.
    """
    density = _density(spectral_density, gamma, cutoff)
    exact = density.discretize(n_oscillators, max_frequency)
    n = exact.weights.shape[0]
    mb = number(bath_mass, "bath_mass")
    dw = 2 * float(exact.frequencies[0])
    Q, P, q, p = sp.symbols("Q P q p", real=True)
    M, m, omega, c = sp.symbols("M m_b omega c", positive=True)
    extra = potential_params(params)
    particle = Cells(
        "particle",
        [Q, P],
        P**2 / (2 * M) + as_potential(potential, Q),
        0,
        shape=1,
        params={M: number(mass, "mass"), **extra},
    )
    bath = Cells(
        "oscillator",
        [q, p],
        p**2 / (2 * m) + m * omega**2 * q**2 / 2,
        0,
        shape=n,
        params={m: mb, omega: exact.frequencies},
    )
    canonical = sp.Matrix([[0, 1], [-1, 0]])
    idx = np.arange(n)
    interactions = [
        Interaction("particle_motion", "particle", [0], poisson=lambda a: canonical),
        Interaction("oscillator_motion", "oscillator", idx, poisson=lambda a: canonical),
        Interaction(
            "coupling",
            ("particle", "oscillator"),
            np.stack([np.zeros_like(idx), idx], axis=1),
            # (m w^2/2)(q - cQ/(m w^2))^2 less the oscillator's own m w^2 q^2/2
            energy=lambda a, b: -c * a.Q * b.q + c**2 * a.Q**2 / (2 * b.m_b * b.omega**2),
            params={c: exact.frequencies * np.sqrt(mb * exact.weights)},
        ),
    ]
    model = StructuredModel(
        [particle, bath], interactions, name=f"Kac-Zwanzig particle, {n} bath oscillators"
    )
    return ResolvedSystem(
        model=model,
        mass=number(mass, "mass"),
        momentum="P",
        index=0,
        kernel=exact,
        continuum=density.kernel,
        window=float(np.pi / dw),
    )
