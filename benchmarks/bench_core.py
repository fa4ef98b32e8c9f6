"""Core-engine benchmark: generated code vs hand-written JAX, ensembles vs SciPy, check time.

Run: python benchmarks/bench_core.py [--members 10000] [--scipy-members N]

Prints, measured side by side in this one run:
1. vector field: generated (SymPy -> CSE -> JAX) vs the same model hand-written in JAX,
   evaluated on a batch of states and inside a full diffeqsolve (ratio; target <= 1.1);
2. an ensemble of damped oscillators via gm.simulate (one vmapped solve) vs a Python loop
   of scipy.integrate.solve_ivp on sympy.lambdify functions, same tolerances (target >= 100x);
3. compile time (time to first result) separately;
4. gm.check on a 30-variable heat-conduction chain.
"""

from __future__ import annotations

import argparse
import platform
import time

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

import generic_mm as gm
from generic_mm.models import damped_oscillator, heat_chain

RTOL, ATOL, T1 = 1e-8, 1e-10, 20.0


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def handwritten_vf(t, y, args):
    m, k, gamma, c, T0 = args
    q, p, s = y[0], y[1], y[2]
    T = T0 * jnp.exp(s / c)
    return jnp.stack([p / m, -k * q - gamma * p / m, gamma * p**2 / (m**2 * T)])


def bench_vector_field(cm):
    # Parameters are runtime inputs on both sides (as in an ensemble over parameters), so
    # XLA cannot fold m = 1 away in one and not in the other.
    args = tuple(jnp.asarray(v) for v in (1.0, 1.0, 0.1, 1.0, 1.0))
    ys = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1_000_000, 3)))
    gen = jax.jit(lambda c, ys: jax.vmap(lambda y: c.vector_field(0.0, y))(ys))
    hand = jax.jit(lambda a, ys: jax.vmap(lambda y: handwritten_vf(0.0, y, a))(ys))
    np.testing.assert_allclose(gen(cm, ys), hand(args, ys), rtol=1e-12, atol=1e-15)
    t_gen, t_hand = best_of(lambda: gen(cm, ys), 20), best_of(lambda: hand(args, ys), 20)
    print(
        f"vector field on 1e6 states: generated {t_gen * 1e3:.2f} ms, hand-written "
        f"{t_hand * 1e3:.2f} ms, ratio {t_gen / t_hand:.3f}"
    )

    def solve(term, a):
        return diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            0.0,
            1000.0,
            None,
            jnp.array([1.0, 0.0, 0.0]),
            args=a,
            stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
            max_steps=100_000,
        ).ys

    gen_solve = jax.jit(lambda c: solve(c.term, None))
    hand_solve = jax.jit(lambda a: solve(diffrax.ODETerm(handwritten_vf), a))
    np.testing.assert_allclose(gen_solve(cm), hand_solve(args), rtol=1e-9)
    t_gen, t_hand = best_of(lambda: gen_solve(cm), 10), best_of(lambda: hand_solve(args), 10)
    print(
        f"diffeqsolve t1=1000 (Tsit5):  generated {t_gen * 1e3:.2f} ms, hand-written "
        f"{t_hand * 1e3:.2f} ms, ratio {t_gen / t_hand:.3f}"
    )


def bench_ensemble(model, members, scipy_members):
    rng = np.random.default_rng(1)
    y0 = np.column_stack(
        [rng.uniform(0.5, 1.5, members), rng.uniform(-0.5, 0.5, members), np.zeros(members)]
    )
    gammas = rng.uniform(0.05, 0.5, members)

    t = time.perf_counter()
    ens = gm.simulate(model, y0, T1, params={"gamma": gammas}, saveat=2, rtol=RTOL, atol=ATOL)
    jax.block_until_ready(ens.ys)
    first = time.perf_counter() - t
    t_gm = best_of(
        lambda: (
            gm.simulate(model, y0, T1, params={"gamma": gammas}, saveat=2, rtol=RTOL, atol=ATOL).ys
        ),
        3,
    )

    q, p, s = model.state
    syms = model.param_symbols
    f = sp.lambdify((q, p, s, *syms), list(model.rates), modules="numpy")
    base = {sym.name: v for sym, v in model.params.items()}

    def rhs_for(gamma):
        vals = [gamma if n == "gamma" else base[n] for n in model.param_names]
        return lambda t, y: f(y[0], y[1], y[2], *vals)

    n = min(members, scipy_members)
    t = time.perf_counter()
    finals = [
        solve_ivp(rhs_for(gammas[i]), (0.0, T1), y0[i], method="RK45", rtol=RTOL, atol=ATOL).y[
            :, -1
        ]
        for i in range(n)
    ]
    t_scipy = (time.perf_counter() - t) * members / n
    np.testing.assert_allclose(np.array(finals), np.asarray(ens.ys[:n, -1]), rtol=1e-5, atol=1e-6)
    note = "" if n == members else f" (extrapolated from {n} members)"
    print(
        f"ensemble of {members} oscillators, t1={T1}: generic_mm {t_gm:.3f} s (first call incl. "
        f"compile {first:.2f} s), scipy solve_ivp loop {t_scipy:.1f} s{note}, speed-up "
        f"{t_scipy / t_gm:.0f}x"
    )


def bench_first_result(model):
    cm = gm.compile(model)
    t = time.perf_counter()
    gm.simulate(cm, damped_oscillator.initial_state, 50.0, saveat=51, rtol=1e-9, atol=1e-11)
    first = time.perf_counter() - t
    t_again = best_of(
        lambda: (
            gm.simulate(
                cm, damped_oscillator.initial_state, 50.0, saveat=51, rtol=1e-9, atol=1e-11
            ).ys
        ),
        5,
    )
    print(
        f"time to first result (compile + solve): {first:.2f} s; same call again: {t_again * 1e3:.1f} ms"
    )


def bench_check():
    model = heat_chain.model(30)
    t = time.perf_counter()
    report = gm.check(model)
    print(
        f"gm.check on a {model.n}-variable heat-conduction chain: {time.perf_counter() - t:.2f} s "
        f"(ok={report.ok}; methods: {sorted({r.method for r in report})})"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument(
        "--scipy-members",
        type=int,
        default=10_000,
        help="members actually run with SciPy (the rest extrapolated)",
    )
    a = ap.parse_args()
    print(
        f"{platform.node()} | {platform.processor() or platform.machine()} | jax {jax.__version__} "
        f"{jax.devices()[0].platform} x{jax.device_count()} | diffrax {diffrax.__version__}"
    )
    model = damped_oscillator.model()
    cm = gm.compile(model)
    bench_first_result(model)
    bench_vector_field(cm)
    bench_ensemble(model, a.members, a.scipy_members)
    bench_check()


if __name__ == "__main__":
    main()
