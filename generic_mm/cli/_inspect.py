"""`generic-mm check`, `show`, `list` and `plot`: looking at models and results."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import sympy as sp

from .._checks import CheckOptions
from .._errors import InputError
from .._files import writable_target
from ._cache import checked, compilation_cache
from ._inputs import InputProblem, load
from ._process import EXIT_INCONSISTENT, EXIT_OK, warnings_said_once

FIGURES = (".png", ".svg", ".pdf")
"""The figure formats `plot -o` writes."""


def cmd_check(args) -> int:
    model, path, raw = load(args.model)
    options = CheckOptions(samples=args.samples, rtol=args.rtol)
    with compilation_cache(not args.no_cache) as root, warnings_said_once():
        report = checked(model, (path, raw), options, (), root)
    print(report)
    return EXIT_OK if report.ok else EXIT_INCONSISTENT


def cmd_list(args) -> int:
    from ..models import files

    rows = []
    for path in files():
        try:
            data = tomllib.loads(path.read_text())
            rows.append((path.stem, data.get("description") or data.get("name", "")))
        except (OSError, tomllib.TOMLDecodeError) as err:  # pragma: no cover - tested files
            rows.append((path.stem, f"(unreadable: {err})"))
    width = max(len(r[0]) for r in rows)
    for stem, desc in rows:
        print(f"{stem:<{width}}  {desc}")
    return EXIT_OK


def entries(symbol: str, matrix, names: Sequence[str]) -> list[str]:
    """The nonzero entries of an operator by name, a symmetric or antisymmetric pair on one
    line (`M[p, s] = M[s, p] = ...`); `symbol = 0` when there are none."""
    lines = []
    for i, a in enumerate(names):
        for j in range(i, len(names)):
            b = names[j]
            ab, ba = matrix[i, j], matrix[j, i]
            if i == j:
                if ab != 0:
                    lines.append(f"{symbol}[{a}, {a}] = {ab}")
            elif ab == ba != 0:
                lines.append(f"{symbol}[{a}, {b}] = {symbol}[{b}, {a}] = {ab}")
            elif ab == -ba != 0:
                lines.append(f"{symbol}[{a}, {b}] = -{symbol}[{b}, {a}] = {ab}")
            else:
                pairs = ((a, b, ab), (b, a, ba))
                lines += [f"{symbol}[{x}, {y}] = {v}" for x, y, v in pairs if v != 0]
    return lines or [f"{symbol} = 0"]


def _show_latex(model) -> None:
    print(r"\begin{aligned}")
    for sym, rate in zip(model.state, model.rates.flat()):
        print(rf"\frac{{d {sp.latex(sym)}}}{{d t}} &= {sp.latex(rate)} \\")
    for name, expr in model.observables.items():
        print(rf"{sp.latex(sp.Symbol(name))} &= {sp.latex(expr)} \\")
    print(rf"E &= {sp.latex(model.energy)} \\")
    print(rf"S &= {sp.latex(model.entropy)}")
    print(r"\end{aligned}")


def cmd_show(args) -> int:
    """The model as written (definitions unexpanded unless `--expand`): state, parameters,
    definitions, E, S, L and M by entry per coupling and process, observables, dx/dt."""
    model = load(args.model)[0]
    if args.latex:
        _show_latex(model)
        return EXIT_OK
    units = dict(model.units)

    def named(name: str) -> str:
        return f"{name} [{units[name]}]" if name in units else name

    src = model.source_form()
    expand = bool(args.expand)
    print(f"{model.name}" + (f": {model.description}" if model.description else ""))
    print(f"  state: {', '.join(named(n) for n in model.state_names)}")
    if model.params:
        values = ", ".join(f"{named(s.name)} = {v:g}" for s, v in model.params.items())
        print(f"  parameters: {values}")
    observables = dict(model.observables if expand else src.observables)
    for name, expr in () if expand else src.definitions.items():
        # A definition that is also an observable (model files' default) is listed once.
        also = isinstance(observables.get(name), sp.Symbol) and observables[name].name == name
        if also:
            del observables[name]
        print(f"  {named(name)} := {expr}" + ("  (observable)" if also else ""))
    print(f"  E = {model.energy if expand else src.energy}")
    print(f"  S = {model.entropy if expand else src.entropy}")
    parts = (
        ("L", "coupling", model.couplings if expand else src.poisson, model.named_couplings),
        ("M", "process", model.processes if expand else src.friction, model.named_processes),
    )
    for symbol, kind, operators, is_named in parts:
        if not operators:
            print(f"  {symbol} = 0")
        for key, matrix in operators.items():
            print(f"  {symbol}, {kind} {key!r}:" if is_named else f"  {symbol}:")
            for line in entries(symbol, matrix, model.state_names):
                print(f"    {line}")
    for name, expr in observables.items():
        print(f"  observable {named(name)} = {expr}")
    if expand or not src.definitions:
        for name, rate in zip(model.state_names, model.rates.flat()):
            print(f"  d{name}/dt = {rate}")
    else:
        print("  (dx/dt has the definitions substituted: see --expand)")
    return EXIT_OK


def cmd_plot(args) -> int:
    """Read a results file and draw it with `generic_mm.plot`."""
    from .._plot import plot
    from .._trajectory import load_trajectory

    path = Path(args.results)
    out = Path(args.output) if args.output else path.with_suffix(".png")
    try:
        writable_target(out, "-o")
    except InputError as err:
        raise InputProblem(str(err)) from None
    if out.suffix.lower() not in FIGURES:
        raise InputProblem(
            f"-o {out}: unsupported figure format {out.suffix or '(no suffix)'!r}; use "
            f"{', '.join(FIGURES)}"
        )
    names = None
    if args.vars is not None:
        names = [n.strip() for n in args.vars.split(",") if n.strip()]
        if not names:
            raise InputProblem("--vars: no names given; e.g. --vars T1,T2")
    traj = load_trajectory(path)
    try:
        plot(traj, names, path=out)
    except OSError as err:
        raise InputProblem(f"-o {out}: cannot write the file: {err.strerror or err}") from None
    print(f"wrote {out}")
    return EXIT_OK
