r"""Prony fits of sampled kernels: Levenberg-Marquardt (Optimistix) in parameters that keep
every weight and decay time positive."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import scipy.optimize

from .. import InputError, SolverError
from ._kernels import PronyKernel
from ._validation import count, uniform_times, vector

_SPREADS = (0.3, 1.0, 3.0)  # scales of the spread starts' decay times (window units)


def _n_oscillatory(oscillatory: Any, n_terms: int) -> int:
    if isinstance(oscillatory, bool):
        return n_terms if oscillatory else 0
    k = count(oscillatory, "oscillatory", least=0)
    if k > n_terms:
        raise InputError(
            f"oscillatory: {k} damped cosines requested but n_terms is {n_terms}; give a "
            "bool (all or none) or at most n_terms."
        )
    return k


def _evaluate(theta, t, n: int, n_osc: int):
    """$\\sum_k c_k e^{-t/\\tau_k}\\cos\\omega_k t$ with $c = e^a$, $\\tau = e^b$; the last
    `n_osc` terms carry a free $\\omega$."""
    c, tau = jnp.exp(theta[:n]), jnp.exp(theta[n : 2 * n])
    omega = jnp.concatenate([jnp.zeros(n - n_osc), theta[2 * n :]])
    return (c * jnp.exp(-t[:, None] / tau) * jnp.cos(omega * t[:, None])).sum(axis=-1)


@eqx.filter_jit
def _solve(starts, t, k, n: int, n_osc: int, max_steps: int):
    solver = optx.LevenbergMarquardt(rtol=1e-8, atol=1e-10)

    def residual(theta, args):
        return _evaluate(theta, t, n, n_osc) - k

    def one(theta0):
        sol = optx.least_squares(residual, solver, theta0, max_steps=max_steps, throw=False)
        r = residual(sol.value, None)
        return sol.value, jnp.sum(r**2)

    return jax.vmap(one)(starts)


def _merge(c: np.ndarray, tau: np.ndarray, omega: np.ndarray, rtol: float = 1e-4):
    """Sort by decay time and merge neighbours with equal decay time and frequency (a
    degenerate fit: the data hold fewer terms) into one of their summed weight."""
    terms: list[tuple[float, float, float]] = []
    for i in np.argsort(tau):
        ci, ti, wi = float(c[i]), float(tau[i]), float(omega[i])
        if terms:
            c0, t0, w0 = terms[-1]
            if abs(ti - t0) <= rtol * t0 and abs(wi - w0) * t0 <= rtol:
                total = c0 + ci
                terms[-1] = (total, (c0 * t0 + ci * ti) / total, (c0 * w0 + ci * wi) / total)
                continue
        terms.append((ci, ti, wi))
    return np.array(terms).T


def _dictionary(t: np.ndarray, k: np.ndarray, n: int, n_osc: int) -> np.ndarray | None:
    """A start from a non-negative least-squares fit over a dictionary of decay times (and,
    for the cosines, frequencies up to a quarter of the sampling rate): the strongest
    `n - n_osc` exponentials and `n_osc` damped cosines."""
    h = t[1] - t[0]
    taus = np.geomspace(2 * h, 2.0, 48)
    omegas = np.geomspace(np.pi, np.pi / (4 * h), 24) if n_osc else np.zeros(0)
    grid = [(tau, 0.0) for tau in taus] + [(tau, w) for tau in taus[::2] for w in omegas]
    tau_g, w_g = np.array(grid).T
    design = np.exp(-t[:, None] / tau_g) * np.cos(w_g * t[:, None])
    c, _ = scipy.optimize.nnls(design, k, maxiter=20 * design.shape[1])
    size = c * np.linalg.norm(design, axis=0)
    chosen = []
    for want, mask in ((n - n_osc, w_g == 0), (n_osc, w_g > 0)):
        order = [i for i in np.argsort(size)[::-1] if mask[i] and c[i] > 0][:want]
        if len(order) < want:
            return None
        chosen += order
    idx = np.array(chosen, dtype=int)
    return np.concatenate([np.log(c[idx]), np.log(tau_g[idx]), w_g[idx][n - n_osc :]])


def _starts(t: np.ndarray, k: np.ndarray, n: int, n_osc: int) -> np.ndarray:
    """Initial parameter vectors: the dictionary start, and decay times spread
    geometrically over the window at several scales (frequencies spread over the resolved
    band) with weights by non-negative least squares (a zero weight is lifted to a small
    positive one: the logarithm needs it)."""
    h = t[1] - t[0]
    out = []
    first = _dictionary(t, k, n, n_osc)
    if first is not None:
        out.append(first)
    omega0 = np.geomspace(2 * np.pi, np.pi / (4 * h), n_osc) if n_osc else np.zeros(0)
    for spread in _SPREADS:
        tau = np.geomspace(max(3 * h, 1e-3), 0.3, n) * spread
        omega = np.concatenate([np.zeros(n - n_osc), omega0])
        design = np.exp(-t[:, None] / tau) * np.cos(omega * t[:, None])
        c, _ = scipy.optimize.nnls(design, k)
        c = np.maximum(c, 1e-3 * max(c.max(), 1e-3))
        out.append(np.concatenate([np.log(c), np.log(tau), omega0]))
    return np.stack(out)


def fit_prony(
    ts: Any,
    kernel: Any,
    n_terms: int,
    *,
    oscillatory: bool | int = False,
    max_samples: int = 256,
    max_steps: int = 500,
) -> PronyKernel:
    r"""Fit a Prony series $K(t) \approx \sum_k c_k e^{-t/\tau_k}\cos\omega_k t$ to samples of
    a kernel, by nonlinear least squares (Optimistix's Levenberg-Marquardt).

    The weights and decay times are fitted as $c_k = e^{a_k}$, $\tau_k = e^{b_k}$: every
    fit is a kernel whose [`generic_mm.memory.gle_model`][] embedding is consistent
    ($c_k, \tau_k > 0$), without clipping. The fit runs in units of the window and of
    $\max|K|$ from a few starts (decay times spread over the window; the kernel's
    strongest spectral peaks for the cosines; weights by non-negative linear least
    squares), all solved at once (vmapped), and keeps the best.

    **Arguments:**

    - `ts`: sample times (evenly spaced from 0).
    - `kernel`: $K$ at `ts`.
    - `n_terms`: the number of terms.
    - `oscillatory`: `False` (exponentials), `True` (all damped cosines), or how many of
        the `n_terms` are damped cosines.
    - `max_samples`: longer series are fitted at every `ceil(T / max_samples)`-th sample
        (the cost of each iteration grows with the samples).
    - `max_steps`: Levenberg-Marquardt iterations per start.

    **Returns:** a [`generic_mm.memory.PronyKernel`][] of at most `n_terms` terms, sorted by
    decay time: terms the fit made equal (decay times and frequencies within `1e-4`
    relative) are merged, because the data hold fewer, and each term costs auxiliary
    variables.

    **Raises:** `InputError` for malformed samples; `SolverError` if no start gave a finite
    fit.
    """
    t, _ = uniform_times(ts, least=4)
    k = vector(kernel, "kernel", length=t.size)
    n = count(n_terms, "n_terms")
    n_osc = _n_oscillatory(oscillatory, n)
    stride = -(-t.size // count(max_samples, "max_samples", least=4))
    t, k = t[::stride], k[::stride]
    if 2 * n + n_osc > t.size:
        raise InputError(
            f"n_terms: {2 * n + n_osc} parameters cannot be fitted to {t.size} samples."
        )
    t_scale, k_scale = float(t[-1]), float(np.max(np.abs(k)))
    if k_scale == 0:
        raise InputError("kernel: all samples are zero; there is nothing to fit.")
    ts_, ks_ = t / t_scale, k / k_scale
    starts = _starts(ts_, ks_, n, n_osc)
    thetas, losses = _solve(
        jnp.asarray(starts),
        jnp.asarray(ts_),
        jnp.asarray(ks_),
        n,
        n_osc,
        count(max_steps, "max_steps"),
    )
    losses = np.where(np.isfinite(np.asarray(losses)), np.asarray(losses), np.inf)
    if not np.isfinite(losses).any():
        raise SolverError(
            "fit_prony: no start gave a finite fit; check the samples or use fewer terms."
        )
    theta = np.asarray(thetas)[int(np.argmin(losses))]
    c = np.exp(theta[:n]) * k_scale
    tau = np.exp(theta[n : 2 * n]) * t_scale
    omega = np.concatenate([np.zeros(n - n_osc), theta[2 * n :] / t_scale])
    return PronyKernel(*_merge(c, tau, np.abs(omega)))
