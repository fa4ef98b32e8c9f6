"""Structured vs flat: compile time and vector-field time for 2D heat conduction.

Run: `python benchmarks/bench_structured.py [--max-exp 6]`. Prints, for N = 10^2 ... 10^6 cells
(a square grid with two materials and periodic/reservoir boundaries), the time to trace and
compile the vector field (fresh model each size, no cache), the time per evaluation, and the
same for the model written out as one flat GenericModel where that is feasible.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import generic_mm as gm
from generic_mm.models import heat_conduction


def _timed(fn, y, repeats):
    fn(y).block_until_ready()
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            out = fn(y)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - t) / repeats)
    return best


def measure(model, repeats):
    """Seconds to generate code and XLA-compile the vector field, and seconds per call.

    The compiled model is an argument of the jitted function (its edge lists and
    parameters are inputs, not constants folded into the program)."""
    y = jnp.asarray(np.random.default_rng(0).normal(size=model.n) * 0.1)
    t = time.perf_counter()
    cm = gm.compile(model, check=False)
    compiled = jax.jit(lambda cm, y: cm.vector_field(0.0, y)).lower(cm, y).compile()
    t_compile = time.perf_counter() - t
    return t_compile, _timed(lambda y: compiled(cm, y), y, repeats)


def plate(side):
    k = np.where(np.arange(side)[:, None] < side // 2, 1.0, 0.1) * np.ones((side, side))
    return heat_conduction.model(
        (side, side), k=k, periodic=(True, False), reservoirs={"y-": 1.5, "y+": 1.0}
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-exp", type=int, default=6)
    parser.add_argument("--flat-max", type=int, default=256)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, devices {jax.devices()}")
    print(
        f"{'N':>9} {'compile s':>10} {'eval us':>10} {'us/cell':>8} | {'flat compile s':>14} {'flat eval us':>12} {'flat/structured':>15}"
    )
    sides = [4, 8, 12] + [int(round(10 ** (e / 2))) for e in range(2, args.max_exp + 1)]
    for side in sides:
        n = side * side
        repeats = max(3, int(2e6 // n))
        tc, te = measure(plate(side), repeats)
        line = f"{n:>9} {tc:>10.2f} {te * 1e6:>10.1f} {te * 1e6 / n:>8.4f} |"
        if n <= args.flat_max:
            t = time.perf_counter()
            flat = plate(side).to_generic()
            t_build = time.perf_counter() - t
            fc, fe = measure(flat, repeats)
            line += f" {fc + t_build:>14.2f} {fe * 1e6:>12.1f} {fe / te:>15.2f}"
        else:
            line += f" {'-':>14} {'-':>12} {'-':>15}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
