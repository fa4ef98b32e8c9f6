r"""Resolved, concurrent, hierarchical and two-temperature models of one macroscopic
transient, side by side: `compare_models`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import diffrax
import numpy as np

from .._errors import InputError
from .._simulate import simulate
from .._validate import finite_number
from ..composites import Composite, Interface, Phase
from ..homogenization import as_microstructure, volume_fractions
from ..structured import Grid
from ._builders import (
    coarse_temperature,
    hierarchical_conduction,
    nested_conduction,
    resolved_conduction,
)


@dataclasses.dataclass(frozen=True)
class Comparison:
    r"""The outcome of [`compare_models`][generic_mm.multiscale.compare_models].

    - `times`: the saved times; `resolved`: the resolved model's temperature per block
        `(times, blocks)`; `models`: name -> the same for each other model
        (`"concurrent"`, `"hierarchical"`, and `"two-temperature"` when asked for).
    - `errors`: name -> the largest 2-norm deviation, over the saved times, of its per-block
        temperatures from the resolved ones, divided by the 2-norm of the initial
        disturbance (the resolved temperatures at time 0 minus their mean).
    - `seconds`: name (including `"resolved"`) -> wall time of its simulation (a second
        call: compilation excluded) plus, for `"hierarchical"` with a table, the table's
        construction (`"table"` on its own).
    - `hill_mandel`: the concurrent model's Hill-Mandel residual at every saved time.
    - `time_ratio`: the micro diffusion time over the macroscopic one: the decay time of a
        mode of wavelength $\ell$ (the period) in the slowest phase,
        $\max_pC_p\ell^2/(4\pi^2k_p)$, times the decay rate $\lambda$ of the hierarchical
        model's mode; `length_ratio`: period over wavelength.
    """

    times: np.ndarray
    resolved: np.ndarray
    models: dict[str, np.ndarray]
    errors: dict[str, float]
    seconds: dict[str, float]
    hill_mandel: np.ndarray
    time_ratio: float
    length_ratio: float


def compare_models(
    micro: Any,
    capacities: Sequence[float],
    conductivities: Sequence[Any],
    periods: int,
    *,
    macro_cells: int | None = None,
    period: float = 1.0,
    T0: float = 1.0,
    amplitude: float = 0.1,
    t1: float | None = None,
    saves: int = 21,
    table: tuple[float, float, int] | None = None,
    exchange: float | None = None,
    networks: Sequence[float] | None = None,
    rtol: float = 1e-5,
    solver: diffrax.AbstractSolver | None = None,
    check: bool = True,
    repeat: bool = True,
) -> Comparison:
    r"""A periodic macroscopic ring one wavelength $L$ = `periods * period` long, starting
    from $T_0 + A\cos(2\pi x/L)$ (uniform over blocks of `min(periods, macro_cells)`),
    simulated by the resolved model (every period of the ring), the concurrent (nested)
    model and the hierarchical model with `macro_cells` cells per wavelength (default
    `periods`: one RVE per period; fewer: each RVE stands for several periods; more: a
    finer macroscopic grid), all on the same voxel elements; temperatures are compared per
    block. With `exchange` ($H$, per unit volume and kelvin) also the two-temperature model
    of `generic_mm.composites` (two phases; `networks`: each phase's macroscopic
    conductivity, default $f_pk_p$) on the macroscopic grid.

    The macroscopic models' decay rate carries the grid's own error, a factor
    $\mathrm{sinc}^2(\pi/N)$ with $N$ = `macro_cells` (1.3 % at 16, 0.3 % at 32): the
    floor of every macroscopic model's error. `t1` defaults to two decay times of the
    hierarchical model's mode. Conductivities that depend on `T` need `table` for the
    hierarchical model (see
    [`hierarchical_conduction`][generic_mm.multiscale.hierarchical_conduction]).
    `solver` integrates every model (default `diffrax.Kvaerno5()`; the tolerances are
    `rtol` and `atol` = `1e-3 * rtol`). `check=False` skips the models' consistency checks;
    `repeat=False` times the first simulation of each model, compilation included, instead
    of a second one (both only to save time: a tutorial's small run, which also passes the
    explicit `diffrax.Tsit5()`, cheaper to compile).
    """
    micro = as_microstructure(micro)
    periods = _count(periods, "periods")
    cells = periods if macro_cells is None else _count(macro_cells, "macro_cells")
    blocks = min(periods, cells)
    if max(periods, cells) % blocks:
        raise InputError(
            f"compare_models: periods ({periods}) and macro_cells ({cells}) must divide one "
            "another."
        )
    if isinstance(saves, bool) or not isinstance(saves, (int, np.integer)) or saves < 2:
        raise InputError(f"compare_models: saves must be an integer >= 2, got {saves!r}.")
    rtol = finite_number(rtol, "compare_models: rtol")
    if not 0 < rtol < 1:
        raise InputError(f"compare_models: rtol must be in (0, 1), got {rtol!r}.")
    if exchange is not None:
        exchange = finite_number(exchange, "compare_models: exchange")
        _constant_scalars(conductivities)
    period = finite_number(period, "compare_models: period")
    amplitude = finite_number(amplitude, "compare_models: amplitude")
    T0 = finite_number(T0, "compare_models: T0")
    if not 0 < abs(amplitude) < T0:
        raise InputError("compare_models: need 0 < |amplitude| < T0 (temperatures stay > 0).")
    x = (np.arange(blocks) + 0.5) / blocks
    profile = T0 + amplitude * np.cos(2 * np.pi * x)
    H = period * periods / cells
    common: dict[str, Any] = dict(period=period, spacing=H)
    started = time.perf_counter()
    hier = hierarchical_conduction(
        micro, capacities, conductivities, (cells,), table=table, **common
    )
    table_s = time.perf_counter() - started if table is not None else 0.0
    conc = nested_conduction(micro, capacities, conductivities, (cells,), **common)
    res = resolved_conduction(
        micro, capacities, conductivities, (periods,), period=period, spacing=period
    )
    C_bar = float(np.dot(volume_fractions(micro), capacities))
    k_eff = float(_at(hier.laws[0], T0)[0, 0])
    rate = k_eff * (2 * np.sin(np.pi / cells) / H) ** 2 / C_bar
    end = 2.0 / rate if t1 is None else finite_number(t1, "compare_models: t1")
    if end <= 0:
        raise InputError(f"compare_models: t1 must be > 0, got {t1!r}.")
    times = np.linspace(0.0, end, saves)
    solve: dict[str, Any] = dict(
        t1=end,
        saveat=times,
        solver=diffrax.Kvaerno5() if solver is None else solver,
        rtol=rtol,
        atol=rtol * 1e-3,
    )

    def run(model, y0, tighter: float = 1.0):
        options = dict(solve, rtol=solve["rtol"] * tighter, atol=solve["atol"] * tighter)
        if repeat:
            simulate(model, y0, check=check, **options)  # checks and compiles (cached)
        start = time.perf_counter()
        traj = simulate(model, y0, check=check, **options)
        return traj, time.perf_counter() - start

    per_block = np.repeat(profile, periods // blocks)
    along = np.repeat(per_block, micro.shape[0]).reshape((-1,) + (1,) * (micro.ndim - 1))
    t_res, s_res = run(res, res.state(along))
    reference = coarse_temperature(res, np.asarray(t_res.ys), (blocks,))
    fine = np.repeat(profile, cells // blocks)
    t_conc, s_conc = run(conc, conc.state(fine))
    t_hier, s_hier = run(hier, hier.state(fine))

    def coarse(T):  # equal capacities per macroscopic cell: plain means
        return np.asarray(T).reshape(len(times), blocks, cells // blocks).mean(axis=2)

    models = {
        "concurrent": coarse(conc.macro_temperature(np.asarray(t_conc.ys))),
        "hierarchical": coarse(hier.macro_temperature(np.asarray(t_hier.ys))),
    }
    seconds = {"resolved": s_res, "concurrent": s_conc, "hierarchical": s_hier + table_s}
    if table is not None:
        seconds["table"] = table_s
    if exchange is not None:
        T2, seconds["two-temperature"] = _two_temperature(
            micro, capacities, conductivities, cells, H, fine, T0, exchange, networks, run
        )
        models["two-temperature"] = coarse(T2)
    scale = np.linalg.norm(reference[0] - reference[0].mean())
    errors = {
        k: float(np.max(np.linalg.norm(v - reference, axis=1)) / scale) for k, v in models.items()
    }
    slowest = max(
        c / float(np.max(np.abs(_at(law, T0))))
        for c, law in zip(capacities, conc.laws, strict=True)
    )
    return Comparison(
        times=times,
        resolved=reference,
        models=models,
        errors=errors,
        seconds=seconds,
        hill_mandel=np.asarray(t_conc.observables["hill_mandel"]),
        time_ratio=slowest * period**2 / (4 * np.pi**2) * rate,
        length_ratio=1.0 / periods,
    )


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 3:
        raise InputError(f"compare_models: {where} must be an integer >= 3, got {value!r}.")
    return int(value)


def _at(law, T: float) -> np.ndarray:
    """A conductivity law (a matrix of the temperature symbol) at the temperature `T`."""
    return np.asarray(law.xreplace({s: T for s in law.free_symbols}).evalf(), dtype=float)


def _constant_scalars(conductivities) -> list[float]:
    """The phases' conductivities as numbers (the two-temperature model's phases are
    isotropic and temperature-independent)."""
    out = []
    for p, k in enumerate(conductivities):
        try:
            out.append(float(k))
        except (TypeError, ValueError):
            raise InputError(
                f"compare_models: the two-temperature model (exchange=) needs constant scalar "
                f"conductivities; conductivities[{p}] is {k!r}."
            ) from None
    return out


def _two_temperature(
    micro, capacities, conductivities, cells, spacing, profile, T0, exchange, networks, run
):
    fractions = volume_fractions(micro)
    if len(fractions) != 2:
        raise InputError("compare_models: the two-temperature model needs exactly two phases.")
    ks = _constant_scalars(conductivities)
    phases = [
        Phase(f"p{p}", fraction=float(f), conductivity=ks[p], heat_capacity=float(c), T0=T0)
        for p, (f, c) in enumerate(zip(fractions, capacities, strict=True))
    ]
    composite = Composite(phases, [Interface("p0", "p1", h_av=exchange)], name="two-temperature")
    grid = Grid((cells,), periodic=True, spacing=spacing)
    K = None if networks is None else {f"p{p}": float(k) for p, k in enumerate(networks)}
    model = composite.structured(grid, conductivities=K)
    y0 = composite.field_state(grid, {"p0": profile, "p1": profile})
    # The structured model's energy drifts at the solver's tolerance: ten times tighter.
    traj, seconds = run(model, y0, tighter=0.1)
    T = {p: np.asarray(traj.grad_energy[f"S_p{p}"]) for p in (0, 1)}
    weights = [f * c for f, c in zip(fractions, capacities, strict=True)]
    return (weights[0] * T[0] + weights[1] * T[1]) / sum(weights), seconds
