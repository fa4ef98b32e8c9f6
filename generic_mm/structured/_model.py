"""`StructuredModel`: cell templates and interaction templates over graphs."""

from __future__ import annotations

import dataclasses
import string
import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .._checks import CheckOptions
from .._errors import ModelError
from .._expressions import as_scalar_expr, closest, symbols_in
from .._model import AbstractModel, CompiledParts, GenericModel
from .._region import ParameterSpec
from .._report import ConsistencyReport
from ._graph import as_edges
from ._templates import Cells, Interaction, Side, _values

FLAT_LIMIT = 2000
"""The most state variables `StructuredModel.to_generic` will write out as one flat model."""


@dataclasses.dataclass(frozen=True)
class Resolved:
    """An interaction with its sides bound to cell kinds and its templates evaluated."""

    name: str
    kinds: tuple[int, ...]  # the cell kind (index into model.cells) of each side
    sides: tuple[Side, ...]
    edges: np.ndarray  # (n_edges, arity)
    energy: sp.Expr
    poisson: sp.ImmutableMatrix | None
    friction: sp.ImmutableMatrix | None
    params: Mapping  # own params: symbol -> float or (n_edges,) array (read-only)
    domain: Mapping

    @property
    def local_state(self) -> tuple[sp.Symbol, ...]:
        return tuple(v for s in self.sides for v in s.state)

    @property
    def conjugates(self) -> tuple[sp.Symbol, ...]:
        return tuple(s.dE(v.name) for s in self.sides for v in s._cells.state)

    @property
    def side_params(self) -> tuple[tuple[int, sp.Symbol, sp.Symbol], ...]:
        """`(side, cell parameter, side symbol)` for every cell parameter of every side."""
        return tuple(
            (j, p, s._params[p.name]) for j, s in enumerate(self.sides) for p in s._cells.params
        )

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        """Side parameter symbols, then own parameters (sorted): the programs' order."""
        own = sorted(self.params, key=lambda s: s.name)
        return tuple(sym for _, _, sym in self.side_params) + tuple(own)


class StructuredModel(AbstractModel):
    r"""A GENERIC model assembled from cell templates and interaction templates over graphs.

    $$E = \sum_{\text{cells}} e(x_i) + \sum_{\text{edges}} \phi(x_a, x_b, \dots),\quad
    S = \sum_{\text{cells}} s(x_i),\quad
    L = \sum_{\text{edges}} P_e^T L_e P_e,\quad M = \sum_{\text{edges}} P_e^T M_e P_e,$$

    with $P_e$ the gather of an edge's cells. The symbolic work (checks, code generation)
    is done once per template, so it does not grow with the number of cells; the compiled
    vector field gathers over edges and scatters back with segment sums, at a cost linear
    in the number of cells and edges. `compile`, `check` and `simulate` accept it like a
    `GenericModel`.

    **Arguments:**

    - `cells`: one or more [`generic_mm.structured.Cells`][].
    - `interactions`: [`generic_mm.structured.Interaction`][]s.
    - `name`: a human-readable name.

    **Raises:** `ModelError` naming the kind, interaction and entry at fault.
    """

    def __init__(
        self,
        cells: Cells | Sequence[Cells],
        interactions: Sequence[Interaction] = (),
        *,
        name: str = "structured model",
    ):
        cells = [cells] if isinstance(cells, Cells) else list(cells)
        if not cells or not all(isinstance(c, Cells) for c in cells):
            raise ModelError("StructuredModel: cells must be one or more Cells.")
        names = [c.name for c in cells]
        if len(set(names)) != len(names):
            raise ModelError(f"StructuredModel: cell kinds must have distinct names, got {names}.")
        if not all(isinstance(i, Interaction) for i in interactions):
            raise ModelError("StructuredModel: interactions must be Interaction objects.")
        inames = [i.name for i in interactions]
        if len(set(inames)) != len(inames):
            raise ModelError(
                f"StructuredModel: interactions must have distinct names, got {inames}."
            )
        self.name = str(name)
        self.cells: tuple[Cells, ...] = tuple(cells)
        self.interactions: tuple[Resolved, ...] = tuple(self._resolve(i) for i in interactions)
        self._check_param_names()
        self.observable_fields: dict[str, tuple[int, str]] = self._observable_fields()
        self.units = types.MappingProxyType(self._units())
        self._freeze()

    def _observable_fields(self) -> dict[str, tuple[int, str]]:
        """Public name (`T`, or `kind.T` where kinds share the name) -> (kind, observable)."""
        counts: dict[str, int] = {}
        for c in self.cells:
            for o in c.observables:
                counts[o] = counts.get(o, 0) + 1
        fields = set(self.state_specs())
        out: dict[str, tuple[int, str]] = {}
        for k, c in enumerate(self.cells):
            for o in c.observables:
                public = o if counts[o] == 1 else f"{c.name}.{o}"
                if public in fields:
                    raise ModelError(
                        f"cells {c.name!r} observables[{o!r}]: {public!r} is also a field (state "
                        "variable) of the model; choose another name."
                    )
                out[public] = (k, o)
        return out

    def _field_name(self, kind: int, var: str) -> str:
        shared = sum(1 for c in self.cells for v in c.state if v.name == var) > 1
        return f"{self.cells[kind].name}.{var}" if shared else var

    def _units(self) -> dict[str, str]:
        public = {ko: name for name, ko in self.observable_fields.items()}
        out: dict[str, str] = {}
        for k, c in enumerate(self.cells):
            for key, unit in c.units.items():
                if key in {v.name for v in c.state}:
                    out[self._field_name(k, key)] = unit
                elif key in c.observables:
                    out[public[k, key]] = unit
                else:
                    out[key] = unit
        return out

    # -- construction ---------------------------------------------------------------------------
    def _kind(self, name: str, where: str) -> int:
        for k, c in enumerate(self.cells):
            if c.name == name:
                return k
        known = [c.name for c in self.cells]
        raise ModelError(f"{where}: no cells named {name!r}{closest(name, known)}; kinds: {known}.")

    def _resolve(self, inter: Interaction) -> Resolved:
        where = f"interaction {inter.name!r}"
        kinds = tuple(self._kind(c, f"{where} cells") for c in inter.cells)
        if len(kinds) > len(string.ascii_lowercase):
            raise ModelError(f"{where}: at most 26 sides.")
        sides = tuple(Side(self.cells[k], string.ascii_lowercase[j]) for j, k in enumerate(kinds))
        sizes = [(self.cells[k].name, self.cells[k].count) for k in kinds]
        edges = as_edges(inter.edges, sizes, f"{where} edges")
        params = _values(inter.raw_params, len(edges), (len(edges),), where)
        local = [v for s in sides for v in s.state]
        side_params = [p for s in sides for p in s._params.values()]
        clash = {s.name for s in params} & {s.name for s in [*local, *side_params]}
        if clash:
            raise ModelError(
                f"{where}: parameter {sorted(clash)[0]!r} has the name of a side symbol; rename it."
            )
        plain = set(local) | set(side_params) | set(params)
        conj = {s.dE(v.name) for s in sides for v in s._cells.state}
        n = len(local)

        def build(fn, field):
            try:
                return fn(*sides)
            except ModelError:
                raise
            except Exception as exc:  # the user's template function failed: say where
                raise ModelError(f"{where} {field}: the template raised {exc!r}.") from exc

        energy = sp.Integer(0)
        if inter.energy_fn is not None:
            energy = as_scalar_expr(build(inter.energy_fn, "energy"), f"{where} energy")
            _known(energy, plain, f"{where} energy", "conjugates dE(...) belong in friction only")
        ops = []
        for field, fn in (("poisson", inter.poisson_fn), ("friction", inter.friction_fn)):
            if fn is None:
                ops.append(None)
                continue
            mat = build(fn, field)
            if not isinstance(mat, sp.MatrixBase) or mat.shape != (n, n):
                shape = getattr(mat, "shape", type(mat).__name__)
                raise ModelError(
                    f"{where} {field}: expected a {n}x{n} SymPy Matrix (rows and columns "
                    f"{[v.name for v in local]}), got {shape}."
                )
            entries = []
            for i in range(n):
                row = []
                for j in range(n):
                    e = as_scalar_expr(mat[i, j], f"{where} {field}[{local[i]}, {local[j]}]")
                    allowed = plain | conj if field == "friction" else plain
                    hint = "the Poisson operator must not depend on dE (it must be a function "
                    hint += "of the state for the Jacobi identity)"
                    _known(e, allowed, f"{where} {field}[{local[i]}, {local[j]}]", hint)
                    row.append(e)
                entries.append(row)
            ops.append(sp.ImmutableMatrix(entries))
        edges = np.array(edges)
        edges.flags.writeable = False
        return Resolved(
            inter.name,
            kinds,
            sides,
            edges,
            energy,
            ops[0],
            ops[1],
            types.MappingProxyType(params),
            types.MappingProxyType(dict(inter.domain)),
        )

    def _check_param_names(self) -> None:
        owner: dict[str, str] = {}
        for c in self.cells:
            for p in c.params:
                self._own(owner, p.name, f"cells {c.name!r}")
        for r in self.interactions:
            for p in r.params:
                self._own(owner, p.name, f"interaction {r.name!r}")

    @staticmethod
    def _own(owner: dict[str, str], name: str, who: str) -> None:
        if name in owner:
            raise ModelError(
                f"parameter {name!r} is declared by {owner[name]} and by {who}; parameters "
                "are named globally: give them distinct names (an interaction reads a cell's "
                "parameter k as a.k)."
            )
        owner[name] = who

    # -- public --------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """The number of state variables (all cells)."""
        return sum(c.count * len(c.state) for c in self.cells)

    @property
    def params(self) -> dict[str, Any]:
        """All parameter values by name (arrays for per-cell or per-edge values)."""
        out = {p.name: v for c in self.cells for p, v in c.params.items()}
        out.update({p.name: v for r in self.interactions for p, v in r.params.items()})
        return out

    # -- the model interface ---------------------------------------------------------------
    def compile_parts(self) -> CompiledParts:
        from ._compile import compile_parts

        return compile_parts(self)

    def consistency_report(self, options: CheckOptions) -> ConsistencyReport:
        from ._checks import check_templates

        return check_templates(self, options)

    def state_specs(self) -> Mapping[str, tuple[sp.Symbol, tuple[float, float] | None]]:
        counts: dict[str, int] = {}
        for c in self.cells:
            for v in c.state:
                counts[v.name] = counts.get(v.name, 0) + 1
        return {
            (v.name if counts[v.name] == 1 else f"{c.name}.{v.name}"): (v, c.domain.get(v.name))
            for c in self.cells
            for v in c.state
        }

    def parameter_specs(self) -> Mapping[str, ParameterSpec]:
        """Name -> `ParameterSpec` (symbol with its assumptions, the per-cell or per-edge
        values, the declared domain or `None`) for every cell and interaction parameter."""

        def build():
            out = {}
            for c in self.cells:
                for p, v in c.params.items():
                    out[p.name] = ParameterSpec(p, np.asarray(v), c.domain.get(p.name))
            for r in self.interactions:
                for p, v in r.params.items():
                    out[p.name] = ParameterSpec(p, np.asarray(v), r.domain.get(p.name))
            return out

        return self.cached("specs", build)

    def to_generic(self) -> GenericModel:
        """The same model written out as one flat [`generic_mm.GenericModel`][] (symbols
        `x_<kind>_<i>`), for checking the assembly on small instances and for comparison.

        **Raises:** `ModelError` above `FLAT_LIMIT` = 2000 state variables: the flat form
        grows like $n^2$, which is what structured models avoid.
        """
        if self.n > FLAT_LIMIT:
            raise ModelError(
                f"to_generic: {self.n} state variables is more than {FLAT_LIMIT}; the flat form "
                "is for small instances."
            )
        from ._flat import flatten

        return flatten(self)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{c.name}{list(c.shape)}" for c in self.cells)
        inter = ", ".join(f"{r.name}[{len(r.edges)}]" for r in self.interactions)
        return f"StructuredModel({self.name!r}, cells: {kinds}; interactions: {inter})"


def _known(expr: sp.Expr, allowed: set, where: str, hint: str) -> None:
    unknown = sorted(s.name for s in symbols_in(expr) - allowed)
    if unknown:
        names = [s.name for s in allowed]
        raise ModelError(
            f"{where}: unknown symbol {unknown[0]!r}{closest(unknown[0], names)}; templates may "
            f"use the sides' variables and parameters and their own params ({hint})."
        )
