"""Cell and interaction templates, and the `Side` through which interactions see cells."""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .._errors import ModelError
from .._expressions import as_scalar_expr, closest, symbols_in
from .._validate import real_array, require_finite, violated_assumption
from ._graph import Grid


def _symbol(value: Any, where: str) -> sp.Symbol:
    if isinstance(value, str):
        return sp.Symbol(value, real=True)
    if isinstance(value, sp.Symbol):
        return value
    raise ModelError(f"{where}: expected a SymPy Symbol or a name, got {type(value).__name__}.")


def _values(params: Mapping | None, size: int, shape: tuple[int, ...], where: str) -> dict:
    """Parameter symbol -> a float or a float64 array of `size` values (one per cell/edge)."""
    out: dict[sp.Symbol, float | np.ndarray] = {}
    for key, value in (params or {}).items():
        sym = _symbol(key, f"{where} params")
        if sym in out:
            raise ModelError(f"{where} params: {sym.name!r} is given twice.")
        arr = np.asarray(
            real_array(
                value,
                f"{where} params[{sym.name!r}]",
                ModelError,
                expected="a number or an array of numbers",
            )
        )
        if arr.shape not in ((), (size,), shape):
            raise ModelError(
                f"{where} params[{sym.name!r}]: expected a number or an array of shape "
                f"{shape if shape != (size,) else (size,)}, got shape {arr.shape}."
            )
        require_finite(arr, f"{where} params[{sym.name!r}]", ModelError)
        bad = violated_assumption(sym, arr)
        if bad is not None:
            assumption, entry = bad
            raise ModelError(
                f"{where} params[{sym.name!r}]: {sym.name} is declared {assumption} but has the "
                f"value {entry:g}; the consistency proofs assume it is {assumption}. Use "
                f"{assumption} values, or declare the symbol without that assumption."
            )
        if arr.ndim == 0:
            out[sym] = float(arr)
        else:
            arr = arr.reshape(-1).copy()
            arr.flags.writeable = False  # models are immutable: their checks are cached
            out[sym] = arr
    return out


def _domain(domain: Mapping | None, where: str) -> dict[str, tuple[float, float]]:
    out = {}
    for key, interval in (domain or {}).items():
        name = _symbol(key, f"{where} domain").name
        try:
            lo, hi = (float(v) for v in interval)
        except (TypeError, ValueError):
            raise ModelError(f"{where} domain[{name!r}]: expected (lo, hi).") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ModelError(f"{where} domain[{name!r}]: expected finite lo < hi, got {interval}.")
        out[name] = (lo, hi)
    return out


class Cells:
    r"""A kind of cell: local state variables with a local energy and entropy, repeated.

    **Arguments:**

    - `name`: the kind's name (fields are reported as `name.variable`).
    - `state`: the local state variables (SymPy symbols or names).
    - `energy`, `entropy`: the energy $e(x_i)$ and entropy $s(x_i)$ of one cell.
    - `shape`: where the cells are: a [`generic_mm.structured.Grid`][], a number of cells, or
        a shape tuple (fields are returned with this shape).
    - `params`: symbol (or name) -> a number, or an array with one value per cell (e.g. by
        phase).
    - `domain`: symbol (or name) -> `(lo, hi)`: where the template checks sample.
    - `observables`: name -> expression of the cell's state and params (e.g. a temperature
        $\partial e/\partial s$): evaluated per cell, a field of the kind's shape along
        trajectories (`traj["T"]`).
    - `units`: name (state variable, parameter or observable) -> unit string.

    The total energy and entropy are $E = \sum_i e(x_i) + \sum_\text{edges}\phi$ and
    $S = \sum_i s(x_i)$.
    """

    def __init__(
        self,
        name: str,
        state: Sequence[Any],
        energy: Any,
        entropy: Any,
        *,
        shape: Grid | int | Sequence[int],
        params: Mapping | None = None,
        domain: Mapping | None = None,
        observables: Mapping | None = None,
        units: Mapping | None = None,
    ):
        if not isinstance(name, str) or not name.isidentifier():
            raise ModelError(f"Cells: name must be an identifier, got {name!r}.")
        where = f"cells {name!r}"
        self.name = name
        self.grid = shape if isinstance(shape, Grid) else None
        if isinstance(shape, Grid):
            self.shape = shape.shape
        elif isinstance(shape, (int, np.integer)):
            self.shape = (int(shape),)
        else:
            self.shape = tuple(int(s) for s in shape)
        if not self.shape or any(s < 1 for s in self.shape):
            raise ModelError(f"{where}: shape must be positive, got {self.shape}.")
        self.count = math.prod(self.shape)
        self.state = tuple(_symbol(s, f"{where} state[{i}]") for i, s in enumerate(state))
        if not self.state or len(set(self.state)) != len(self.state):
            raise ModelError(f"{where}: state must be distinct symbols, got {self.state}.")
        self.params = types.MappingProxyType(_values(params, self.count, self.shape, where))
        self.domain = _domain(domain, where)
        self.energy = as_scalar_expr(energy, f"{where} energy")
        self.entropy = as_scalar_expr(entropy, f"{where} entropy")
        self.observables: dict[str, sp.Expr] = {}
        if observables is not None and not isinstance(observables, Mapping):
            raise ModelError(f"{where} observables: expected a mapping name -> expression.")
        state_names = {v.name for v in self.state}
        for key, expr in (observables or {}).items():
            oname = key.name if isinstance(key, sp.Symbol) else key
            if not isinstance(oname, str) or not oname.isidentifier() or oname in state_names:
                raise ModelError(
                    f"{where} observables: {key!r} must be an identifier that is not a state "
                    "variable."
                )
            self.observables[oname] = as_scalar_expr(expr, f"{where} observables[{oname!r}]")
        self.units: dict[str, str] = {}
        allowed = state_names | {q.name for q in self.params} | set(self.observables)
        for key, unit in (units or {}).items():
            uname = key.name if isinstance(key, sp.Symbol) else key
            if uname not in allowed or not isinstance(unit, str):
                raise ModelError(
                    f"{where} units[{uname!r}]: expected a state variable, parameter or "
                    f"observable name{closest(str(uname), allowed)} -> a unit string."
                )
            self.units[uname] = unit
        known = set(self.state) | set(self.params)
        fields = [("energy", self.energy), ("entropy", self.entropy)]
        fields += [(f"observables[{k!r}]", v) for k, v in self.observables.items()]
        for field, expr in fields:
            unknown = sorted(s.name for s in symbols_in(expr) - known)
            if unknown:
                raise ModelError(
                    f"{where} {field}: unknown symbol {unknown[0]!r}"
                    f"{closest(unknown[0], [s.name for s in known])}; cell templates may use "
                    "their state and params."
                )

    def __repr__(self) -> str:
        return f"Cells({self.name!r}, state={[s.name for s in self.state]}, shape={self.shape})"


class Side:
    """One cell of an interaction, as the interaction's template sees it.

    `side.x` is the state variable `x` of that cell (symbol `x_a` on side `a`), `side.k` its
    cell parameter `k`, and `side.dE("x")` the conjugate $\\partial E/\\partial x$ at that
    cell: the derivative of the *total* energy, which friction blocks use (e.g. a
    temperature) so that $M\\nabla E = 0$ holds in the assembled model.
    """

    def __init__(self, cells: Cells, letter: str):
        self._cells = cells
        self._letter = letter
        self._vars = {
            v.name: sp.Symbol(f"{v.name}_{letter}", **v.assumptions0) for v in cells.state
        }
        self._params = {
            p.name: sp.Symbol(f"{p.name}_{letter}", **p.assumptions0) for p in cells.params
        }
        self._conj: dict[str, sp.Symbol] = {}
        for v in cells.state:
            positive = bool(sp.diff(cells.energy, v).is_positive)
            kind = {"positive": True} if positive else {"real": True}
            self._conj[v.name] = sp.Symbol(f"dE_d{v.name}_{letter}", **kind)

    @property
    def state(self) -> tuple[sp.Symbol, ...]:
        """This side's state variables, in the cell's order."""
        return tuple(self._vars.values())

    def dE(self, name: str) -> sp.Symbol:
        """The conjugate $\\partial E/\\partial x$ of state variable `name` at this cell."""
        if name not in self._conj:
            raise ModelError(
                f"dE({name!r}): not a state variable of cells {self._cells.name!r}"
                f"{closest(name, self._conj)}; they have {list(self._conj)}."
            )
        return self._conj[name]

    def __getattr__(self, name: str) -> sp.Symbol:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._vars:
            return self._vars[name]
        if name in self._params:
            return self._params[name]
        known = [*self._vars, *self._params]
        raise ModelError(
            f"side {self._letter!r} (cells {self._cells.name!r}) has no variable or parameter "
            f"{name!r}{closest(name, known)}; it has {known}."
        )


class Interaction:
    r"""A template repeated over the edges of a graph: an energy and Poisson and friction
    blocks acting on the cells each edge joins.

    **Arguments:**

    - `name`: the interaction's name.
    - `cells`: the kind(s) of cell on each side: one name for a site term (arity 1), two
        for pairs, more for larger stencils.
    - `edges`: integer array `(n_edges, arity)` of cell indices (e.g. `Grid.edges`).
    - `energy`: `f(a, b, ...) -> expr`, an energy $\phi$ per edge (e.g. a spring or pair
        potential), or `None`.
    - `poisson`, `friction`: `f(a, b, ...) -> Matrix` of size $K\times K$, $K$ the number of
        local variables of all sides (`a.state + b.state + ...`), or `None`. Each receives
        one [`generic_mm.structured.Side`][] per cell.
    - `params`: symbol (or name) -> a number or one value per edge.
    - `domain`: symbol (or name) -> `(lo, hi)` for the template checks.

    **Example** (Fourier conduction with conductance `kappa`, in entropy variables):

    ```python
    kappa = sp.Symbol("kappa", positive=True)
    Interaction("conduction", ("cell", "cell"), grid.edges,
                friction=lambda a, b: kappa * sp.Matrix(
                    [[a.dE("s") ** -1 * b.dE("s"), -1], [-1, a.dE("s") / b.dE("s")]]),
                params={kappa: 1.0})
    ```
    """

    def __init__(
        self,
        name: str,
        cells: str | Sequence[str],
        edges: Any,
        *,
        energy: Callable[..., Any] | None = None,
        poisson: Callable[..., Any] | None = None,
        friction: Callable[..., Any] | None = None,
        params: Mapping | None = None,
        domain: Mapping | None = None,
    ):
        if not isinstance(name, str) or not name.isidentifier():
            raise ModelError(f"Interaction: name must be an identifier, got {name!r}.")
        self.name = name
        self.cells = (cells,) if isinstance(cells, str) else tuple(cells)
        if not self.cells or not all(isinstance(c, str) for c in self.cells):
            raise ModelError(f"interaction {name!r}: cells must be kind names, got {cells!r}.")
        self.edges = edges
        for field, fn in (("energy", energy), ("poisson", poisson), ("friction", friction)):
            if fn is not None and not callable(fn):
                raise ModelError(
                    f"interaction {name!r} {field}: expected a function of the sides "
                    f"(lambda a, b: ...), got {type(fn).__name__}."
                )
        if energy is None and poisson is None and friction is None:
            raise ModelError(
                f"interaction {name!r}: give at least one of energy, poisson, friction."
            )
        self.energy_fn, self.poisson_fn, self.friction_fn = energy, poisson, friction
        self.raw_params = params
        self.domain = _domain(domain, f"interaction {name!r}")

    def __repr__(self) -> str:
        return f"Interaction({self.name!r}, cells={self.cells})"
