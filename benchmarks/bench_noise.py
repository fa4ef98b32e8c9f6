"""Ensemble throughput of stochastic runs: `gm.simulate(..., noise=kB)` against a NumPy
Euler-Maruyama loop of the same model, side by side.

    python benchmarks/bench_noise.py [PATHS]

The model is the damped oscillator in a finite heat bath (x = (q, p, s), E = p^2/2m +
kq^2/2 + c T0 exp(s/c), M = gamma T w w^T). The NumPy loop is hand-written for this model
(the drift, the Ito correction kB div M and the rank-one noise factor written out), steps
all paths at once as arrays, and draws one normal per path and step: what one would write
without generic_mm. Both take the same number of Euler-Maruyama steps. Prints path-steps
per second and the ratios; the generic_mm times exclude compilation (reported separately).
"""

from __future__ import annotations

import sys
import time
import warnings

import jax
import numpy as np

import generic_mm as gm
from generic_mm.models import damped_oscillator

M_, K_, GAMMA, C_, T0 = 1.0, 1.0, 1.0, 1.0, 1.0
KB, DT, T1 = 0.1, 0.005, 50.0


def numpy_em(paths: int, steps: int, seed: int = 0) -> np.ndarray:
    """Euler-Maruyama for the damped oscillator, vectorised over paths."""
    rng = np.random.default_rng(seed)
    q = np.ones(paths)
    p = np.zeros(paths)
    s = np.zeros(paths)
    for _ in range(steps):
        T = T0 * np.exp(s / C_)
        # drift: L grad E + M grad S + kB div M, with M = gamma T w w^T, w = (0, 1, -p/(mT))
        dq = p / M_
        dp = -K_ * q - GAMMA * p / M_
        ds = GAMMA * p**2 / (M_**2 * T)
        # div M: (div M)_p = dM_pp/dp + dM_ps/ds = 0; (div M)_s = dM_sp/dp + dM_ss/ds
        div_s = -GAMMA / M_ - GAMMA * p**2 / (M_**2 * T * C_)
        dW = rng.standard_normal(paths) * np.sqrt(DT)
        amp = np.sqrt(2.0 * KB * GAMMA * T)  # B = sqrt(2 kB gamma T) w
        q = q + dq * DT
        p_new = p + dp * DT + amp * dW
        s = s + (ds + KB * div_s) * DT - amp * p / (M_ * T) * dW
        p = p_new
    return np.stack([q, p, s], axis=-1)


def _timed(cm, paths: int, brownian: str, steps: int) -> tuple[float, float]:
    """(run seconds, first-call overhead in seconds) of one generic_mm ensemble."""
    kwargs = dict(noise=KB, dt0=DT, paths=paths, saveat=2, brownian=brownian, max_steps=steps + 1)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for seed in (0, 1):
            start = time.perf_counter()
            traj = gm.simulate(
                cm, damped_oscillator.initial_state, T1, key=jax.random.key(seed), **kwargs
            )
            jax.block_until_ready(traj.ys)
            times.append(time.perf_counter() - start)
    return times[1], times[0] - times[1]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [16, 256, 4096]
    steps = int(round(T1 / DT))
    model = damped_oscillator.model(m=M_, k=K_, gamma=GAMMA, c=C_, T0=T0)
    cm = gm.compile(model)
    print(f"{jax.devices()[0].device_kind} ({jax.default_backend()}), JAX {jax.__version__}")
    print(f"damped oscillator, {steps} Euler-Maruyama steps (kB={KB}, dt={DT})")
    print(f"{'paths':>7s} {'':30s} {'seconds':>9s} {'path-steps/s':>13s} {'vs NumPy':>9s}")
    for paths in sizes:
        start = time.perf_counter()
        numpy_em(paths, steps)
        base = time.perf_counter() - start
        rows = [("NumPy Euler-Maruyama loop", base)]
        for brownian in ("steps", "tree") if paths == sizes[0] else ("steps",):
            run, _ = _timed(cm, paths, brownian, steps)
            rows.append((f"generic_mm, brownian={brownian!r}", run))
        for name, t in rows:
            rate = paths * steps / t
            print(f"{paths:7d} {name:30s} {t:9.3f} {rate:13.3e} {base / t:8.1f}x")


if __name__ == "__main__":
    main()
