r"""`plot`: a publishable figure of a trajectory, one column of panels sharing the time axis.

Panels, top to bottom: the chosen state variables, then observables, then conjugates, each
kind split into as many panels as their scales need (the rule is in `_group`); then
$E(t) - E(0)$, $S(t)$ and the entropy production stacked by process. Matplotlib is imported
only when a figure is drawn (`import generic_mm` stays fast), and only through
`matplotlib.figure.Figure`: no pyplot, so no global state or backend changes.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import InputError
from ._expressions import closest
from ._files import writable_target, write_atomic

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._trajectory import Trajectory

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""The file formats `plot(path=...)` writes, by suffix (case-insensitive)."""

SHARE = 10.0
"""Two quantities share a panel only if each varies over at least `1 / SHARE` of the
panel's vertical range (see `_group`)."""

_CONJUGATE = re.compile(r"d([ES])/d(.+)")
_KINDS = {
    "state": "state variables",
    "entropic": "entropy variables",
    "observable": "observables",
    "conjugate": "conjugates",
}


@dataclasses.dataclass(frozen=True)
class _Curve:
    """One quantity to draw: `line[r, t]` per run `r`, with an optional band (fields)."""

    label: str
    kind: str
    unit: str
    line: np.ndarray
    field: bool = False
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        parts = [self.line] + [b for b in (self.low, self.high) if b is not None]
        data = np.concatenate([np.ravel(p) for p in parts])
        data = data[np.isfinite(data)]
        if data.size == 0:
            return math.nan, math.nan
        return float(data.min()), float(data.max())


def plot(
    traj: Trajectory,
    vars: Sequence[str] | str | None = None,
    *,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    member: int | None = None,
    cell: int | Sequence[int] | None = None,
    thermodynamics: bool = True,
    figsize: tuple[float, float] | None = None,
    dpi: float = 150,
) -> Figure:
    r"""Plot a trajectory: chosen variables and observables, energy, entropy and the entropy
    production by process.

    One column of panels shares the time axis. The figure title is the model name
    (`traj.name`); axis labels and legend entries carry the names and, where the model
    declares them (`traj.units`), the units: `T [K]`. Legends sit outside the axes, to the
    right, so they never cover data; a panel with a single curve has none (its axis label
    names it).

    **Panels.** The chosen quantities are grouped first by kind (mechanical state
    variables, entropy variables (those with $\partial S/\partial x \ne 0$ along the run),
    observables, conjugates: never mixed), then by unit (one axis, one unit), then by
    scale. Two quantities share a panel
    only if each of them varies (max − min over time, cells and members) over at least a
    tenth of the panel's vertical range (`SHARE = 10`); a constant is a flat line and fits
    any panel whose range it does not widen beyond that. Quantities are placed in the order
    given, each into the first panel it fits, else a new one. So momenta of order 1 and
    entropies changing by 0.01 get separate panels, and so do a temperature near 300 K that
    changes by 1 K and one near 0 that changes by 1 K. With `thermodynamics=True` three
    panels follow: $E(t) - E(0)$ (its drift), $S(t)$ and the entropy production
    $\nabla S \cdot M \nabla S$ as areas stacked by process
    (`traj.entropy_production_by_process`; the areas of a consistent model are
    non-negative) with their sum, the total, as a black line.

    **Structured models.** A field is drawn as its mean over the cells (a line) with the
    range from the minimum to the maximum over the cells shaded; `cell=(i, j)` draws that
    cell's value instead, for every chosen field.

    **Ensembles** (a leading batch axis): every member is drawn as a thin line, one colour
    per quantity (fields: the mean over the cells only, and the entropy production as lines
    per process rather than stacked areas); `member=k` draws member `k` alone, as a
    single run.

    **Arguments:**

    - `traj`: a [`generic_mm.Trajectory`][] (from `generic_mm.simulate` or
        `generic_mm.load_trajectory`).
    - `vars`: the names to plot, in order: state variables (structured models: fields),
        observables, and conjugates written `dE/dx` or `dS/dx` for a state variable `x`
        (`traj.grad_energy["x"]`, `traj.grad_entropy["x"]`; a temperature is a `dE/ds`).
        One name may be given as a string. Default: every state variable, then every
        observable. An empty list with `thermodynamics=True` draws only $E$, $S$ and the
        entropy production.
    - `path`: where to save the figure, the format from the suffix: `.png`, `.svg` or
        `.pdf`. The file is written atomically (a temporary file in the same folder,
        renamed when complete). `None`: not saved.
    - `title`: the figure title; default the model name, with the member or the number of
        members for an ensemble. `""`: no title.
    - `member`: for an ensemble, the member to draw (negative counts from the end);
        `None` draws all.
    - `cell`: for structured models, the index of the cell to draw in every chosen field
        (an `int` for 1-D fields); `None` draws mean and min–max band.
    - `thermodynamics`: add the $E(t) - E(0)$, $S(t)$ and entropy production panels.
    - `figsize`: `(width, height)` in inches; default 8 wide and 1.9 per panel.
    - `dpi`: resolution of a saved PNG (vector formats ignore it except for shaded areas).

    **Returns:** the `matplotlib.figure.Figure`, not registered with pyplot: display it in
    Jupyter as the cell's value, or save it with `fig.savefig`.

    **Raises:** `InputError` naming the argument: an unknown name in `vars` (with the
    closest known one), `member` or `cell` out of range or given where it does not apply,
    an unsupported suffix or a folder that does not exist in `path`. Nothing is written
    then, and no partial file is ever left.

    **Example:**

    ```python
    traj = gm.simulate(model, y0, t1=10.0)
    fig = gm.plot(traj, ["q", "T"], path="run.pdf")
    ```
    """
    target = None if path is None else _target(path)
    size = _figsize(figsize)
    if not (isinstance(dpi, (int, float)) and math.isfinite(dpi) and dpi > 0):
        raise InputError(f"dpi: expected a positive number, got {dpi!r}.")
    runs = _Runs.of(traj, member)
    curves = [_curve(traj, name, kind, runs, cell) for name, kind in _resolve(traj, vars)]
    if cell is not None and not any(c.field for c in curves):
        raise InputError(
            f"cell={cell!r}: none of the chosen quantities is a field; cell applies to the "
            "fields of structured models."
        )
    panels = _group(curves)
    if not panels and not thermodynamics:
        raise InputError("vars: nothing to plot (no names given and thermodynamics=False).")
    fig = _figure(traj, runs, panels, thermodynamics, size, title)
    if target is not None:
        _save(fig, target, dpi)
    return fig


def _target(path: str | os.PathLike) -> Path:
    """The output path, its suffix a supported format and its folder existing; checked
    before anything is drawn."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"path: expected a file name, got {type(path).__name__} {path!r}.")
    suffix = Path(path).suffix
    if suffix.lower() not in FORMATS:
        what = f"the suffix {suffix!r}" if suffix else "no suffix"
        raise InputError(
            f"path {os.fspath(path)}: {what} is not a supported figure format; "
            f"use one of {', '.join(FORMATS)}."
        )
    return writable_target(path, "path")


def _figsize(figsize: Any) -> tuple[float, float] | None:
    if figsize is None:
        return None
    try:
        w, h = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise InputError(f"figsize: expected (width, height) in inches, got {figsize!r}.") from None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise InputError(f"figsize: width and height must be positive, got {figsize!r}.")
    return w, h


@dataclasses.dataclass(frozen=True)
class _Runs:
    """Which runs are drawn: `pick(a)` turns an array `(T, ...)` or `(B, T, ...)` into
    `(R, T, ...)`; `ts` is `(R, T)` with unused (padded) slots as NaN."""

    ts: np.ndarray
    batch: int | None
    member: int | None

    @classmethod
    def of(cls, traj: Trajectory, member: int | None) -> _Runs:
        batch = int(np.shape(traj.ys)[0]) if np.ndim(traj.ys) == 3 else None
        if member is not None:
            if batch is None:
                raise InputError(
                    f"member={member!r}: the trajectory is a single run, not an ensemble; "
                    "leave member out."
                )
            if isinstance(member, bool) or not isinstance(member, (int, np.integer)):
                raise InputError(f"member: expected an integer, got {member!r}.")
            if not -batch <= member < batch:
                raise InputError(
                    f"member={member}: the ensemble has {batch} members (0 to {batch - 1})."
                )
            member = int(member) % batch
        ts = np.asarray(traj.ts, dtype=float)
        ts = ts[None] if ts.ndim == 1 else ts  # (1, T) shared by all members, or (B, T)
        if member is not None and ts.shape[0] > 1:
            ts = ts[member][None]
        elif batch is not None and member is None:
            ts = np.broadcast_to(ts, (batch, ts.shape[-1]))
        return cls(np.where(np.isfinite(ts), ts, np.nan), batch, member)

    def pick(self, a: Any) -> np.ndarray:
        a = np.asarray(a, dtype=float)
        if self.batch is None:
            return a[None]
        return a if self.member is None else a[self.member][None]

    def series(self, a: Any) -> np.ndarray:
        """A per-time quantity as `(R, T, ...)`, NaN where no time was saved."""
        out = self.pick(a)
        mask = np.isnan(self.ts).reshape(self.ts.shape + (1,) * (out.ndim - 2))
        return np.where(mask, np.nan, out)


def _resolve(traj: Trajectory, vars: Sequence[str] | str | None) -> list[tuple[str, str]]:
    """`(name, kind)` for each name in `vars`, validated."""
    states = tuple(traj.state_names)
    observables = tuple(traj.observable_names)
    if vars is None:
        entropic = _entropic(traj)
        return [(n, "entropic" if n in entropic else "state") for n in states] + [
            (n, "observable") for n in observables
        ]
    names = [vars] if isinstance(vars, str) else vars
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"vars: expected a list of names (state variables, observables, dE/dx, dS/dx), "
            f"got {vars!r}."
        )
    known = states + observables
    entropic = _entropic(traj)
    out: list[tuple[str, str]] = []
    for i, name in enumerate(names):
        conjugate = _CONJUGATE.fullmatch(name)
        if name in states:
            out.append((name, "entropic" if name in entropic else "state"))
        elif name in observables:
            out.append((name, "observable"))
        elif conjugate and conjugate.group(2) in states:
            out.append((name, "conjugate"))
        else:
            hint = closest(name, known + tuple(f"dE/d{s}" for s in states))
            raise InputError(
                f"vars[{i}]: {name!r} is not a state variable, observable or conjugate of "
                f"{_model_name(traj)}{hint}; state variables: {list(states)}, observables: "
                f"{list(observables)}, conjugates: dE/dx or dS/dx for a state variable x."
            )
        if name in names[:i]:
            raise InputError(f"vars[{i}]: {name!r} is given twice.")
    return out


def _entropic(traj: Trajectory) -> set[str]:
    """The state variables the entropy depends on along the run (none without conjugates)."""
    if traj.conjugates is None:
        return set()
    grads = traj.grad_entropy
    return {n for n in traj.state_names if np.any(np.asarray(grads[n]) != 0)}


def _model_name(traj: Trajectory) -> str:
    return f"the model {traj.name!r}" if traj.name else "the model"


def _values(traj: Trajectory, name: str, kind: str) -> Any:
    if kind in ("state", "entropic"):
        return traj[name]
    if kind == "observable":
        return traj.observables[name]
    conjugate = _CONJUGATE.fullmatch(name)
    assert conjugate is not None
    try:
        grads = traj.grad_energy if conjugate.group(1) == "E" else traj.grad_entropy
    except InputError as err:  # e.g. loaded from a .csv, which has no conjugates
        raise InputError(f"vars: {name!r}: {err}") from None
    return grads[conjugate.group(2)]


def _curve(
    traj: Trajectory, name: str, kind: str, runs: _Runs, cell: int | Sequence[int] | None
) -> _Curve:
    """The lines (and band) of `name`: a scalar as is, a field reduced over its cells."""
    unit = "" if kind == "conjugate" else str(dict(traj.units or {}).get(name) or "")
    values = runs.series(_values(traj, name, kind))
    shape = values.shape[2:]
    if not shape:
        return _Curve(_label(name, unit), kind, unit, values)
    if cell is not None:
        index = _cell_index(cell, name, shape)
        label = _label(f"{name}[{', '.join(map(str, index))}]", unit)
        return _Curve(label, kind, unit, values[(slice(None), slice(None), *index)], True)
    cells = values.reshape(*values.shape[:2], -1)
    label = _label(name, unit)
    with np.errstate(all="ignore"):
        mean = np.mean(cells, axis=-1)
        if values.shape[0] > 1:  # ensembles: the mean per member, no bands
            return _Curve(label, kind, unit, mean, True)
        low, high = np.min(cells, axis=-1), np.max(cells, axis=-1)
        return _Curve(label, kind, unit, mean, True, low, high)


def _cell_index(cell: Any, name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = (cell,) if isinstance(cell, (int, np.integer)) else cell
    ok = isinstance(index, Sequence) and all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index
    )
    if not ok or len(index) != len(shape):
        raise InputError(
            f"cell={cell!r}: the field {name!r} has shape {shape}; give {len(shape)} "
            "integer index(es)."
        )
    if not all(-n <= i < n for i, n in zip(index, shape)):
        raise InputError(f"cell={cell!r}: outside the field {name!r} of shape {shape}.")
    return tuple(int(i) % n for i, n in zip(index, shape))


def _label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


def _group(curves: list[_Curve], share: float = SHARE) -> list[list[_Curve]]:
    """Panels: same kind and unit, and each non-constant member varies over at least
    `1 / share` of the panel's range; greedily, in the given order."""
    panels: list[list[_Curve]] = []
    for curve in curves:
        for panel in panels:
            same = panel[0].kind == curve.kind and all(c.unit == curve.unit for c in panel)
            if same and _fits(panel + [curve], share):
                panel.append(curve)
                break
        else:
            panels.append([curve])
    return panels


def _fits(members: list[_Curve], share: float) -> bool:
    bounds = [m.bounds for m in members]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return False
    width = hi - lo
    for a, b in bounds:
        span = b - a
        constant = span <= 1e-12 * max(abs(a), abs(b))
        if not constant and span * share < width:
            return False
    return True


def _figure(
    traj: Trajectory,
    runs: _Runs,
    panels: list[list[_Curve]],
    thermodynamics: bool,
    size: tuple[float, float] | None,
    title: str | None,
) -> Figure:
    from matplotlib.figure import Figure

    count = len(panels) + (3 if thermodynamics else 0)
    fig = Figure(figsize=size or (8.0, 1.0 + 1.9 * count), layout="constrained")
    axes: list[Axes] = list(fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0])
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, runs.ts, panel)
    if thermodynamics:
        _draw_thermodynamics(axes[len(panels) :], traj, runs)
    axes[-1].set_xlabel("t")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    heading = _title(traj, runs) if title is None else title
    if heading:
        fig.suptitle(heading)
    return fig


def _title(traj: Trajectory, runs: _Runs) -> str:
    name = traj.name or "GENERIC model"
    if runs.batch is None:
        return name
    if runs.member is None:
        swept = [
            f"{k} = {_number(v[0])} … {_number(v[-1])}"
            for k, v in ((k, np.asarray(v)) for k, v in traj.params.items())
            if v.ndim == 1 and v.shape[0] == runs.batch and runs.batch > 1
        ]
        which = f": {', '.join(swept)}, dark to light" if swept else ", dark to light"
        return f"{name} (ensemble of {runs.batch} members{which})"
    return f"{name} (member {runs.member} of {runs.batch})"


def _number(value: Any) -> str:
    return f"{float(value):.4g}"


def _draw_panel(ax: Axes, ts: np.ndarray, panel: list[_Curve]) -> None:
    from matplotlib.patches import Patch

    extra = []
    for i, curve in enumerate(panel):
        colour = f"C{i % 10}"
        _lines(ax, ts, curve.line, colour, curve.label)
        if curve.low is not None and curve.high is not None:
            ax.fill_between(ts[0], curve.low[0], curve.high[0], color=colour, alpha=0.2, lw=0)
            extra = [Patch(color="0.5", alpha=0.3, label="shaded: min–max over cells")]
    ax.set_ylabel(_ylabel(panel))
    _legend(ax, extra)


def _lines(
    ax: Axes, ts: np.ndarray, values: np.ndarray, colour: str, label: str, width: float = 1.5
) -> None:
    """One line per run: thinner for ensembles, from dark (member 0) to light (the last),
    labelled once."""
    count = values.shape[0]
    width = width if count == 1 else 0.5 * width
    for r in range(count):
        ax.plot(
            ts[r], values[r], color=colour, lw=width,
            alpha=1.0 - 0.7 * r / max(count - 1, 1),
            label=label if r == 0 else "_nolegend_",
        )  # fmt: skip


def _ylabel(panel: list[_Curve]) -> str:
    if len(panel) == 1:
        return panel[0].label
    units = {c.unit for c in panel}
    unit = units.pop() if len(units) == 1 else ""
    if len(panel) <= 3:
        names = ", ".join(c.label.removesuffix(f" [{unit}]") if unit else c.label for c in panel)
    else:
        names = _KINDS[panel[0].kind]
    return _label(names, unit)


def _legend(ax: Axes, extra: Sequence[Artist] = ()) -> None:
    """A legend outside the axes, to the right, when there is more than one entry."""
    handles, labels = ax.get_legend_handles_labels()
    handles = [*handles, *extra]
    labels = [*labels, *(str(a.get_label()) for a in extra)]
    if len(handles) > 1:
        ax.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
            fontsize="small", frameon=False, ncols=max(1, math.ceil(len(handles) / 16)),
        )  # fmt: skip


def _draw_thermodynamics(axes: Sequence[Axes], traj: Trajectory, runs: _Runs) -> None:
    ts = runs.ts
    energy = runs.series(traj.energy)
    _lines(axes[0], ts, energy - energy[:, :1], "C0", "E − E(0)")
    axes[0].set_ylabel("E − E(0)")
    _lines(axes[1], ts, runs.series(traj.entropy), "C0", "S")
    axes[1].set_ylabel("S")
    _draw_production(axes[2], traj, runs)


def _draw_production(ax: Axes, traj: Trajectory, runs: _Runs) -> None:
    """Stacked areas per process with the total on top (single runs); lines per process
    and member (ensembles)."""
    ts = runs.ts
    total = runs.series(traj.entropy_production)
    parts: Mapping[str, Any] = traj.entropy_production_by_process or {}
    by_process = {name: runs.series(value) for name, value in parts.items()}
    if by_process and total.shape[0] == 1:
        ok = np.isfinite(ts[0])
        ax.stackplot(
            ts[0][ok], *[v[0][ok] for v in by_process.values()], labels=list(by_process),
            colors=[f"C{i % 10}" for i in range(len(by_process))], alpha=0.6,
        )  # fmt: skip
    else:
        for i, (name, values) in enumerate(by_process.items()):
            _lines(ax, ts, values, f"C{i % 10}", name)
    _lines(ax, ts, total, "k", "total", width=1.2)
    ax.set_ylabel("entropy production")
    _legend(ax)


def _save(fig: Figure, target: Path, dpi: float) -> None:
    """Render into memory, then write atomically: a failure leaves no file behind."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=FORMATS[target.suffix.lower()], dpi=dpi)
    write_atomic(target, buffer.getvalue())
