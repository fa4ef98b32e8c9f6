r"""Memory kernels: Prony series (what a GENERIC embedding can carry) and cosine sums (the
exact kernel of a finite harmonic bath)."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import InputError
from ._validation import vector


def array_module(t: Any):
    """NumPy for NumPy input, JAX for JAX arrays (and tracers)."""
    return jnp if isinstance(t, jax.Array) else np


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


def _positive(values: Any, where: str, why: str, *, length: int | None = None) -> np.ndarray:
    arr = vector(values, where, length=length)
    bad = arr <= 0
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where}[{i}]: expected a positive number, got {arr[i]:g}; {why}.")
    return _frozen(arr)


class AbstractKernel(eqx.Module):
    r"""A memory kernel $K(t)$, $t\ge 0$: call it on times (NumPy or JAX arrays)."""

    @abc.abstractmethod
    def __call__(self, t: Any) -> Any:
        """$K(t)$, elementwise."""


class PronyKernel(AbstractKernel):
    r"""A Prony series: decaying exponentials and exponentially damped cosines,

    $$K(t) = \sum_k c_k\,e^{-t/\tau_k}\cos(\omega_k t),$$

    with $\omega_k = 0$ for a plain exponential. Positive weights $c_k$ and decay times
    $\tau_k$ are what keep its GENERIC embedding ([`generic_mm.memory.gle_model`][])
    consistent: each term becomes auxiliary variables with energy $u_k^2/2c_k$ that relax
    with a positive rate $1/\tau_k$ into a heat bath.

    **Arguments:**

    - `weights`: the $c_k > 0$.
    - `times`: the decay times $\tau_k > 0$.
    - `frequencies`: the $\omega_k$ (`None`: all zero, a sum of exponentials); a term with
        $\omega_k \ne 0$ is a damped cosine (two auxiliary variables). The sign of
        $\omega_k$ is irrelevant and dropped.

    **Raises:** `InputError` naming the entry that is not positive or not finite.

    **Example:**

    ```python
    K = PronyKernel([2.0, 0.5], [0.3, 2.0], frequencies=[0.0, 3.0])
    gamma = K.integral()  # the Markovian friction
    ```
    """

    weights: np.ndarray
    times: np.ndarray
    frequencies: np.ndarray

    def __init__(self, weights: Any, times: Any, frequencies: Any = None):
        why_c = "a negative weight makes the memory friction indefinite (entropy could fall)"
        why_t = "a term must decay (its relaxation rate 1/tau is a friction coefficient)"
        self.weights = _positive(weights, "PronyKernel: weights", why_c)
        n = self.weights.shape[0]
        if n == 0:
            raise InputError("PronyKernel: weights: expected at least one term, got none.")
        self.times = _positive(times, "PronyKernel: times", why_t, length=n)
        if frequencies is None:
            self.frequencies = _frozen(np.zeros(n))
        else:
            self.frequencies = _frozen(
                np.abs(vector(frequencies, "PronyKernel: frequencies", length=n))
            )

    @property
    def n_terms(self) -> int:
        """The number of terms."""
        return int(self.weights.shape[0])

    @property
    def oscillatory(self) -> np.ndarray:
        """Which terms are damped cosines ($\\omega_k \\ne 0$)."""
        return self.frequencies != 0

    @property
    def n_auxiliary(self) -> int:
        """The number of auxiliary variables of the embedding (one per exponential, two per
        damped cosine)."""
        return self.n_terms + int(self.oscillatory.sum())

    def __call__(self, t: Any) -> Any:
        r"""$K(t) = \sum_k c_k e^{-t/\tau_k}\cos\omega_k t$ at the times `t` (any shape)."""
        xp = array_module(t)
        t = xp.asarray(t, dtype=float)[..., None]
        terms = self.weights * xp.exp(-t / self.times) * xp.cos(self.frequencies * t)
        return terms.sum(axis=-1)

    def integral(self) -> float:
        r"""$\gamma = \int_0^\infty K\,dt = \sum_k c_k\tau_k/(1 + \omega_k^2\tau_k^2)$: the
        friction coefficient of the Markovian limit."""
        c, tau, w = self.weights, self.times, self.frequencies
        return float(np.sum(c * tau / (1.0 + (w * tau) ** 2)))

    def laplace(self, s: Any) -> Any:
        r"""The Laplace transform $\hat K(s) = \sum_k c_k (s + 1/\tau_k) /
        ((s + 1/\tau_k)^2 + \omega_k^2)$ (complex `s` allowed)."""
        xp = array_module(s)
        a = xp.asarray(s)[..., None] + 1.0 / self.times
        return (self.weights * a / (a**2 + self.frequencies**2)).sum(axis=-1)

    def __repr__(self) -> str:
        parts = []
        for c, tau, w in zip(self.weights, self.times, self.frequencies):
            cos = f" cos({w:.6g} t)" if w else ""
            parts.append(f"{c:.6g} exp(-t/{tau:.6g}){cos}")
        return f"PronyKernel(K(t) = {' + '.join(parts)})"


class CosineKernel(AbstractKernel):
    r"""A sum of undamped cosines $K(t) = \sum_j w_j\cos(\omega_j t)$: the exact kernel of
    a finite harmonic bath (it never decays: it recurs).

    **Arguments:**

    - `weights`: the $w_j \ge 0$ ($c_j^2/(m_j\omega_j^2)$ for Kac-Zwanzig oscillators).
    - `frequencies`: the $\omega_j > 0$.
    """

    weights: np.ndarray
    frequencies: np.ndarray

    def __init__(self, weights: Any, frequencies: Any):
        w = vector(weights, "CosineKernel: weights")
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise InputError(
                f"CosineKernel: weights[{i}]: expected a nonnegative number, got {w[i]:g}; "
                "a harmonic bath's weights are squares c_j^2/(m_j w_j^2)."
            )
        self.weights = _frozen(w)
        self.frequencies = _positive(
            frequencies,
            "CosineKernel: frequencies",
            "bath oscillators have positive frequencies",
            length=w.shape[0],
        )

    def __call__(self, t: Any) -> Any:
        r"""$K(t) = \sum_j w_j\cos\omega_j t$ at the times `t` (any shape)."""
        xp = array_module(t)
        t = xp.asarray(t, dtype=float)[..., None]
        return (self.weights * xp.cos(self.frequencies * t)).sum(axis=-1)

    def __repr__(self) -> str:
        return (
            f"CosineKernel({self.weights.shape[0]} cosines, frequencies in "
            f"[{self.frequencies.min():.4g}, {self.frequencies.max():.4g}], "
            f"K(0) = {self.weights.sum():.6g})"
        )
