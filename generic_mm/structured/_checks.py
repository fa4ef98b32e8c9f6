"""Consistency of a structured model, established once per template.

With $E = \\sum_i e(x_i) + \\sum_e\\phi_e$, $S = \\sum_i s(x_i)$, $L = \\sum_e P_e^T L_e P_e$ and
$M = \\sum_e P_e^T M_e P_e$:

- $L$ is antisymmetric and $M$ symmetric positive semi-definite when every block is (sums of
  such matrices are);
- $L\nabla S = \\sum_e P_e^T L_e (P_e\nabla S) = 0$ when $L_e\nabla_e s = 0$, since $S$ is a sum
  of cell terms, so $P_e\nabla S$ is the sides' local entropy gradients;
- $M\nabla E = 0$ when $M_e c = 0$ for every value the sides' conjugates $c = P_e\nabla E$ can
  take: a variable that occurs in no interaction energy has the conjugate
  $\\partial e/\\partial x$ of its cell, one that does is a free symbol `dE_dx_a` (positive
  when $\\partial e/\\partial x$ is, e.g. a temperature), for which the block must hold
  identically;
- Jacobi holds when every Poisson block is constant, and for a state-dependent block on
  one cell (a site term) when it holds for that block and no other Poisson block touches
  that kind of cell (a direct sum of Poisson structures). Otherwise it is not established
  from the templates, and the check says so (check `model.to_generic()` on a small
  instance).

Each block condition is tried symbolically (the core's provers, time-boxed) and otherwise
sampled (the core's judges) over the states, the free conjugates and the actual parameter
values of the cells and edges.
"""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .._checks import (
    _Budget,
    _symbolic_antisymmetric,
    _symbolic_friction_degeneracy,
    _symbolic_poisson_degeneracy,
    _symbolic_psd,
    _symbolic_symmetric,
    check as core_check,
)
from .._codegen import Program
from .._model import GenericModel
from .._report import CONDITIONS, CheckResult, ConsistencyReport
from .._sampling import SampledChecks, _sample_symbol


def _shared(model) -> set[tuple[int, str]]:
    """`(kind, variable name)` pairs that occur in some interaction energy."""
    out = set()
    for r in model.interactions:
        for side, k in zip(r.sides, r.kinds):
            for v in side._cells.state:
                if side._vars[v.name] in r.energy.free_symbols:
                    out.add((k, v.name))
    return out


def _block(model, r, shared) -> types.SimpleNamespace:
    """One interaction's blocks as a small model-like object the core's checks understand."""
    K = len(r.local_state)
    conj_sub, free, gS, domain = {}, [], [], {}
    for side, k in zip(r.sides, r.kinds):
        cell = side._cells
        to_side = {
            **{v: side._vars[v.name] for v in cell.state},
            **{p: side._params[p.name] for p in cell.params},
        }
        for v in cell.state:
            c = side.dE(v.name)
            if (k, v.name) in shared:
                free.append(c)
            else:
                conj_sub[c] = sp.diff(cell.energy, v).xreplace(to_side)
            gS.append(sp.diff(cell.entropy, v).xreplace(to_side))
            if v.name in cell.domain:
                domain[side._vars[v.name].name] = cell.domain[v.name]
    zero = sp.ImmutableMatrix.zeros(K, K)
    L = r.poisson if r.poisson is not None else zero
    M = r.friction.xreplace(conj_sub) if r.friction is not None else zero
    grad_e = sp.ImmutableMatrix([c.xreplace(conj_sub) for c in r.conjugates])
    values = _param_values(model, r)
    domain.update(r.domain)
    inputs = (*r.local_state, *free)
    return types.SimpleNamespace(
        name=r.name,
        n=K,
        poisson=L,
        friction=M,
        grad_entropy=sp.ImmutableMatrix(gS),
        grad_energy=grad_e,
        inputs=inputs,
        state_names=tuple(s.name for s in inputs),
        param_symbols=r.param_symbols,
        param_names=tuple(s.name for s in r.param_symbols),
        values=values,
        domain=domain,
    )


def _param_values(model, r) -> dict:
    """The values each parameter symbol of an interaction's programs takes (arrays per cell
    or edge)."""
    values = {sym: model.cells[r.kinds[j]].params[p] for j, p, sym in r.side_params}
    values.update(r.params)
    return values


class _TemplateSamples(SampledChecks):
    """The core's sampled judges, evaluated on one block at sampled local states, free
    conjugates and actual parameter values."""

    def __init__(self, blk, *, samples: int, seed: int, rtol: float):
        self.model, self.rtol = blk, rtol
        rng = np.random.default_rng(seed)
        ys = np.stack(
            [_sample_symbol(s, blk.domain.get(s.name), samples, rng) for s in blk.inputs], axis=-1
        )
        cols = []
        for s in blk.param_symbols:
            v = blk.values[s]
            cols.append(np.full(samples, v) if np.ndim(v) == 0 else rng.choice(v, samples))
        ps = np.stack(cols, axis=-1) if cols else np.zeros((samples, 0))
        self.ys, self.ps = ys, ps
        prog = Program(
            blk.inputs,
            blk.param_symbols,
            [blk.poisson, blk.friction, blk.grad_energy, blk.grad_entropy],
        )
        out = jax.jit(jax.vmap(prog))(jnp.asarray(ys), jnp.asarray(ps))
        self.L, self.M, self.gE, self.gS = (np.asarray(a) for a in out)
        finite = [np.isfinite(a).reshape(samples, -1).all(axis=1) for a in out]
        self.finite = np.logical_and.reduce(finite)


_PROVERS = {
    "poisson_antisymmetric": lambda b, t, done: _symbolic_antisymmetric(b, _Budget(t)),
    "friction_symmetric": lambda b, t, done: _symbolic_symmetric(b, _Budget(t)),
    "friction_positive_semidefinite": lambda b, t, done: _symbolic_psd(
        b, _Budget(t), done.get("friction_symmetric", False)
    ),
    "poisson_degeneracy": lambda b, t, done: _symbolic_poisson_degeneracy(b, _Budget(t)),
    "friction_degeneracy": lambda b, t, done: _symbolic_friction_degeneracy(b, _Budget(t)),
}
_JUDGES = {
    "poisson_antisymmetric": SampledChecks.antisymmetric,
    "friction_symmetric": SampledChecks.symmetric,
    "friction_positive_semidefinite": SampledChecks.positive_semidefinite,
    "poisson_degeneracy": SampledChecks.poisson_degeneracy,
    "friction_degeneracy": SampledChecks.friction_degeneracy,
}


def _block_results(blk, samples, rtol, seed, timeout) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    done: dict[str, bool] = {}
    sampler = None
    for name in (
        "poisson_antisymmetric",
        "friction_symmetric",
        "friction_positive_semidefinite",
        "poisson_degeneracy",
        "friction_degeneracy",
    ):
        proof = _PROVERS[name](blk, timeout, done)
        if proof is not None:
            out[name] = CheckResult(name, True, "symbolic", proof)
        else:
            if sampler is None:
                sampler = _TemplateSamples(blk, samples=samples, seed=seed, rtol=rtol)
            out[name] = _JUDGES[name](sampler)
        done[name] = out[name].passed and out[name].method == "symbolic"
    return out


def _jacobi(model, samples, rtol, seed, timeout) -> CheckResult:
    state_dependent = [
        r
        for r in model.interactions
        if r.poisson is not None and r.poisson.free_symbols & set(r.local_state)
    ]
    if not state_dependent:
        return CheckResult(
            "jacobi_identity", True, "symbolic", "templates: every Poisson block is constant"
        )
    methods = []
    for r in state_dependent:
        touching = [
            o
            for o in model.interactions
            if o is not r and o.poisson is not None and set(o.kinds) & set(r.kinds)
        ]
        if len(r.kinds) != 1 or touching:
            return CheckResult(
                "jacobi_identity",
                False,
                "symbolic",
                f"not established from the templates: the Poisson block of {r.name!r} depends on "
                "the state and overlaps other Poisson blocks; check model.to_generic() on a small "
                "instance, or pass check=False",
            )
        site = GenericModel(
            state=list(r.local_state),
            energy=0,
            entropy=0,
            poisson=r.poisson,
            params={s: float(np.mean(v)) for s, v in _param_values(model, r).items()},
            name=f"{r.name} (site block)",
        )
        res = core_check(site, samples=samples, rtol=rtol, seed=seed, symbolic_timeout=timeout)
        jac = res["jacobi_identity"]
        if not jac.passed:
            return CheckResult(
                "jacobi_identity",
                False,
                jac.method,
                f"template {r.name!r}: {jac.message}",
                jac.counterexample,
                jac.residual,
            )
        methods.append(jac.method)
    method = "symbolic" if all(m == "symbolic" for m in methods) else "sampled"
    return CheckResult(
        "jacobi_identity",
        True,
        method,
        "templates: constant Poisson blocks, and state-dependent site blocks that "
        "satisfy Jacobi and touch no other Poisson block (a direct sum)",
    )


def check_templates(model, *, samples, rtol, seed, timeout) -> ConsistencyReport:
    """The `ConsistencyReport` of a `StructuredModel`, from its templates."""
    shared = _shared(model)
    per_block = {}
    for r in model.interactions:
        per_block[r.name] = _block_results(_block(model, r, shared), samples, rtol, seed, timeout)
    results = []
    for name in CONDITIONS:
        if name == "jacobi_identity":
            results.append(_jacobi(model, samples, rtol, seed, timeout))
            continue
        rs = {k: v[name] for k, v in per_block.items()}
        failed = {k: v for k, v in rs.items() if not v.passed}
        if failed:
            k, r = next(iter(failed.items()))
            ce = (
                None
                if r.counterexample is None
                else {f"{k}: {n}": v for n, v in r.counterexample.items()}
            )
            results.append(
                CheckResult(name, False, r.method, f"template {k!r}: {r.message}", ce, r.residual)
            )
            continue
        method = "symbolic" if all(r.method == "symbolic" for r in rs.values()) else "sampled"
        detail = "; ".join(f"{k}: {r.message}" for k, r in rs.items()) or "no interactions"
        results.append(CheckResult(name, True, method, f"templates: {detail}"))
    return ConsistencyReport(model.name, results)
