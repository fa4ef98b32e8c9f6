"""`generic-mm fit`: fit parameters of a model file to observations in a CSV data file, print
the values with their standard errors and correlations, and write them as JSON."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._checks import CheckOptions
from .._errors import InputError
from .._expressions import closest
from .._files import writable_target, write_atomic
from ._cache import checked, compilation_cache
from ._inputs import DEFAULTS, InputProblem, integer, load, make_solver, number, option, parse_sets
from ._process import EXIT_INCONSISTENT, EXIT_OK, EXIT_SOLVER, cli_words, warnings_said_once

METHODS = ("levenberg-marquardt", "gauss-newton")


def add_options(p: argparse.ArgumentParser) -> None:
    """`fit`'s arguments (after MODEL)."""
    p.add_argument(
        "data",
        metavar="DATA",
        help="a CSV data file (format: docs/fitting.md), or the name of one in the model library",
    )
    p.add_argument(
        "--fit",
        required=True,
        metavar="NAME[=START],...",
        help="the parameters to fit, comma-separated, each optionally with its starting value "
        "(default: the model's value)",
    )
    p.add_argument(
        "--sigma",
        action="append",
        metavar="[NAME=]VALUE",
        help="the noise standard deviation of a quantity (NAME=VALUE, repeatable) or of all "
        "(VALUE); without it the fit is unweighted and estimates one noise variance",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter or initial value for every experiment, replacing the model file's "
        "(repeatable); the file's init:/param: columns take precedence",
    )
    p.add_argument("--t0", type=number(), help="start time ([simulation] t0, else 0)")
    p.add_argument(
        "--solver", metavar="NAME", help="the ODE solver ([simulation] solver, else Tsit5)"
    )
    p.add_argument("--dt0", type=number(positive=True), metavar="H", help="first (fixed) step")
    p.add_argument(
        "--rtol",
        type=number(positive=True, below=1),
        help=f"relative tolerance of the solves ([simulation] rtol, else {DEFAULTS['rtol']:g})",
    )
    p.add_argument("--atol", type=number(positive=True), help="absolute tolerance of the solves")
    p.add_argument("--max-steps", type=integer(1), help="most steps of each solve")
    p.add_argument(
        "--method",
        choices=METHODS,
        default=METHODS[0],
        help="the least-squares search (default levenberg-marquardt)",
    )
    p.add_argument(
        "--max-iterations", type=integer(1), default=200, help="most search steps (default 200)"
    )
    p.add_argument(
        "--tol",
        type=number(positive=True, below=1),
        default=1e-6,
        help="tolerance of the search (default 1e-06)",
    )
    p.add_argument("--out", help="write the result as JSON (.json)")


def _fitted(model, text: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for item in text.split(","):
        name, sep, start = (part.strip() for part in item.partition("="))
        where = f"--fit {item.strip()!r}"
        if name not in model.param_names:
            raise InputProblem(
                f"{where}: {name!r} is not a parameter of {model.name!r}"
                f"{closest(name, model.param_names)}; the parameters are "
                f"{', '.join(model.param_names)}"
            )
        if name in out:
            raise InputProblem(f"{where}: {name} is named twice")
        out[name] = _number(start, where) if sep else None
    return out


def _number(text: str, where: str) -> float:
    try:
        return number()(text)
    except argparse.ArgumentTypeError as err:
        raise InputProblem(f"{where}: {err}") from None


def _sigma(items: Sequence[str]) -> float | dict[str, float] | None:
    if not items:
        return None
    per: dict[str, float] = {}
    every = None
    for item in items:
        name, sep, value = (part.strip() for part in item.rpartition("="))
        where = f"--sigma {item!r}"
        v = _number(value, where)
        if not v > 0:
            raise InputProblem(f"{where}: a noise level must be positive")
        if sep:
            per[name] = v
        else:
            every = v
    if every is not None and per:
        raise InputProblem("--sigma: give either one VALUE for all quantities or NAME=VALUE items")
    return every if every is not None else per


def _output(text: str | None) -> Path | None:
    if text is None:
        return None
    try:
        out = writable_target(Path(text), "--out")
    except InputError as err:
        raise InputProblem(str(err)) from None
    if out.suffix != ".json":
        raise InputProblem(f"--out {out}: the extension must be .json")
    return out


def _data_file(text: str) -> Path:
    """DATA: a file, else a data file of that name in the model library."""
    from ..models import LIBRARY

    path = Path(text)
    if path.is_file():
        return path
    shipped = LIBRARY / path.name
    if path.name == text and path.suffix == ".csv" and shipped.is_file():
        return shipped
    raise InputProblem(f"{text}: no such data file (nor a data file of the model library)")


def _solver(args, sim) -> dict[str, Any]:
    from ..io import takes_fixed_steps

    name = args.solver or sim.get("solver")
    where = "--solver" if args.solver else "[simulation] solver"
    solver = None if name is None else make_solver(name, where)
    dt0 = option(args, sim, "dt0")
    if name is not None and takes_fixed_steps(name) and dt0 is None:
        raise InputProblem(f"--solver {name} takes fixed steps: give the step size with --dt0 H")
    return dict(
        solver=solver,
        dt0=dt0,
        rtol=option(args, sim, "rtol"),
        atol=option(args, sim, "atol"),
        max_steps=option(args, sim, "max_steps"),
    )


def cmd_fit(args) -> int:
    """Read and validate everything, check the model, fit, print, and write the JSON."""
    from ..fitting import Parameter, fit, load_experiments

    model, path, raw = load(args.model)
    sim = dict(model.simulation or {})
    params, initial = parse_sets(model, args.set or [])
    if params:
        model = model.with_params(**params)
    fitted = _fitted(model, args.fit)
    sigma = _sigma(args.sigma or [])
    options = _solver(args, sim)
    out = _output(args.out)
    t0 = args.t0 if args.t0 is not None else float(sim.get("t0", 0.0))
    data = _data_file(args.data)
    try:
        experiments = load_experiments(
            data, model, t0=t0, initial={**(model.initial_state or {}), **initial}
        )
    except InputError as err:
        raise InputProblem(str(err)) from None
    observed = sorted({q for e in experiments for q in e.observed})
    for name in sigma if isinstance(sigma, dict) else ():
        if name not in observed:
            raise InputProblem(
                f"--sigma {name}: not an observed quantity of {data}"
                f"{closest(name, observed)}; observed: {', '.join(observed)}"
            )
    flags = {name: "--fit" for name in fitted}
    with compilation_cache(not args.no_cache) as root, warnings_said_once(flags):
        report = checked(model, (path, raw), CheckOptions(), args.set or [], root)
        print(report, flush=True)
        if not report.ok:
            print(f"{path}: not fitted, the model is inconsistent.", file=sys.stderr)
            return EXIT_INCONSISTENT
        try:
            result = fit(
                model,
                experiments,
                {k: Parameter(v) for k, v in fitted.items()},
                sigma=sigma,
                method=args.method,
                max_iterations=args.max_iterations,
                tol=args.tol,
                **options,
            )
        except InputError as err:
            # A known parameter or an initial value of the data file: say so in its words.
            text = re.sub(r"\bparams\['(\w+)'\]", r"column param:\1", str(err))
            raise InputProblem(cli_words(text, flags)) from None
    print(result.summary())
    if not result.converged:
        why = cli_words(result.message)
        for name in ("max_iterations", "tol"):
            why = re.sub(rf"\b{name}\b", "--" + name.replace("_", "-"), why)
        why = why.replace("start nearer", "start nearer (--fit NAME=START)")
        print(
            f"generic-mm: solver failure: the fit did not converge in {result.num_steps} "
            f"steps: {why}; nothing written",
            file=sys.stderr,
        )
        return EXIT_SOLVER
    if out is not None:
        written = {"data": str(data), **result.to_dict()}
        try:
            write_atomic(out, (json.dumps(written, indent=2) + "\n").encode())
        except OSError as err:
            raise InputProblem(
                f"--out {out}: cannot write the file: {err.strerror or err}"
            ) from None
        print(f"wrote {out}")
    return EXIT_OK
