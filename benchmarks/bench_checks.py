"""What a consistency check costs, and what the PSD search adds, side by side.

For each model: the wall time of `gm.check` (fresh model, so nothing is cached) with the
search for a negative eigenvalue on and off, and whether each finds the violation. The
models: two library models (symbolic and sampled), and two mutants of the damped
oscillator whose friction is indefinite only on about 1% of the region (found by sampling)
or only in a disk of radius 1e-3 (found by the search alone).

    python benchmarks/bench_checks.py
"""

from __future__ import annotations

import time

import sympy as sp

import generic_mm as gm
import generic_mm._sampling as sampling
from generic_mm.models import damped_oscillator, rigid_body


def oscillator(factor):
    q, p, s = sp.symbols("q p s", real=True)
    m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
    T = T0 * sp.exp(s / c)
    w = sp.Matrix([0, 1, -p / (m * T)])
    return gm.GenericModel(
        state=[q, p, s],
        params={m: 1.0, k: 1.0, gamma: 0.1, c: 1.0, T0: 1.0},
        energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
        entropy=s,
        poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
        friction=factor(q, p) * gamma * T * w * w.T,
    )


def disk():
    x, y = sp.symbols("x y", real=True)
    bad = (x - sp.Rational(7, 10)) ** 2 + (y - sp.Rational(3, 10)) ** 2 - sp.Rational(1, 10**6)
    return gm.GenericModel([x, y], 0, x + y, None, sp.Matrix([[1, 0], [0, bad]]))


CASES = {
    "damped oscillator (symbolic)": damped_oscillator.model,
    "rigid body (sampled PSD)": lambda: rigid_body.model(gamma=0.5),
    "1% band mutant": lambda: oscillator(lambda q, p: (q - 1.5) ** 2 - sp.Rational(1, 400)),
    "disk r=1e-3 mutant": disk,
}


def main() -> None:
    steps = sampling.SEARCH_STEPS
    print(f"{'model':<30} {'search':>8} {'no search':>10} {'ratio':>6}  verdict (search / none)")
    for name, build in CASES.items():
        times, verdicts = [], []
        for search in (True, False):
            sampling.SEARCH_STEPS = steps if search else 0
            model = build()  # fresh: nothing cached
            t = time.perf_counter()
            ok = gm.check(model).ok
            times.append(time.perf_counter() - t)
            verdicts.append("pass" if ok else "FAIL")
        sampling.SEARCH_STEPS = steps
        print(
            f"{name:<30} {times[0]:>7.2f}s {times[1]:>9.2f}s {times[0] / times[1]:>6.2f}  "
            f"{verdicts[0]} / {verdicts[1]}"
        )


if __name__ == "__main__":
    main()
