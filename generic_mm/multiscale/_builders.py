r"""The three models of a macroscopic conduction problem in a periodic composite, on one
discretisation: concurrent (an RVE in every cell), resolved (every micro cell of the
domain) and hierarchical (effective properties, computed once or tabulated)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .._errors import InputError
from .._validate import finite_number, positive_number
from ..homogenization import as_microstructure, effective_conductivity, volume_fractions
from ._nested import T_SYMBOL_NAME, NestedModel, _law, _user_params, macro


def nested_conduction(
    micro: Any,
    capacities: Sequence[float],
    conductivities: Sequence[Any],
    macro_shape: Sequence[int],
    *,
    period: float,
    spacing: float,
    periodic: bool | Sequence[bool] = True,
    coupling: str = "boundary",
    temperature_range: tuple[float, float] = (1e-3, 1e4),
    params: Mapping[sp.Symbol, float] | None = None,
    reference_temperature: float | None = None,
    name: str | None = None,
) -> NestedModel:
    r"""The concurrent model: a macroscopic grid of `macro_shape` cells of size `spacing`,
    each carrying the RVE `micro` (phase indices, 2D or 3D, of physical edge length
    `period` along its first axis; cubic voxels) with its own micro temperatures.

    **Arguments:**

    - `capacities`: heat capacity per unit volume of each phase (a number, $>0$).
    - `conductivities`: each phase's conductivity: a number, a SymPy expression of the
        symbol named `T` (temperature-dependent, isotropic), or a $d\times d$ matrix of
        them; other symbols must get values in `params`.
    - `periodic`: per macroscopic axis: periodic, or insulated faces.
    - `coupling`: where a cell's macroscopic temperature is taken and where the heat from
        its neighbours arrives: `"boundary"` (the RVE's nodes on the faces across which the
        macroscopic gradient acts: heat enters through the cell boundary, as in the
        resolved body) or `"volume"` (every node alike).
    - `temperature_range`: the range the checks judge every conductivity law over (and
        where `model.state` accepts temperatures).
    - `reference_temperature`: where the RVE's correctors for the face term are computed
        (default: the geometric mean of the range); only T-dependent laws feel it.

    Macroscopic axis $a$ is the RVE's axis $a$; further RVE axes are transverse (a 2D RVE
    in a 1D macroscopic model stands for a strip one period wide).
    """
    micro = as_microstructure(micro)
    shape = macro(macro_shape, micro.ndim, "nested_conduction")
    voxel = positive_number(period, "nested_conduction: period") / micro.shape[0]
    return NestedModel(
        micro,
        capacities,
        conductivities,
        macro_shape,
        spacing=spacing,
        voxel=voxel,
        periodic=periodic,
        coupling=coupling,
        temperature_range=temperature_range,
        params=params,
        reference_temperature=reference_temperature,
        name=name or f"concurrent ({'x'.join(map(str, shape))} cells)",
    )


def resolved_conduction(
    micro: Any,
    capacities: Sequence[float],
    conductivities: Sequence[Any],
    macro_shape: Sequence[int],
    *,
    period: float,
    spacing: float,
    temperature_range: tuple[float, float] = (1e-3, 1e4),
    params: Mapping[sp.Symbol, float] | None = None,
    name: str | None = None,
) -> NestedModel:
    r"""The fully resolved reference: the periodic macroscopic domain of `macro_shape`
    cells of size `spacing` filled with copies of `micro` (`spacing` must be a whole
    number of periods), on the same voxel elements as the RVEs. It is a `NestedModel` with
    a single cell whose RVE is the whole domain (so no macroscopic gradient acts).
    [`coarse_temperature`][generic_mm.multiscale.coarse_temperature] gives its
    temperature per macroscopic cell."""
    micro = as_microstructure(micro)
    period = positive_number(period, "resolved_conduction: period")
    spacing = positive_number(spacing, "resolved_conduction: spacing")
    shape = macro(macro_shape, micro.ndim, "resolved_conduction")
    per_cell = spacing / period
    if abs(per_cell - round(per_cell)) > 1e-9 * per_cell or round(per_cell) < 1:
        raise InputError(
            f"resolved_conduction: spacing ({spacing:g}) must be a whole number of periods "
            f"({period:g})."
        )
    D = len(shape)
    reps = [m * round(per_cell) for m in shape] + [1] * (micro.ndim - D)
    tiled = np.tile(micro, reps)
    voxel = period / micro.shape[0]
    # One cell, periodic: its macroscopic gradient vanishes; its "spacing" only sets the
    # volume it stands for, which must be that of the tiled voxels.
    length = voxel * math.prod(tiled.shape[:D]) ** (1.0 / D)
    return NestedModel(
        tiled,
        capacities,
        conductivities,
        (1,) * D,
        spacing=length,
        voxel=voxel,
        periodic=True,
        coupling="volume",
        temperature_range=temperature_range,
        params=params,
        name=name or f"resolved ({'x'.join(map(str, tiled.shape))} voxels)",
    )


def hierarchical_conduction(
    micro: Any,
    capacities: Sequence[float],
    conductivities: Sequence[Any],
    macro_shape: Sequence[int],
    *,
    period: float,
    spacing: float,
    periodic: bool | Sequence[bool] = True,
    table: tuple[float, float, int] | None = None,
    params: Mapping[sp.Symbol, float] | None = None,
    tol: float = 1e-8,
    name: str | None = None,
) -> NestedModel:
    r"""The hierarchical model: the same macroscopic grid with the first-order effective
    properties, $\bar C = \sum_pf_pC_p$ and $K^\mathrm{eff}$ from
    [`effective_conductivity`][generic_mm.homogenization.effective_conductivity] (periodic),
    each macroscopic cell a single homogeneous node.

    With temperature-dependent conductivities the effective tensor depends on the
    macroscopic temperature: give `table=(T_low, T_high, points)`; $K^\mathrm{eff}$ is
    computed at `points` Chebyshev nodes of the range (one RVE solve each) and interpolated
    by the polynomial through them (the model's checks then cover that range only). The
    model's `table_temperatures` and `table_values` hold the table.
    """
    micro = as_microstructure(micro)
    d = micro.ndim
    shape = macro(macro_shape, d, "hierarchical_conduction")
    period = positive_number(period, "hierarchical_conduction: period")
    user = _user_params(params, "hierarchical_conduction")
    fractions = volume_fractions(micro)
    caps = [
        positive_number(c, f"hierarchical_conduction: capacities[{p}]")
        for p, c in enumerate(capacities)
    ]
    if len(caps) != len(fractions) or len(conductivities) != len(fractions):
        raise InputError(
            f"hierarchical_conduction: the microstructure has {len(fractions)} phases; give one "
            f"capacity and one conductivity per phase."
        )
    laws = [
        _law(k, d, set(user), f"hierarchical_conduction: conductivities[{p}]").xreplace(user)
        for p, k in enumerate(conductivities)
    ]
    C_bar = float(np.dot(fractions, caps))
    T = sp.Symbol(T_SYMBOL_NAME, positive=True)
    dependent = any(law.has(T) for law in laws)
    if dependent and table is None:
        raise InputError(
            "hierarchical_conduction: the conductivities depend on T: give table=(T_low, "
            "T_high, points) to tabulate the effective conductivity."
        )
    if table is not None and not dependent:
        raise InputError(
            "hierarchical_conduction: table= is given but no conductivity depends on T: the "
            "effective conductivity is computed once; drop table."
        )

    def effective(temperature: float) -> np.ndarray:
        K = []
        for p, law in enumerate(laws):
            value = np.asarray(law.subs(T, temperature).evalf(), dtype=complex)
            if not np.all(np.isfinite(value)) or np.any(np.imag(value) != 0):
                raise InputError(
                    f"hierarchical_conduction: conductivities[{p}] is not real and finite at "
                    f"T = {temperature:g}, a node of the table; narrow the table's range."
                )
            K.append(np.real(value))
        return np.asarray(effective_conductivity(micro, np.stack(K), tol=tol).tensor)

    if not dependent:
        nodes = values = np.zeros(0)
        law: Any = sp.ImmutableMatrix(effective(1.0))
        temperature_range = (1e-3, 1e4)
    else:
        assert table is not None
        lo, hi, count = _table(table)
        x = np.cos(np.pi * (np.arange(count) + 0.5) / count)[::-1]  # Chebyshev nodes
        nodes = lo + (hi - lo) * (x + 1) / 2
        values = np.stack([effective(float(t)) for t in nodes])
        X = (2 * T - (lo + hi)) / (hi - lo)
        law = sp.ImmutableMatrix(
            d,
            d,
            lambda i, j: _chebyshev(
                X, np.polynomial.chebyshev.chebfit(x, values[:, i, j], count - 1)
            ),
        )
        temperature_range = (lo, hi)
    D = len(shape)
    transverse = math.prod(period / micro.shape[0] * n for n in micro.shape[D:])
    return NestedModel(
        np.zeros((1,) * d, dtype=np.int32),
        [C_bar],
        [law],
        shape,
        spacing=spacing,
        voxel=transverse ** (1.0 / (d - D)) if d > D else spacing,
        periodic=periodic,
        coupling="volume",
        temperature_range=temperature_range,
        name=name or f"hierarchical ({'x'.join(map(str, shape))} cells)",
        table=(nodes, values) if dependent else None,
    )


def coarse_temperature(model: NestedModel, y: Any, macro_shape: Sequence[int]) -> np.ndarray:
    """The capacity-weighted mean temperature over each of `macro_shape` equal blocks of a
    resolved model's domain (its energy over its heat capacity per block), for states `y`
    `(..., n)`: what the concurrent and hierarchical models' `macro_temperature` gives."""
    shape = macro(macro_shape, model.dim, "coarse_temperature")
    D = len(shape)
    if model.macro_shape != (1,) * D:
        raise InputError(
            "coarse_temperature: expected a resolved model (one cell holding the whole "
            f"domain, from resolved_conduction), got {model.macro_shape} cells; a nested "
            "model's cell temperatures are model.macro_temperature(y)."
        )
    T = np.asarray(model.temperatures(y))
    C = np.asarray(model._functions().node_capacity(model._capacity_vector()))
    nodes = model.micro.shape
    if any(n % m for n, m in zip(nodes[:D], shape, strict=False)):
        raise InputError(
            f"coarse_temperature: the resolved grid {nodes} does not split into {shape} blocks."
        )
    lead = T.shape[: T.ndim - model.dim - D]
    T = T.reshape(lead + nodes)
    split = []
    for a, m in enumerate(shape):
        split += [m, nodes[a] // m]
    split += list(nodes[D:])
    E = (C * T).reshape(lead + tuple(split))
    Cb = np.broadcast_to(C, nodes).reshape(split)
    axes = tuple(1 + 2 * a for a in range(D)) + tuple(range(2 * D, len(split)))
    return E.sum(axis=tuple(len(lead) + a for a in axes)) / Cb.sum(axis=axes)


def _table(table) -> tuple[float, float, int]:
    try:
        lo, hi, count = table
    except (TypeError, ValueError):
        raise InputError(f"table: expected (T_low, T_high, points), got {table!r}.") from None
    lo = finite_number(lo, "table: T_low")
    hi = finite_number(hi, "table: T_high")
    if (
        not 0 < lo < hi
        or isinstance(count, bool)
        or not isinstance(count, int)
        or not 2 <= count <= 64
    ):
        raise InputError(
            f"table: expected 0 < T_low < T_high and 2 <= points <= 64 (an integer), got {table!r}."
        )
    return lo, hi, count


def _chebyshev(x: sp.Expr, coefficients: np.ndarray) -> sp.Expr:
    """$\\sum_k c_kT_k(x)$ by the three-term recurrence (no expansion into powers)."""
    prev, cur = sp.Integer(1), x
    total = sp.Float(coefficients[0])
    for k, c in enumerate(coefficients[1:], start=1):
        if k > 1:
            prev, cur = cur, 2 * x * cur - prev
        total = total + sp.Float(c) * cur
    return total
