r"""Velocity autocorrelations: exact ones of linear systems from one deterministic impulse
response, an ensemble/time-origin estimator for sampled data, and diffusion coefficients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import diffrax
import numpy as np

from .. import AbstractModel, InputError, compile as compile_model, simulate
from ._kernels import CosineKernel, PronyKernel
from ._validation import count, number, vector


def _momentum_position(model: AbstractModel, momentum: str, index: int | None) -> int:
    """The position in the state vector of the variable `momentum` (entry `index` of it, for
    a field of a structured model)."""
    layout = compile_model(model).layout
    positions = np.asarray(layout.select(np.arange(layout.n), momentum))
    if positions.ndim == 0:
        if index is not None:
            raise InputError(f"index: {momentum!r} is one variable, not a field; give index=None.")
        return int(positions)
    flat = positions.reshape(-1)
    if (
        isinstance(index, bool)
        or not isinstance(index, (int, np.integer))
        or not 0 <= index < flat.size
    ):
        raise InputError(
            f"index: {momentum!r} is a field of {flat.size} cells; give the cell of the tagged "
            f"particle as an integer in [0, {flat.size}), got {index!r}."
        )
    return int(flat[index])


def impulse_vacf(
    model: AbstractModel,
    ts: Any,
    *,
    mass: float,
    momentum: str = "p",
    index: int | None = None,
    kT: float = 1.0,
    params: Mapping[str, Any] | None = None,
    rtol: float = 1e-10,
    solver: diffrax.AbstractSolver | None = None,
    max_steps: int = 200_000,
) -> np.ndarray:
    r"""The exact equilibrium velocity autocorrelation of a tagged particle in a linear
    model, from one deterministic run.

    For dynamics that are linear in the deviations from a state of rest, with the
    unresolved variables canonically distributed given the particle (Mori-Zwanzig's
    projected initial ensemble), the fluctuating force is uncorrelated with $v(0)$ and

    $$\langle v(t)v(0)\rangle = \frac{k_BT}{m}\,v_\mathrm{imp}(t),$$

    with $v_\mathrm{imp}$ the velocity after a unit kick $v(0) = 1$ with everything else at
    rest (zero state: bath oscillators at their equilibrium, auxiliary forces zero; a heat
    bath entropy of 0 is its reference temperature). No sampling is involved.

    **Arguments:**

    - `model`: a model whose state at rest is the zero vector (`gle_model`,
        `markovian_model`, `kac_zwanzig(...).model`, `heavy_atom_chain(...).model`).
    - `ts`: increasing times from 0 at which to return $C(t)$.
    - `mass`: the particle's mass $m$ (the kick sets its momentum to $m$).
    - `momentum`: the name of its momentum variable (a field's name for structured models).
    - `index`: for a field, the cell of the tagged particle.
    - `kT`: $k_BT$.
    - `params`: parameter overrides for [`generic_mm.simulate`][]; values with a leading
        axis `B` run an ensemble (e.g. several decay times, one compiled program). Keep
        the mass parameter at `mass`.
    - `rtol`, `solver`, `max_steps`: passed to `simulate` (tight `rtol`: the result feeds
        a Volterra inversion).

    **Returns:** $C(t)$ at `ts`, a NumPy array (shape `(B, T)` for an ensemble).
    """
    t = vector(ts, "ts")
    if t.size < 2 or t[0] != 0.0 or np.any(np.diff(t) <= 0):
        raise InputError("ts: expected at least two increasing times starting at 0.")
    m, kT = number(mass, "mass"), number(kT, "kT")
    i = _momentum_position(model, momentum, index)
    n = compile_model(model).n
    y0 = np.zeros(n)
    y0[i] = m
    traj = simulate(
        model,
        y0,
        t1=float(t[-1]),
        saveat=t,
        params=params,
        rtol=rtol,
        solver=solver,
        max_steps=count(max_steps, "max_steps"),
    )
    return kT / m * np.asarray(traj.ys)[..., i] / m


def autocorrelation(samples: Any, *, max_lag: int | None = None) -> np.ndarray:
    r"""The autocorrelation $C(k) = \langle x(t + k)\,x(t)\rangle$ of evenly sampled series,
    averaged over time origins $t$ and over ensemble members (FFT, $O(T\log T)$).

    Each lag is averaged over the $T - k$ pairs it has (the unbiased estimator); the mean is
    not subtracted (an equilibrium velocity has mean zero). Its statistical error grows with
    the lag: keep `max_lag` well below the series length.

    **Arguments:**

    - `samples`: shape `(T,)` or `(..., T)`: leading axes are independent members (e.g.
        paths of a noisy ensemble, or atoms), the last axis is time.
    - `max_lag`: the largest lag returned (default `T - 1`).

    **Returns:** $C(0), \dots, C(\mathrm{max\_lag})$, shape `(max_lag + 1,)`.
    """
    try:
        x = np.asarray(samples, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"samples: expected an array of real numbers, got {type(samples).__name__}."
        ) from None
    if x.ndim < 1 or x.shape[-1] < 2:
        raise InputError(f"samples: expected shape (..., T) with T >= 2, got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise InputError("samples: contains non-finite values.")
    T = x.shape[-1]
    lag = T - 1 if max_lag is None else count(max_lag, "max_lag", least=0)
    if lag >= T:
        raise InputError(f"max_lag: expected at most T - 1 = {T - 1}, got {lag}.")
    x = x.reshape(-1, T)
    size = 1 << int(np.ceil(np.log2(2 * T - 1)))  # zero padding: no circular wrap-around
    f = np.fft.rfft(x, n=size, axis=-1)
    sums = np.fft.irfft(f * np.conj(f), n=size, axis=-1)[:, : lag + 1].mean(axis=0)
    return sums / (T - np.arange(lag + 1))


def diffusion_coefficient(ts: Any, vacf: Any) -> float:
    r"""The Green-Kubo diffusion coefficient $D = \int_0^\infty C_v(t)\,dt$ (trapezoid rule
    over the samples given: they must cover the decay of $C_v$)."""
    t = vector(ts, "ts")
    c = vector(vacf, "vacf", length=t.size)
    return float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t)))


def einstein_diffusion(friction: PronyKernel | float, kT: float = 1.0) -> float:
    r"""$D = k_BT/\gamma$ with $\gamma = \int_0^\infty K\,dt$ (a `PronyKernel`) or given: the
    free particle's diffusion coefficient from its memory kernel."""
    gamma = (
        friction.integral() if isinstance(friction, PronyKernel) else number(friction, "friction")
    )
    return number(kT, "kT") / gamma


@dataclasses.dataclass(frozen=True)
class ResolvedSystem:
    r"""A resolved model with a tagged particle, and the memory kernel that eliminating the
    rest gives exactly (returned by [`generic_mm.memory.kac_zwanzig`][] and
    [`generic_mm.memory.heavy_atom_chain`][]).

    - `model`: the resolved Hamiltonian model (zero state = rest).
    - `mass`, `momentum`, `index`: the tagged particle (`index`: its cell in the field).
    - `kernel`: the exact kernel of this finite system, a `CosineKernel`.
    - `continuum`: $t \mapsto K(t)$ of the infinite system (the closed form).
    - `window`: compare with the continuum only for $t <$ `window` (before the finite bath
        recurs).
    """

    model: AbstractModel
    mass: float
    momentum: str
    index: int | None
    kernel: CosineKernel
    continuum: Callable[[Any], Any]
    window: float

    def vacf(self, ts: Any, *, kT: float = 1.0, **options: Any) -> np.ndarray:
        """The tagged particle's exact velocity autocorrelation at `ts` (see
        [`generic_mm.memory.impulse_vacf`][]; `options` go to it)."""
        return impulse_vacf(
            self.model,
            ts,
            mass=self.mass,
            momentum=self.momentum,
            index=self.index,
            kT=kT,
            **options,
        )
