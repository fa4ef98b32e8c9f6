r"""The resolved microstructure, and the averages that connect it to the averaged models.

`resolved_laminate` builds the layered composite with every layer resolved by cells (a
[`generic_mm.structured.heat_conduction`][] model, each cell carrying its phase's
material); `phase_temperatures` averages its temperature field per phase; `layered_flux`
splits the window average of the heat flux in a layered bar into the volume term and the
interfacial term that the averaging theorem produces,

$$\langle k\,\partial_xT\rangle = \sum_i k_i\,\partial_x\langle\chi_iT\rangle +
\frac1\ell\sum_{\text{interfaces}} n\,(k_a - k_b)\,T_I,$$

whose divergence is the apparent heat source of a one-temperature averaged model.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import InputError, ModelError
from ..structured import heat_conduction


def resolved_laminate(
    composite,
    thicknesses: Mapping[str, float],
    cells: Mapping[str, int],
    *,
    nx: int = 1,
    length: float = 1.0,
):
    """The laminate with every layer resolved: one period of layers across $y$ (periodic),
    and, with `nx > 1`, `nx` cells along the layers over `length` (periodic).

    **Arguments:**

    - `composite`: a [`generic_mm.composites.Composite`][] (its phases' materials are used).
    - `thicknesses`: phase -> layer thickness, in the order of stacking.
    - `cells`: phase -> cells across that layer.

    **Returns:** `(model, phases)`: the [`generic_mm.structured.StructuredModel`][] (heat
    conduction, fields `cell.s` of shape `(ny,)` or `(nx, ny)`) and an integer array of the
    same shape with each cell's phase index (in `composite.phases` order).
    """
    names = list(composite.phases)
    order = list(thicknesses)
    if sorted(order) != sorted(names) or sorted(cells) != sorted(names):
        raise ModelError(
            f"resolved_laminate: give a thickness and a cell count for every phase {names}."
        )
    column_phase, dy = [], []
    for n in order:
        count = int(cells[n])
        if count < 1 or thicknesses[n] <= 0:
            raise ModelError(f"resolved_laminate: phase {n!r} needs cells >= 1, thickness > 0.")
        column_phase += [names.index(n)] * count
        dy.append(np.full(count, thicknesses[n] / count))
    dy = np.concatenate(dy)
    if np.ptp(dy) > 1e-12 * dy.max():
        raise ModelError(
            "resolved_laminate: the grid is uniform, so cells/thickness must be equal for all "
            f"phases; got cell sizes {sorted(set(np.round(dy, 12)))}."
        )
    h = float(dy[0])
    column_phase = np.array(column_phase)
    rho_c = np.array([composite.phases[n].C for n in names])
    k = np.array([composite.phases[n].conductivity for n in names])
    if nx > 1:
        phase = np.broadcast_to(column_phase, (nx, len(column_phase))).copy()
        spacing = (length / nx, h)
    else:
        phase = column_phase
        spacing = (h,)
    volume = float(np.prod(spacing))
    model = heat_conduction(
        phase.shape,
        C=rho_c[phase] * volume,
        k=k[phase],
        T0=composite.T0,
        periodic=True,
        spacing=spacing,
    )
    return model, phase


def conjugates(compiled, ys) -> jax.Array:
    """$\\partial E/\\partial x$ (temperatures, for entropies) at states `ys` of shape `(..., n)`."""
    ys = jnp.asarray(ys)
    return jax.vmap(compiled.grad_energy)(ys.reshape(-1, ys.shape[-1])).reshape(ys.shape)


def phase_temperatures(compiled, ys, phases, composite) -> dict[str, jax.Array]:
    """The intrinsic phase averages of the temperature of a resolved model (cells of one
    phase have equal volume and heat capacity): per phase, an array over `ys`' leading axes
    and, for a 2D laminate, along the layers (shape `(..., nx)`)."""
    ys = jnp.asarray(ys)
    T = compiled.layout.select(conjugates(compiled, ys), "cell.s")
    phases = np.asarray(phases)
    if T.shape[ys.ndim - 1 :] != phases.shape:
        raise InputError(
            f"phase_temperatures: phases has shape {phases.shape}, the field has "
            f"{T.shape[ys.ndim - 1 :]}."
        )
    out = {}
    for i, n in enumerate(composite.phases):
        mask = jnp.asarray(phases == i, dtype=float)
        out[n] = jnp.sum(T * mask, axis=-1) / jnp.sum(mask, axis=-1)
    return out


def layered_flux(T, k, spacing: float, window: int) -> dict[str, jax.Array]:
    r"""The window-averaged heat flux of a periodic 1D layered bar, split as averaging splits
    it: `"volume"` ($-\sum_ik_i\partial_x\langle\chi_iT\rangle$) and `"interfacial"`
    ($-\frac1\ell\sum_I n(k_a - k_b)T_I$), at every face.

    **Arguments:** `T`, `k`: cell temperatures and conductivities (shape `(n,)`, periodic);
    `spacing`: cell size; `window`: cells per averaging window (e.g. one period).

    **Returns:** arrays of shape `(n,)`: entry `F` belongs to the window centred on face `F`
    (between cells `F-1` and `F`), $\ell$ = `window * spacing`. Interface temperatures are
    those of the resolved model (flux continuity): $T_I = (k_lT_l + k_rT_r)/(k_l + k_r)$.
    Their sum is the window average of the resolved flux exactly.
    """
    T, k = jnp.asarray(T, dtype=float), jnp.asarray(k, dtype=float)
    if T.shape != k.shape or T.ndim != 1:
        raise InputError(
            f"layered_flux: T and k must be 1D of one shape, got {T.shape}, {k.shape}."
        )
    if not 1 <= window <= T.shape[0]:
        raise InputError(f"layered_flux: window must be 1..{T.shape[0]} cells, got {window}.")
    ell = window * spacing
    k_left, T_left = jnp.roll(k, 1), jnp.roll(T, 1)  # cell F-1 of face F
    Tf = (k_left * T_left + k * T) / (k_left + k)  # face temperatures
    jump = (k_left - k) * Tf  # nonzero at interfaces only
    left = -(window // 2)  # window cells F - window//2 ... F - window//2 + window - 1
    right = left + window
    vol = jnp.roll(k, -(right - 1)) * jnp.roll(Tf, -right) - jnp.roll(k, -left) * jnp.roll(
        Tf, -left
    )
    inner = sum((jnp.roll(jump, -j) for j in range(left + 1, right)), jnp.zeros_like(jump))
    return {"volume": -vol / ell, "interfacial": -inner / ell}


def mode_rates(compiled, y_eq, *, wavenumber: int = 1) -> np.ndarray:
    r"""Decay rates of the Fourier mode `wavenumber` along the first (periodic) grid axis of
    a structured model, linearised about the uniform equilibrium `y_eq`, ascending.

    The linearised vector field commutes with translations along that axis, so the mode
    $\cos(2\pi m i/n_x)\otimes v$ spans an invariant subspace; the rates are the eigenvalues
    of $-J$ restricted to it. Used to compare a resolved microstructure with an averaged
    model mode by mode (same macroscopic grid, hence the same discrete wavenumber).
    """
    (block,) = compiled.layout.blocks
    nx = block.shape[0]
    y_eq = jnp.asarray(y_eq, dtype=float)
    J = np.asarray(jax.jacfwd(lambda y: compiled.vector_field(0.0, y))(y_eq))
    c = np.cos(2 * np.pi * wavenumber * np.arange(nx) / nx)
    c /= np.linalg.norm(c)
    P = np.kron(c[:, None], np.eye(compiled.n // nx))
    return np.sort(-np.linalg.eigvals(P.T @ J @ P).real)
