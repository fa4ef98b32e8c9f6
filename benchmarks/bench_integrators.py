"""Structure-preserving vs general-purpose solvers on long runs: energy error and wall time.

Run: python benchmarks/bench_integrators.py [--t1 100000] [--pendulum-t1 10000]

Side by side, in one run: gm.DiscreteGradient (fixed step) against diffrax's Tsit5
(explicit, adaptive) and Kvaerno5 (implicit, adaptive) at rtol = 1e-8, atol = 1e-10, on
- the damped oscillator in a heat bath over --t1 time units;
- the double thermoelastic pendulum (library file) over --pendulum-t1 time units.
Prints the relative energy error at the end, the largest entropy decrease between saved
points, the number of steps and the wall time (compilation excluded: each configuration is
run once to compile, then timed).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import diffrax
import jax
import numpy as np

import generic_mm as gm
from generic_mm.models import damped_oscillator, find


def run(model, y0, t1, solver, dt0, points, max_steps):
    kwargs = dict(saveat=points, max_steps=max_steps, rtol=1e-8, atol=1e-10)
    if isinstance(solver, gm.DiscreteGradient):
        kwargs.update(dt0=dt0)
    # compile on a short run: t1 is a runtime input, so the long run reuses the program
    # (its saved points fall between steps, hence the drift warnings it would print)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.simulate(model, y0, 20 * dt0, solver=solver, **kwargs)
    t = time.perf_counter()
    traj = gm.simulate(model, y0, t1, solver=solver, **kwargs)
    jax.block_until_ready(traj.ys)
    wall = time.perf_counter() - t
    e = np.asarray(traj.energy)
    s = np.asarray(traj.entropy)
    return abs(e[-1] - e[0]) / abs(e[0]), max(0.0, -np.min(np.diff(s))), int(traj.num_steps), wall


def compare(name, model, y0, t1, dt0):
    print(f"\n{name}, t1 = {t1:g}")
    print(
        f"  {'solver':<28} {'|E(t1)-E(0)|/|E(0)|':>20} {'max S decrease':>15} {'steps':>10} {'wall [s]':>9}"
    )
    max_steps = int(10 * t1 / dt0) + 1000
    solvers = [
        (f"DiscreteGradient (h={dt0:g})", gm.DiscreteGradient()),
        (f"DiscreteGradient (h={10 * dt0:g})", gm.DiscreteGradient()),
        ("Tsit5 (rtol 1e-8)", diffrax.Tsit5()),
        ("Kvaerno5 (rtol 1e-8)", diffrax.Kvaerno5()),
    ]
    for label, solver in solvers:
        h = 10 * dt0 if f"h={10 * dt0:g}" in label else dt0
        try:
            err, dec, steps, wall = run(model, y0, t1, solver, h, 1001, max_steps)
            print(f"  {label:<28} {err:>20.3e} {dec:>15.2e} {steps:>10d} {wall:>9.2f}")
        except gm.SimulationError as e:
            print(f"  {label:<28} failed: {str(e).splitlines()[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t1", type=float, default=1e5)
    ap.add_argument("--pendulum-t1", type=float, default=1e4)
    a = ap.parse_args()
    print(
        f"{platform.node()} | {platform.machine()} | jax {jax.__version__} {jax.devices()[0].platform} | "
        f"diffrax {diffrax.__version__}"
    )
    compare(
        "damped oscillator in a heat bath (gamma = 0.01)",
        damped_oscillator.model(gamma=0.01),
        damped_oscillator.initial_state,
        a.t1,
        0.1,
    )
    pendulum = gm.load_model(find("double_pendulum"))
    compare("double thermoelastic pendulum", pendulum, pendulum.initial_state, a.pendulum_t1, 0.01)


if __name__ == "__main__":
    main()
