"""The RVE cell solver: the stencil operator against the Gauss-point operator it replaced,
NumPy/SciPy and xpektra (Fourier-Galerkin), side by side in one run.

Run: `python benchmarks/bench_rve_solver.py [--sizes 3d:64 2d:256] [--contrasts 10 100]
[--memory 32 64 128] [--tol 1e-8]`. xpektra is optional (`pip install generic_mm[bench]`);
without it its rows are skipped.

Periodic conductivity of random inclusions (`hz.random_inclusions(shape, 0.3, max(2, n/16),
seed=0)`), phases k = (1, contrast), tolerance 1e-8. Prints:

1. The operator alone (jitted, median of repeated calls): the Gauss-point operator
   `forces(stress(gradient(u)))` (the solver's matvec until 2026-11), the stencil
   `Voxels.stiffness` (now), and the preconditioner's FFT pair (rfftn, multiply, irfftn).
2. Solves: k_xx, CG iterations, seconds per iteration, total (compile excluded: a second
   call; the first call's compile is reported apart) for one load case E = e_x with the
   old operator (the previous compiled solve, kept below), the new one (`program`), the
   public `effective_conductivity` (three load cases batched with `vmap`: seconds per
   batched iteration), NumPy/SciPy (`numpy_reference` of bench_homogenization.py: all d
   load cases, seconds per iteration over their sum) and xpektra (its `GalerkinProjection`
   with the Fourier scheme, Nyquist planes zeroed, inside lineax CG; no preconditioner).
   Fourier-Galerkin is another discretisation than our Q1 voxel elements: its k_xx differs
   at the 1e-2 level.
3. Memory: the compiled solve's temporaries, arguments and outputs per voxel
   (`memory_analysis()` of the lowered program: compile only, nothing runs), and the
   largest cubic grid that fits in 24 GiB at that rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

import generic_mm.homogenization as hz
from generic_mm.homogenization._solve import conjugate_gradients, factor_moduli, program, stress
from generic_mm.homogenization._voxels import Voxels

sys.path.insert(0, str(Path(__file__).parent))
from bench_homogenization import numpy_reference  # noqa: E402

GIB = 2**30
BUDGET = 24 * GIB


def old_program(shape, bc, m):
    """The compiled solve as it was before the stencil (Gauss-point operator, Gauss-point
    averages): same signature and outputs as `program` without the factored moduli."""
    mesh = Voxels(shape, bc, m)
    d, Q = len(shape), mesh.G.shape[0]
    spatial = (..., *([None] * d))

    def one(masks, C, E, load, prestress, tol, max_steps):
        affine = jnp.broadcast_to(E[spatial][None], (Q, m, d, *shape))
        rhs = mesh.forces(jnp.broadcast_to(load[spatial][None], affine.shape))
        rhs = (rhs - mesh.forces(stress(masks, C, affine, prestress))) * mesh.mask
        size = jnp.max(jnp.abs(stress(masks, C, affine, prestress))) + jnp.max(jnp.abs(load))
        sol = conjugate_gradients(
            lambda u: mesh.forces(stress(masks, C, mesh.gradient(u * mesh.mask))) * mesh.mask,
            lambda r: mesh.precondition(r) * mesh.mask,
            rhs,
            tol=tol,
            size=size,
            max_steps=max_steps,
        )
        H = affine + mesh.gradient(sol.value * mesh.mask)
        sigma = stress(masks, C, H, prestress)
        axes = (0, *range(3, H.ndim))
        return jnp.mean(H, axis=axes), jnp.mean(sigma, axis=axes), sol.stats["num_steps"]

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0, None, None, None)))


def median_time(f, *args, repeats=7):
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def timed(f):
    """(result, first-call seconds, second-call seconds)."""
    t = time.perf_counter()
    jax.block_until_ready(f())
    first = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(f())
    return out, first, time.perf_counter() - t


def problem(shape, contrast):
    micro = hz.random_inclusions(shape, 0.3, max(2.0, shape[0] / 16), seed=0)
    k = np.array([1.0, contrast])
    d = len(shape)
    masks = jnp.stack([jnp.asarray(micro == p, dtype=float) for p in range(2)])
    C = jnp.asarray(k)[:, None, None, None, None] * jnp.eye(d)[None, None, :, None, :]
    return micro, k, masks, C


def operator_rows(shape):
    """Milliseconds of the old operator, the new one and the FFT pair, on one random field."""
    micro, k, masks, C = problem(shape, 10.0)
    mesh = Voxels(shape, hz.Periodic(), 1)
    weights, basis = factor_moduli(C)
    u = jax.random.normal(jax.random.PRNGKey(0), (1, *shape))
    old = jax.jit(lambda u, masks, C: mesh.forces(stress(masks, C, mesh.gradient(u))))
    new = jax.jit(lambda u, w, B, masks: mesh.stiffness(jnp.tensordot(w, masks, axes=(0, 0)), B)(u))
    fft = jax.jit(mesh.precondition)
    err = float(jnp.max(jnp.abs(new(u, weights, basis, masks) - old(u, masks, C))))
    err /= float(jnp.max(jnp.abs(old(u, masks, C))))
    t_old = median_time(old, u, masks, C)
    t_new = median_time(new, u, weights, basis, masks, repeats=21)
    t_fft = median_time(fft, u, repeats=21)
    return t_old, t_new, t_fft, err


def xpektra_solve(micro, k, tol, max_steps=5000):
    """k_xx by Fourier-Galerkin (xpektra's projection) and lineax CG: (k_xx, iterations, solve)."""
    import xpektra as xp

    d, shape = micro.ndim, micro.shape
    space = xp.SpectralSpace(lengths=(1.0,) * d, shape=shape, transform=xp.FFTTransform(dim=d))
    op = xp.SpectralOperator(
        scheme=xp.FourierScheme(space=space), space=space, projection=xp.GalerkinProjection()
    )
    # The Fourier scheme's symbol is not Hermitian on the Nyquist planes of even grids:
    # zeroed there, the projection is symmetric and CG converges as it should.
    keep = np.ones(shape)
    for axis, n in enumerate(shape):
        if n % 2 == 0:
            keep[(slice(None),) * axis + (n // 2,)] = 0.0
    keep = jnp.asarray(keep)[..., None, None]
    kfield = jnp.asarray(k[micro])[..., None, None]
    E = jnp.zeros((1, d)).at[0, 0].set(1.0)

    def project(field):  # (*shape, 1, d) gradients -> their compatible part
        return op.inverse(op.project(op.forward(field) * keep))

    @jax.jit
    def solve(kfield):
        rhs = -project(kfield * E)
        sol = conjugate_gradients(
            lambda e: project(kfield * e),
            lambda r: r,
            rhs,
            tol=tol,
            size=jnp.max(kfield),
            max_steps=max_steps,
        )
        flux = kfield * (E + sol.value)
        return (
            jnp.mean(flux[..., 0, 0]),
            sol.stats["num_steps"],
            sol.result == lx.RESULTS.successful,
        )

    return lambda: solve(kfield)


def solve_rows(shape, contrast, tol, with_numpy):
    micro, k, masks, C = problem(shape, contrast)
    d = len(shape)
    E = jnp.eye(d)[:1, None, :]
    zero, pre = jnp.zeros_like(E), jnp.zeros((2, 1, d))
    args = (E, zero, pre, jnp.asarray(tol), jnp.asarray(5000))
    rows = []
    old = old_program(shape, hz.Periodic(), 1)
    (H, S, its), first, total = timed(lambda: old(masks, C, *args))
    rows.append(("old operator (Gauss points)", float(S[0, 0, 0]), [int(its[0])], total, first))
    new = program(shape, hz.Periodic(), 1)
    (H, S, _, its, _), first, total = timed(lambda: new(masks, C, *factor_moduli(C), *args))
    rows.append(("new operator (stencil)", float(S[0, 0, 0]), [int(its[0])], total, first))
    api, first, total = timed(lambda: hz.effective_conductivity(micro, k, tol=tol).tensor)
    res = hz.effective_conductivity(micro, k, tol=tol)
    its = [int(i) for i in np.asarray(res.iterations)]
    rows.append(("effective_conductivity (3 cases, vmap)", float(api[0, 0]), its, total, first))
    if with_numpy:
        t = time.perf_counter()
        ref, its = numpy_reference(micro, k, tol)
        rows.append(("NumPy/SciPy (all load cases)", ref[0, 0], its, time.perf_counter() - t, None))
    try:
        run = xpektra_solve(micro, k, tol)
    except ImportError:
        rows.append(("xpektra: not installed, skipped", None, None, None, None))
    else:
        (kxx, its, ok), first, total = timed(run)
        assert bool(ok), "xpektra CG did not converge"
        rows.append(("xpektra (Fourier-Galerkin, CG)", float(kxx), [int(its)], total, first))
    return rows


def memory_per_voxel(n, runner, cases):
    """Bytes per voxel (temporaries + arguments + outputs) of a compiled cubic solve."""
    shape = (n,) * 3
    f64 = lambda *s: jax.ShapeDtypeStruct(s, jnp.float64)  # noqa: E731
    E = f64(cases, 1, 3)
    scalars = (f64(), jax.ShapeDtypeStruct((), jnp.int64))
    if runner == "old":
        lowered = old_program(shape, hz.Periodic(), 1).lower(
            f64(2, *shape), f64(2, 1, 3, 1, 3), E, E, f64(2, 1, 3), *scalars
        )
    else:
        R = 1  # isotropic phases: one coefficient field
        lowered = program(shape, hz.Periodic(), 1).lower(
            f64(2, *shape), f64(2, 1, 3, 1, 3), f64(2, R), f64(R, 1, 3, 1, 3), E, E,
            f64(2, 1, 3), *scalars,
        )  # fmt: skip
    ma = lowered.compile().memory_analysis()
    assert ma is not None, "this backend reports no memory analysis"
    total = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    return total / n**3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["3d:64", "2d:256"])
    parser.add_argument("--contrasts", nargs="+", type=float, default=[10.0, 100.0])
    parser.add_argument("--memory", nargs="+", type=int, default=[32, 64, 128])
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--no-numpy", action="store_true", help="skip the NumPy/SciPy rows")
    args = parser.parse_args()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        "unknown CPU",
    )
    print(f"jax {jax.__version__} on {jax.devices()[0].platform} ({cpu}); tolerance {args.tol:g}")
    shapes = [(int(n),) * int(dim[0]) for dim, n in (s.split(":") for s in args.sizes)]

    print("\nThe operator alone (ms, median):\n")
    print(
        "| grid | old (Gauss points) | new (stencil) | FFT pair | old / new | new / FFT pair | rel. difference |"
    )
    print("|---|---|---|---|---|---|---|")
    fft_ms = {}
    for shape in shapes:
        t_old, t_new, t_fft, err = operator_rows(shape)
        fft_ms[shape] = t_fft
        print(
            f"| {'x'.join(map(str, shape))} | {t_old * 1e3:.1f} | {t_new * 1e3:.2f} | "
            f"{t_fft * 1e3:.2f} | {t_old / t_new:.0f}x | {t_new / t_fft:.2f} | {err:.1e} |",
            flush=True,
        )

    print("\nSolves (one load case E = e_x unless stated; compile = first call minus second):\n")
    print(
        "| grid | contrast | solver | k_xx | CG iterations | s / iteration | iteration / FFT pair | total | compile |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in shapes:
        for contrast in args.contrasts:
            rows = solve_rows(shape, contrast, args.tol, not args.no_numpy)
            per_it = {}
            for name, kxx, its, total, first in rows:
                if kxx is None:
                    print(f"| {'x'.join(map(str, shape))} | {contrast:g} | {name} | | | | | | |")
                    continue
                batched = "vmap" in name
                it = total / (max(its) if batched else sum(its))
                per_it[name] = it
                compile_s = f"{first - total:.1f} s" if first is not None else ""
                print(
                    f"| {'x'.join(map(str, shape))} | {contrast:g} | {name} | {kxx:.6f} | "
                    f"{', '.join(map(str, its))} | {it * 1e3:.1f} ms | {it / fft_ms[shape]:.1f} | "
                    f"{total:.2f} s | {compile_s} |",
                    flush=True,
                )
            old, new = per_it["old operator (Gauss points)"], per_it["new operator (stencil)"]
            print(f"|  |  | old / new per iteration: {old / new:.1f}x |  |  |  |  |  |  |")

    print("\nMemory of the compiled periodic conductivity solve (bytes per voxel):\n")
    print("| grid | old, 1 case | new, 1 case | new, 3 cases (vmap) |")
    print("|---|---|---|---|")
    largest = {}
    for n in args.memory:
        row = [
            memory_per_voxel(n, "old", 1),
            memory_per_voxel(n, "new", 1),
            memory_per_voxel(n, "new", 3),
        ]
        largest = {
            k: int((BUDGET / v) ** (1 / 3))
            for k, v in zip(("old 1", "new 1", "new 3"), row, strict=True)
        }
        print(f"| {n}^3 | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} |", flush=True)
    print(
        f"\nLargest cubic grid in 24 GiB at the largest grid's rate: old, one load case "
        f"{largest['old 1']}^3; new, one load case {largest['new 1']}^3; new, three load "
        f"cases (effective_conductivity) {largest['new 3']}^3."
    )
    print(
        "\nNote: xpektra discretises with Fourier-Galerkin (trigonometric polynomials), we with "
        "Q1 voxel elements; the two k_xx differ at the 1e-2 level by discretisation, not error."
    )


if __name__ == "__main__":
    main()
