"""RVE size and ergodicity: apparent properties over realizations and sizes; hand-off."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from .._errors import InputError
from .._validate import finite_number
from ._boundary import (
    AbstractBoundaryCondition,
    Dirichlet,
    Neumann,
    Periodic,
    as_boundary_condition,
)
from ._effective import effective_conductivity
from ._solve import Homogenized


@dataclasses.dataclass(frozen=True)
class RVEStudy:
    """Apparent scalar conductivities (trace / d) per size and boundary condition.

    - `sizes`: the RVE sizes (cells per side).
    - `values`: `{bc name: array (len(sizes), realizations)}`.
    - `mean`, `spread`: `{bc: array over sizes}`; `spread` is the relative standard deviation
        across realizations (std / mean).
    - `gap`: `(mean_dirichlet - mean_neumann) / mean_periodic` per size.
    - `size`: the smallest size meeting the tolerance (`None` if none of `sizes` does).
    - `tolerance`, `criterion`: what was asked.
    """

    sizes: tuple[int, ...]
    values: dict[str, np.ndarray]
    tolerance: float
    criterion: str
    size: int | None

    @property
    def mean(self) -> dict[str, np.ndarray]:
        return {bc: v.mean(axis=1) for bc, v in self.values.items()}

    @property
    def spread(self) -> dict[str, np.ndarray]:
        return {bc: v.std(axis=1, ddof=1) / v.mean(axis=1) for bc, v in self.values.items()}

    @property
    def gap(self) -> np.ndarray:
        m = self.mean
        return (m[Dirichlet.name] - m[Neumann.name]) / m[Periodic.name]


_SPREAD = (Periodic(),)
_GAP = (Neumann(), Periodic(), Dirichlet())
NEEDED = {"spread": _SPREAD, "gap": _GAP, "both": _GAP}
"""The boundary conditions each criterion needs."""


def rve_size(
    generate: Callable[[int, int], np.ndarray],
    conductivities,
    tolerance: float,
    *,
    sizes: Sequence[int],
    realizations: int = 8,
    criterion: str = "spread",
    bcs: Sequence[str | AbstractBoundaryCondition] | None = None,
    tol: float = 1e-8,
) -> RVEStudy:
    r"""The RVE size needed for a requested tolerance, from apparent conductivities of
    random realizations.

    **Arguments:**

    - `generate(size, seed)`: a microstructure of `size` cells per side for a seed (e.g.
        `lambda n, seed: gaussian_field((n, n), 0.4, 3.0, seed=seed)`).
    - `conductivities`: per phase, as for `effective_conductivity`.
    - `tolerance`: the relative accuracy asked for.
    - `sizes`: candidate sizes, increasing; `realizations`: samples per size (>= 2).
    - `criterion`: `"spread"` (one realization under periodic conditions is within
        `tolerance` of the ensemble mean at two standard deviations: $2\,\mathrm{std}/
        \mathrm{mean} \le$ `tolerance`), `"gap"` (the Dirichlet-Neumann gap relative to the
        periodic mean $\le$ `tolerance`) or `"both"`.
    - `bcs`: the boundary conditions to compute, names or objects (default: those the
        criterion needs; pass all three to see the gap with `"spread"`); `tol`: the solves'
        tolerance.

    **Returns:** an [`RVEStudy`][generic_mm.homogenization.RVEStudy] with the table and
    `size` (`None` when no candidate size is large enough: take larger sizes).
    """
    if criterion not in NEEDED:
        raise InputError(f"rve_size: criterion must be one of {tuple(NEEDED)}, got {criterion!r}.")
    tolerance = finite_number(tolerance, "rve_size: tolerance")
    if not 0 < tolerance < 1:
        raise InputError(f"rve_size: tolerance must be in (0, 1), got {tolerance!r}.")
    sizes = tuple(int(n) for n in sizes)
    if not sizes or list(sizes) != sorted(set(sizes)):
        raise InputError(f"rve_size: sizes must be increasing and distinct, got {sizes}.")
    if realizations < 2:
        raise InputError("rve_size: realizations must be >= 2 (a spread needs two samples).")
    needed = NEEDED[criterion]
    bcs = tuple(as_boundary_condition(bc, "rve_size") for bc in bcs or needed)
    missing = sorted(bc.name for bc in needed if bc not in bcs)
    if missing:
        raise InputError(
            f"rve_size: criterion {criterion!r} needs bcs {[bc.name for bc in needed]}; "
            f"{missing} missing from {[bc.name for bc in bcs]}."
        )
    values = {bc.name: np.zeros((len(sizes), realizations)) for bc in bcs}
    for i, n in enumerate(sizes):
        for seed in range(realizations):
            micro = generate(n, seed)
            for bc in bcs:
                K = np.asarray(effective_conductivity(micro, conductivities, bc, tol=tol).tensor)
                values[bc.name][i, seed] = np.trace(K) / K.shape[0]
    study = RVEStudy(sizes, values, tolerance, criterion, None)
    ok = np.ones(len(sizes), dtype=bool)
    if criterion in ("spread", "both"):
        ok &= 2 * study.spread[Periodic.name] <= tolerance
    if criterion in ("gap", "both"):
        ok &= study.gap <= tolerance
    size = next((n for n, good in zip(sizes, ok, strict=True) if good), None)
    return dataclasses.replace(study, size=size)


def isotropic_value(result: Homogenized, *, rtol: float = 1e-3) -> float:
    """The scalar of an isotropic effective conductivity (or expansion) tensor, trace / d,
    for models that take one number (`heat_conduction(k=...)`, `Phase(conductivity=...)`).

    **Raises:** `InputError` when the tensor differs from a multiple of the identity by more
    than `rtol` (relative): pass the component you mean instead."""
    K = np.asarray(result.tensor)
    value = float(np.trace(K) / K.shape[0])
    deviation = float(np.max(np.abs(K - value * np.eye(K.shape[0]))))
    if deviation > rtol * abs(value):
        raise InputError(
            f"isotropic_value: the tensor is anisotropic (deviation {deviation:.3g} from "
            f"{value:.6g} I, more than rtol={rtol:g}); use a component, e.g. tensor[0, 0]."
        )
    return value


def homogenized_phase(
    name: str,
    fraction: float,
    conductivity: Homogenized,
    *,
    stiffness: Homogenized | None = None,
    expansion: Homogenized | None = None,
    axis: int = 0,
    **properties,
):
    """A [`generic_mm.composites.Phase`][] whose properties come from RVE homogenization:
    the conductivity along `axis` and, for the composite's uniaxial (iso-strain)
    mechanics along that axis, the modulus $C^*_{aa}$ and the expansion $\\alpha^*_{aa}$.
    Other keyword arguments (heat capacity, density, T0) go to `Phase`."""
    from ..composites import Phase

    k = float(np.asarray(conductivity.tensor)[axis, axis])
    extra = {}
    if stiffness is not None:
        extra["modulus"] = float(np.asarray(stiffness.tensor)[axis, axis])
    if expansion is not None:
        extra["expansion"] = float(np.asarray(expansion.tensor)[axis, axis])
    return Phase(name, fraction=fraction, conductivity=k, **extra, **properties)
