"""Gradient damage: compile time (flat in N) and run time (linear in N per step).

Run: `python benchmarks/bench_damage.py [--max-exp 5]`. For AT1 bars of N = 10^2 ... 10^5
elements and AT1 plates of about the same number of elements, prints the time to generate
code and XLA-compile the vector field (a fresh model each size), the time per vector-field
evaluation, per element, and the time of 200 fixed Tsit5 steps through `gm.simulate`
(compiled once per size, timed on the second call). Explicit steps are CFL-limited
(dt ~ h/c), so a whole tension test costs N steps of O(N) each: quadratic in N in 1D.
"""

from __future__ import annotations

import argparse
import time

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import generic_mm as gm
from generic_mm import damage


def _timed(fn, repeats):
    fn().block_until_ready()
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            out = fn()
        out.block_until_ready()
        best = min(best, (time.perf_counter() - t) / repeats)
    return best


def measure(specimen, repeats):
    """Seconds to generate code and XLA-compile the vector field, seconds per call, and
    seconds for 200 fixed steps."""
    model = specimen.model
    y0 = jnp.asarray(np.random.default_rng(0).normal(size=model.n) * 1e-3)
    t = time.perf_counter()
    cm = gm.compile(model, check=False)
    compiled = jax.jit(lambda cm, y: cm.vector_field(0.0, y)).lower(cm, y0).compile()
    t_compile = time.perf_counter() - t
    t_eval = _timed(lambda: compiled(cm, y0), repeats)
    start = specimen.initial(1e-3)
    dt = 0.2 * min(specimen.spacing)

    def run():
        traj = gm.simulate(
            cm,
            start,
            t1=200 * dt,
            solver=diffrax.Tsit5(),
            dt0=dt,
            stepsize_controller=diffrax.ConstantStepSize(),
            saveat=2,
            check=False,
        )
        return traj.ys

    run()
    t = time.perf_counter()
    run().block_until_ready()
    return t_compile, t_eval, time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-exp", type=int, default=5)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, devices {jax.devices()}")
    print(
        f"{'model':>18} {'N':>8} {'compile s':>10} {'eval us':>9} {'ns/elem':>8} {'200 steps s':>12}"
    )
    law = damage.AT1()
    for e in range(2, args.max_exp + 1):
        n = 10**e
        side = int(round(np.sqrt(n / 4)))
        for name, specimen in (
            ("AT1 bar", damage.Bar(n, law)),
            ("AT1 plate", damage.Plate((4 * side, side), law, size=(1.0, 0.25))),
        ):
            N = int(np.prod(specimen.element_shape))
            tc, te, ts = measure(specimen, max(3, int(2e6 // N)))
            print(
                f"{name:>18} {N:>8} {tc:>10.2f} {te * 1e6:>9.1f} {te * 1e9 / N:>8.1f} {ts:>12.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
