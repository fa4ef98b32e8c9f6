"""`Trajectory`: a solution with its energy, entropy and entropy production."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._custom_types import (
    BatchedCount,
    BatchedScalar,
    FieldSeries,
    Flags,
    Series,
    StateSeries,
    Times,
)
from ._layout import StateLayout


class Trajectory(eqx.Module):
    r"""The result of [`generic_mm.simulate`][].

    A PyTree (an `equinox.Module`), so it can be returned from jitted or differentiated
    functions. For an ensemble of `B` members every array has a leading axis `B`.

    **Attributes:**

    - `ts`: saved times, shape `(T,)` (or `(B, T)` when saving at the solver's steps).
    - `ys`: states, shape `(T, n)` or `(B, T, n)`; `traj["q"]` selects one variable.
    - `energy`, `entropy`, `entropy_production`: $E$, $S$ and
        $\nabla S\cdot M\nabla S$ at the saved times, shape `(T,)` or `(B, T)`.
    - `layout`: how `ys` is made of named variables (or, for structured models, fields);
        `state_names` lists the names.
    - `energy_tolerance`: the drift of $E$ above which a saved step is flagged
        (`10 (rtol |E_0| + atol)` from the solve's tolerances).
    - `num_steps`: the number of solver steps taken.
    """

    ts: Times
    ys: StateSeries
    energy: Series
    entropy: Series
    entropy_production: Series
    energy_tolerance: BatchedScalar
    entropy_tolerance: BatchedScalar
    num_steps: BatchedCount
    layout: StateLayout = eqx.field(static=True)

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the state variables (structured models: of the fields)."""
        return self.layout.names

    def __getitem__(self, name: str) -> FieldSeries:
        """The time series of the state variable `name`; for a structured model, of the
        field `name`, with the field's shape after the time axis (e.g. `(T, nx, ny)`)."""
        return self.layout.select(self.ys, name)

    @property
    def _valid(self) -> Flags:
        # Saving at solver steps pads unused slots with inf.
        return jnp.isfinite(self.ts)

    @property
    def entropy_decreased(self) -> Flags:
        """Per saved step: did $S$ fall below the previous saved value (beyond tolerance)?"""
        s = self.entropy
        drop = s[..., :-1] - s[..., 1:] > self.entropy_tolerance[..., None]
        valid = self._valid[..., 1:] & self._valid[..., :-1]
        first = jnp.zeros(s.shape[:-1] + (1,), dtype=bool)
        return jnp.concatenate([first, drop & valid], axis=-1)

    @property
    def energy_drifted(self) -> Flags:
        """Per saved step: has $E$ moved from its initial value by more than `energy_tolerance`?"""
        drift = jnp.abs(self.energy - self.energy[..., :1])
        return (drift > self.energy_tolerance[..., None]) & self._valid

    @property
    def energy_drift(self) -> BatchedScalar:
        r"""The largest relative energy drift $\max_t |E(t) - E(0)| / |E(0)|$."""
        drift = jnp.where(self._valid, jnp.abs(self.energy - self.energy[..., :1]), 0.0)
        return drift.max(axis=-1) / jnp.maximum(jnp.abs(self.energy[..., 0]), 1e-300)

    @property
    def entropy_produced(self) -> BatchedScalar:
        """$S(t_{end}) - S(t_0)$, with $t_{end}$ the last saved time (negative when $S$
        fell, which only an inconsistent model run with `check=False` can do)."""
        # The last valid slot (saving at solver steps pads the rest with inf times).
        count = jnp.sum(self._valid, axis=-1)
        last = jnp.maximum(count - 1, 0)
        final = jnp.take_along_axis(self.entropy, last[..., None], axis=-1)[..., 0]
        return final - self.entropy[..., 0]

    @property
    def ok(self) -> bool:
        """`True` when no saved step has $S$ decreasing or $E$ drifting beyond tolerance."""
        return not bool(jnp.any(self.entropy_decreased) | jnp.any(self.energy_drifted))

    def summary(self) -> str:
        """A few lines: final state, energy drift, entropy produced, flags."""
        lines = []
        ys = np.asarray(self.ys)
        if ys.ndim == 3:
            lines.append(f"ensemble of {ys.shape[0]} members, {ys.shape[1]} saved times")
            lines.append(f"max relative energy drift: {float(np.max(self.energy_drift)):.3e}")
            produced = np.asarray(self.entropy_produced)
            lines.append(f"entropy produced: min {produced.min():.6g}, max {produced.max():.6g}")
        else:
            valid = np.isfinite(np.asarray(self.ts))
            last = int(np.nonzero(valid)[0][-1])
            lines.append(f"t = {float(self.ts[last]):.6g}: {self.layout.describe(ys[last])}")
            lines.append(
                f"E: {float(self.energy[0]):.12g} -> {float(self.energy[last]):.12g} "
                f"(relative drift {float(self.energy_drift):.3e})"
            )
            lines.append(
                f"S: {float(self.entropy[0]):.12g} -> {float(self.entropy[last]):.12g} "
                f"(entropy produced {float(self.entropy_produced):.6g})"
            )
        lines.append(f"solver steps: {np.asarray(self.num_steps).max()}")
        n_dec = int(np.sum(np.asarray(self.entropy_decreased)))
        n_drift = int(np.sum(np.asarray(self.energy_drifted)))
        if n_dec or n_drift:
            lines.append(
                f"WARNING: {n_dec} saved step(s) with S decreasing and {n_drift} with E drifting "
                "beyond the solver tolerance"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Trajectory(state={list(self.state_names)}, ys.shape={tuple(self.ys.shape)})"
