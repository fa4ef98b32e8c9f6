"""What a fit is fitted to: `Experiment` (observations of one run) and the CSV reader.

A data file is untrusted input: it is read within bounds (`MAX_DATA_BYTES`, `MAX_ROWS`,
`MAX_COLUMNS`, `MAX_CELL`), its numbers are parsed as decimal text (nothing is evaluated),
and every error names the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._arguments import key_name
from .._compiled import CompiledModel, compile as _compile
from .._errors import InputError
from .._expressions import closest
from .._model import AbstractModel
from .._validate import finite_number, positive_number, real_array
from ..io import MAX_COUNT
from ._quantities import param_shape, quantity_shape

MAX_DATA_BYTES = 64 * 2**20
"""The largest data file read (64 MiB)."""
MAX_ROWS = MAX_COUNT["points"]
"""The most data rows (the most points a model file's `[simulation]` may ask for)."""
MAX_COLUMNS = 1_000
"""The most columns of a data file."""
MAX_CELL = 100
"""The longest cell (characters); numbers need far fewer."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_MISSING = ("", "nan", "NaN", "NA")


class Experiment:
    r"""Observations of one run of the model: what was measured when, from which initial
    state, with which known parameter values.

    **Arguments:**

    - `times`: the sample times, increasing, shape `(T,)`.
    - `observed`: quantity name -> values of shape `(T, *shape)` (`(T,)` for a scalar).
        A quantity is a state variable (a structured model's field), an observable,
        `"energy"`, `"entropy"`, `"entropy_production"`, or a conjugate variable
        `"dE/dx"` ($\partial E/\partial x$, e.g. the temperature of an entropy variable
        $x$) or `"dS/dx"`. `NaN` marks a time at which the quantity was not observed, so
        each quantity can have its own sample times.
    - `y0`: the initial state at `t0` (a dict name -> value or an array, as
        [`generic_mm.simulate`][] takes).
    - `params`: known parameter values of this run (name -> value), replacing the
        model's.
    - `t0`: the start time, at most `times[0]`.
    - `sigma`: the noise standard deviation of the observations: a number (every
        quantity) or quantity name -> number; replaces `fit`'s `sigma` for this run.
    - `name`: a label used in messages and summaries.
    """

    def __init__(
        self,
        times: Any,
        observed: Mapping[str, Any],
        y0: Any,
        params: Mapping[str, Any] | None = None,
        t0: float = 0.0,
        sigma: float | Mapping[str, float] | None = None,
        *,
        name: str | None = None,
    ):
        where = "Experiment" if name is None else f"Experiment {name!r}"
        ts = real_array(times, f"{where}: times", expected="a 1-d array of times")
        if ts.ndim != 1 or ts.size < 1:
            raise InputError(f"{where}: times: expected a 1-d array of times, got {ts.shape}.")
        if not np.all(np.isfinite(ts)):
            raise InputError(f"{where}: times: contains non-finite values.")
        if np.any(np.diff(ts) <= 0):
            i = int(np.argmax(np.diff(ts) <= 0)) + 1
            raise InputError(
                f"{where}: times must increase; times[{i}] = {ts[i]:g} follows {ts[i - 1]:g}."
            )
        self.t0 = finite_number(t0, f"{where}: t0")
        if ts[0] < self.t0 or not ts[-1] > self.t0:
            raise InputError(
                f"{where}: times run from {ts[0]:g} to {ts[-1]:g}; they must start at or "
                f"after t0 = {self.t0:g} and end after it."
            )
        self.times = ts
        if not isinstance(observed, Mapping) or not observed:
            raise InputError(
                f"{where}: observed: expected a non-empty mapping quantity name -> values, "
                f"got {observed!r}."
            )
        self.observed: dict[str, np.ndarray] = {}
        for key, values in observed.items():
            q = key_name(key, f"{where}: observed")
            self.observed[q] = _series(values, ts.size, f"{where}: observed[{q!r}]")
        self.y0 = y0
        self.params: dict[str, Any] = {}
        for key, value in (params or {}).items():
            p = key_name(key, f"{where}: params")
            self.params[p] = real_array(value, f"{where}: params[{p!r}]", expected="a number")
        self.sigma = sigma_value(sigma, f"{where}: sigma")
        self.name = name

    def __repr__(self) -> str:
        label = "" if self.name is None else f"{self.name!r}, "
        return (
            f"Experiment({label}{self.times.size} times in [{self.times[0]:g}, "
            f"{self.times[-1]:g}], observed {list(self.observed)})"
        )


def _series(values: Any, n: int, where: str) -> np.ndarray:
    a = np.asarray(real_array(values, where, expected=f"an array of shape ({n}, ...)"))
    if a.ndim < 1 or a.shape[0] != n:
        raise InputError(f"{where}: expected shape ({n}, ...) (one row per time), got {a.shape}.")
    if np.any(np.isinf(a)):
        raise InputError(f"{where}: contains infinite values (NaN marks a missing value).")
    if not np.any(np.isfinite(a)):
        raise InputError(f"{where}: holds no observed value (all NaN); leave it out.")
    return a


def sigma_value(sigma: Any, where: str) -> float | dict[str, float] | None:
    if sigma is None:
        return None
    if isinstance(sigma, Mapping):
        return {key_name(k, where): positive_number(v, f"{where}[{k!r}]") for k, v in sigma.items()}
    return positive_number(sigma, where)


# ------------------------------------------------------------------------- quantities


def conjugate_target(name: str) -> tuple[str, str] | None:
    """`("grad_energy", x)` for `dE/dx`, `("grad_entropy", x)` for `dS/dx`, else `None`."""
    for prefix, kind in (("dE/d", "grad_energy"), ("dS/d", "grad_entropy")):
        if name.startswith(prefix):
            return kind, name[len(prefix) :]
    return None


RECORDED = ("energy", "entropy", "entropy_production")


def quantity_kind(compiled: CompiledModel, name: str) -> tuple[str, str] | None:
    """`(kind, key)` of an observable quantity `name` of the model, or `None`: kind is
    `"state"`, `"observable"`, one of `RECORDED`, `"grad_energy"` or `"grad_entropy"`."""
    if name in compiled.state_names:
        return "state", name
    if name in compiled.observable_names:
        return "observable", name
    if name in RECORDED:
        return name, name
    conj = conjugate_target(name)
    if conj is not None and conj[1] in compiled.state_names:
        return conj
    return None


def unknown_quantity(compiled: CompiledModel, name: str) -> str:
    """Why `name` is not an observable quantity, with what is."""
    known = [*compiled.state_names, *compiled.observable_names, *RECORDED]
    conj = [f"dE/d{x}" for x in compiled.state_names]
    return (
        f"not a state variable, observable or recorded quantity of {compiled.name!r}"
        f"{closest(name, known + conj)}; known: {', '.join(known)} and the conjugates "
        f"{', '.join(conj[:3])}{', ...' if len(conj) > 3 else ''} (and dS/d...)"
    )


# --------------------------------------------------------------------------- the CSV file


class _Cells:
    """Error reporting bound to one data file."""

    def __init__(self, path: Path, header: list[str], header_line: int):
        self.path, self.header, self.header_line = path, header, header_line

    def error(self, line: int, column: int | None, message: str) -> InputError:
        where = f"{self.path}: line {line}"
        if column is not None:
            where += f", column {column + 1} ({self.header[column]!r})"
        return InputError(f"{where}: {message}")

    def number(self, text: str, line: int, column: int, *, missing: bool) -> float:
        text = text.strip()
        if missing and text in _MISSING:
            return math.nan
        if not _NUMBER.fullmatch(text):
            what = "empty" if not text else f"{text!r} is not a number"
            raise self.error(line, column, f"{what} (a decimal number such as 1.5 or 2e-3)")
        value = float(text)
        if not math.isfinite(value):
            raise self.error(line, column, f"{text!r} is beyond double precision")
        return value


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The file's non-blank, non-comment lines as (line number, cells)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(f"{path}: cannot read the data file: {err.strerror or err}.") from None
    if size > MAX_DATA_BYTES:
        raise InputError(
            f"{path}: the data file has {size:,} bytes, more than the {MAX_DATA_BYTES:,} read."
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_DATA_BYTES + 1)
    except OSError as err:
        raise InputError(f"{path}: cannot read the data file: {err.strerror or err}.") from None
    if len(raw) > MAX_DATA_BYTES:
        raise InputError(f"{path}: the data file has more than {MAX_DATA_BYTES:,} bytes.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text.") from None
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\x00" in line:
            raise InputError(f"{path}: line {number}: contains a NUL byte; not a CSV text file.")
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as err:
            raise InputError(f"{path}: line {number}: not a CSV line ({err}).") from None
        if len(cells) > MAX_COLUMNS:
            raise InputError(f"{path}: line {number}: more than {MAX_COLUMNS} columns.")
        long = next((j for j, c in enumerate(cells) if len(c) > MAX_CELL), None)
        if long is not None:
            raise InputError(
                f"{path}: line {number}, column {long + 1}: a cell of more than {MAX_CELL} "
                "characters."
            )
        rows.append((number, cells))
        if len(rows) > MAX_ROWS + 1:
            raise InputError(f"{path}: more than {MAX_ROWS:,} data rows.")
    if not rows:
        raise InputError(f"{path}: no header line; the data file is empty.")
    return rows


def load_experiments(
    path: str | os.PathLike,
    model: AbstractModel | CompiledModel,
    *,
    t0: float | None = None,
    initial: Mapping[str, float] | None = None,
) -> list[Experiment]:
    """Read experiments from a CSV data file (the format is on the fitting page).

    One header line names the columns: `t` (the time, required), `experiment` (a label;
    rows with the same label form one experiment, in file order; without the column the
    file is one experiment), observed quantities (state variables, observables, `energy`,
    `entropy`, conjugates `dE/dx`; an empty cell, `nan` or `NA` is a value not observed),
    `init:x` (the initial value of the state variable `x`) and `param:p` (a known value
    of the parameter `p`). `init:` and `param:` cells are constant within an experiment
    (cells left empty take that value); where a column is absent or empty the model's
    `[initial]` value (`model.initial_state`) or parameter value is used. Lines starting
    with `#` and blank lines are skipped.

    **Arguments:**

    - `path`: the CSV file.
    - `model`: the model the data belong to (names are checked against it).
    - `t0`: the start time of every experiment (default: the model's `[simulation]` `t0`,
        else 0).
    - `initial`: initial values where the file gives none (default: the model's
        `initial_state`, a model file's `[initial]`).

    **Returns:** a list of [`generic_mm.fitting.Experiment`][].

    **Raises:** `InputError` naming the file, line and column of what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such data file.")
    compiled = model if isinstance(model, CompiledModel) else _compile_for_names(model)
    rows = _read_rows(path)
    header_line, header = rows[0][0], [c.strip() for c in rows[0][1]]
    cells = _Cells(path, header, header_line)
    roles = _roles(cells, compiled)
    if len(rows) == 1:
        raise InputError(f"{path}: no data rows after the header (line {header_line}).")
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    label_col = roles.get("experiment")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise cells.error(
                line,
                None,
                f"{len(row)} cells, but the header (line {header_line}) has {len(header)} columns",
            )
        label = row[label_col].strip() if label_col is not None else ""
        if label_col is not None and not label:
            raise cells.error(line, label_col, "empty experiment label")
        groups.setdefault(label, []).append((line, row))
    if t0 is None:
        sim = getattr(model, "simulation", None) or {}
        t0 = float(sim.get("t0", 0.0))
    if initial is None:
        initial = getattr(model, "initial_state", None)
    initial = dict(initial or {})
    out = []
    for label, group in groups.items():
        e = _experiment(cells, roles, label if label_col is not None else None, group, t0, initial)
        missing = [x for x in compiled.state_names if x not in e.y0]
        if missing:
            who = "" if e.name is None else f"experiment {e.name!r}: "
            raise InputError(
                f"{path}: {who}no initial value for {', '.join(missing)}: add a column "
                f"init:{missing[0]} (or give it in the model file's [initial])."
            )
        out.append(e)
    return out


def _compile_for_names(model: Any) -> CompiledModel:
    if not isinstance(model, AbstractModel):
        raise InputError(
            f"model: expected a model (GenericModel, StructuredModel, ...) or a CompiledModel, "
            f"got {type(model).__name__}."
        )
    return _compile(model, check=False)  # cheap: only the names and shapes are read


def _roles(cells: _Cells, compiled: CompiledModel) -> dict[str, Any]:
    """Column roles: "t" and "experiment" -> index; "init", "param", "observed" -> name ->
    index. Every name is checked against the model."""
    roles: dict[str, Any] = {"init": {}, "param": {}, "observed": {}}
    line = cells.header_line
    for j, name in enumerate(cells.header):
        if not name:
            raise cells.error(line, j, "empty column name")
        if not name.isprintable():
            raise cells.error(line, j, "the column name holds a control character")
        if name in cells.header[:j]:
            raise cells.error(line, j, f"the column {name!r} appears twice")
        if name in ("t", "experiment"):
            roles[name] = j
            continue
        prefix, sep, rest = name.partition(":")
        if sep and prefix in ("init", "param"):
            known = compiled.state_names if prefix == "init" else tuple(compiled.params)
            if rest not in known:
                what = "state variable" if prefix == "init" else "parameter"
                raise cells.error(
                    line,
                    j,
                    f"{rest!r} is not a {what} of {compiled.name!r}{closest(rest, known)}; "
                    f"the {what}s are {', '.join(known)}",
                )
            shape = (
                compiled.layout.locate(rest)[0].shape
                if prefix == "init"
                else param_shape(compiled, rest)
            )
            if shape != ():
                raise cells.error(
                    line, j, f"{rest} has shape {shape}; a data file holds scalars only"
                )
            roles[prefix][rest] = j
            continue
        kind = quantity_kind(compiled, name)
        if kind is None:
            raise cells.error(line, j, f"unknown column: {unknown_quantity(compiled, name)}")
        if quantity_shape(compiled, kind) != ():
            raise cells.error(
                line, j, f"{name} is a field; a data file holds scalars (use Experiment)"
            )
        roles["observed"][name] = j
    if "t" not in roles:
        raise InputError(
            f"{cells.path}: line {line}: no column 't' (the sample times) in the header "
            f"{', '.join(cells.header)}."
        )
    if not roles["observed"]:
        raise InputError(
            f"{cells.path}: line {line}: no observed quantity among the columns "
            f"{', '.join(cells.header)}."
        )
    return roles


def _constant(cells: _Cells, group, column: int) -> float | None:
    """The one value of an `init:`/`param:` column within an experiment (`None`: empty)."""
    value, first = None, 0
    for line, row in group:
        if not row[column].strip():
            continue
        v = cells.number(row[column], line, column, missing=False)
        if value is None:
            value, first = v, line
        elif v != value:
            raise cells.error(
                line,
                column,
                f"{v:g} differs from {value:g} on line {first}: one value per experiment",
            )
    return value


def _experiment(cells: _Cells, roles, label, group, t0: float, initial) -> Experiment:
    tcol = roles["t"]
    times = np.array([cells.number(row[tcol], line, tcol, missing=False) for line, row in group])
    for k in range(len(group)):
        line = group[k][0]
        if times[k] < t0:
            raise cells.error(line, tcol, f"t = {times[k]:g} is before the start time t0 = {t0:g}")
        if k and not times[k] > times[k - 1]:
            whose = "" if label is None else f" of experiment {label!r}"
            raise cells.error(
                line,
                tcol,
                f"t = {times[k]:g} does not follow the previous time{whose}, "
                f"{times[k - 1]:g} on line {group[k - 1][0]}: times must increase",
            )
    who = f"{cells.path}: " + ("" if label is None else f"experiment {label!r}: ")
    if not times[-1] > t0:
        raise InputError(f"{who}every time is at the start time t0 = {t0:g}; nothing to fit.")
    observed = {}
    for name, j in roles["observed"].items():
        values = np.array([cells.number(row[j], line, j, missing=True) for line, row in group])
        if np.any(np.isfinite(values)):
            observed[name] = values
    if not observed:
        raise InputError(f"{who}no observed value (lines {group[0][0]}-{group[-1][0]}).")
    y0 = dict(initial)
    for name, j in roles["init"].items():
        value = _constant(cells, group, j)
        if value is not None:
            y0[name] = value
    params = {}
    for name, j in roles["param"].items():
        value = _constant(cells, group, j)
        if value is not None:
            params[name] = value
    return Experiment(times, observed, y0, params, t0, name=label)
