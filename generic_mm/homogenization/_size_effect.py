r"""The size effect of a periodic laminate ring: a fully resolved heat-conduction model
against first- and second-order homogenization."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import threadpoolctl

from .._errors import InputError, SolverError
from .._validate import positive_array, positive_number
from ._microstructures import laminate
from ._second_order import second_order_conductivity


@dataclasses.dataclass(frozen=True)
class SizeEffect:
    """Apparent conductivities $K_{app} = \\lambda\\bar c/q^2$ of the slowest mode
    $\\cos(2\\pi x/H)$ of a ring of `periods` $= H/l$ laminate periods.

    - `periods`: $H/l$.
    - `resolved`: from the fully resolved finite-volume model.
    - `first`: first-order homogenization ($K$, no size effect).
    - `second`: second-order homogenization ($K(1 - \\beta(ql)^2)$, $q = 2\\pi/H$).
    """

    periods: np.ndarray
    resolved: np.ndarray
    first: np.ndarray
    second: np.ndarray

    def errors(self) -> tuple[np.ndarray, np.ndarray]:
        """Relative errors of `first` and `second` against `resolved`."""
        return (
            np.abs(self.first - self.resolved) / self.resolved,
            np.abs(self.second - self.resolved) / self.resolved,
        )


def size_effect(
    periods,
    *,
    cells: int = 32,
    voxels: int = 128,
    fraction: float = 0.5,
    conductivities=(1.0, 10.0),
    capacities=(1.0, 5.0),
    period: float = 1.0,
    rows: int = 2,
) -> SizeEffect:
    r"""The size effect in the decay of a temperature mode $T_0(1 + a\cos 2\pi x/H)$ on a
    ring (periodic along $x$) of $H/l$ periods of a laminate (layers normal to $x$):
    fully resolved against first- and second-order homogenization.

    The resolved answer linearises [`generic_mm.structured.heat_conduction`][] (cell-centred
    finite volumes with series conductances, `rows` cells across, insulated in $y$) at the
    uniform state with JAX and takes the rate of the eigenvector that overlaps the cosine
    most (dense; the linearisation $\dot s = -L\,\mathrm{diag}(1/C)\,s$ is self-adjoint in
    the capacity inner product, so it is symmetrised and `eigh` used). The homogenized
    answers come from
    [`second_order_conductivity`][generic_mm.homogenization.second_order_conductivity] on
    one period of `voxels` voxels. The two discretisations (finite volumes with lumped
    capacities; nodal finite elements with a consistent mass) differ in $\beta$ at
    $O(h^2)$: by about $2\cdot10^{-5}$ at the defaults ($\beta = 0.046$), which moves the
    second-order error at $H = 16l$ ($3\cdot10^{-5}$) by about 10% and less at smaller
    $H/l$; the first-order error (the size effect, $\beta(ql)^2$) is $10^2$ to $10^3$ times
    larger. Refine `cells` and `voxels` together to shrink the gap.

    **Arguments:**

    - `periods`: the ring lengths $H/l$ (integers $\ge 3$).
    - `cells`: finite-volume cells per period of the resolved ring; `voxels`: voxels per
        period of the homogenization cell; phase 1 takes `fraction` of either.
    - `conductivities`, `capacities`: of phases 0 and 1 (volumetric capacities).
    - `period`: $l$; `rows`: cells across the strip.

    **Returns:** a [`SizeEffect`][generic_mm.homogenization.SizeEffect]: the three curves of
    apparent conductivity $K_{app} = \lambda\bar c/q^2$, $q = 2\pi/H$, against $H/l$, and
    their `.errors()`.

    **Example:** `hz.size_effect([4, 6, 8, 12, 16]).errors()` falls as $(l/H)^2$ (first
    order) and $(l/H)^4$ (second order).
    """
    import generic_mm as gm
    from generic_mm.structured import heat_conduction

    P = np.asarray(periods)
    if P.ndim != 1 or P.size == 0 or np.any(P != np.round(P)) or np.any(P < 3):
        raise InputError(f"periods: expected integers >= 3, got {periods!r}.")
    k = positive_array(conductivities, "conductivities").reshape(-1)
    C = positive_array(capacities, "capacities").reshape(-1)
    if k.shape != (2,) or C.shape != (2,):
        raise InputError("conductivities, capacities: expected two values each (phases 0, 1).")
    period = positive_number(period, "period")
    for name, value in (("cells", cells), ("voxels", voxels), ("rows", rows)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name}: expected a positive integer, got {value!r}.")
    cell_layers = laminate((int(cells), 2), fraction)
    voxel_layers = laminate((int(voxels), 2), fraction)
    realised = (float(np.mean(cell_layers == 1)), float(np.mean(voxel_layers == 1)))
    if abs(realised[0] - realised[1]) > 1e-12:
        raise InputError(
            f"fraction: {fraction} is {realised[0]:g} of {cells} cells but {realised[1]:g} of "
            f"{voxels} voxels: the resolved ring and the homogenized cell would be different "
            "laminates; choose a fraction both realise exactly (or voxels a multiple of cells "
            "with fraction * cells whole)."
        )
    homog = second_order_conductivity(voxel_layers, k, C, period=period)
    h = period / int(cells)
    layer = cell_layers[:, 0]
    resolved = []
    for n in P.astype(int):
        phase = np.tile(layer, n)[:, None] * np.ones((1, int(rows)), dtype=int)
        # heat_conduction takes the capacity per cell: the volumetric one times h^2.
        model = heat_conduction(
            phase.shape, C=C[phase] * h**2, k=k[phase], periodic=(True, False), spacing=h
        )
        compiled = gm.compile(model)
        J = np.asarray(jax.jit(jax.jacfwd(compiled.vector_field, 1))(0.0, jnp.zeros(compiled.n)))
        root = np.sqrt(C[phase].reshape(-1))  # ds/dt = -L diag(1/C) s: symmetrise
        W = J * root[None, :] / root[:, None]
        if np.max(np.abs(W - W.T)) > 1e-8 * np.max(np.abs(W)):
            raise SolverError("size_effect: the linearised ring is not self-adjoint.")
        # Threaded BLAS only waits for its threads at these sizes (50x slower on 2 cores).
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            rates, vectors = scipy.linalg.eigh(-(W + W.T) / 2)
        x = (np.arange(phase.shape[0]) + 0.5) * h
        mode = (np.cos(2 * np.pi * x / (n * period))[:, None] * np.ones(phase.shape)).reshape(-1)
        temperature = vectors / root[:, None]
        overlap = np.abs(mode @ temperature) / np.linalg.norm(temperature, axis=0)
        resolved.append(rates[int(np.argmax(overlap))])
    q = 2 * np.pi / (P * period)
    scale = float(homog.mass) / q**2
    wave = np.stack([q, np.zeros_like(q)], -1)
    return SizeEffect(
        periods=P.astype(float),
        resolved=np.asarray(resolved) * scale,
        first=homog.rate(wave, order=1) * scale,
        second=homog.rate(wave, order=2) * scale,
    )
