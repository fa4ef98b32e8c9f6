"""`Trajectory`: a solution with its energy, entropy, entropy production (total and per
process), observables and conjugate variables; saved and loaded as `.npz` (or `.csv`)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

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
from ._errors import InputError
from ._expressions import closest
from ._files import writable_target, write_atomic
from ._layout import Block, StateLayout

FORMAT = "generic_mm.trajectory/1"
"""The `format` entry of a saved trajectory (`.npz`); see `Trajectory.save`."""


class Conjugates(eqx.Module):
    """The conjugate variables $\\nabla E$ or $\\nabla S$ along a trajectory.

    `conj["s"]` is the series of $\\partial E/\\partial s$ (or $\\partial S/\\partial s$)
    for the state variable `s` (for a structured model, a field, shape `(T, *field)`);
    `np.asarray(conj)` or `conj.values` is the whole array, shape `(T, n)` or `(B, T, n)`;
    other indices (`conj[:, 0]`) index that array.
    """

    values: StateSeries
    layout: StateLayout = eqx.field(static=True)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.layout.select(self.values, key)
        return self.values[key]

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self.values)
        return out if dtype is None else out.astype(dtype)

    def __jax_array__(self):
        return self.values

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def __repr__(self) -> str:
        return f"Conjugates({list(self.layout.names)}, shape={self.shape})"


class Trajectory(eqx.Module):
    r"""The result of [`generic_mm.simulate`][].

    A PyTree (an `equinox.Module`), so it can be returned from jitted or differentiated
    functions. For an ensemble of `B` members every array has a leading axis `B`.

    **Attributes:**

    - `ts`: saved times, shape `(T,)` (or `(B, T)` when saving at the solver's steps).
    - `ys`: states, shape `(T, n)` or `(B, T, n)`; `traj["q"]` selects one variable.
    - `energy`, `entropy`, `entropy_production`: $E$, $S$ and
        $\nabla S\cdot M\nabla S$ at the saved times, shape `(T,)` or `(B, T)`.
    - `entropy_production_by_process`: process name -> $\nabla S\cdot M_k\nabla S$, each
        shaped like `entropy_production`, summing to it (a model with one unnamed friction
        operator has the single process `friction`; a structured model one per interaction
        with friction).
    - `observables`: name -> the model's observables at the saved times (`traj["T"]` gives
        one); per-cell observables of structured models are fields, `(T, *shape)`.
    - `grad_energy`, `grad_entropy`: the conjugate variables, e.g. `traj.grad_energy["s"]`
        is the temperature $\partial E/\partial s$ of an entropy variable `s`
        ([`generic_mm.Conjugates`][]).
    - `params`: the parameter values the run used (name -> array).
    - `name`, `units`: the model's name and declared units (name -> unit).
    - `layout`: how `ys` is made of named variables (or, for structured models, fields);
        `state_names` lists the names.
    - `energy_tolerance`: the drift of $E$ above which a saved step is flagged
        (`10 (rtol |E_0| + atol)` from the solve's tolerances).
    - `num_steps`: the number of solver steps taken.
    - `noise`: $k_B$ of a stochastic run (`None` for a deterministic one).
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
    production_parts: dict[str, Series] = eqx.field(default_factory=dict)
    observable_values: dict[str, FieldSeries] = eqx.field(default_factory=dict)
    conjugates: tuple[StateSeries, StateSeries] | None = None
    params: dict[str, Any] = eqx.field(default_factory=dict)
    name: str = eqx.field(static=True, default="GENERIC model")
    unit_items: tuple[tuple[str, str], ...] = eqx.field(static=True, default=())
    # JAX sorts dict keys when it flattens a PyTree: the model's order is kept here.
    process_names: tuple[str, ...] = eqx.field(static=True, default=())
    observable_names: tuple[str, ...] = eqx.field(static=True, default=())
    noise: float | None = eqx.field(static=True, default=None)

    @property
    def entropy_production_by_process(self) -> dict[str, Series]:
        """Process name -> its entropy production, in the model's order (see the class
        docstring)."""
        return {k: self.production_parts[k] for k in self.process_names}

    @property
    def observables(self) -> dict[str, FieldSeries]:
        """Observable name -> its series, in the model's order."""
        return {k: self.observable_values[k] for k in self.observable_names}

    @property
    def units(self) -> dict[str, str]:
        """Name (state variable, parameter, observable) -> unit, as the model declares them."""
        return dict(self.unit_items)

    @property
    def grad_energy(self) -> Conjugates:
        r"""$\nabla E$ at the saved times: `traj.grad_energy["s"]` per variable or field."""
        return Conjugates(self._conjugate(0), self.layout)

    @property
    def grad_entropy(self) -> Conjugates:
        r"""$\nabla S$ at the saved times: `traj.grad_entropy["s"]` per variable or field."""
        return Conjugates(self._conjugate(1), self.layout)

    def _conjugate(self, k: int):
        if self.conjugates is None:
            raise InputError(
                "this trajectory carries no conjugate variables (it was built by hand or "
                "loaded from a file without them)."
            )
        return self.conjugates[k]

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the state variables (structured models: of the fields)."""
        return self.layout.names

    def __getitem__(self, name: str) -> FieldSeries:
        """The time series of the state variable or observable `name`; for a structured
        model, of the field `name`, with the field's shape after the time axis (e.g.
        `(T, nx, ny)`)."""
        if isinstance(name, str) and name in self.observable_values:
            return self.observable_values[name]
        try:
            return self.layout.select(self.ys, name)
        except InputError:
            if not self.observables:
                raise
            known = [*self.layout.names, *self.observables]
            raise InputError(
                f"trajectory[{name!r}]: not a state variable or observable"
                f"{closest(str(name), known)}; the state is {list(self.layout.names)}, the "
                f"observables {list(self.observables)}."
            ) from None

    @property
    def _valid(self) -> Flags:
        # Saving at solver steps pads unused slots with inf; an ensemble over parameters
        # shares one time axis.
        return jnp.broadcast_to(jnp.isfinite(self.ts), self.entropy.shape)

    @property
    def entropy_decreased(self) -> Flags:
        r"""Per saved step: did $S$ fall below the previous saved value (beyond tolerance)?

        Never flagged in a stochastic run: there $S$ fluctuates and may fall along a path
        (the production $\nabla S\cdot M\nabla S$ stays non-negative)."""
        s = self.entropy
        if self.noise is not None:
            return jnp.zeros(s.shape, dtype=bool)
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
        r"""The largest relative energy drift $\max_t |E(t) - E(0)| / \max_t |E(t)|$
        (relative to $|E(0)|$ unless the energy starts at or near zero)."""
        drift = jnp.where(self._valid, jnp.abs(self.energy - self.energy[..., :1]), 0.0)
        scale = jnp.where(self._valid, jnp.abs(self.energy), 0.0).max(axis=-1)
        scale = jnp.maximum(jnp.abs(self.energy[..., 0]), scale)
        return drift.max(axis=-1) / jnp.maximum(scale, 1e-300)

    @property
    def entropy_produced(self) -> BatchedScalar:
        """$S(t_{end}) - S(t_0)$, with $t_{end}$ the last saved time (negative when $S$
        fell: along a path of a stochastic run, or in a deterministic run only for an
        inconsistent model run with `check=False`)."""
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
            members = "member" if ys.shape[0] == 1 else "members"
            lines.append(f"ensemble of {ys.shape[0]} {members}, {ys.shape[1]} saved times")
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
        if self.noise is not None:
            kept = bool(np.all(np.isfinite(np.asarray(self.energy_tolerance))))
            why = (
                "the solver keeps E to its tolerance"
                if kept
                else "the solver's discretisation error (the exact paths conserve E)"
            )
            lines.append(
                f"stochastic (kB = {self.noise:g}): S fluctuates along the paths (not flagged); "
                f"E moved by up to {float(np.max(self.energy_drift)):.3e} (relative) on a "
                f"path: {why}"
            )
        n_dec = int(np.sum(np.asarray(self.entropy_decreased)))
        n_drift = int(np.sum(np.asarray(self.energy_drifted)))
        if n_dec or n_drift:
            lines.append(
                f"WARNING: {n_dec} saved step(s) with S decreasing and {n_drift} with E drifting "
                "beyond the solver tolerance"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        shape = tuple(self.ys.shape)
        parts = [repr(self.name)]
        if len(shape) == 3:
            parts.append(f"ensemble of {shape[0]}")
        concrete = _concrete(self.ys)
        times = f"{shape[-2]} saved times"
        if concrete:
            ts = np.asarray(self.ts)
            finite = ts[np.isfinite(ts)]
            if finite.size:
                times += f" t = {finite.min():.6g}..{finite.max():.6g}"
        parts.append(times)
        parts.append(f"state {list(self.state_names)}")
        if self.observables:
            parts.append(f"observables {list(self.observables)}")
        if self.entropy_production_by_process:
            parts.append(f"processes {list(self.entropy_production_by_process)}")
        if concrete:
            drift = np.max(np.asarray(self.energy_drift))
            produced = np.asarray(self.entropy_produced)
            span = f"{produced.min():.6g}" + (
                f"..{produced.max():.6g}" if produced.size > 1 else ""
            )
            parts.append(f"relative E drift {drift:.2e}, entropy produced {span}")
        return "Trajectory(" + ", ".join(parts) + ")"

    # -- files ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trajectory to `path`, atomically (never a half-written file).

        - `.npz` (any trajectory; read back with [`generic_mm.load_trajectory`][]): the
            arrays `ts`, `ys`, `energy`, `entropy`, `entropy_production`, `grad_energy`,
            `grad_entropy`, `energy_tolerance`, `entropy_tolerance`, `num_steps`, one array
            `observable/<name>` per observable and `entropy_production/<process>` per
            process, `param_values/<name>` per parameter (the names of learned parts, whose
            weights are the model's, in `learned_param_names`), `noise` ($k_B$ of a stochastic
            run, NaN for a deterministic one); the strings `format`
            (`"generic_mm.trajectory/1"`), `name`, `layout` and `units` (JSON), and the name
            lists `state_names`, `observable_names`, `process_names`, `param_names`. An
            ensemble has a leading member axis on every series.
        - `.csv` (a single run of a flat model): two comment lines (`# generic_mm.trajectory/1
            name: "<model name>"`, `# units: {...}`, JSON), then one row per saved time,
            columns `t`, the state variables, `E`, `S`, `entropy_production`, the
            observables, `entropy_production[<process>]` per process, then the conjugates
            `dE/d<x>` and `dS/d<x>` per state variable.

        **Returns:** the path written. **Raises:** `InputError` for another suffix, a
        missing folder, or a `.csv` of an ensemble or structured model.
        """
        target = writable_target(path, "save")
        if target.suffix == ".npz":
            data = self._npz_bytes()
        elif target.suffix == ".csv":
            data = self._csv_bytes(target)
        else:
            raise InputError(
                f"save {target}: unsupported suffix {target.suffix!r}; use .npz (any "
                "trajectory) or .csv (a single run of a flat model)."
            )
        return write_atomic(target, data)

    def _npz_bytes(self) -> bytes:
        # A learned part (an equinox.Module parameter) is a model's, not a trajectory's: its
        # name is listed, its weights are not stored (equinox.tree_serialise_leaves does).
        learned = [k for k, v in self.params.items() if isinstance(v, eqx.Module)]
        numeric = {k: v for k, v in self.params.items() if k not in learned}
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT),
            "name": np.array(self.name),
            "layout": np.array(json.dumps(_layout_json(self.layout))),
            "units": np.array(json.dumps(self.units)),
            "state_names": np.array(self.state_names, dtype=str),
            "observable_names": np.array(self.observable_names, dtype=str),
            "process_names": np.array(self.process_names, dtype=str),
            "param_names": np.array(list(numeric), dtype=str),
            "learned_param_names": np.array(learned, dtype=str),
            "noise": np.array(np.nan if self.noise is None else self.noise),
        }
        for key in (
            "ts",
            "ys",
            "energy",
            "entropy",
            "entropy_production",
            "energy_tolerance",
            "entropy_tolerance",
            "num_steps",
        ):
            arrays[key] = np.asarray(getattr(self, key))
        if self.conjugates is not None:
            arrays["grad_energy"] = np.asarray(self.conjugates[0])
            arrays["grad_entropy"] = np.asarray(self.conjugates[1])
        for k, v in self.observables.items():
            arrays[f"observable/{k}"] = np.asarray(v)
        for k, v in self.entropy_production_by_process.items():
            arrays[f"entropy_production/{k}"] = np.asarray(v)
        for k, v in numeric.items():
            arrays[f"param_values/{k}"] = np.asarray(v)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def _csv_bytes(self, target: Path) -> bytes:
        if np.ndim(self.ys) != 2 or not self.layout.is_flat:
            raise InputError(
                f"save {target}: .csv holds a single run of a flat model (one column per "
                "variable); this trajectory is an ensemble or has fields: use .npz."
            )
        reserved = ("t", "E", "S", "entropy_production")
        names = [*self.state_names, *self.observables]
        clash = [k for k in names if k in reserved or k.startswith(("dE/", "dS/"))]
        if clash:
            raise InputError(
                f"save {target}: {clash[0]!r} has the name of a fixed .csv column "
                f"({', '.join(reserved)}); use .npz."
            )
        columns = {"t": self.ts}
        columns.update({n: self[n] for n in self.state_names})
        columns.update(E=self.energy, S=self.entropy, entropy_production=self.entropy_production)
        columns.update(self.observables)
        columns.update(
            {f"entropy_production[{k}]": v for k, v in self.entropy_production_by_process.items()}
        )
        if self.conjugates is not None:
            columns.update({f"dE/d{n}": self.grad_energy[n] for n in self.state_names})
            columns.update({f"dS/d{n}": self.grad_entropy[n] for n in self.state_names})
        table = np.column_stack([np.asarray(v, dtype=float) for v in columns.values()])
        buf = io.BytesIO()
        # Two comment lines carry what the columns cannot: the model's name and units.
        meta = f"# {FORMAT} name: {json.dumps(self.name)}\n# units: {json.dumps(self.units)}\n"
        buf.write(meta.encode())
        np.savetxt(buf, table, delimiter=",", header=",".join(columns), comments="", fmt="%.17g")
        return buf.getvalue()


def _concrete(a) -> bool:
    from ._validate import is_traced

    return not is_traced(a)


def _layout_json(layout: StateLayout) -> list[dict[str, Any]]:
    return [
        {"name": b.name, "variables": list(b.variables), "shape": list(b.shape), "offset": b.offset}
        for b in layout.blocks
    ]


def _layout_from_json(text: str, where: str) -> StateLayout:
    try:
        blocks = json.loads(text)
        out = tuple(
            Block(
                None if b["name"] is None else str(b["name"]),
                tuple(str(v) for v in b["variables"]),
                tuple(int(k) for k in b["shape"]),
                int(b["offset"]),
            )
            for b in blocks
        )
    except (ValueError, TypeError, KeyError) as err:
        raise InputError(f"{where}: the entry 'layout' is not a state layout ({err}).") from None
    return StateLayout(out)


def load_trajectory(path: str | os.PathLike) -> Trajectory:
    """Read a trajectory written by [`generic_mm.Trajectory.save`][] or by `generic-mm run`
    (`.npz`; `.csv` of a single flat run).

    **Raises:** `InputError` naming the file and entry when the file is missing, not a
    trajectory, or inconsistent (e.g. a column count that does not match the names).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"load_trajectory {path}: no such file.")
    if path.suffix == ".npz":
        return _load_npz(path)
    if path.suffix == ".csv":
        return _load_csv(path)
    raise InputError(
        f"load_trajectory {path}: expected a .npz or .csv file written by Trajectory.save or "
        "`generic-mm run`."
    )


def _load_npz(path: Path) -> Trajectory:
    where = f"load_trajectory {path}"
    try:
        with np.load(path, allow_pickle=False) as data:
            entries = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"{where}: not a readable .npz file ({err}).") from None

    def need(key: str) -> np.ndarray:
        if key not in entries:
            raise InputError(f"{where}: missing the entry {key!r}; not a generic_mm trajectory.")
        return entries[key]

    fmt = str(need("format"))
    if fmt != FORMAT:
        raise InputError(f"{where}: format {fmt!r} is not {FORMAT!r}.")
    layout = _layout_from_json(str(need("layout")), where)
    names = [str(n) for n in need("state_names")]
    if names != list(layout.names):
        raise InputError(
            f"{where}: state_names {names} do not match the layout's {list(layout.names)}."
        )
    ys = np.asarray(need("ys"), dtype=float)
    if ys.ndim not in (2, 3) or ys.shape[-1] != layout.n:
        raise InputError(
            f"{where}: 'ys' has shape {ys.shape}; expected (T, {layout.n}) or (B, T, "
            f"{layout.n}) for the state {names}."
        )
    series_shape = ys.shape[:-1]

    def series(key: str, shape=series_shape) -> jnp.ndarray:
        a = np.asarray(need(key), dtype=float)
        if a.shape[: len(shape)] != tuple(shape):
            raise InputError(
                f"{where}: {key!r} has shape {a.shape}; expected it to start with {shape} like 'ys'."
            )
        return jnp.asarray(a)

    try:
        units = json.loads(str(need("units")))
        if not isinstance(units, dict):
            raise ValueError("not an object")
    except ValueError as err:
        raise InputError(f"{where}: the entry 'units' is not a JSON object ({err}).") from None
    conj = None
    if "grad_energy" in entries:
        conj = (series("grad_energy", ys.shape), series("grad_entropy", ys.shape))
    batch = ys.shape[:-2]
    return Trajectory(
        ts=series("ts", ys.shape[-2:-1]) if need("ts").ndim == 1 else series("ts"),
        ys=jnp.asarray(ys),
        energy=series("energy"),
        entropy=series("entropy"),
        entropy_production=series("entropy_production"),
        energy_tolerance=series("energy_tolerance", batch),
        entropy_tolerance=series("entropy_tolerance", batch),
        num_steps=jnp.asarray(np.asarray(need("num_steps")).astype(np.int64)),
        layout=layout,
        production_parts={str(k): series(f"entropy_production/{k}") for k in need("process_names")},
        observable_values={str(k): series(f"observable/{k}") for k in need("observable_names")},
        process_names=tuple(str(k) for k in need("process_names")),
        observable_names=tuple(str(k) for k in need("observable_names")),
        conjugates=conj,
        params={str(k): jnp.asarray(need(f"param_values/{k}")) for k in need("param_names")},
        name=str(need("name")),
        unit_items=tuple((str(k), str(v)) for k, v in units.items()),
        noise=_noise_entry(entries, where),
    )


def _noise_entry(entries: dict, where: str) -> float | None:
    """kB of a stochastic run (`nan`, or no entry in older files: deterministic)."""
    if "noise" not in entries:
        return None
    try:
        value = float(entries["noise"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: the entry 'noise' is not a number.") from None
    if np.isnan(value):
        return None
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{where}: the entry 'noise' (kB) must be positive, got {value}.")
    return value


def _load_csv(path: Path) -> Trajectory:
    where = f"load_trajectory {path}"
    try:
        text = path.read_text()
        lines = text.splitlines()
        meta = [line for line in lines[:2] if line.startswith("#")]
        header = lines[len(meta)].split(",")
        table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=len(meta) + 1, ndmin=2)
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as err:
        raise InputError(f"{where}: not a readable .csv table ({err}).") from None
    name, units = path.stem, {}
    try:
        for line in meta:
            if " name: " in line:
                name = str(json.loads(line.split(" name: ", 1)[1]))
            elif line.startswith("# units: "):
                units = {str(k): str(v) for k, v in json.loads(line[len("# units: ") :]).items()}
    except (ValueError, AttributeError) as err:
        raise InputError(f"{where}: unreadable name or units comment ({err}).") from None
    if table.shape[1] != len(header):
        raise InputError(
            f"{where}: {table.shape[1]} columns of numbers but {len(header)} names in the header."
        )
    fixed = ("E", "S", "entropy_production")
    if not header or header[0] != "t" or any(f not in header for f in fixed):
        raise InputError(
            f"{where}: the header must start with t and contain E, S, entropy_production "
            "(as Trajectory.save writes it)."
        )
    i_e = header.index("E")
    if header[i_e : i_e + 3] != list(fixed):
        raise InputError(f"{where}: expected the columns E, S, entropy_production together.")
    states = header[1:i_e]
    rest = header[i_e + 3 :]
    conj = [h for h in rest if h.startswith(("dE/d", "dS/d"))]
    procs = [h for h in rest if h.startswith("entropy_production[")]
    obs = [h for h in rest if h not in conj and h not in procs]
    expected_conj = [f"dE/d{n}" for n in states] + [f"dS/d{n}" for n in states]
    if (
        rest != obs + procs + conj
        or conj not in ([], expected_conj)
        or not states
        or len(set(header)) != len(header)
    ):
        raise InputError(f"{where}: unexpected column order or repeated names in the header.")
    col = {h: jnp.asarray(table[:, i]) for i, h in enumerate(header)}
    conjugates = None
    if conj:
        conjugates = (
            jnp.stack([col[f"dE/d{n}"] for n in states], axis=-1),
            jnp.stack([col[f"dS/d{n}"] for n in states], axis=-1),
        )
    return Trajectory(
        ts=col["t"],
        ys=jnp.asarray(table[:, 1:i_e]),
        energy=col["E"],
        entropy=col["S"],
        entropy_production=col["entropy_production"],
        # A .csv keeps no tolerances: nothing is flagged.
        energy_tolerance=jnp.asarray(jnp.inf),
        entropy_tolerance=jnp.asarray(jnp.inf),
        num_steps=jnp.asarray(0),
        layout=StateLayout.flat(tuple(states)),
        production_parts={p[len("entropy_production[") : -1]: col[p] for p in procs},
        observable_values={o: col[o] for o in obs},
        conjugates=conjugates,
        process_names=tuple(p[len("entropy_production[") : -1] for p in procs),
        observable_names=tuple(obs),
        name=name,
        unit_items=tuple(units.items()),
    )
