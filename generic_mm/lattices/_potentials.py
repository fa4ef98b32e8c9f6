r"""Pair potentials $\phi(r)$: a SymPy expression of the distance with named parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import sympy as sp

from .._errors import ModelError
from .._expressions import as_param_value, as_scalar_expr, check_sign, closest, symbols_in

R = sp.Symbol("r", positive=True)
"""The distance symbol every `PairPotential` is written in."""

RESERVED = frozenset(
    {
        "r",
        "a",
        "m",
        "lam",
        "F11",
        "F12",
        "F21",
        "F22",
        "k1",
        "k2",
        "u",
        "p",
        "ux",
        "uy",
        "px",
        "py",
        "s",
        "gamma",
        "T_bath",
    }
    | {f"bond{c}{i}" for c in "xy" for i in range(1, 9)}
)
"""Names the lattices use for their own symbols (distance, spacing, mass, deformation, wave
vector, the lattice model's state, bath and bond parameters): a potential's parameters must
be named otherwise."""


class PairPotential:
    r"""A pair potential $\phi(r)$ of the interatomic distance $r$.

    **Arguments:**

    - `expr`: a SymPy expression of the distance and of parameters.
    - `r`: the distance symbol in `expr` (default: the symbol named `r`).
    - `params`: symbol (or name) -> value for every other symbol of `expr`.
    - `name`: a label for reports and plots.

    Any expression that `generic_mm` can compile is accepted; the built-ins
    [`lennard_jones`][generic_mm.lattices.lennard_jones], [`morse`][generic_mm.lattices.morse]
    and [`harmonic`][generic_mm.lattices.harmonic] return instances.

    **Example:**

    ```python
    import sympy as sp
    from generic_mm.lattices import PairPotential

    r, k4 = sp.symbols("r k4", positive=True)
    quartic = PairPotential(k4 * (r - 1) ** 4 / 4, params={k4: 2.0}, name="quartic")
    assert quartic(1.5) == 2.0 * 0.5**4 / 4
    ```
    """

    def __init__(
        self,
        expr: Any,
        *,
        r: sp.Symbol | str | None = None,
        params: Mapping[Any, Any] | None = None,
        name: str | None = None,
    ):
        where = f"PairPotential {name!r}" if name else "PairPotential"
        expr = as_scalar_expr(expr, f"{where} expr")
        free = symbols_in(expr)
        if r is None:
            named = [s for s in free if s.name == "r"]
            if not named:
                raise ModelError(
                    f"{where}: the expression has no symbol named 'r'; pass r= the distance symbol."
                )
            dist = named[0]
        elif isinstance(r, str):
            found = [s for s in free if s.name == r]
            if not found:
                raise ModelError(f"{where}: the expression has no symbol named {r!r}.")
            dist = found[0]
        elif isinstance(r, sp.Symbol):
            dist = r
        else:
            raise ModelError(f"{where} r: expected a SymPy Symbol or a name, got {r!r}.")
        if dist not in free:
            raise ModelError(
                f"{where}: the expression does not depend on {dist.name!r} (a symbol of the same "
                "name with other assumptions counts as another symbol)."
            )
        values: dict[sp.Symbol, float] = {}
        by_name = {s.name: s for s in free if s != dist}
        for key, value in (params or {}).items():
            key_name = key.name if isinstance(key, sp.Symbol) else key
            if not isinstance(key_name, str):
                raise ModelError(f"{where} params: keys must be symbols or names, got {key!r}.")
            if key_name not in by_name:
                raise ModelError(
                    f"{where} params[{key_name!r}]: not a symbol of the expression"
                    f"{closest(key_name, by_name)}; it has {sorted(by_name)}."
                )
            sym = by_name[key_name]
            val = as_param_value(value, f"{where} params[{key_name!r}]")
            check_sign(sym, val, f"{where} params[{key_name!r}]")
            values[sym] = val
        missing = sorted(set(by_name) - {s.name for s in values})
        if missing:
            raise ModelError(
                f"{where}: no value for {missing[0]!r}; give params={{{missing[0]!r}: ...}}."
            )
        for sym in values:
            if sym.name in RESERVED:
                raise ModelError(
                    f"{where} params[{sym.name!r}]: the name is used by the lattices "
                    f"({sorted(RESERVED)}); rename the symbol."
                )
        self.name = name or "pair potential"
        self.expr: sp.Expr = expr.subs(dist, R) if dist != R else expr
        self.params: dict[sp.Symbol, float] = values

    def __call__(self, r: float) -> float:
        """$\\phi(r)$ at a distance, as a float."""
        if isinstance(r, bool) or not isinstance(r, (int, float, np.number)) or not r > 0:
            raise ModelError(f"{self.name}: the distance must be a positive number, got {r!r}.")
        return float(cast(sp.Expr, self.expr.xreplace({**self.params, R: r})))

    def derivative(self, order: int = 1) -> sp.Expr:
        """$d^n\\phi/dr^n$ as a SymPy expression of `r` and the parameters."""
        return sp.diff(self.expr, R, order)

    def __repr__(self) -> str:
        values = ", ".join(f"{s.name}={v:g}" for s, v in self.params.items())
        return f"PairPotential({self.name}: {self.expr}; {values})"


def _positive(value: float, name: str, where: str) -> float:
    val = as_param_value(value, f"{where}({name}=...)")
    if not val > 0:
        raise ModelError(f"{where}: {name} must be positive, got {value!r}.")
    return val


def lennard_jones(epsilon: float = 1.0, sigma: float = 1.0) -> PairPotential:
    r"""$\phi(r) = 4\epsilon\,[(\sigma/r)^{12} - (\sigma/r)^6]$: minimum $-\epsilon$ at
    $2^{1/6}\sigma$, inflection at $(26/7)^{1/6}\sigma$."""
    eps, sig = sp.symbols("epsilon sigma", positive=True)
    expr = 4 * eps * ((sig / R) ** 12 - (sig / R) ** 6)
    values = {
        eps: _positive(epsilon, "epsilon", "lennard_jones"),
        sig: _positive(sigma, "sigma", "lennard_jones"),
    }
    return PairPotential(expr, params=values, name="Lennard-Jones")


def morse(depth: float = 1.0, width: float = 1.0, r0: float = 1.0) -> PairPotential:
    r"""$\phi(r) = D\,(1 - e^{-\alpha (r - r_0)})^2$ with depth $D$ (`depth`), inverse width
    $\alpha$ (`width`) and equilibrium distance $r_0$: inflection at $r_0 + \ln 2/\alpha$."""
    D, alpha, rm = sp.symbols("D alpha r0", positive=True)
    expr = D * (1 - sp.exp(-alpha * (R - rm))) ** 2
    values = {
        D: _positive(depth, "depth", "morse"),
        alpha: _positive(width, "width", "morse"),
        rm: _positive(r0, "r0", "morse"),
    }
    return PairPotential(expr, params=values, name="Morse")


def harmonic(stiffness: float = 1.0, r0: float = 1.0, *, name: str = "harmonic") -> PairPotential:
    r"""$\phi(r) = \tfrac{k}{2}(r - r_0)^2$: a linear spring of stiffness $k$ (`stiffness`) and
    rest length $r_0$."""
    k, rm = sp.symbols("kappa ell", positive=True)
    expr = k * (R - rm) ** 2 / 2
    values = {
        k: _positive(stiffness, "stiffness", "harmonic"),
        rm: _positive(r0, "r0", "harmonic"),
    }
    return PairPotential(expr, params=values, name=name)
