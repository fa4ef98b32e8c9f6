"""The cost of `gm.fit` against the number of experiments fitted together.

The damped oscillator in a heat bath (`generic_mm.models.damped_oscillator`), gamma = 0.3 and
k = 2 fitted from gamma = 0.1, k = 1; each experiment observes q at 40 times up to t = 20
with noise 0.02, from its own initial state. Every fit of a given number of experiments is
compiled once (its first call) and then reused (its second call, timed on its own).

    python benchmarks/bench_fitting.py [--counts 1 16 64 256]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

import generic_mm as gm
from generic_mm.fitting import Experiment
from generic_mm.models import damped_oscillator as osc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", nargs="+", type=int, default=[1, 16, 64, 256])
    args = ap.parse_args()
    model = osc.model()
    true = {"gamma": 0.3, "k": 2.0}
    ts = np.linspace(0.5, 20.0, 40)
    device = jax.devices()[0]
    print(
        f"{platform.processor() or platform.machine()}, JAX {jax.__version__}, "
        f"{device.platform} ({device.device_kind})"
    )
    print("| experiments | first call (compile) | again | per experiment | search steps | gamma |")
    print("|---|---|---|---|---|---|")
    for count in args.counts:
        rng = np.random.default_rng(0)
        experiments = []
        for a, b in rng.uniform(-1.0, 1.0, (count, 2)):
            y0 = {"q": float(a), "p": float(b), "s": 0.0}
            clean = gm.simulate(model, y0, 20.0, saveat=ts, params=true, rtol=1e-10)
            q = np.asarray(clean["q"]) + 0.02 * rng.standard_normal(ts.size)
            experiments.append(Experiment(ts, {"q": q}, y0, sigma=0.02))
        start = time.perf_counter()
        gm.fit(model, experiments, params=["gamma", "k"])
        first = time.perf_counter() - start
        start = time.perf_counter()
        result = gm.fit(model, experiments, params=["gamma", "k"])
        again = time.perf_counter() - start
        print(
            f"| {count} | {first:.1f} s | {again * 1e3:.0f} ms | {again / count * 1e3:.2f} ms | "
            f"{result.num_steps} | {result.values['gamma']:.4f} ± {result.stderr['gamma']:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
