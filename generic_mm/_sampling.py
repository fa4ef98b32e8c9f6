"""The sampled stage of the consistency checks: float64 evaluations at many states.

Every condition is a residual $R$ that must vanish, judged relative to the size of the terms
it is made of: a sample violates the condition when $|R| > \\mathrm{rtol}\\,(s + g)$, with
$s$ the sum of the magnitudes of the terms of that entry and $g$ the overall scale of the
operator at that state. Round-off and float literals (residues like `1e-17*x`) pass; a real
violation, a residual of the size of its own terms, fails.

Positive semi-definiteness is an inequality, which a violation confined to a small part of
the region can hide from any finite set of samples. So after sampling, the checker *searches*:
from the worst samples it minimises the Rayleigh quotient $v^T M v / (|v|^2 \\max|M|)$
jointly over the state, the parameters and $v$ (Optimistix BFGS, JAX autodiff), inside
the region. What it judges is the union of the samples and the search's end points.

The checks see a model through an `OperatorBlock` (symbolic $L$, $M$, $\\nabla E$,
$\\nabla S$ over some inputs and parameters) and a `Region` (see `_region.py`): a flat
`GenericModel` is one block, a structured model one block per interaction template.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import sympy as sp
import threadpoolctl

from ._codegen import Program
from ._region import _SPREAD_DECADES, Region
from ._report import CheckResult

SEARCH_STARTS = 8
"""How many of the worst samples the PSD search starts from."""
SEARCH_STEPS = 64
"""BFGS iterations of the PSD search per start."""
SEARCH_MAX_VARIABLES = 12
"""Operators larger than this are judged on the samples alone: compiling the search costs
seconds per variable there (templates of structured models are small and always searched)."""


@dataclasses.dataclass(frozen=True, eq=False)
class OperatorBlock:
    """What the checks need of a model or of one template: symbolic $L$, $M$, $\\nabla E$
    and $\\nabla S$ as functions of `inputs` (state variables, and for templates the free
    conjugates) and `params`. `program` may carry an already generated
    `Program(inputs, params, [L, M, grad E, grad S])` (flat models share the compiled one)."""

    name: str
    inputs: tuple[sp.Symbol, ...]
    params: tuple[sp.Symbol, ...]
    poisson: sp.ImmutableMatrix
    friction: sp.ImmutableMatrix
    grad_energy: sp.ImmutableMatrix
    grad_entropy: sp.ImmutableMatrix
    program: Program | None = None

    @property
    def n(self) -> int:
        """The operators' size (the first `n` inputs are the variables they act on; a
        template's further inputs are free conjugates)."""
        return self.poisson.shape[0]

    @property
    def state(self) -> tuple[sp.Symbol, ...]:
        return self.inputs

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.inputs)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.params)

    @functools.cached_property
    def search_program(self) -> Program:
        """`(M, grad E)`: what the search for a negative eigenvalue differentiates."""
        return Program(self.inputs, self.params, [self.friction, self.grad_energy])

    @functools.cached_property
    def operators(self) -> Program:
        if self.program is not None:
            return self.program
        outs = [self.poisson, self.friction, self.grad_energy, self.grad_entropy]
        return Program(self.inputs, self.params, outs)


SCALE_WEIGHT = 1e-6
"""How much the operator's overall scale counts next to an entry's own terms. It only has
to absorb float-literal residues (`5.55e-17*q`) in entries that are otherwise zero; weighed
fully, one large entry would let an order-one violation elsewhere pass as round-off."""


@dataclasses.dataclass(frozen=True)
class _Arrays:
    """What the judges read of a block whose operators were given as arrays."""

    input_names: tuple[str, ...]
    param_names: tuple[str, ...] = ()
    operators: Any = None
    """`(y, p) -> (L, M, grad E, grad S)`, differentiable in `y`, when the model kind can
    evaluate its operators at any state (then Jacobi is judged too); `None` otherwise."""

    @property
    def n(self) -> int:
        return len(self.input_names)


def _ratio(residual, terms, scale):
    denom = terms + SCALE_WEIGHT * scale
    return np.where(denom > 0, np.abs(residual) / np.where(denom > 0, denom, 1.0), 0.0)


class SampledChecks:
    """Evaluates a block's operators once at the sampled points of a region and judges
    each condition there."""

    require_finite: bool = False
    """Fail a condition when any sampled state is not finite for it (a model kind whose
    whole declared domain must be defined sets it); by default such states are skipped and
    counted."""

    def __init__(
        self, block: OperatorBlock, region: Region, *, samples: int, seed: int, rtol: float
    ):
        self.block, self.region, self.rtol = block, region, rtol
        self.ys, self.ps = region.sample(samples, seed)
        self.searchable = True
        self.describe_state = None
        self._evaluate()

    @classmethod
    def from_arrays(
        cls, names, ys, L, M, gE, gS, *, rtol: float, describe=None, operators=None
    ) -> SampledChecks:
        """The same judges on operators a model kind assembled itself (`L`, `M` `(k, n, n)`,
        the gradients `(k, n)` at the states `ys` `(k, n)`; e.g. a nested multiscale model,
        which has no symbolic operator block): no PSD search, and Jacobi only when
        `operators` (a JAX function `y -> (L, M, grad E, grad S)`, differentiated by
        `jax.jacfwd`) is given. `describe(y)`, if given, words a counterexample state
        compactly (name -> value) instead of listing all `n` variables."""
        judged: Any = None
        if operators is not None:
            function = operators

            def with_params(y, p):  # the judges pass the (here empty) parameter row too
                del p
                return function(y)

            judged = with_params

        self = cls.__new__(cls)
        self.block = _Arrays(tuple(names), operators=judged)
        self.region = None
        self.rtol = rtol
        self.ys = np.asarray(ys)
        self.ps = np.zeros((self.ys.shape[0], 0))
        self.L, self.M, self.gE, self.gS = (np.asarray(a) for a in (L, M, gE, gS))
        count = self.ys.shape[0]
        self.finite = np.logical_and.reduce(
            [
                np.isfinite(a).reshape(count, -1).all(axis=1)
                for a in (self.L, self.M, self.gE, self.gS)
            ]
        )
        self.searchable = False
        self.describe_state = describe
        return self

    def _evaluate(self) -> None:
        ops = self.block.operators
        L, M, gE, gS = jax.jit(jax.vmap(ops))(jnp.asarray(self.ys), jnp.asarray(self.ps))
        self.L, self.M, self.gE, self.gS = (np.asarray(a) for a in (L, M, gE, gS))
        count = self.ys.shape[0]
        finite = [
            np.isfinite(a).reshape(count, -1).all(axis=1)
            for a in (self.L, self.M, self.gE, self.gS)
        ]
        self.finite = np.logical_and.reduce(finite)

    # -- helpers -----------------------------------------------------------------------------
    def _counterexample(self, k: int, points=None) -> dict[str, float]:
        ys, ps = (self.ys, self.ps) if points is None else points
        if self.describe_state is not None:
            return self.describe_state(ys[k])
        out = {name: float(v) for name, v in zip(self.block.input_names, ys[k])}
        out.update({name: float(v) for name, v in zip(self.block.param_names, ps[k])})
        return out

    def _judge(
        self, name: str, ratio: np.ndarray, describe, extra: str = "", *, finite=None, points=None
    ) -> CheckResult:
        """`ratio` has a leading sample axis; `describe(k, index)` words the worst violation.
        `finite` and `points` default to the sampled ones."""
        n_total = ratio.shape[0]
        flat = ratio.reshape(n_total, -1)
        finite = self.finite if finite is None else finite
        usable = finite & np.isfinite(flat).all(axis=1)
        n_ok = int(usable.sum())
        if n_ok == 0:
            return CheckResult(
                name,
                False,
                "sampled",
                f"undecided: the model is not finite at any of the {n_total} sampled states; "
                "give a domain for the state variables where it is defined.",
            )
        if self.require_finite and n_ok < n_total:
            k = int(np.argmax(~usable))
            return CheckResult(
                name,
                False,
                "sampled",
                f"not finite at {n_total - n_ok} of {n_total} sampled states of the declared "
                "domain (the operators or their derivatives): the model is undefined there; "
                "narrow the domain to where it is defined",
                counterexample=self._counterexample(k, points),
            )
        flat = np.where(usable[:, None], flat, 0.0)
        worst_per_sample = flat.max(axis=1)
        k = int(np.argmax(worst_per_sample))
        worst = float(worst_per_sample[k])
        skipped = "" if n_ok == n_total else f" ({n_total - n_ok} non-finite states skipped)"
        if worst <= self.rtol:
            return CheckResult(
                name,
                True,
                "sampled",
                f"holds at {n_ok} sampled states{extra}, worst relative residual "
                f"{worst:.1e}{skipped}",
                residual=worst,
            )
        index = np.unravel_index(int(np.argmax(flat[k])), ratio.shape[1:])
        return CheckResult(
            name,
            False,
            "sampled",
            f"{describe(k, index)}; relative residual {worst:.2g} > rtol {self.rtol:g}{skipped}",
            counterexample=self._counterexample(k, points),
            residual=worst,
        )

    def _entry(self, field: str, i: int, j: int) -> str:
        names = self.block.input_names
        return f"{field}[{names[i]}, {names[j]}]"

    # -- conditions ---------------------------------------------------------------------------
    def antisymmetric(self) -> CheckResult:
        L = self.L
        res = L + np.swapaxes(L, 1, 2)
        terms = np.abs(L) + np.abs(np.swapaxes(L, 1, 2))
        scale = np.abs(L).max(axis=(1, 2), keepdims=True)

        def describe(k, idx):
            i, j = idx
            return f"{self._entry('poisson', i, j)} + {self._entry('poisson', j, i)} = {res[k, i, j]:.6g}"

        return self._judge("poisson_antisymmetric", _ratio(res, terms, scale), describe)

    def symmetric(self) -> CheckResult:
        M = self.M
        res = M - np.swapaxes(M, 1, 2)
        terms = np.abs(M) + np.abs(np.swapaxes(M, 1, 2))
        scale = np.abs(M).max(axis=(1, 2), keepdims=True)

        def describe(k, idx):
            i, j = idx
            return f"{self._entry('friction', i, j)} - {self._entry('friction', j, i)} = {res[k, i, j]:.6g}"

        return self._judge("friction_symmetric", _ratio(res, terms, scale), describe)

    def positive_semidefinite(self) -> CheckResult:
        ys, ps, M, finite, extra = self.ys, self.ps, self.M, self.finite, ""
        # Search only when the samples found no violation (a found one is reported as is).
        lam, _, scale = _eigen(M, finite)
        violated = bool(np.any((scale > 0) & (-lam > self.rtol)))
        small = self.searchable and self.block.n <= SEARCH_MAX_VARIABLES
        found = None if violated or not small else _search_psd(self)
        if not self.searchable:
            extra = " (assembled operators; no search)"
        elif not small:
            extra = f" (no search: {self.block.n} variables > {SEARCH_MAX_VARIABLES})"
        if found is not None:
            f_ys, f_ps, f_M = found
            ys, ps = np.concatenate([ys, f_ys]), np.concatenate([ps, f_ps])
            M = np.concatenate([M, f_M])
            finite = np.concatenate([finite, np.isfinite(f_M).all(axis=(1, 2))])
            extra = f" and {f_ys.shape[0]} end points of a search for a negative eigenvalue"
            lam, _, scale = _eigen(M, finite)  # the samples and the end points together
        ratio = np.where(scale > 0, np.maximum(-lam, 0.0), 0.0)[:, None]
        names = self.block.input_names

        def describe(k, idx):
            w, V = np.linalg.eigh(0.5 * (M[k] + M[k].T))  # M itself, unscaled, at the worst point
            v = V[:, 0]
            vec = ", ".join(f"{n}: {x:.3g}" for n, x in zip(names, v) if abs(x) > 1e-12)
            return f"friction has the negative eigenvalue {w[0]:.6g} along ({vec})"

        return self._judge(
            "friction_positive_semidefinite", ratio, describe, extra, finite=finite, points=(ys, ps)
        )

    def _degeneracy(self, name: str, op: np.ndarray, grad: np.ndarray, label: str) -> CheckResult:
        prod = op * grad[:, None, :]
        res = prod.sum(axis=2)
        terms = np.abs(prod).sum(axis=2)
        # max|op| times the largest gradient component each row actually multiplies (an
        # entry that is not exactly zero), not max|op| max|grad|: a large gradient component
        # that the operator never multiplies (a conjugate sampled over a huge range, an
        # exponential energy) must not make a real violation look like round-off, while a
        # float-literal residue (5.55e-17 q) in an otherwise zero entry is still absorbed
        reach = np.where(op != 0, np.abs(grad)[:, None, :], 0.0).max(axis=2)
        scale = np.abs(op).max(axis=(1, 2))[:, None] * reach
        names = self.block.input_names

        def describe(k, idx):
            (i,) = idx
            return f"({label})[{names[i]}] = {res[k, i]:.6g}, not 0"

        return self._judge(name, _ratio(res, terms, scale), describe)

    def poisson_degeneracy(self) -> CheckResult:
        return self._degeneracy("poisson_degeneracy", self.L, self.gS, "L grad S")

    def friction_degeneracy(self) -> CheckResult:
        return self._degeneracy("friction_degeneracy", self.M, self.gE, "M grad E")

    def jacobi(self) -> CheckResult:
        if self.block.operators is None:
            raise TypeError("jacobi: operators given as arrays carry no derivatives to judge it.")
        ops = self.block.operators

        def one(args):
            y, p = args
            L = ops(y, p)[0]
            dL = jax.jacfwd(lambda x: ops(x, p)[0])(y)  # dL[j, k, l] = d_l L_jk
            t1 = jnp.einsum("il,jkl->ijk", L, dL)
            a1 = jnp.einsum("il,jkl->ijk", jnp.abs(L), jnp.abs(dL))
            res = t1 + jnp.transpose(t1, (2, 0, 1)) + jnp.transpose(t1, (1, 2, 0))
            terms = a1 + jnp.transpose(a1, (2, 0, 1)) + jnp.transpose(a1, (1, 2, 0))
            scale = jnp.max(jnp.abs(L)) * jnp.max(jnp.abs(dL))
            denom = terms + SCALE_WEIGHT * scale
            ratio = jnp.where(denom > 0, jnp.abs(res) / jnp.where(denom > 0, denom, 1.0), 0.0)
            # A non-finite derivative is no evidence that Jacobi holds: NaN marks the sample
            # non-finite for the judge (never a ratio of 0).
            finite = jnp.isfinite(res) & jnp.isfinite(denom)
            return jnp.where(finite, ratio, jnp.nan), res

        n = self.block.n
        batch = max(1, min(64, 2**22 // max(1, n**3)))
        ratio, res = jax.jit(lambda a: jax.lax.map(one, a, batch_size=batch))(
            (jnp.asarray(self.ys), jnp.asarray(self.ps))
        )
        ratio, res = np.asarray(ratio), np.asarray(res)
        names = self.block.input_names

        def describe(k, idx):
            i, j, kk = idx
            return (
                f"Jacobi identity fails for ({names[i]}, {names[j]}, {names[kk]}): "
                f"{{x_i,{{x_j,x_k}}}} + cyclic = {res[k, i, j, kk]:.6g}"
            )

        return self._judge("jacobi_identity", ratio, describe)


def _eigen(M: np.ndarray, finite: np.ndarray):
    r"""Per sample: the smallest eigenvalue of the symmetric part of $D^{-1/2}MD^{-1/2}$, its
    eigenvector (in the scaled coordinates), and `max|M|` (0 where `M` vanishes or is not
    finite). $D$ is the diagonal of $|M|$, floored at $10^{-10}$ times that scale
    $\max|M|$, or at the scale itself where the product underflows to 0 (a denormal
    scale): the congruence keeps the sign of every eigenvalue, and each variable is judged
    on its own scale, so one large entry cannot make an order-one negative eigenvalue
    elsewhere look like round-off (a zero diagonal entry with a nonzero off-diagonal one
    shows as negative)."""
    scale = np.where(finite, np.abs(np.where(finite[:, None, None], M, 0.0)).max(axis=(1, 2)), 0.0)
    usable = scale > 0
    Mu = np.where(usable[:, None, None], M, 0.0)
    Ms = 0.5 * Mu + 0.5 * np.swapaxes(Mu, 1, 2)  # halves first: entries near 1e308 add
    floor = 1e-10 * scale
    floor = np.where(floor > 0, floor, scale)  # 1e-10 * a denormal scale underflows to 0
    d = np.maximum(np.abs(np.diagonal(Ms, axis1=1, axis2=2)), floor[:, None])
    d = np.where(usable[:, None], d, 1.0)
    r = 1.0 / np.sqrt(d)
    # One LAPACK call per sample, on small matrices: threaded BLAS mostly waits for its
    # threads there, and on shared cores far longer (244 samples of 128 variables: 0.26 s
    # on one thread, 7 to 29 s threaded on 2 busy cores).
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        eigvals, eigvecs = np.linalg.eigh(Ms * r[:, :, None] * r[:, None, :])
    return eigvals[:, 0], eigvecs[:, :, 0], scale


# -- the search for a negative eigenvalue of M -------------------------------------------------
def _spread_map(a) -> tuple[float, float, float]:
    r"""`(c, t_lo, t_hi)` of the search's signed log map of a "spread" axis,
    $x = c\sinh t$ for $t \in (t_\mathrm{lo}, t_\mathrm{hi})$: linear within $c$ of zero,
    log-spaced beyond. $c$ is `_SPREAD_DECADES` below the narrower side's edge, so the
    search reaches at least the magnitudes the sampling draws on both sides (a linear map
    moves a conjugate near zero by a good part of its range per unit step, past any
    small-magnitude window where a block turns negative)."""
    sides = [w for w in (-a.lo, a.hi) if w > 0]
    # the floor keeps hi / c finite for an absurdly lopsided interval
    c = max(10.0**-_SPREAD_DECADES * min(sides), 1e-300 * max(sides))
    return c, -float(np.arcsinh(max(-a.lo, 0.0) / c)), float(np.arcsinh(max(a.hi, 0.0) / c))


def _to_box(axes, z):
    """Map unconstrained `z` into the axes' intervals (log-spaced where the axis is, signed
    log on a "spread" axis)."""
    out = []
    for a, zi in zip(axes, z):
        u = jax.nn.sigmoid(zi)
        if a.kind == "log":
            out.append(jnp.exp(np.log(a.lo) + (np.log(a.hi) - np.log(a.lo)) * u))
        elif a.kind == "neglog":
            out.append(-jnp.exp(np.log(-a.hi) + (np.log(-a.lo) - np.log(-a.hi)) * u))
        elif a.kind == "spread":
            c, t_lo, t_hi = _spread_map(a)
            out.append(jnp.clip(c * jnp.sinh(t_lo + (t_hi - t_lo) * u), a.lo, a.hi))
        else:
            out.append(a.lo + (a.hi - a.lo) * u)
    return jnp.stack(out) if out else jnp.zeros((0,))


def _from_box(axes, x):
    """The inverse of `_to_box` (points on the box edge are pulled slightly inside)."""
    out = []
    for a, xi in zip(axes, x):
        if a.kind == "log":
            u = (np.log(xi) - np.log(a.lo)) / (np.log(a.hi) - np.log(a.lo))
        elif a.kind == "neglog":
            u = (np.log(-xi) - np.log(-a.hi)) / (np.log(-a.lo) - np.log(-a.hi))
        elif a.kind == "spread":
            c, t_lo, t_hi = _spread_map(a)
            u = (np.arcsinh(xi / c) - t_lo) / (t_hi - t_lo)
        else:
            u = (xi - a.lo) / (a.hi - a.lo)
        u = float(np.clip(u, 1e-6, 1 - 1e-6))
        out.append(np.log(u / (1 - u)))
    return np.asarray(out, dtype=float)


def _complement(active: jax.Array, gE):
    """The orthogonal projector onto the active variables (rows of $M$ not identically zero)
    orthogonal to $\nabla E$ there: where $M$'s eigenvalues can go negative. A degenerate
    $M$ is singular along $\nabla E$ and inactive variables; a search of the full Rayleigh
    quotient would sit at 0 there, blind to the eigenvalue that is about to cross zero."""
    g = jnp.where(active, gE, 0.0)
    gg = jnp.dot(g, g)
    P = jnp.diag(active.astype(gE.dtype))
    return P - jnp.where(gg > 0, jnp.outer(g, g) / jnp.where(gg > 0, gg, 1.0), 0.0)


def _search_psd(sampled: SampledChecks) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """End points `(ys, ps, M there)` of a gradient search for the most negative Rayleigh
    quotient of the symmetric part of $M$ on the complement of its structural null space,
    from the samples where that quotient is smallest; `None` when $M$ vanishes everywhere."""
    block = sampled.block
    F = block.friction
    K = F.shape[0]  # the operator's size (a template's inputs also hold free conjugates)
    active = np.array([any(F[i, j] != 0 or F[j, i] != 0 for j in range(K)) for i in range(K)])
    if not active.any():
        return None
    _, _, scale = _eigen(sampled.M, sampled.finite)
    usable = scale > 0
    if not usable.any():
        return None
    P = np.asarray(jax.vmap(lambda g: _complement(jnp.asarray(active), g))(jnp.asarray(sampled.gE)))
    P = np.where(np.isfinite(P), P, 0.0)
    # Shift the projected-out directions above every eigenvalue of the normalised operator
    # (at most K in magnitude), so the smallest eigenvalue, and the start direction, is a
    # meaningful one: a start along a projected-out direction has no search direction.
    Mn = (
        np.where(usable[:, None, None], sampled.M, 0.0)
        / np.where(usable, scale, 1.0)[:, None, None]
    )
    Mp = P @ (0.5 * (Mn + np.swapaxes(Mn, 1, 2))) @ P + (K + 1.0) * (np.eye(K) - P)
    eigvals, eigvecs = np.linalg.eigh(np.where(usable[:, None, None], Mp, np.eye(K)))
    # Start where the smallest meaningful eigenvalue is smallest, but clearly nonzero: at a
    # numerically singular sample (a vanishing prefactor) the landscape is flat. Half the
    # starts by that ratio, half by the eigenvalue itself (where a prefactor is smallest).
    quotient = np.where(usable & (np.abs(eigvals[:, 0]) > 1e-6), eigvals[:, 0], np.inf)
    if not np.isfinite(quotient).any():
        return None
    raw = np.where(np.isfinite(quotient), eigvals[:, 0] * np.where(usable, scale, 0.0), np.inf)
    count = min(SEARCH_STARTS, int(np.isfinite(quotient).sum()))
    starts = list(np.argsort(quotient)[: (count + 1) // 2])
    starts += [k for k in np.argsort(raw) if k not in starts][: count - len(starts)]
    region, program = sampled.region, block.search_program
    axes_y, axes_p = region.inputs, region.params
    ny, n_p = len(axes_y), len(axes_p)
    z0 = np.stack(
        [
            np.concatenate(
                [
                    _from_box(axes_y, sampled.ys[k]),
                    _from_box(axes_p, sampled.ps[k]),
                    eigvecs[k, :, 0],
                ]
            )
            for k in starts
        ]
    )
    s0 = np.asarray([scale[k] for k in starts])
    mask = jnp.asarray(active)

    def objective(z, start_scale):
        # Relative to max|M| here plus max|M| at the start. Near the start this is half the
        # scale-free ratio of the smallest to the largest eigenvalue, as the judge measures
        # it, so the search does not just drive an overall prefactor of M to zero. Where a
        # prefactor f changes sign (M = f(x) C) that ratio alone is sign(f) times a function
        # of C (flat in f); with the start's scale added it is f g / ((|f| + |f_0|) c),
        # smooth and increasing in f, so the search follows f to where it is negative.
        y, p, v = _to_box(axes_y, z[:ny]), _to_box(axes_p, z[ny : ny + n_p]), z[ny + n_p :]
        Mz, gE = program(y, p)
        u = _complement(mask, gE) @ v
        rayleigh = (u @ (0.5 * (Mz + Mz.T)) @ u) / jnp.dot(u, u)
        value = rayleigh / (jnp.max(jnp.abs(Mz)) + start_scale)
        return jnp.where(jnp.isfinite(value), value, 1.0)

    @jax.jit
    def run(z0, s0):
        def one(z_start, start_scale):
            z = _descend(lambda z: objective(z, start_scale), z_start)
            y, p = _to_box(axes_y, z[:ny]), _to_box(axes_p, z[ny : ny + n_p])
            return y, p, program(y, p)[0]

        return jax.vmap(one)(z0, s0)

    ys, ps, Ms = run(jnp.asarray(z0), jnp.asarray(s0))
    return np.asarray(ys), np.asarray(ps).reshape(len(starts), n_p), np.asarray(Ms)


def _descend(objective, z0):
    """At most `SEARCH_STEPS` BFGS iterations (Optimistix) on `objective` from `z0`; the
    end point, or `z0` where the iteration produced no finite point."""
    solver = optx.BFGS(rtol=1e-8, atol=1e-12)
    sol = optx.minimise(lambda z, _: objective(z), solver, z0, max_steps=SEARCH_STEPS, throw=False)
    z = jnp.where(jnp.all(jnp.isfinite(sol.value)), sol.value, z0)
    return jnp.where(objective(z) <= objective(z0), z, z0)
