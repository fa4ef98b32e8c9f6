"""`generic-mm run`: check a model, integrate it (one run, a `--sweep` ensemble in one
vectorised solve, or paths of fluctuating GENERIC with `--noise`) and write the trajectory."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._checks import CheckOptions
from .._errors import InputError
from .._files import writable_target
from .._simulate import simulate
from ..io import SDE_SOLVERS
from ._cache import checked, compilation_cache
from ._inputs import InputProblem, load, make_solver, option, parse_sets, parse_sweeps
from ._process import EXIT_INCONSISTENT, EXIT_OK, warnings_said_once
from ._stochastic import describe, stochastic_options


def _times(args, sim: Mapping[str, Any], path: Path) -> tuple[float, float]:
    t0 = float(sim.get("t0", 0.0))
    if args.t1 is not None:
        t1, where = args.t1, f"--t1 {args.t1:g}"
    elif "t1" in sim:
        t1, where = float(sim["t1"]), f"{path}: [simulation] t1 = {sim['t1']:g}"
    else:
        raise InputProblem(f"{path}: no end time; pass --t1 or set t1 in [simulation]")
    if not t1 > t0:
        raise InputProblem(
            f"{where}: the end time must be after the start time t0 = {t0:g} "
            "([simulation] t0); pass a larger --t1"
        )
    return t0, t1


def _solver(args, sim: Mapping[str, Any], path: Path) -> tuple[Any, str | None]:
    """The solver asked for and its name (`None`: simulate's default). A stochastic run takes
    only `--solver` (the file's `[simulation] solver` is for deterministic runs), and only an
    Ito solver."""
    if args.noise is None:
        name = args.solver or sim.get("solver")
        where = "--solver" if args.solver else f"{path}: [simulation] solver"
    else:
        name, where = args.solver, "--solver"
    if name is None:
        return None, None  # Tsit5, or Euler-Maruyama with noise: simulate's defaults
    if args.noise is not None and name not in SDE_SOLVERS:
        raise InputProblem(
            f"--solver {name}: a stochastic run (--noise) needs an Ito SDE solver: "
            f"{', '.join(SDE_SOLVERS)} (Euler is Euler-Maruyama, the default)"
        )
    solver = make_solver(name, where, SDE_SOLVERS if args.noise is not None else None)
    return solver, name


def _solve_options(args, sim: Mapping[str, Any], path: Path, span: float) -> dict[str, Any]:
    from ..io import takes_fixed_steps

    solver, name = _solver(args, sim, path)
    dt0 = option(args, sim, "dt0")
    max_steps = option(args, sim, "max_steps")
    # DiscreteGradient: fixed steps with --dt0, adaptive without (as gm.simulate)
    by_dt0 = dt0 is not None and getattr(solver, "fixed_step_with_dt0", False)
    if args.noise is not None or by_dt0 or (name is not None and takes_fixed_steps(name)):
        what = f"--solver {name}" if args.noise is None else "a stochastic run (--noise)"
        if dt0 is None:
            why = "it has no error estimate" if args.noise is None else "Euler-Maruyama"
            raise InputProblem(
                f"{what} takes fixed steps ({why}): give the step size with --dt0 H (or dt0 "
                "in [simulation])"
            )
        if span / dt0 > max_steps:
            raise InputProblem(
                f"--dt0 {dt0:g}: {math.ceil(span / dt0)} fixed steps exceed --max-steps "
                f"{max_steps}; take a larger step or raise --max-steps"
            )
        if args.rtol is not None or args.atol is not None:
            print(
                f"generic-mm: warning: --rtol/--atol have no effect: {what} takes fixed steps "
                "of --dt0",
                file=sys.stderr,
            )
    return dict(
        saveat=option(args, sim, "points"),
        solver=solver,
        dt0=dt0,
        rtol=option(args, sim, "rtol"),
        atol=option(args, sim, "atol"),
        max_steps=max_steps,
        progress=sys.stderr.isatty() and not args.no_progress,
    )


def _output(args, path: Path, sweeps: Mapping[str, Any]) -> Path:
    out = Path(args.out) if args.out else Path(f"{path.stem}.npz")
    try:
        out = writable_target(out, "--out")
    except InputError as err:
        raise InputProblem(str(err)) from None
    if out.suffix not in (".npz", ".csv"):
        raise InputProblem(f"--out {out}: the extension must be .npz or .csv")
    if sweeps and out.suffix != ".npz":
        raise InputProblem(f"--out {out}: a --sweep writes one .npz with a member axis")
    if args.paths is not None and out.suffix != ".npz":
        raise InputProblem(f"--out {out}: --paths writes one .npz with a path axis")
    return out


def cmd_run(args) -> int:
    """Check, integrate and write; every input is validated before the check runs."""
    model, path, raw = load(args.model)
    sim = dict(model.simulation or {})
    params, initial = parse_sets(model, args.set or [])
    sweeps = parse_sweeps(model, args.sweep or [], [*params, *initial])
    if params:
        model = model.with_params(**params)
    y0: dict[str, Any] = {**(model.initial_state or {}), **initial}
    missing = [n for n in model.state_names if n not in y0 and n not in sweeps]
    if missing:
        raise InputProblem(
            f"{path}: no initial value for {', '.join(missing)}; add them to [initial] or pass "
            "--set name=value"
        )
    t0, t1 = _times(args, sim, path)
    noise = stochastic_options(args, sweeps)
    options = _solve_options(args, sim, path, t1 - t0)
    out = _output(args, path, sweeps)
    swept = {k: v for k, v in sweeps.items() if k in model.param_names}
    y0.update({k: v for k, v in sweeps.items() if k not in swept})
    said = warnings_said_once({k: "--sweep" for k in sweeps})
    with compilation_cache(not args.no_cache) as root, said:
        report = checked(model, (path, raw), CheckOptions(), args.set or [], root)
        print(report, flush=True)
        if not report.ok:
            print(f"{path}: not integrated, the model is inconsistent.", file=sys.stderr)
            return EXIT_INCONSISTENT
        traj = simulate(model, y0, t1, t0, params=swept or None, **options, **noise)
    try:
        traj.save(out)  # the layout documented with Trajectory.save
    except OSError as err:
        raise InputProblem(f"--out {out}: cannot write the file: {err.strerror or err}") from None
    print(f"{model.name}: t = {t0:g} .. {t1:g}")
    for name, values in sweeps.items():
        print(f"swept {name} = {', '.join(f'{v:g}' for v in values)}")
    if noise:
        print(describe(args, noise, swept=bool(sweeps)))
    # The summary's WARNING line was said once already, as a warning in the CLI's words.
    print("\n".join(s for s in traj.summary().splitlines() if not s.startswith("WARNING: ")))
    print(f"wrote {out}")
    return EXIT_OK
