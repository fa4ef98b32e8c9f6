"""Structured models -> vectorised JAX: programs per template, gathers over edges, segment sums.

Every template is code-generated once (`Program`, with CSE) and `vmap`-ed over its cells or
edges, so tracing and compilation do not depend on the number of cells. Edge index arrays
travel as (integer) leaves of the compiled model, never as constants baked into the XLA
program, which would make compile time grow with the graph.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import sympy as sp

from .._codegen import AbstractFunctions, Program
from .._layout import StateLayout
from .._model import CompiledParts


def _grad(expr, xs):
    return sp.ImmutableMatrix([sp.diff(expr, x) for x in xs])


class _Inter:
    """The programs of one interaction."""

    def __init__(self, r):
        self.r = r
        K = len(r.local_state)
        self.vL = sp.symbols(f"_vL0:{K}", real=True)
        self.vM = sp.symbols(f"_vM0:{K}", real=True)
        outputs = []
        if r.poisson is not None:
            outputs.append(r.poisson * sp.ImmutableMatrix(self.vL))
        if r.friction is not None:
            outputs.append(r.friction * sp.ImmutableMatrix(self.vM))
        inputs = [*r.local_state, *r.conjugates, *self.vL, *self.vM]
        self.apply = Program(inputs, r.param_symbols, outputs) if outputs else None
        self.has_energy = r.energy != 0
        if self.has_energy:
            self.energy = Program(
                r.local_state, r.param_symbols, [r.energy, _grad(r.energy, r.local_state)]
            )
        self.widths = [len(s.state) for s in r.sides]


class StructuredFunctions(AbstractFunctions):
    """`AbstractFunctions` of a `StructuredModel` (see the module docstring)."""

    def __init__(self, model):
        self.model = model
        self.layout = StateLayout.fields(
            [(c.name, tuple(v.name for v in c.state), c.shape) for c in model.cells]
        )
        self.cell_programs = []
        for c in model.cells:
            params = sorted(c.params, key=lambda s: s.name)
            outs = [c.energy, c.entropy, _grad(c.energy, c.state), _grad(c.entropy, c.state)]
            self.cell_programs.append((Program(c.state, params, outs), params))
        self.inters = [_Inter(r) for r in model.interactions]
        self.observable_programs = []
        for c in model.cells:
            params = sorted(c.params, key=lambda s: s.name)
            outs = list(c.observables.values())
            self.observable_programs.append(Program(c.state, params, outs) if outs else None)

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(self.model.observable_fields)

    @property
    def process_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.model.interactions if r.friction is not None)

    # -- pieces ---------------------------------------------------------------------------------
    def _split(self, y):
        out = []
        for b in self.layout.blocks:
            out.append(y[b.offset : b.offset + b.size].reshape(b.count, len(b.variables)))
        return out

    def _join(self, parts):
        return jnp.concatenate([p.reshape(-1) for p in parts])

    def _cell_params(self, k, p):
        c = self.model.cells[k]
        _, names = self.cell_programs[k]
        if not names:
            return jnp.zeros((c.count, 0))
        return jnp.stack(
            [jnp.broadcast_to(jnp.asarray(p[s.name], dtype=float), (c.count,)) for s in names],
            axis=-1,
        )

    def _edge_params(self, i, p, data):
        r, idx = self.model.interactions[i], data[f"edges.{i}"]
        n_e = idx.shape[0]
        cols = []
        for j, cell_param, _ in r.side_params:
            value = jnp.asarray(p[cell_param.name], dtype=float)
            cols.append(jnp.broadcast_to(value, (1,)) if value.ndim == 0 else value[idx[:, j]])
        for s in sorted(r.params, key=lambda s: s.name):
            cols.append(jnp.asarray(p[s.name], dtype=float))
        if not cols:
            return jnp.zeros((n_e, 0))
        return jnp.stack([jnp.broadcast_to(c, (n_e,)) for c in cols], axis=-1)

    def _gather(self, i, arrays, data):
        """Per edge: the sides' rows of per-kind arrays, concatenated, `(n_edges, K)`."""
        r, idx = self.model.interactions[i], data[f"edges.{i}"]
        return jnp.concatenate([arrays[k][idx[:, j]] for j, k in enumerate(r.kinds)], axis=-1)

    def _scatter(self, i, values, targets, data):
        """Add each edge's `(n_edges, K)` values back onto its sides' cells."""
        r, idx = self.model.interactions[i], data[f"edges.{i}"]
        targets = list(targets)
        start = 0
        for j, (k, w) in enumerate(zip(r.kinds, self.inters[i].widths)):
            targets[k] = targets[k].at[idx[:, j]].add(values[:, start : start + w])
            start += w
        return targets

    def _cells(self, y, p):
        """Per kind: `(e, s, grad e, grad s)` for every cell."""
        out = []
        for k, ys in enumerate(self._split(y)):
            prog, _ = self.cell_programs[k]
            out.append(jax.vmap(prog)(ys, self._cell_params(k, p)))
        return out

    def _state(self, y, p, data):
        """Cell values, the total-energy gradient per kind, and the edge energies."""
        ys = self._split(y)
        cells = self._cells(y, p)
        gE = [c[2] for c in cells]
        phis = []
        for i, inter in enumerate(self.inters):
            if inter.has_energy:
                x = self._gather(i, ys, data)
                phi, dphi = jax.vmap(inter.energy)(x, self._edge_params(i, p, data))
                gE = self._scatter(i, dphi, gE, data)
                phis.append(phi)
            else:
                phis.append(None)
        return ys, cells, gE, phis

    def _products(self, p, data, ys, gE, vL, vM, *, split=False):
        """`L vL + M vM` per kind (or, with `split`, `L vL` and `M vM` separately, from the
        same gathers and program calls), and each interaction's `vM . M_e vM` per edge."""
        lv = [jnp.zeros_like(a) for a in ys]
        mv = [jnp.zeros_like(a) for a in ys] if split else lv
        sigmas = []
        for i, inter in enumerate(self.inters):
            if inter.apply is None:
                sigmas.append(None)
                continue
            r = inter.r
            args = [self._gather(i, a, data) for a in (ys, gE, vL, vM)]
            res = jax.vmap(inter.apply)(
                jnp.concatenate(args, axis=-1), self._edge_params(i, p, data)
            )
            has_L, has_M = r.poisson is not None, r.friction is not None
            if split:
                if has_L:
                    lv = self._scatter(i, res[0], lv, data)
                if has_M:
                    mv = self._scatter(i, res[-1], mv, data)
            else:
                lv = mv = self._scatter(i, sum(res), lv, data)
            sigmas.append(jnp.sum(args[3] * res[-1], axis=-1) if has_M else None)
        return lv, mv, sigmas

    def _production(self, p, data, ys, cells, gE):
        gS = [c[3] for c in cells]
        return self._products(p, data, ys, gE, [jnp.zeros_like(a) for a in gE], gS)[2]

    # -- AbstractFunctions -------------------------------------------------------------------
    def rates(self, y, p, data):
        ys, cells, gE, _ = self._state(y, p, data)
        out, _, _ = self._products(p, data, ys, gE, gE, [c[3] for c in cells])
        return self._join(out)

    def gradients(self, y, p, data):
        _, cells, gE, _ = self._state(y, p, data)
        return self._join(gE), self._join([c[3] for c in cells])

    def _totals(self, y, p, data):
        ys, cells, gE, phis = self._state(y, p, data)
        sigmas = self._production(p, data, ys, cells, gE)
        E = sum(jnp.sum(c[0]) for c in cells) + sum(jnp.sum(f) for f in phis if f is not None)
        S = sum(jnp.sum(c[1]) for c in cells)
        by_process = {
            r.name: jnp.sum(sig)
            for r, sig in zip(self.model.interactions, sigmas)
            if sig is not None
        }
        sigma = sum(by_process.values(), jnp.zeros(()))
        return (
            ys,
            cells,
            gE,
            (jnp.asarray(E, dtype=float), jnp.asarray(S, dtype=float), sigma),
            by_process,
        )

    def thermodynamics(self, y, p, data):
        return self._totals(y, p, data)[3]

    def production_by_process(self, y, p, data):
        return self._totals(y, p, data)[4]

    def observables(self, y, p, data):
        return self._observables(self._split(y), p)

    def _observables(self, ys, p):
        values: dict[tuple[int, str], jax.Array] = {}
        for k, (c, prog) in enumerate(zip(self.model.cells, self.observable_programs)):
            if prog is None:
                continue
            outs = jax.vmap(prog)(ys[k], self._cell_params(k, p))
            for name, v in zip(c.observables, outs):
                values[k, name] = v.reshape(c.shape)
        return {public: values[ko] for public, ko in self.model.observable_fields.items()}

    def record(self, y, p, data):
        ys, cells, gE, (E, S, sigma), by_process = self._totals(y, p, data)
        return {
            "energy": E,
            "entropy": S,
            "entropy_production": sigma,
            "processes": by_process,
            "observables": self._observables(ys, p),
            "grad_energy": self._join(gE),
            "grad_entropy": self._join([c[3] for c in cells]),
        }

    def apply(self, y, p, data, v_poisson, v_friction):
        ys, _, gE, _ = self._state(y, p, data)
        vL, vM = self._split(v_poisson), self._split(v_friction)
        lv, mv, _ = self._products(p, data, ys, gE, vL, vM, split=True)
        return self._join(lv), self._join(mv)

    def operators(self, y, p, data):
        n = y.shape[0]
        L, M = jax.vmap(lambda v: self.apply(y, p, data, v, v))(jnp.eye(n, dtype=y.dtype))
        L, M = L.T, M.T
        gE, gS = self.gradients(y, p, data)
        return L, M, gE, gS

    def fields(self, y, p, data):
        ys, cells, gE, phis = self._state(y, p, data)
        sigmas = self._production(p, data, ys, cells, gE)
        energy = [c[0] for c in cells]
        prod = [jnp.zeros_like(c[0]) for c in cells]
        for i, r in enumerate(self.model.interactions):
            idx, share = data[f"edges.{i}"], 1.0 / len(r.kinds)
            for j, k in enumerate(r.kinds):
                if phis[i] is not None:
                    energy[k] = energy[k].at[idx[:, j]].add(share * phis[i])
                if sigmas[i] is not None:
                    prod[k] = prod[k].at[idx[:, j]].add(share * sigmas[i])
        out = {}
        for k, c in enumerate(self.model.cells):
            out[c.name] = {
                "energy": energy[k].reshape(c.shape),
                "entropy": cells[k][1].reshape(c.shape),
                "entropy_production": prod[k].reshape(c.shape),
            }
        return out


def compile_parts(model) -> CompiledParts:
    """`(params, data, layout, functions)` for `CompiledModel`."""
    functions = StructuredFunctions(model)
    params = {k: jnp.asarray(v, dtype=float) for k, v in model.params.items()}
    data = {
        f"edges.{i}": jnp.asarray(r.edges, dtype=jnp.int32)
        for i, r in enumerate(model.interactions)
    }
    return CompiledParts(params, data, functions.layout, functions)
