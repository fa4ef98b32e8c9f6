"""Structured models -> vectorised JAX: programs per template, gathers over edges, segment sums.

Every template is code-generated once (`Program`, with CSE) and `vmap`-ed over its cells or
edges, so tracing and compilation do not depend on the number of cells. Edge index arrays
travel as (integer) leaves of the compiled model, never as constants baked into the XLA
program, which would make compile time grow with the graph.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import lineax as lx
import sympy as sp

from .._codegen import AbstractFunctions, Program
from .._errors import InputError
from .._layout import StateLayout
from .._model import CompiledParts
from .._noise import psd_factor


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

    @functools.cached_property
    def hessian(self) -> Program | None:
        """The energy's Hessian blocks of each side with itself (what edges add to the
        Hessian blocks of their cells), or `None` without an energy."""
        if not self.has_energy:
            return None
        blocks, o = [], 0
        for w in self.widths:
            xs = self.r.local_state[o : o + w]
            blocks.append(sp.hessian(self.r.energy, xs))
            o += w
        return Program(self.r.local_state, self.r.param_symbols, blocks)

    @functools.cached_property
    def noise(self) -> tuple[Program, tuple[sp.Symbol, ...]]:
        r"""The friction block $M_e$ and its divergence per edge, given the local state, the
        conjugates and each side's Hessian block of the total energy:
        $(\mathrm{div}M_e)_i = \sum_j\partial M_{ij}/\partial x_j + \sum_{c,j}
        \partial M_{ij}/\partial g_c\,H_{cj}$ ($c, j$ in the same cell)."""
        r = self.r
        M, x, g = r.friction, r.local_state, r.conjugates
        K = len(x)
        H = {}
        o = 0
        hsyms: list[sp.Symbol] = []
        for side, w in enumerate(self.widths):
            for a in range(w):
                for b in range(w):
                    h = sp.Symbol(f"_H{side}_{a}_{b}", real=True)
                    H[o + a, o + b] = h
                    hsyms.append(h)
            o += w
        div = []
        for i in range(K):
            terms = [sp.diff(M[i, j], x[j]) for j in range(K)]
            for (c, j), h in H.items():
                d = sp.diff(M[i, j], g[c])
                if d != 0:
                    terms.append(d * h)
            div.append(sp.Add(*terms))
        inputs = [*x, *g, *hsyms]
        return Program(inputs, r.param_symbols, [M, sp.ImmutableMatrix(div)]), tuple(hsyms)


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

    # -- noise ----------------------------------------------------------------------------------
    @functools.cached_property
    def _cell_hessians(self) -> list[Program]:
        return [
            Program(c.state, prog_params, [sp.hessian(c.energy, c.state)])
            for c, (_, prog_params) in zip(self.model.cells, self.cell_programs)
        ]

    def _hessian_blocks(self, ys, p, data):
        """Per kind, `(count, w, w)`: each cell's block of the Hessian of the total energy
        (its own energy and every edge energy touching it)."""
        blocks = []
        for k, (c, prog) in enumerate(zip(self.model.cells, self._cell_hessians)):
            w = len(c.state)
            h = jax.vmap(prog)(ys[k], self._cell_params(k, p))[0]
            blocks.append(h.reshape(c.count, w, w))
        for i, inter in enumerate(self.inters):
            prog = inter.hessian
            if prog is None:
                continue
            x = self._gather(i, ys, data)
            parts = jax.vmap(prog)(x, self._edge_params(i, p, data))
            idx = data[f"edges.{i}"]
            for j, (k, w) in enumerate(zip(inter.r.kinds, inter.widths)):
                blocks[k] = blocks[k].at[idx[:, j]].add(parts[j].reshape(-1, w, w))
        return blocks

    def _friction_blocks(self, y, p, data):
        """Per friction interaction: `(i, M_e (n_e, K, K), div M_e (n_e, K))`."""
        _ = self._noise_checked
        ys, _, gE, _ = self._state(y, p, data)
        H = self._hessian_blocks(ys, p, data)
        out = []
        for i, inter in enumerate(self.inters):
            if inter.r.friction is None:
                continue
            prog, _ = inter.noise
            K = len(inter.r.local_state)
            flat_H = [h.reshape(h.shape[0], -1) for h in H]
            args = [self._gather(i, a, data) for a in (ys, gE, flat_H)]
            M, div = jax.vmap(prog)(jnp.concatenate(args, axis=-1), self._edge_params(i, p, data))
            out.append((i, M.reshape(-1, K, K), div.reshape(-1, K)))
        return out

    def divergence(self, y, p, data):
        ys = self._split(y)
        acc = [jnp.zeros_like(a) for a in ys]
        for i, _, div in self._friction_blocks(y, p, data):
            acc = self._scatter(i, div, acc, data)
        return self._join(acc)

    def noise_dim(self, data) -> int:
        return sum(
            data[f"edges.{i}"].shape[0] * len(inter.r.local_state)
            for i, inter in enumerate(self.inters)
            if inter.r.friction is not None
        )

    def noise_operator(self, y, p, data, scale):
        factors = [(i, jax.vmap(psd_factor)(M)) for i, M, _ in self._friction_blocks(y, p, data)]
        shapes = [a.shape for a in self._split(y)]

        def apply(dw):
            acc = [jnp.zeros(sh, dtype=y.dtype) for sh in shapes]
            start = 0
            for i, B in factors:
                n_e, K = B.shape[0], B.shape[1]
                w = dw[start : start + n_e * K].reshape(n_e, K)
                start += n_e * K
                acc = self._scatter(i, scale * jnp.einsum("eij,ej->ei", B, w), acc, data)
            return self._join(acc)

        structure = jax.ShapeDtypeStruct((self.noise_dim(data),), y.dtype)
        return lx.FunctionLinearOperator(apply, structure)

    @functools.cached_property
    def _noise_checked(self) -> bool:
        """`_check_noise`, run once (it differentiates the templates symbolically)."""
        self._check_noise()
        return True

    def _check_noise(self) -> None:
        """Refuse a friction template whose divergence needs a Hessian block between two
        cells: a column j of another side than conjugate c with dM_ij/dg_c != 0, where
        some interaction energy couples var(c) and var(j) across two cells."""
        for inter in self.inters:
            r = inter.r
            if r.friction is None:
                continue
            M, K = r.friction, len(r.local_state)
            owner = [j for j, w in enumerate(inter.widths) for _ in range(w)]
            names = [v.name.rsplit("_", 1)[0] for v in r.local_state]
            for c, g in enumerate(r.conjugates):
                for j in range(K):
                    if owner[j] == owner[c] or all(sp.diff(M[i, j], g) == 0 for i in range(K)):
                        continue
                    a, b = (r.kinds[owner[c]], names[c]), (r.kinds[owner[j]], names[j])
                    for other in self.inters:
                        if other.has_energy and _couples(other, a, b):
                            raise InputError(
                                f"noise: the friction of interaction {r.name!r} uses the "
                                f"conjugate dE/d{names[c]} in the column of {names[j]} of "
                                f"another cell, and the energy of interaction "
                                f"{other.r.name!r} couples {names[c]} and {names[j]} across "
                                "cells (a mixed second derivative): the Ito drift kB div M "
                                "would need Hessian blocks between cells, which generic_mm "
                                "does not assemble yet."
                            )

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


def _couples(inter: _Inter, a: tuple[int, str], b: tuple[int, str]) -> bool:
    """Does `inter`'s energy have a mixed derivative between variable `a = (kind, name)` on
    one side and `b` on another?"""
    r = inter.r
    local = []
    for j, side in enumerate(r.sides):
        for v in side.state:
            local.append((j, (r.kinds[j], v.name.rsplit("_", 1)[0]), v))
    for ja, ka, xa in local:
        for jb, kb, xb in local:
            if ja != jb and ka == a and kb == b and sp.diff(r.energy, xa, xb) != 0:
                return True
    return False


def compile_parts(model) -> CompiledParts:
    """`(params, data, layout, functions)` for `CompiledModel`."""
    functions = StructuredFunctions(model)
    params = {k: jnp.asarray(v, dtype=float) for k, v in model.params.items()}
    data = {
        f"edges.{i}": jnp.asarray(r.edges, dtype=jnp.int32)
        for i, r in enumerate(model.interactions)
    }
    return CompiledParts(params, data, functions.layout, functions)
