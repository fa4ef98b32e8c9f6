"""`run`'s options for a stochastic run of fluctuating GENERIC: `--noise KB`, `--paths N`,
`--seed S` and `--brownian tree|steps` (see `generic_mm.simulate`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from .._noise import BROWNIAN
from ._inputs import InputProblem, integer, number

DEFAULT_SEED = 0
"""The seed of `--noise` runs without `--seed`: the same command gives the same paths."""

_ONLY_STOCHASTIC = ("paths", "seed", "brownian")


def add_options(p: argparse.ArgumentParser) -> None:
    """`--noise`, `--paths`, `--seed`, `--brownian` on the `run` parser."""
    p.add_argument(
        "--noise",
        metavar="KB",
        type=number(positive=True),
        help="integrate fluctuating GENERIC with Boltzmann's constant KB (in the model's "
        "units): Euler-Maruyama in fixed steps of --dt0, which it requires",
    )
    p.add_argument(
        "--paths",
        metavar="N",
        type=integer(1),
        help="noise realisations from the one initial state, written to one .npz with a "
        "leading path axis (default: a single path, no axis)",
    )
    p.add_argument(
        "--seed",
        metavar="S",
        type=integer(0, maximum=2**63 - 1),
        help=f"seed of the noise; the same seed gives the same paths (default {DEFAULT_SEED}, "
        "printed with the results)",
    )
    p.add_argument(
        "--brownian",
        choices=BROWNIAN,
        help="tree: a virtual Brownian tree, the same path at every --dt0 (default); steps: "
        "independent increments per step, faster, but other paths at another --dt0",
    )


def stochastic_options(args: argparse.Namespace, sweeps: Mapping[str, Any]) -> dict[str, Any]:
    """`generic_mm.simulate`'s `noise`, `key`, `paths` and `brownian`, validated; `{}` for
    a deterministic run. (`--dt0` and `--solver` are checked with the other step options.)"""
    import jax

    if args.noise is None:
        given = [f"--{k}" for k in _ONLY_STOCHASTIC if getattr(args, k) is not None]
        if given:
            them = "it" if len(given) == 1 else "them"
            raise InputProblem(
                f"{', '.join(given)}: only a stochastic run takes {them}; give the noise "
                f"strength with --noise KB as well (or leave {them} out)"
            )
        return {}
    if args.paths is not None and sweeps:
        raise InputProblem(
            f"--paths {args.paths} with --sweep: a stochastic sweep integrates one path per "
            "swept member, each with its own noise; leave --paths out (repeat a value in "
            "--sweep for several paths of it)"
        )
    seed = DEFAULT_SEED if args.seed is None else args.seed
    return dict(
        noise=args.noise,
        key=jax.random.key(seed),
        paths=args.paths,
        brownian=args.brownian or "tree",
    )


def describe(args: argparse.Namespace, options: Mapping[str, Any], swept: bool) -> str:
    """The line `run` prints about a stochastic run: kB, paths, seed, Brownian motion."""
    paths = options["paths"]
    if paths:
        count = f"{paths} path{'s' if paths != 1 else ''}"
    else:
        count = "one path per swept member" if swept else "one path"
    seed = (
        f"seed {args.seed}"
        if args.seed is not None
        else f"seed {DEFAULT_SEED} (the default; --seed S for other paths)"
    )
    return f"noise kB = {options['noise']:g}: {count}, {seed}, Brownian {options['brownian']}"
