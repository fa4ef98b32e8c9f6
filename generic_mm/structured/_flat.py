"""A small `StructuredModel` written out as one flat `GenericModel` (for checks and comparison)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from .._model import GenericModel


def _bound(sym: sp.Symbol, value, i: int, params: dict) -> sp.Expr:
    """A parameter with one value stays a parameter; per-cell (per-edge) values become the
    number of cell (edge) `i`."""
    if np.ndim(value) == 0:
        params[sym] = float(value)
        return sym
    return sp.Float(float(value[i]))


def flatten(model) -> GenericModel:
    """Cell `i` of kind `k` gets symbols `<var>_<kind>_<i>`; per-cell and per-edge parameter
    values are substituted as numbers, parameters with one value stay parameters."""
    params: dict[sp.Symbol, float] = {}
    domain: dict[str, tuple[float, float]] = {}
    cell_symbols, state, energy, entropy = [], [], sp.Integer(0), sp.Integer(0)
    for c in model.cells:
        rows = []
        for i in range(c.count):
            syms = [sp.Symbol(f"{v.name}_{c.name}_{i}", **v.assumptions0) for v in c.state]
            rows.append(syms)
            state.extend(syms)
            sub = dict(zip(c.state, syms))
            sub.update({p: _bound(p, v, i, params) for p, v in c.params.items()})
            energy += c.energy.xreplace(sub)
            entropy += c.entropy.xreplace(sub)
            for v, sym in zip(c.state, syms):
                if v.name in c.domain:
                    domain[sym.name] = c.domain[v.name]
        cell_symbols.append(rows)
        domain.update({p.name: c.domain[p.name] for p in c.params if p.name in c.domain})
    index = {s: k for k, s in enumerate(state)}
    blocks = []
    for r in model.interactions:
        for e, cells in enumerate(r.edges):
            sub = {}
            local = []
            for j, (k, side) in enumerate(zip(r.kinds, r.sides)):
                syms = cell_symbols[k][int(cells[j])]
                local.extend(syms)
                sub.update(dict(zip(side.state, syms)))
                for _, cell_param, side_sym in (t for t in r.side_params if t[0] == j):
                    value = model.cells[k].params[cell_param]
                    sub[side_sym] = _bound(cell_param, value, int(cells[j]), params)
            sub.update({p: _bound(p, v, e, params) for p, v in r.params.items()})
            energy += r.energy.xreplace(sub)
            blocks.append((r, sub, local))
    grad_e = {s: sp.diff(energy, s) for s in state}
    n = len(state)
    L: dict[tuple[int, int], sp.Expr] = {}
    M: dict[tuple[int, int], sp.Expr] = {}
    for r, sub, local in blocks:
        conj = dict(zip(r.conjugates, (grad_e[s] for s in local)))
        rows = [index[s] for s in local]
        for target, op, extra in ((L, r.poisson, {}), (M, r.friction, conj)):
            if op is None:
                continue
            block = op.xreplace({**sub, **extra})
            for a, i in enumerate(rows):
                for b, j in enumerate(rows):
                    if block[a, b] != 0:
                        target[i, j] = target.get((i, j), 0) + block[a, b]
    for r in model.interactions:
        domain.update(r.domain)
    return GenericModel(
        state=state,
        energy=energy,
        entropy=entropy,
        poisson=sp.SparseMatrix(n, n, L),
        friction=sp.SparseMatrix(n, n, M),
        params=params,
        name=f"{model.name} (flat)",
        domain={
            k: v
            for k, v in domain.items()
            if k in {s.name for s in state} | {p.name for p in params}
        },
    )
