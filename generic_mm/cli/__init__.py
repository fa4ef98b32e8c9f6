"""The `generic-mm` command line: check, run, fit, plot, list and show GENERIC model files.

Exit status: 0 success; 1 a consistency condition fails; 2 invalid input (unreadable file,
schema or expression errors, bad options, an output that cannot be written); 3 the solver
failed; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). An interrupted or failed
command writes nothing. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import os
import sys
from collections.abc import Sequence

from .._checks import check
from ..io import SOLVERS
from ._cache import cacheable_solves
from ._fit import add_options as add_fit_options, cmd_fit
from ._inputs import DEFAULTS, InputProblem, integer, number
from ._inspect import cmd_check, cmd_list, cmd_plot, cmd_show
from ._process import (
    EXIT_INCONSISTENT,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOLVER,
    EXIT_TERMINATED,
    Terminated,
    cli_words,
    signals,
)
from ._run import cmd_run
from ._stochastic import add_options as add_stochastic_options

__all__ = [
    "EXIT_INCONSISTENT",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SOLVER",
    "EXIT_TERMINATED",
    "entry",
    "main",
]

_MODEL_HELP = "a model file (.toml) or the name of a library model (see `list`)"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="generic-mm",
        description="Check, simulate, fit and inspect GENERIC models written as TOML model files.",
        epilog="Exit status: 0 ok, 1 a consistency condition fails, 2 invalid input, "
        "3 solver failure, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).",
    )
    version = importlib.metadata.version("generic_mm")
    ap.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cached = argparse.ArgumentParser(add_help=False)
    cached.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the cache in $XDG_CACHE_HOME/generic_mm or "
        "~/.cache/generic_mm (compiled programs, and consistency reports of byte-identical "
        "model files)",
    )

    p = sub.add_parser("check", parents=[cached], help="print the consistency report of a model")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    defaults = inspect.signature(check).parameters
    samples, rtol = defaults["samples"].default, defaults["rtol"].default
    p.add_argument(
        "--samples", type=integer(1), default=samples, help=f"sampled states (default {samples})"
    )
    p.add_argument(
        "--rtol",
        type=number(positive=True, below=1),
        default=rtol,
        help=f"relative tolerance of the sampled checks (default {rtol:g})",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "run", parents=[cached], help="check and simulate a model, write the trajectory"
    )
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    _run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "fit", parents=[cached], help="fit parameters of a model to data in a CSV file"
    )
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    add_fit_options(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("plot", help="plot a results file written by `run`")
    p.add_argument("results", metavar="RESULTS", help="a .npz or .csv file from `run`")
    p.add_argument(
        "-o", "--output", help="figure file, .png, .svg or .pdf (default: RESULTS with .png)"
    )
    p.add_argument(
        "--vars",
        metavar="A,B",
        help="state variables, observables or conjugates (dE/ds) to plot "
        "(default: every state variable and observable)",
    )
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("list", help="list the models in the library")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="print a model: variables, E, S, L and M by entry, dx/dt")
    p.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    p.add_argument("--latex", action="store_true", help="the equations dx/dt as LaTeX")
    p.add_argument(
        "--expand", action="store_true", help="substitute the [definitions] into everything"
    )
    p.set_defaults(func=cmd_show)
    return ap


def _run_options(p: argparse.ArgumentParser) -> None:
    points, rtol, atol, steps = (DEFAULTS[k] for k in ("points", "rtol", "atol", "max_steps"))
    p.add_argument("--t1", type=number(), help="end time (default: [simulation] t1)")
    p.add_argument(
        "--points",
        type=integer(2),
        help=f"saved time points (default: [simulation] points, else {points})",
    )
    p.add_argument(
        "--solver",
        metavar="NAME",
        help=f"one of {', '.join(SOLVERS)} (default: [simulation] solver, else Tsit5)",
    )
    p.add_argument(
        "--dt0",
        metavar="H",
        type=number(positive=True),
        help="the first step; the fixed step of DiscreteGradient(4) (which adapt without it) "
        "and of solvers without an error estimate (default: [simulation] dt0, else chosen by "
        "the solver)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="override a parameter or an initial value (repeatable)",
    )
    p.add_argument(
        "--sweep",
        action="append",
        metavar="NAME=V1,V2,...",
        help="run an ensemble, one member per value, in one vectorised solve, written to one "
        ".npz with a leading member axis (repeatable: equal lengths, member by member)",
    )
    p.add_argument("--out", help="output file, .npz or .csv (default: MODEL_NAME.npz)")
    p.add_argument(
        "--rtol",
        type=number(positive=True, below=1),
        help=f"relative tolerance (default: [simulation] rtol, else {rtol:g})",
    )
    scaled = "scaled to the initial state, as generic_mm.simulate does"
    p.add_argument(
        "--atol",
        type=number(positive=True),
        help="absolute tolerance (default: [simulation] atol, else "
        + (scaled if atol is None else f"{atol:g}")
        + ")",
    )
    p.add_argument(
        "--max-steps",
        type=integer(1),
        help=f"most solver steps (default: [simulation] max_steps, else {steps})",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_stochastic_options(p)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default `sys.argv[1:]`); returns the exit status.
    Errors are printed as `generic-mm: error: ...`, never as a traceback."""
    import jax

    from .._errors import (
        ConsistencyError,
        InputError,
        ModelError,
        ModelFileError,
        SimulationError,
        SolverError,
    )

    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad option (argparse said why)
        return done.code if isinstance(done.code, int) else EXIT_INPUT
    with signals():
        try:
            return args.func(args)
        except (InputProblem, ModelFileError) as err:
            return _fail(f"error: {err}", EXIT_INPUT)
        except (InputError, ModelError) as err:  # the library's words: retold
            return _fail(f"error: {cli_words(str(err))}", EXIT_INPUT)
        except ConsistencyError as err:
            return _fail(f"inconsistent: {err}", EXIT_INCONSISTENT)
        except (SimulationError, SolverError) as err:
            return _fail(f"solver failure: {cli_words(str(err))}", EXIT_SOLVER)
        except KeyboardInterrupt:
            return _fail("interrupted; no output written", EXIT_INTERRUPTED)
        except Terminated:
            return _fail("terminated; no output written", EXIT_TERMINATED)
        except jax.errors.JaxRuntimeError as err:
            if "KeyboardInterrupt" in str(err):  # Ctrl-C inside a host callback
                return _fail("interrupted; no output written", EXIT_INTERRUPTED)
            return _fail(f"solver failure: {str(err).splitlines()[0]}", EXIT_SOLVER)


def _fail(message: str, code: int) -> int:
    print(f"generic-mm: {message}", file=sys.stderr)
    return code


def entry() -> None:
    """Console-script entry point (also `python -m generic_mm.cli`)."""
    cacheable_solves()
    code = main()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # XLA goes on running an interrupted solve in its own threads, and a normal exit
        # waits for it: leave at once (nothing is being written now).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
