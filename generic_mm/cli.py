"""The `generic-mm` command line: check, run, plot, list and show GENERIC model files.

Exit status: 0 success; 1 a consistency condition fails; 2 invalid input (unreadable file,
schema or expression errors, bad options); 3 the solver failed; 130 interrupted.
"""

from __future__ import annotations

import argparse
import io
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

EXIT_OK, EXIT_INCONSISTENT, EXIT_INPUT, EXIT_SOLVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _InputProblem(Exception):
    """Bad command-line input: exit status 2 with this message."""


def _resolve(model_arg: str) -> Path:
    from .models import find

    path = Path(model_arg)
    if path.is_file():
        return path
    found = find(model_arg)
    if found is not None:
        return found
    raise _InputProblem(
        f"{model_arg}: no such file, and no model of that name in the library "
        "(see `generic-mm list`)"
    )


def _load(model_arg: str):
    from .io import load_model

    return load_model(_resolve(model_arg))


def _cmd_check(args) -> int:
    from ._checks import check

    model = _load(args.model)
    report = check(model, samples=args.samples, rtol=args.rtol)
    print(report)
    return EXIT_OK if report.ok else EXIT_INCONSISTENT


def _parse_sets(model, sets: Sequence[str]) -> tuple[dict, dict]:
    from ._expressions import closest

    params, initial = {}, {}
    for item in sets:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise _InputProblem(f"--set {item!r}: expected name=value")
        try:
            number = float(value)
        except ValueError:
            raise _InputProblem(f"--set {item!r}: {value!r} is not a number") from None
        if not np.isfinite(number):
            raise _InputProblem(f"--set {item!r}: the value must be finite")
        if name in model.param_names:
            params[name] = number
        elif name in model.state_names:
            initial[name] = number
        else:
            known = [*model.param_names, *model.state_names]
            raise _InputProblem(
                f"--set {item!r}: {name!r} is neither a parameter nor a state variable"
                f"{closest(name, known)}"
            )
    return params, initial


def _solver(name: str | None):
    import diffrax

    from .io._modelfile import SOLVERS

    if name is None:
        return None
    if name not in SOLVERS:
        raise _InputProblem(f"--solver {name!r}: unknown; one of {', '.join(SOLVERS)}")
    return getattr(diffrax, name)()


def _cmd_run(args) -> int:
    from ._simulate import simulate
    from .io import load_model
    from .io._modelfile import write_atomic

    path = _resolve(args.model)
    model = load_model(path)
    sim = model.simulation
    params, initial = _parse_sets(model, args.set or [])
    if params:
        model = model.with_params(**params)
    y0 = dict(model.initial_state or {})
    y0.update(initial)
    missing = [n for n in model.state_names if n not in y0]
    if missing:
        raise _InputProblem(
            f"{path}: no initial value for {', '.join(missing)}; add them to [initial] or pass "
            "--set name=value"
        )
    t1 = args.t1 if args.t1 is not None else sim.get("t1")
    if t1 is None:
        raise _InputProblem(f"{path}: no end time; pass --t1 or set t1 in [simulation]")
    out = Path(args.out) if args.out else Path(f"{path.stem}.npz")
    if out.suffix not in (".npz", ".csv"):
        raise _InputProblem(f"--out {out}: the extension must be .npz or .csv")
    if not out.parent.exists():
        raise _InputProblem(f"--out {out}: the folder {out.parent} does not exist")
    options: dict[str, Any] = dict(
        saveat=args.points or sim.get("points", 201),
        solver=_solver(args.solver or sim.get("solver")),
        rtol=args.rtol or sim.get("rtol", 1e-8),
        atol=args.atol or sim.get("atol", 1e-10),
        max_steps=args.max_steps or sim.get("max_steps", 100_000),
        dt0=sim.get("dt0"),
        progress=sys.stderr.isatty() and not args.no_progress,
    )
    from ._checks import check

    report = check(model)
    print(report)
    if not report.ok:
        print(f"{path}: not integrated, the model is inconsistent.", file=sys.stderr)
        return EXIT_INCONSISTENT
    traj = simulate(model, y0, float(t1), float(sim.get("t0", 0.0)), **options)
    write_atomic(out, _serialize(traj, model, out.suffix))
    print(f"{model.name}: t = {float(sim.get('t0', 0.0)):g} .. {float(t1):g}")
    print(traj.summary())
    print(f"wrote {out}")
    return EXIT_OK


def _serialize(traj, model, suffix: str) -> bytes:
    columns = {"t": np.asarray(traj.ts)}
    columns.update({n: np.asarray(traj[n]) for n in model.state_names})
    columns.update(
        E=np.asarray(traj.energy),
        S=np.asarray(traj.entropy),
        entropy_production=np.asarray(traj.entropy_production),
    )
    buf = io.BytesIO()
    if suffix == ".npz":
        np.savez(
            buf,
            ts=columns["t"],
            ys=np.asarray(traj.ys),
            state_names=np.array(model.state_names),
            energy=columns["E"],
            entropy=columns["S"],
            entropy_production=columns["entropy_production"],
            param_names=np.array(model.param_names),
            param_values=np.array([model.params[s] for s in model.param_symbols]),
        )
        return buf.getvalue()
    table = np.column_stack(list(columns.values()))
    np.savetxt(buf, table, delimiter=",", header=",".join(columns), comments="", fmt="%.17g")
    return buf.getvalue()


def _read_results(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    if not path.is_file():
        raise _InputProblem(f"{path}: no such file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                ts, ys = data["ts"], data["ys"]
                names = [str(n) for n in data["state_names"]]
                states = {n: ys[:, i] for i, n in enumerate(names)}
                extra = {k: data[k] for k in ("energy", "entropy", "entropy_production")}
            return ts, states, extra
        if path.suffix == ".csv":
            header = path.read_text().splitlines()[0].split(",")
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
            cols = {h: table[:, i] for i, h in enumerate(header)}
            extra = {
                "energy": cols.pop("E"),
                "entropy": cols.pop("S"),
                "entropy_production": cols.pop("entropy_production"),
            }
            return cols.pop("t"), cols, extra
    except (KeyError, ValueError, OSError, IndexError) as err:
        raise _InputProblem(f"{path}: not a generic-mm results file ({err})") from None
    raise _InputProblem(f"{path}: expected a .npz or .csv file written by `generic-mm run`")


def _cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io._modelfile import write_atomic

    path = Path(args.results)
    ts, states, extra = _read_results(path)
    out = Path(args.output) if args.output else path.with_suffix(".png")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, values in states.items():
        axes[0].plot(ts, values, label=name)
    axes[0].set(xlabel="t", title="state")
    axes[0].legend(fontsize="small", ncol=2)
    axes[1].plot(ts, extra["energy"] - extra["energy"][0])
    axes[1].set(xlabel="t", title="E(t) - E(0)")
    axes[2].plot(ts, extra["entropy"], label="S")
    ax2 = axes[2].twinx()
    ax2.plot(ts, extra["entropy_production"], color="C1", label="dS/dt")
    axes[2].set(xlabel="t", title="entropy S and production dS/dt")
    axes[2].legend(loc="upper left")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=out.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    write_atomic(out, buf.getvalue())
    print(f"wrote {out}")
    return EXIT_OK


def _cmd_list(args) -> int:
    from .models import files

    rows = []
    for path in files():
        try:
            data = tomllib.loads(path.read_text())
            rows.append((path.stem, data.get("description") or data.get("name", "")))
        except (
            OSError,
            tomllib.TOMLDecodeError,
        ) as err:  # pragma: no cover - library files are tested
            rows.append((path.stem, f"(unreadable: {err})"))
    width = max(len(r[0]) for r in rows)
    for stem, desc in rows:
        print(f"{stem:<{width}}  {desc}")
    return EXIT_OK


def _cmd_show(args) -> int:
    model = _load(args.model)
    rates = model.rates
    if args.latex:
        print(r"\begin{aligned}")
        for sym, rate in zip(model.state, rates.flat()):
            print(rf"\frac{{d {sp.latex(sym)}}}{{d t}} &= {sp.latex(rate)} \\")
        print(rf"E &= {sp.latex(model.energy)} \\")
        print(rf"S &= {sp.latex(model.entropy)}")
        print(r"\end{aligned}")
        return EXIT_OK
    print(f"{model.name}" + (f": {model.description}" if model.description else ""))
    print(f"  E = {model.energy}")
    print(f"  S = {model.entropy}")
    for name, rate in zip(model.state_names, rates.flat()):
        print(f"  d{name}/dt = {rate}")
    if model.params:
        values = ", ".join(f"{s.name}={v:g}" for s, v in model.params.items())
        print(f"  parameters: {values}")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="generic-mm",
        description="Check, simulate and inspect GENERIC models written as TOML model files.",
        epilog="Exit status: 0 ok, 1 a consistency condition fails, 2 invalid input, "
        "3 solver failure, 130 interrupted.",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_help = "a model file (.toml) or the name of a library model (see `list`)"

    p = sub.add_parser("check", help="print the consistency report of a model")
    p.add_argument("model", metavar="MODEL", help=model_help)
    p.add_argument("--samples", type=int, default=256, help="sampled states (default 256)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance (default 1e-8)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("run", help="check and simulate a model, write the trajectory")
    p.add_argument("model", metavar="MODEL", help=model_help)
    p.add_argument("--t1", type=float, help="end time (default: [simulation] t1)")
    p.add_argument(
        "--points", type=int, help="saved time points (default: [simulation] points or 201)"
    )
    p.add_argument("--solver", help="a diffrax solver, e.g. Tsit5 or Kvaerno5")
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="override a parameter or an initial value (repeatable)",
    )
    p.add_argument("--out", help="output file, .npz or .csv (default: MODEL_NAME.npz)")
    p.add_argument("--rtol", type=float, help="relative tolerance (default 1e-8)")
    p.add_argument("--atol", type=float, help="absolute tolerance (default 1e-10)")
    p.add_argument("--max-steps", type=int, help="most solver steps (default 100000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="plot a results file written by `run`")
    p.add_argument("results", metavar="RESULTS", help="a .npz or .csv file from `run`")
    p.add_argument("-o", "--output", help="figure file (default: RESULTS with .png)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("list", help="list the models in the library")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="print a model's equations dx/dt")
    p.add_argument("model", metavar="MODEL", help=model_help)
    p.add_argument("--latex", action="store_true", help="as LaTeX")
    p.set_defaults(func=_cmd_show)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from ._errors import InputError, ModelError, ModelFileError, SimulationError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (_InputProblem, ModelFileError, ModelError, InputError) as err:
        print(f"generic-mm: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except SimulationError as err:
        print(f"generic-mm: solver failure: {err}", file=sys.stderr)
        return EXIT_SOLVER
    except KeyboardInterrupt:
        print("generic-mm: interrupted; no output written", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
