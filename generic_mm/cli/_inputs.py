"""What the command line reads: option values, model names, `--set` and `--sweep`, and the
options a model file's `[simulation]` table supplies."""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._expressions import closest
from .._simulate import simulate

_SIMULATE = inspect.signature(simulate).parameters
DEFAULTS: dict[str, Any] = {
    "points": 201,
    "rtol": _SIMULATE["rtol"].default,
    "atol": _SIMULATE["atol"].default,
    "max_steps": _SIMULATE["max_steps"].default,
}
"""`run`'s values where neither the option nor the file's `[simulation]` gives one; the
tolerances and the step limit are `generic_mm.simulate`'s own."""


class InputProblem(Exception):
    """Bad command-line input: exit status 2 with this message."""


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse `type=`: an integer `>= minimum` (and `<= maximum`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected an integer <= {maximum}, got {value}")
        return value

    return parse


def number(*, positive: bool = False, below: float | None = None) -> Callable[[str], float]:
    """An argparse `type=`: a finite number, optionally `> 0` and `< below`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"expected a number < {below:g}, got {text}")
        return value

    return parse


def option(args: argparse.Namespace, sim: Mapping[str, Any], key: str) -> Any:
    """The value of `key`: the option's, else the file's `[simulation]` (validated when the
    file was read), else `DEFAULTS` (`None` where there is no default)."""
    given = getattr(args, key)
    if given is not None:
        return given
    return sim.get(key, DEFAULTS.get(key))


def make_solver(name: str, where: str, names: tuple[str, ...] | None = None):
    """The solver called `name` (one of `names`, by default `generic_mm.io.SOLVERS`), or
    an `InputProblem` naming `where` it was asked for."""
    from ..io import SOLVERS, make_solver as build

    names = SOLVERS if names is None else names
    if name not in names:
        raise InputProblem(
            f"{where} {name!r}: unknown solver{closest(name, names)}; one of {', '.join(names)}"
        )
    return build(name)


def resolve(model_arg: str) -> Path:
    """A model file, or the library file of that name."""
    from ..models import find

    path = Path(model_arg)
    if path.is_file():
        return path
    found = find(model_arg)
    if found is not None:
        return found
    raise InputProblem(
        f"{model_arg}: no such file, and no model of that name in the library "
        "(see `generic-mm list`)"
    )


def load(model_arg: str) -> tuple[Any, Path, bytes | None]:
    """The model, its file, and the bytes it was read from (`None` if unreadable)."""
    from ..io import load_model

    path = resolve(model_arg)
    try:
        raw: bytes | None = path.read_bytes()
    except OSError:
        raw = None  # load_model says why
    return load_model(path), path, raw


def _assignment(item: str, flag: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise InputProblem(f"{flag} {item!r}: expected NAME=VALUE")
    return name.strip(), value


def _value(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputProblem(f"{where}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise InputProblem(f"{where}: the value must be finite, got {text.strip()!r}")
    return value


def _known(model, name: str, where: str) -> None:
    if name not in model.param_names and name not in model.state_names:
        known = [*model.param_names, *model.state_names]
        raise InputProblem(
            f"{where}: {name!r} is neither a parameter nor a state variable{closest(name, known)}"
        )


def parse_sets(model, sets: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """`--set NAME=VALUE` items as (parameters, initial values)."""
    params: dict[str, float] = {}
    initial: dict[str, float] = {}
    for item in sets:
        name, value = _assignment(item, "--set")
        _known(model, name, f"--set {item!r}")
        target = params if name in model.param_names else initial
        target[name] = _value(value, f"--set {item!r}")
    return params, initial


def parse_sweeps(model, sweeps: Sequence[str], fixed: Sequence[str]) -> dict[str, np.ndarray]:
    """`--sweep NAME=V1,V2,...` items as name -> values; names in `fixed` (given by `--set`)
    may not be swept, and several sweeps run member by member (equal lengths)."""
    out: dict[str, np.ndarray] = {}
    for item in sweeps:
        name, values = _assignment(item, "--sweep")
        where = f"--sweep {item!r}"
        _known(model, name, where)
        if name in fixed or name in out:
            raise InputProblem(f"{where}: {name} is also given by --set or another --sweep")
        out[name] = np.array([_value(v, where) for v in values.split(",")])
    sizes = sorted({len(v) for v in out.values()})
    if len(sizes) > 1:
        raise InputProblem(
            f"--sweep: the lists have different lengths {sizes}; several --sweep options run "
            "member by member and need equal lengths"
        )
    return out
