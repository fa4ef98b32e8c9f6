"""Consistency of a structured model, established once per template.

With $E = \\sum_i e(x_i) + \\sum_e\\phi_e$, $S = \\sum_i s(x_i)$, $L = \\sum_e P_e^T L_e P_e$ and
$M = \\sum_e P_e^T M_e P_e$:

- $L$ is antisymmetric and $M$ symmetric positive semi-definite when every block is (sums of
  such matrices are);
- $L\\nabla S = \\sum_e P_e^T L_e (P_e\\nabla S) = 0$ when $L_e\\nabla_e s = 0$, since $S$ is a
  sum of cell terms, so $P_e\\nabla S$ is the sides' local entropy gradients;
- $M\\nabla E = 0$ when $M_e c = 0$ for every value the sides' conjugates $c = P_e\\nabla E$
  can take: a variable that occurs in no interaction energy has the conjugate
  $\\partial e/\\partial x$ of its cell, one that does is a free symbol `dE_dx_a` (positive
  when $\\partial e/\\partial x$ is, e.g. a temperature), for which the block must hold
  identically;
  the positivity of such a free conjugate is an assumption, which is then verified on the
  assembled model (the true conjugates at sampled full states), and the free conjugates are
  sampled over the range those true conjugates take (widened by a factor 2);
- Jacobi holds when every Poisson block is constant, and for a state-dependent block on
  one cell (a site term) when it holds for that block and no other Poisson block touches
  that kind of cell (a direct sum of Poisson structures). Otherwise it is not established
  from the templates, and the check says so (check `model.to_generic()` on a small
  instance).

Each block is an `OperatorBlock` handed to the core's `check_block`: tried symbolically
(the core's provers, time-boxed) and otherwise sampled (the core's judges, and its search for
a negative eigenvalue of $M$) over the states, the free conjugates and every parameter: the
values that actually occur together on one cell or edge, and the parameter's declared domain
(or the default region derived from its sign assumption). The symbolic proofs use the
symbols' sign assumptions; the templates refuse parameter values that break them.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .._checks import CheckOptions, check_block
from .._region import Axis, Region, actual_rows, parameter_axis, state_axis
from .._report import CONDITIONS, CheckResult, ConsistencyReport
from .._sampling import OperatorBlock

_BLOCK_CONDITIONS = tuple(c for c in CONDITIONS if c != "jacobi_identity")


def _shared(model) -> set[tuple[int, str]]:
    """`(kind, variable name)` pairs that occur in some interaction energy."""
    out = set()
    for r in model.interactions:
        for side, k in zip(r.sides, r.kinds):
            for v in side._cells.state:
                if side._vars[v.name] in r.energy.free_symbols:
                    out.add((k, v.name))
    return out


def _param_axes_and_rows(model, r) -> tuple[tuple[Axis, ...], np.ndarray]:
    """The sampling axes of an interaction's parameter symbols (side parameters, then own
    ones: the programs' order) and the values that occur together on each edge."""
    axes, columns = [], []
    for j, cell_param, side_sym in r.side_params:
        cells = model.cells[r.kinds[j]]
        values = np.asarray(cells.params[cell_param], dtype=float)
        axes.append(parameter_axis(side_sym, values, cells.domain.get(cell_param.name)))
        columns.append(values if values.ndim == 0 else values[r.edges[:, j]])
    for sym in sorted(r.params, key=lambda s: s.name):
        values = np.asarray(r.params[sym], dtype=float)
        axes.append(parameter_axis(sym, values, r.domain.get(sym.name)))
        columns.append(values)
    return tuple(axes), actual_rows(columns)


def _conjugate_axis(c: sp.Symbol, declared, observed) -> Axis:
    """Where a free conjugate is sampled: its declared domain, else (widened by a factor 2)
    the range the true conjugates of the assembled model took at sampled full states, else
    the default axis of its symbol. A range that holds zero is sampled on a signed log scale
    too (half the samples), so small conjugates near the sign change are not left out by a
    range of 1e5."""
    if declared is not None or observed is None:
        return state_axis(c, declared)
    lo, hi = observed
    if c.is_positive:
        lo, hi = lo / 2, hi * 2
        return Axis(c.name, lo, hi, "log" if hi / lo > 20 else "uniform", False)
    pad = 0.5 * (hi - lo) + 1e-3 * max(abs(lo), abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    return Axis(c.name, lo, hi, "spread" if lo < 0 < hi else "uniform", False)


def _state_axes(model, r, free, ranges) -> tuple[Axis, ...]:
    axes = []
    for side, k in zip(r.sides, r.kinds):
        cells = model.cells[k]
        for v in side._cells.state:
            sym = side._vars[v.name]
            domain = cells.domain.get(v.name, r.domain.get(sym.name))
            axes.append(state_axis(sym, domain))
    axes.extend(_conjugate_axis(c, r.domain.get(c.name), ranges.get(key)) for c, key in free)
    return tuple(axes)


def _block(model, r, shared, ranges) -> tuple[OperatorBlock, Region]:
    """One interaction's blocks as an operator block over its local state and free
    conjugates, and the region to sample them in."""
    K = len(r.local_state)
    conj_sub, free, gS = {}, [], []
    for side, k in zip(r.sides, r.kinds):
        cells = model.cells[k]
        to_side = {
            **{v: side._vars[v.name] for v in cells.state},
            **{p: side._params[p.name] for p in cells.params},
        }
        for v in side._cells.state:
            c = side.dE(v.name)
            if (k, v.name) in shared:
                free.append((c, (k, v.name)))
            else:
                conj_sub[c] = sp.diff(cells.energy, v).xreplace(to_side)
            gS.append(sp.diff(cells.entropy, v).xreplace(to_side))
    zero = sp.ImmutableMatrix.zeros(K, K)
    L = r.poisson if r.poisson is not None else zero
    M = r.friction.xreplace(conj_sub) if r.friction is not None else zero
    grad_e = sp.ImmutableMatrix([c.xreplace(conj_sub) for c in r.conjugates])
    block = OperatorBlock(
        r.name,
        (*r.local_state, *(c for c, _ in free)),
        r.param_symbols,
        sp.ImmutableMatrix(L),
        sp.ImmutableMatrix(M),
        grad_e,
        sp.ImmutableMatrix(gS),
    )
    p_axes, rows = _param_axes_and_rows(model, r)
    return block, Region(_state_axes(model, r, free, ranges), p_axes, rows)


def _site_jacobi(model, r, options: CheckOptions) -> CheckResult:
    """Jacobi for a state-dependent Poisson block on single cells, over the parameter values
    that occur on those cells (and their region)."""
    K = len(r.local_state)
    zero = sp.ImmutableMatrix.zeros(K, K)
    block = OperatorBlock(
        f"{r.name} (site block)",
        r.local_state,
        r.param_symbols,
        sp.ImmutableMatrix(r.poisson),
        zero,
        sp.ImmutableMatrix.zeros(K, 1),
        sp.ImmutableMatrix.zeros(K, 1),
    )
    p_axes, rows = _param_axes_and_rows(model, r)
    region = Region(_state_axes(model, r, (), {}), p_axes, rows)
    return check_block(block, region, options, ("jacobi_identity",))["jacobi_identity"]


def _jacobi(model, options: CheckOptions) -> CheckResult:
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
        jac = _site_jacobi(model, r, options)
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


def _combine(name: str, per_block: dict[str, dict[str, CheckResult]]) -> CheckResult:
    rs = {k: v[name] for k, v in per_block.items()}
    failed = {k: v for k, v in rs.items() if not v.passed}
    if failed:
        k, r = next(iter(failed.items()))
        ce = (
            None
            if r.counterexample is None
            else {f"{k}: {n}": v for n, v in r.counterexample.items()}
        )
        return CheckResult(name, False, r.method, f"template {k!r}: {r.message}", ce, r.residual)
    method = "symbolic" if all(r.method == "symbolic" for r in rs.values()) else "sampled"
    detail = "; ".join(f"{k}: {r.message}" for k, r in rs.items()) or "no interactions"
    return CheckResult(name, True, method, f"templates: {detail}")


def _assumed_positive(model, shared) -> list[tuple[int, str]]:
    """Shared variables whose conjugate the templates take as positive (their cell energy's
    derivative is), although interaction energies add to it."""
    out = []
    for k, name in sorted(shared):
        cells = model.cells[k]
        var = next(v for v in cells.state if v.name == name)
        if sp.diff(cells.energy, var).is_positive:
            out.append((k, name))
    return out


def _sample_conjugates(model, shared, options: CheckOptions):
    r"""The true conjugates $\partial E/\partial x$ of the shared variables, evaluated on the
    assembled model at sampled full states (every cell's variables over their region, scalar
    parameters over theirs): `{(kind, name): (samples, cells) array}`, with the states and
    parameter values, for `_verify_conjugates` and the conjugates' sampling ranges."""
    import jax
    import jax.numpy as jnp

    params, data, layout, functions = model.cached("conjugate-parts", model.compile_parts)
    samples = max(4, min(64, 2**22 // max(1, model.n)))
    rng = np.random.default_rng(options.seed)
    parts = []
    for cells in model.cells:
        cols = [
            state_axis(v, cells.domain.get(v.name)).sample(rng, samples * cells.count)
            for v in cells.state
        ]
        parts.append(np.stack(cols, -1).reshape(samples, -1))
    ys = np.concatenate(parts, axis=1)
    specs = model.parameter_specs()
    p_batch = {
        name: jnp.asarray(spec.axis.sample(rng, samples))
        for name, spec in specs.items()
        if spec.values.ndim == 0
    }
    fixed = {name: v for name, v in params.items() if name not in p_batch}
    gE = np.asarray(
        jax.jit(jax.vmap(lambda y, pb: functions.gradients(y, {**fixed, **pb}, data)[0]))(
            jnp.asarray(ys), p_batch
        )
    )
    conjugates = {}
    for k, name in shared:
        block = layout.blocks[k]
        width = len(block.variables)
        values = gE[:, block.offset : block.offset + block.size].reshape(samples, -1, width)
        conjugates[k, name] = values[..., block.variables.index(name)]
    return conjugates, ys, p_batch


def _ranges(model, conjugates) -> dict:
    """`(kind, name) -> (lo, hi)` of the finite true conjugates (positive ones only, for a
    conjugate whose symbol is positive)."""
    out = {}
    for (k, name), values in conjugates.items():
        values = values[np.isfinite(values)]
        var = next(v for v in model.cells[k].state if v.name == name)
        if sp.diff(model.cells[k].energy, var).is_positive:
            values = values[values > 0]
        if values.size:
            out[k, name] = (float(values.min()), float(values.max()))
    return out


def _verify_conjugates(model, assumed, sampled) -> CheckResult | None:
    """A failure where a conjugate that the templates took as positive is not."""
    conjugates, ys, p_batch = sampled
    layout = model.cached("conjugate-parts", model.compile_parts).layout
    for k, name in assumed:
        block = layout.blocks[k]
        width = len(block.variables)
        conj = conjugates[k, name]
        bad = np.isfinite(conj) & (conj <= 0)
        if not bad.any():
            continue
        i, cell = (int(a) for a in np.unravel_index(int(np.argmax(bad)), bad.shape))
        kind = model.cells[k].name
        state = np.asarray(ys[i])[block.offset : block.offset + block.size].reshape(-1, width)
        where = {
            f"{kind}.{v}[{cell}]": float(state[cell, j]) for j, v in enumerate(block.variables)
        }
        where.update({n: float(np.asarray(v)[i]) for n, v in p_batch.items()})
        return CheckResult(
            "friction_positive_semidefinite",
            False,
            "sampled",
            f"the templates take the conjugate dE/d{name} of cells {kind!r} as positive (its "
            f"cell energy's derivative is), but with the interaction energies it is "
            f"{conj[i, cell]:.6g} at cell {cell} of a sampled state: restrict the domain of "
            "the state (or of the parameters) to where it is positive",
            counterexample=where,
        )
    return None


def check_templates(model, options: CheckOptions) -> ConsistencyReport:
    """The `ConsistencyReport` of a `StructuredModel`, from its templates."""
    shared = _shared(model)
    sampled = _sample_conjugates(model, sorted(shared), options) if shared else ({}, None, {})
    ranges = _ranges(model, sampled[0])
    per_block: dict[str, dict[str, CheckResult]] = {}
    region_lines: list[str] = []
    defaulted: list[str] = []
    for r in model.interactions:
        block, region = _block(model, r, shared, ranges)
        per_block[r.name] = check_block(block, region, options, _BLOCK_CONDITIONS)
        region_lines.extend(f"{r.name}: {line}" for line in region.describe())
        defaulted.extend(f"{r.name}: {name}" for name in region.defaulted)
    assumed = _assumed_positive(model, shared)
    broken = _verify_conjugates(model, assumed, sampled) if assumed else None
    results = []
    for name in CONDITIONS:
        if name == "jacobi_identity":
            results.append(_jacobi(model, options))
        elif broken is not None and name == broken.name:
            results.append(broken)
        else:
            results.append(_combine(name, per_block))
    # Every interaction is its own process (friction) or coupling (poisson): list each.
    processes = {k: [v[c] for c in CONDITIONS if c in v] for k, v in per_block.items()}
    return ConsistencyReport(
        model.name, results, region=region_lines, defaulted=defaulted, processes=processes
    )
