"""Resolved, concurrent, hierarchical and two-temperature models of one macroscopic
transient across scale ratios (issue 17); the figures of docs/multiscale.md and
docs/performance.md.

Run: `python benchmarks/bench_multiscale.py [--kappas 1 1e-2 1e-4] [--periods 8 16 32]`.

A periodic ring one wavelength long, filled with a 4x4-voxel RVE (a 2x2 inclusion, 25 %,
heat capacity 4, conductivity kappa, in a matrix of capacity 1 and conductivity 1), starts
from a cosine. The resolved model holds every period; the concurrent and hierarchical
models have 16 cells per wavelength (an RVE stands for periods/16 periods). Errors are
the largest deviation of the per-block temperatures from the resolved ones, relative to
the initial disturbance; seconds are the simulations' wall time (second call: checks and
compilation excluded). Then the nonlinear case: conductivities 1/T (matrix) and 0.1 T
(inclusion) between 1 and 3, the hierarchical model tabulated at 3, 5 and 9 temperatures.
"""

from __future__ import annotations

import argparse
import warnings

import jax
import numpy as np
import sympy as sp

import generic_mm.homogenization as hz
import generic_mm.multiscale as ms

MICRO = hz.inclusion((4, 4), 0.25)
CAPACITIES = [1.0, 4.0]
SIDE = 0.5  # the inclusion's side, in periods


def two_temperature_inputs(kappa: float) -> dict:
    """The exchange coefficient of the inclusion's slowest Dirichlet mode (2 pi^2 / a^2)
    and the matrix as the only conducting network (with the cell's effective conductivity)."""
    k_eff = float(hz.effective_conductivity(MICRO, np.array([1.0, kappa])).tensor[0, 0])
    return {"exchange": 0.25 * kappa * 2 * np.pi**2 / SIDE**2, "networks": [k_eff, 0.0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kappas", nargs="+", type=float, default=[1.0, 1e-2, 1e-4])
    parser.add_argument("--periods", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--tables", nargs="+", type=int, default=[3, 5, 9])
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}")
    print(
        "| inclusion k | periods per wavelength | time ratio | resolved n | error: concurrent "
        "| hierarchical | two-temperature | seconds: resolved | concurrent | hierarchical | "
        "two-temperature | concurrent vs hierarchical | max Hill-Mandel residual |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kappa in args.kappas:
        for periods in args.periods:
            c = ms.compare_models(
                MICRO,
                CAPACITIES,
                [1.0, kappa],
                periods,
                macro_cells=16,
                **two_temperature_inputs(kappa),
            )
            e, s = c.errors, c.seconds
            scale = np.linalg.norm(c.resolved[0] - c.resolved[0].mean())
            gap = (
                np.max(np.linalg.norm(c.models["concurrent"] - c.models["hierarchical"], axis=1))
                / scale
            )
            print(
                f"| {kappa:g} | {periods} | {c.time_ratio:.3g} | {periods * MICRO.size} | "
                f"{e['concurrent']:.4f} | {e['hierarchical']:.4f} | {e['two-temperature']:.4f} | "
                f"{s['resolved']:.2f} | {s['concurrent']:.2f} | {s['hierarchical']:.3f} | "
                f"{s['two-temperature']:.3f} | {gap:.4f} | {c.hill_mandel.max():.3g} |",
                flush=True,
            )
    T = sp.Symbol("T", positive=True)
    print()
    print(
        "nonlinear: k = 1/T (matrix), 0.1 T (inclusion); T0 = 2, amplitude 1; 32 periods, 16 cells"
    )
    print(
        "| table points | error: concurrent | hierarchical | table seconds | seconds: resolved | concurrent | hierarchical |"
    )
    print("|---|---|---|---|---|---|---|")
    for points in args.tables:
        c = ms.compare_models(
            MICRO,
            CAPACITIES,
            [1 / T, T / 10],
            32,
            macro_cells=16,
            T0=2.0,
            amplitude=1.0,
            table=(0.9, 3.1, points),
        )
        e, s = c.errors, c.seconds
        print(
            f"| {points} | {e['concurrent']:.4f} | {e['hierarchical']:.4f} | {s['table']:.2f} | "
            f"{s['resolved']:.2f} | {s['concurrent']:.2f} | {s['hierarchical'] - s['table']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
