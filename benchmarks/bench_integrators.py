"""Structure-preserving vs general-purpose solvers: cost per step and long runs, side by side.

Run: python benchmarks/bench_integrators.py [--t1 100000] [--pendulum-t1 10000] [--grid 100]
     [--with-fixed]

1. Cost per step at one fixed step size (every solver takes the same steps): the damped
   oscillator (3 variables), the double thermoelastic pendulum (10) and a grid x grid heat
   conduction model (structured, grid^2 cells, matrix-free GMRES above 400 variables).
   gm.DiscreteGradient (reused chord Newton), the same solver with a fresh full Newton every
   step (its behaviour before the reuse), gm.DiscreteGradient4, against diffrax.Tsit5.
2. Long runs, adaptive: the oscillator to --t1 and the pendulum to --pendulum-t1, Tsit5 at
   rtol 1e-8 against the discrete-gradient solvers at several tolerances: relative energy
   error at the end, largest entropy decrease between saved points, steps, wall time (ratio
   to Tsit5) and the largest state error against a tight reference (rtol 1e-12). With
   --with-fixed also the fixed-step discrete-gradient runs of before (long).

Compilation is excluded (each configuration runs once before it is timed, the long runs on
a short interval: t1 is a run-time input). Per-step figures are the best of three runs; the
long runs are timed once.
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
from generic_mm.models import damped_oscillator, find, heat_conduction


def timed(fn, repeats=3):
    fn()  # compile
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        jax.block_until_ready(out.ys)
        best = min(best, time.perf_counter() - start)
    return best, out


def solvers_per_step():
    return [
        ("DiscreteGradient", gm.DiscreteGradient()),
        (
            "  full Newton every step",
            gm.DiscreteGradient(root_finder=gm.DiscreteGradient().newton()),
        ),
        ("DiscreteGradient4", gm.DiscreteGradient4()),
        ("Tsit5", diffrax.Tsit5()),
    ]


def per_step(name, model, y0, h, steps):
    print(f"\n{name}: cost per step at h = {h:.4g} ({steps} steps)")
    print(f"  {'solver':<28} {'us/step':>10} {'x Tsit5':>8}")
    rows = {}
    for label, solver in solvers_per_step():
        run = lambda s=solver: gm.simulate(  # noqa: E731
            model,
            y0,
            steps * h,
            solver=s,
            dt0=h,
            stepsize_controller=diffrax.ConstantStepSize(),
            saveat=2,
            max_steps=steps + 10,
        )
        wall, traj = timed(run)
        rows[label] = 1e6 * wall / int(traj.num_steps)
    for label, us in rows.items():
        print(f"  {label:<28} {us:>10.2f} {us / rows['Tsit5']:>8.2f}")


def long_run(name, model, y0, t1, runs, points=1001):
    print(f"\n{name}, t1 = {t1:g} ({points} saved points)")
    ref = gm.simulate(model, y0, t1, saveat=points, rtol=1e-12, atol=1e-14, max_steps=10**8)
    print(
        f"  {'solver':<30} {'energy error':>13} {'max S drop':>11} {'steps':>9} {'wall [s]':>9}"
        f" {'x Tsit5':>8} {'state error':>12}"
    )
    tsit5 = None
    for label, solver, kwargs in runs:
        run = lambda t=t1, s=solver, kw=kwargs: gm.simulate(  # noqa: E731
            model, y0, t, solver=s, saveat=points, max_steps=10**8, **kw
        )
        try:
            run(t1 / 1000)  # compile (t1 is a run-time input)
            start = time.perf_counter()
            traj = run()
            jax.block_until_ready(traj.ys)
            wall = time.perf_counter() - start
        except gm.SimulationError as err:
            print(f"  {label:<30} failed: {str(err).splitlines()[0]}")
            continue
        tsit5 = wall if tsit5 is None else tsit5
        e, s = np.asarray(traj.energy), np.asarray(traj.entropy)
        print(
            f"  {label:<30} {abs(e[-1] - e[0]) / abs(e[0]):>13.1e} {max(0.0, -np.min(np.diff(s))):>11.1e}"
            f" {int(traj.num_steps):>9d} {wall:>9.2f} {wall / tsit5:>8.2f}"
            f" {np.max(np.abs(np.asarray(traj.ys) - np.asarray(ref.ys))):>12.1e}"
        )


def adaptive(rtol):
    return dict(rtol=rtol, atol=1e-2 * rtol)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t1", type=float, default=1e5)
    ap.add_argument("--pendulum-t1", type=float, default=1e4)
    ap.add_argument("--grid", type=int, default=100)
    ap.add_argument("--with-fixed", action="store_true")
    a = ap.parse_args()
    warnings.simplefilter("ignore")  # the fixed-step Tsit5 runs drift, as they should
    print(
        f"{platform.node()} | {platform.machine()} | jax {jax.__version__} {jax.devices()[0].platform}"
        f" | diffrax {diffrax.__version__}"
    )
    osc = damped_oscillator.model(gamma=0.01)
    pendulum = gm.load_model(find("double_pendulum"))
    per_step("damped oscillator", osc, damped_oscillator.initial_state, 0.1, 10_000)
    per_step("double thermoelastic pendulum", pendulum, pendulum.initial_state, 0.01, 10_000)
    n = a.grid
    k = np.where(np.arange(n)[:, None] < n // 2, 1.0, 0.1) * np.ones((n, n))
    plate = heat_conduction.model((n, n), k=k)
    x = np.arange(n)
    hot = 1.0 + 0.5 * (x[:, None] < n // 3) * (x[None, :] < n // 3)
    y0 = {"s": heat_conduction.entropy_of(hot)}
    tsit5_steps = int(gm.simulate(plate, y0, 5.0, saveat=2).num_steps)
    per_step(f"heat conduction, {n}x{n} cells", plate, y0, 5.0 / tsit5_steps, 40)

    fixed = [("DiscreteGradient fixed h=0.1", gm.DiscreteGradient(), dict(dt0=0.1))]
    long_run(
        "damped oscillator in a heat bath (gamma = 0.01)",
        osc,
        damped_oscillator.initial_state,
        a.t1,
        [
            ("Tsit5 rtol 1e-8", diffrax.Tsit5(), adaptive(1e-8)),
            ("DiscreteGradient rtol 1e-4", gm.DiscreteGradient(), adaptive(1e-4)),
            ("DiscreteGradient rtol 1e-6", gm.DiscreteGradient(), adaptive(1e-6)),
            ("DiscreteGradient4 rtol 1e-6", gm.DiscreteGradient4(), adaptive(1e-6)),
            *(fixed if a.with_fixed else []),
        ],
    )
    fixed = [("DiscreteGradient fixed h=0.01", gm.DiscreteGradient(), dict(dt0=0.01))]
    long_run(
        "double thermoelastic pendulum",
        pendulum,
        pendulum.initial_state,
        a.pendulum_t1,
        [
            ("Tsit5 rtol 1e-8", diffrax.Tsit5(), adaptive(1e-8)),
            ("DiscreteGradient rtol 1e-4", gm.DiscreteGradient(), adaptive(1e-4)),
            ("DiscreteGradient rtol 1e-6", gm.DiscreteGradient(), adaptive(1e-6)),
            ("DiscreteGradient4 rtol 1e-4", gm.DiscreteGradient4(), adaptive(1e-4)),
            *(fixed if a.with_fixed else []),
        ],
    )


if __name__ == "__main__":
    main()
