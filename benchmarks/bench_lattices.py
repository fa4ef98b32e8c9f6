"""Lattice stability without the Hessian: Lanczos on JAX Hessian-vector products against a
dense eigendecomposition, and a stability scan of a 10^4-atom patch.

    python benchmarks/bench_lattices.py [--sizes 10 20 30 40 100] [--dense-max 40]
                                        [--scan-size 100] [--bisect-tol 1e-6] [--quick]

The lattice is the triangular lattice with Lennard-Jones nearest neighbours and harmonic
second neighbours, `TriangularLattice([lennard_jones(), harmonic(2, sqrt(3) 2^(1/6))])`,
whose uniaxial instability is short-wave, at the zone-boundary point M (reduced (1/2, 0)):
on an n x n periodic patch with n even, M is one of the patch's wave vectors, so the patch
goes unstable exactly where the Bloch analysis (`lattice.instability`) says.

1. Sizes: one `lattice.softest_modes((n, n), uniaxial(1.2), count=4)` call with
   `method="lanczos"` (ARPACK `eigsh` on a jitted Hessian-vector product, translations
   deflated) and with `method="dense"` (`jax.hessian` + `numpy.linalg.eigh`), after one
   warm-up call of each on the smallest patch. Every call builds and compiles its own
   model and jitted function, so no warm-up removes compilation from later calls: the JAX
   compile time inside each call (tracing, lowering and XLA compilation, from JAX's
   monitoring events) is reported apart and left out of the ratio dense/lanczos. Dense
   runs only up to `--dense-max` (its Hessian has (2 n^2)^2 entries: 3.2 GB at 100 x 100,
   and `eigh` is O(n^6) in the patch side).
2. Scan: the lowest nonzero omega^2 of the `--scan-size` patch (Lanczos, `count=1`,
   `tol=1e-6`) on a 0.01 grid of stretches around the Bloch critical stretch, then
   bisection on its sign to `--bisect-tol`; the final bracket must contain the Bloch
   critical stretch. Prints the number of Lanczos calls and products and the total time.

Where the Lanczos time goes: `scipy.sparse.linalg.eigsh` and `numpy.linalg.eigh` are
wrapped (for this process only) to count and time the Hessian-vector products and the
eigensolvers; the wrappers change nothing in the computation. "setup" is the rest of the
call: building the structured model, generating its code, small eager JAX operations (and
for dense, evaluating the Hessian: "H+setup").

BLAS threads: ARPACK's own work (and the deflation in each product) is level-1/2 BLAS on
vectors of 2 n^2 entries, which OpenBLAS threads; on a small or shared machine the threads
cost far more than they save (on the 2-core VM of docs/performance.md, ARPACK took 20 times
longer). The script leaves the library as it is; `OPENBLAS_NUM_THREADS=1 python
benchmarks/bench_lattices.py` shows the effect (the header prints the setting).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import time
from unittest import mock

import jax
import numpy as np
import scipy
import scipy.sparse.linalg as spla

import generic_mm  # noqa: F401  (enables float64)
from generic_mm.lattices import TriangularLattice, harmonic, lennard_jones, uniaxial

STRETCH = 1.2  # past the instability: the lowest modes are the unstable M modes
SCAN_COUNT = 1  # the sign of the lowest omega^2 is all the scan needs
# ARPACK stops when a Ritz value's residual is below tol * |omega^2|, and an eigenvalue lies
# within the residual of it: any tol < 1 gets the sign right; 1e-6 leaves a wide margin.
SCAN_EIG_TOL = 1e-6


class Probe:
    """Seconds and counts inside one library call: JAX compilation (from its monitoring
    events), Hessian-vector products and ARPACK (`eigsh`), and `numpy.linalg.eigh`."""

    def __init__(self):
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)
        self.reset()

    def reset(self):
        self.compile = self.compile_in_products = 0.0
        self.products = self.t_products = self.t_eigsh = self.t_eigh = 0.0

    def _on_event(self, event, duration, **kwargs):
        if self.active and event.startswith("/jax/core/compile/"):
            self.compile += duration

    @contextlib.contextmanager
    def watch(self):
        eigsh, eigh = spla.eigsh, np.linalg.eigh

        def counted_eigsh(A, *args, **kwargs):
            def matvec(x):
                c0, t0 = self.compile, time.perf_counter()
                y = A.matvec(x)
                self.t_products += time.perf_counter() - t0
                self.compile_in_products += self.compile - c0
                self.products += 1
                return y

            op = spla.LinearOperator(A.shape, matvec=matvec, dtype=A.dtype)
            t0 = time.perf_counter()
            try:
                return eigsh(op, *args, **kwargs)
            finally:
                self.t_eigsh += time.perf_counter() - t0

        def timed_eigh(a, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return eigh(a, *args, **kwargs)
            finally:
                self.t_eigh += time.perf_counter() - t0

        self.reset()
        self.active = True
        try:
            with (
                mock.patch.object(spla, "eigsh", counted_eigsh),
                mock.patch.object(np.linalg, "eigh", timed_eigh),
            ):
                yield self
        finally:
            self.active = False


def softest(lattice, probe, n, stretch, method, count, tol):
    """One `softest_modes` call, timed: (the `Modes`, a dict of seconds and counts)."""
    with probe.watch():
        t0 = time.perf_counter()
        modes = lattice.softest_modes(
            (n, n), uniaxial(stretch), method=method, count=count, tol=tol
        )
        wall = time.perf_counter() - t0
    p = probe
    parts = dict(
        wall=wall,
        compile=p.compile,
        products=int(p.products),
        # the HVP is compiled on its first product: that is compile, not product time
        hvp=max(p.t_products - p.compile_in_products, 0.0),
        arpack=p.t_eigsh - p.t_products,
        eigh=p.t_eigh,
        # the rest: the model, its code, eager JAX ops; for dense also the Hessian
        setup=wall - p.t_eigsh - p.t_eigh - (p.compile - p.compile_in_products),
    )
    return modes, parts


def header():
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"date: {now}")
    print(
        f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}), "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(
        f"JAX {jax.__version__} ({jax.default_backend()}, devices {jax.devices()}), "
        f"x64 {jax.config.read('jax_enable_x64')}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}, Python {platform.python_version()}"
    )


def sizes_table(lattice, probe, sizes, dense_max, count):
    print(
        f"\n1. softest {count} modes of an n x n patch at uniaxial({STRETCH}); seconds per "
        f"call; dense only up to n = {dense_max} (--dense-max)"
    )
    print(
        f"{'n':>4} {'dof':>6} | {'lanczos':>8} {'compile':>7} {'setup':>6} {'HVP':>6} "
        f"{'ARPACK':>7} {'products':>8} {'ms/HVP':>7} | {'dense':>7} {'compile':>7} "
        f"{'H+setup':>7} {'eigh':>6} | {'dense/lanczos':>13} | {'lowest omega^2':>15} {'|diff|':>8}"
    )
    smallest = min(sizes)
    for method in ("lanczos", "dense"):  # warm-up: imports, first traces of library code
        softest(lattice, probe, smallest, STRETCH, method, count, 1e-10)
    rows = []
    for n in sizes:
        m_l, lz = softest(lattice, probe, n, STRETCH, "lanczos", count, 1e-10)
        per = 1e3 * lz["hvp"] / max(lz["products"], 1)
        line = (
            f"{n:>4} {2 * n * n:>6} | {lz['wall']:>8.2f} {lz['compile']:>7.2f} "
            f"{lz['setup']:>6.2f} {lz['hvp']:>6.2f} {lz['arpack']:>7.2f} "
            f"{lz['products']:>8} {per:>7.2f} |"
        )
        row = dict(n=n, lanczos=lz, omega2=m_l.omega2[0])
        if n <= dense_max:
            m_d, dn = softest(lattice, probe, n, STRETCH, "dense", count, 1e-10)
            ratio = (dn["wall"] - dn["compile"]) / (lz["wall"] - lz["compile"])
            diff = abs(m_d.omega2[0] - m_l.omega2[0])
            line += (
                f" {dn['wall']:>7.2f} {dn['compile']:>7.2f} {dn['setup']:>7.2f} {dn['eigh']:>6.2f} | "
                f"{ratio:>12.1f}x | {m_l.omega2[0]:>15.10f} {diff:>8.1e}"
            )
            if diff > 1e-8:
                line += "  MISMATCH"
            row.update(dense=dn, ratio=ratio, diff=diff)
        else:
            line += f" {'-':>7} {'-':>7} {'-':>7} {'-':>6} | {'-':>13} | {m_l.omega2[0]:>15.10f} {'-':>8}"
        print(line, flush=True)
        rows.append(row)
    print(
        "compile: JAX tracing + lowering + XLA compilation inside the call (once per patch "
        "shape and method); dense/lanczos compares the calls without it"
    )
    return rows


def dominant_k(vector):
    """The reduced wave vector (folded into (-1/2, 1/2]) that carries most of a mode."""
    n1, n2 = vector.shape[:2]
    power = (np.abs(np.fft.fft2(vector, axes=(0, 1))) ** 2).sum(axis=-1)
    p, q = np.unravel_index(np.argmax(power), power.shape)
    return tuple(float(x - 1.0 if x > 0.5 else x) for x in (p / n1, q / n2))


def lowest(lattice, probe, n, stretch, log):
    modes, parts = softest(lattice, probe, n, stretch, "lanczos", SCAN_COUNT, SCAN_EIG_TOL)
    log.append(parts)
    return float(modes.omega2[0]), dominant_k(modes.vectors[0])


def scan(lattice, probe, n, critical, bisect_tol):
    """Scan, then bisect on the sign of the lowest omega^2 of the n x n patch."""
    print(
        f"\n2. stability scan of the {n} x {n} patch ({n * n} atoms, {2 * n * n} dof): "
        f"Lanczos, count={SCAN_COUNT}, tol={SCAN_EIG_TOL:g}"
    )
    log = []
    t0 = time.perf_counter()
    centre = round(critical, 2)
    stretches = [centre + 0.01 * k for k in (-2, -1, 0, 1)]
    values = []
    for lam in stretches:
        value, k = lowest(lattice, probe, n, lam, log)
        values.append(value)
        print(
            f"  stretch {lam:.4f}: lowest omega^2 = {value: .6e}, its mode mostly at "
            f"reduced k = ({k[0]:.2f}, {k[1]:.2f})",
            flush=True,
        )
    change = [i for i in range(len(values) - 1) if values[i] > 0 >= values[i + 1]]
    if not change:
        print("  no sign change in the scan: nothing to bisect")
        return None
    a, b = stretches[change[0]], stretches[change[0] + 1]
    steps = max(0, math.ceil(math.log2((b - a) / bisect_tol)))
    for _ in range(steps):
        mid = 0.5 * (a + b)
        value, _ = lowest(lattice, probe, n, mid, log)
        a, b = (mid, b) if value > 0 else (a, mid)
    total = time.perf_counter() - t0
    inside = a <= critical <= b
    print(
        f"  bisection ({steps} steps): critical stretch in [{a:.9f}, {b:.9f}] (width {b - a:.1e})"
    )
    print(
        f"  Bloch analysis: {critical:.9f}: {'inside' if inside else 'OUTSIDE'} the "
        f"bracket (distance to its middle {abs(0.5 * (a + b) - critical):.1e})"
    )
    sums = {k: sum(p[k] for p in log) for k in ("wall", "compile", "setup", "hvp", "arpack")}
    products = sum(p["products"] for p in log)
    print(
        f"  {len(log)} Lanczos calls, {products} Hessian-vector products, {total:.1f} s in "
        f"all: setup {sums['setup']:.1f} s, compile {sums['compile']:.1f} s, products "
        f"{sums['hvp']:.1f} s, ARPACK {sums['arpack']:.1f} s"
    )
    return dict(calls=len(log), products=products, total=total, bracket=(a, b), ok=inside)


def main():
    parser = argparse.ArgumentParser(
        description="Softest modes of lattice patches: Lanczos on JAX Hessian-vector "
        "products against a dense Hessian, and a stability scan of a 10^4-atom patch."
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10, 20, 30, 40, 100], help="patch sides n"
    )
    parser.add_argument("--dense-max", type=int, default=40, help="largest n for dense")
    parser.add_argument("--scan-size", type=int, default=100, help="n of the scanned patch")
    parser.add_argument("--bisect-tol", type=float, default=1e-6, help="scan bisection width")
    parser.add_argument("--count", type=int, default=4, help="modes per call in part 1")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.dense_max, args.scan_size, args.bisect_tol = [6, 10], 10, 10, 1e-4
    if args.scan_size % 2:
        parser.error("--scan-size must be even (the M point is then a wave vector of it)")
    t_start = time.perf_counter()
    header()
    lattice = TriangularLattice([lennard_jones(), harmonic(2, np.sqrt(3) * 2 ** (1 / 6))])
    probe = Probe()
    t0 = time.perf_counter()
    inst = lattice.instability("uniaxial")
    print(
        f"Bloch analysis (lattice.instability, {time.perf_counter() - t0:.1f} s with its "
        f"compilation): {inst.kind} at stretch {inst.stretch:.12f}, reduced k "
        f"{', '.join(str(tuple(float(x) for x in k)) for k in np.round(inst.equivalent, 6))}"
    )
    sizes_table(lattice, probe, args.sizes, args.dense_max, args.count)
    scan(lattice, probe, args.scan_size, inst.stretch, args.bisect_tol)
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
