"""`generic_mm.check`: the six GENERIC consistency conditions, symbolic first, then sampled.

The symbolic stage only ever *proves* a condition (a residual that SymPy reduces to exactly
zero, or principal minors it can show nonnegative); it is time-boxed. Whatever it cannot
prove goes to the sampled stage (`_sampling.py`), which either finds a counterexample or
reports a pass marked `"sampled"`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import sympy as sp

from ._errors import InputError
from ._expressions import entry, matvec
from ._region import Region
from ._report import CONDITIONS, CheckResult, ConsistencyReport
from ._sampling import OperatorBlock, SampledChecks

_MAX_OPS_FOR_SIMPLIFY = 300
_MAX_PSD_SYMBOLIC = 4


class _Timeout(Exception):
    pass


class _Budget:
    """Wall-clock budget for the symbolic work of one condition."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def spent(self) -> bool:
        return self.left() <= 0


@contextlib.contextmanager
def _interrupt_after(seconds: float):
    """Interrupt pure-Python SymPy work after `seconds` (POSIX, main thread).

    Elsewhere the work is bounded only by the size guards and the checks between entries.
    """
    if seconds <= 0:
        raise _Timeout
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not math.isfinite(seconds):
        usable = False  # no time box asked for: install nothing
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise _Timeout

    previous_hook = sys.unraisablehook

    def drop_our_timeouts(unraisable):
        # An alarm that lands in a finalizer or gc callback is swallowed by the interpreter
        # and handed to this hook: it is ours and expected (the repeating timer raises again
        # in the main flow), so it must not reach the user's or the test runner's hook.
        if not isinstance(unraisable.exc_value, _Timeout):
            previous_hook(unraisable)

    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, handler)
    sys.unraisablehook = drop_our_timeouts
    # Repeat until cancelled: an exception raised while the interpreter runs a callback that
    # swallows it (a finalizer, say) would otherwise be lost, and the time box with it.
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        sys.unraisablehook = previous_hook
        if old_delay > 0:  # someone else's timer (e.g. pytest-timeout): give it back
            remaining = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, old_interval)


def _proved_zero(expr: sp.Expr, budget: _Budget) -> bool:
    """Whether SymPy shows `expr == 0` within the budget. `False` means "not proved"."""
    if expr == 0:
        return True
    if budget.spent() or expr.has(sp.Float):
        # Float literals leave residues like 1e-17*x: judged numerically, with a tolerance.
        return False
    try:
        with _interrupt_after(budget.left()):
            if sp.expand(expr) == 0:
                return True
            if sp.cancel(sp.together(expr)) == 0:
                return True
            if sp.count_ops(expr) <= _MAX_OPS_FOR_SIMPLIFY and sp.simplify(expr) == 0:
                return True
    except _Timeout:
        budget.end = 0.0
    except Exception:  # SymPy can fail on exotic expressions: that only means "not proved".
        return False
    return False


def _all_zero(exprs: Iterable[sp.Expr], budget: _Budget) -> bool:
    return all(_proved_zero(e, budget) for e in exprs)


def _symbolic_antisymmetric(model: OperatorBlock, budget: _Budget) -> str | None:
    L, n = model.poisson, model.n
    res = (entry(L, i, j) + entry(L, j, i) for i in range(n) for j in range(i, n))
    return "L + L^T = 0 identically" if _all_zero(res, budget) else None


def _symbolic_symmetric(model: OperatorBlock, budget: _Budget) -> str | None:
    M, n = model.friction, model.n
    res = (entry(M, i, j) - entry(M, j, i) for i in range(n) for j in range(i + 1, n))
    return "M - M^T = 0 identically" if _all_zero(res, budget) else None


def _symbolic_poisson_degeneracy(model: OperatorBlock, budget: _Budget) -> str | None:
    res = matvec(model.poisson, model.grad_entropy)
    return "L grad S = 0 identically" if _all_zero(res.flat(), budget) else None


def _symbolic_friction_degeneracy(model: OperatorBlock, budget: _Budget) -> str | None:
    res = matvec(model.friction, model.grad_energy)
    return "M grad E = 0 identically" if _all_zero(res.flat(), budget) else None


def _symbolic_jacobi(model: OperatorBlock, budget: _Budget, antisymmetric: bool) -> str | None:
    L, n, x = model.poisson, model.n, model.state
    state = set(x)
    if not any(entry(L, i, j).free_symbols & state for i in range(n) for j in range(n)):
        return "L does not depend on the state"
    if not antisymmetric:
        return None  # the reduction to i < j < k below needs antisymmetry
    dL: dict[tuple[int, int], list[tuple[int, sp.Expr]]] = {}
    for j, k in itertools.combinations(range(n), 2):
        if budget.spent():
            return None
        derivs = [(l, sp.diff(L[j, k], x[l])) for l in range(n)]
        dL[j, k] = [(l, d) for l, d in derivs if d != 0]

    def d(j, k):  # d_l L_jk as a list of (l, value), using antisymmetry
        if j < k:
            return dL[j, k]
        if j > k:
            return [(l, -v) for l, v in dL[k, j]]
        return []

    for i, j, k in itertools.combinations(range(n), 3):
        terms = []
        for a, b, c in ((i, j, k), (j, k, i), (k, i, j)):
            terms.extend(L[a, l] * v for l, v in d(b, c) if L[a, l] != 0)
        if not _proved_zero(sp.Add(*terms), budget):
            return None
    return "Jacobiator vanishes identically"


def _symbolic_psd(model: OperatorBlock, budget: _Budget, symmetric: bool) -> str | None:
    M, n = model.friction, model.n
    active = [i for i in range(n) if any(M[i, j] != 0 or M[j, i] != 0 for j in range(n))]
    if not active:
        return "M = 0"
    if not symmetric or len(active) > _MAX_PSD_SYMBOLIC:
        return None
    try:
        with _interrupt_after(budget.left()):
            for size in range(1, len(active) + 1):
                for idx in itertools.combinations(active, size):
                    minor = M.extract(list(idx), list(idx)).det(method="berkowitz")
                    minor = sp.factor(sp.cancel(minor))
                    if minor.has(sp.Float) or minor.is_nonnegative is not True:
                        return None
    except _Timeout:
        return None
    except Exception:
        return None
    return f"all principal minors of M are nonnegative ({len(active)} active variables)"


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """The options of one `check` call (they key the cached report)."""

    samples: int = 4096
    rtol: float = 1e-8
    seed: int = 0
    symbolic_timeout: float = 1.0


_PROVERS: dict[str, Callable[[OperatorBlock, _Budget, dict[str, str | None]], str | None]] = {
    "poisson_antisymmetric": lambda b, t, done: _symbolic_antisymmetric(b, t),
    "friction_symmetric": lambda b, t, done: _symbolic_symmetric(b, t),
    "jacobi_identity": lambda b, t, done: _symbolic_jacobi(
        b, t, done.get("poisson_antisymmetric") is not None
    ),
    "friction_positive_semidefinite": lambda b, t, done: _symbolic_psd(
        b, t, done.get("friction_symmetric") is not None
    ),
    "poisson_degeneracy": lambda b, t, done: _symbolic_poisson_degeneracy(b, t),
    "friction_degeneracy": lambda b, t, done: _symbolic_friction_degeneracy(b, t),
}
_JUDGES: dict[str, Callable[[SampledChecks], CheckResult]] = {
    "poisson_antisymmetric": SampledChecks.antisymmetric,
    "jacobi_identity": SampledChecks.jacobi,
    "friction_symmetric": SampledChecks.symmetric,
    "friction_positive_semidefinite": SampledChecks.positive_semidefinite,
    "poisson_degeneracy": SampledChecks.poisson_degeneracy,
    "friction_degeneracy": SampledChecks.friction_degeneracy,
}
# The symbolic attempts run in this order: Jacobi's reduction needs antisymmetry proved,
# the PSD minors need symmetry.
_PROOF_ORDER = (
    "poisson_antisymmetric",
    "friction_symmetric",
    "jacobi_identity",
    "friction_positive_semidefinite",
    "poisson_degeneracy",
    "friction_degeneracy",
)


def check_block(
    block: OperatorBlock,
    region: Region,
    options: CheckOptions,
    conditions: tuple[str, ...] = CONDITIONS,
) -> dict[str, CheckResult]:
    """Decide `conditions` for one operator block: symbolically where SymPy proves them
    within the time box, otherwise at sampled points of `region` (one evaluation shared by
    all sampled conditions)."""
    # Jacobi's symbolic reduction needs antisymmetry proved, the PSD minors need symmetry:
    # attempt those prerequisites too when only the dependent condition is asked for.
    wanted = set(conditions)
    if "jacobi_identity" in wanted:
        wanted.add("poisson_antisymmetric")
    if "friction_positive_semidefinite" in wanted:
        wanted.add("friction_symmetric")
    proved: dict[str, str | None] = {}
    for name in _PROOF_ORDER:
        if name in wanted:
            proved[name] = _PROVERS[name](block, _Budget(options.symbolic_timeout), proved)
    sampled: SampledChecks | None = None
    out: dict[str, CheckResult] = {}
    for name in conditions:
        reason = proved[name]
        if reason is not None:
            out[name] = CheckResult(name, True, "symbolic", reason)
            continue
        if sampled is None:
            sampled = SampledChecks(
                block, region, samples=options.samples, seed=options.seed, rtol=options.rtol
            )
        # Overflowing or undefined samples are masked and counted as non-finite by the
        # judges; NumPy's warnings about them would only be noise in the user's output.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out[name] = _JUDGES[name](sampled)
    return out


POISSON_CONDITIONS = ("poisson_antisymmetric", "poisson_degeneracy")
"""What each named reversible coupling must satisfy on its own (Jacobi is not additive: it is
checked on the sum)."""
FRICTION_CONDITIONS = (
    "friction_symmetric",
    "friction_positive_semidefinite",
    "friction_degeneracy",
)
"""What each named dissipative process must satisfy on its own."""


def check_parts(
    block: OperatorBlock,
    couplings: Mapping[str, sp.ImmutableMatrix] | None,
    processes: Mapping[str, sp.ImmutableMatrix] | None,
    region: Region,
    options: CheckOptions,
) -> tuple[dict[str, CheckResult], dict[str, dict[str, CheckResult]]]:
    """The six conditions for a block whose Poisson operator is a sum of named couplings
    and/or whose friction is a sum of named processes (`None`: not named, checked as one).

    Each named part is checked on its own (a process: symmetric, positive semi-definite,
    $M_k\nabla E = 0$; a coupling: antisymmetric, $L_k\nabla S = 0$); the block's result
    for such a condition holds only when every part does, and the sum then holds too. Jacobi
    is decided on the sum. **Returns:** `(results by condition, {part: results})`.
    """
    zero = sp.ImmutableMatrix.zeros(block.n, block.n)
    parts: dict[str, dict[str, CheckResult]] = {}
    split: set[str] = set()
    for named, conditions, field in (
        (couplings, POISSON_CONDITIONS, "poisson"),
        (processes, FRICTION_CONDITIONS, "friction"),
    ):
        if named is None:
            continue
        split.update(conditions)
        for key, mat in named.items():
            ops = {"poisson": zero, "friction": zero, field: mat}
            part = dataclasses.replace(block, name=f"{block.name}: {key}", program=None, **ops)
            parts[key] = check_block(part, region, options, conditions)
    rest = tuple(c for c in CONDITIONS if c not in split)
    results = check_block(block, region, options, rest)
    for cond in split:
        kinds = couplings if cond in POISSON_CONDITIONS else processes
        assert kinds is not None
        results[cond] = _aggregate(cond, {k: parts[k][cond] for k in kinds})
    psd = "friction_positive_semidefinite"
    several = processes is not None and len(processes) > 1  # one process is its own sum
    if several and results[psd].passed and results[psd].method == "sampled":
        # Each process PSD makes the sum PSD, but a sampled pass is evidence, not proof:
        # judge (and search) the sum too, so that naming the processes never checks less
        # than leaving them unnamed.
        total = check_block(block, region, options, (psd,))[psd]
        if not total.passed:
            results[psd] = dataclasses.replace(
                total, message=f"the sum of the processes: {total.message}"
            )
    return {c: results[c] for c in CONDITIONS}, parts


def _aggregate(cond: str, by_part: dict[str, CheckResult]) -> CheckResult:
    what = "coupling" if cond.startswith("poisson") else "process"
    if not by_part:
        return CheckResult(
            cond, True, "symbolic", f"no {what}es" if what == "process" else "no couplings"
        )
    failed = {k: r for k, r in by_part.items() if not r.passed}
    method = "symbolic" if all(r.method == "symbolic" for r in by_part.values()) else "sampled"
    residuals = [r.residual for r in by_part.values() if r.residual is not None]
    worst = max(residuals) if residuals else None
    if failed:
        key, r = max(failed.items(), key=lambda kv: kv[1].residual or 0.0)
        return CheckResult(
            cond, False, r.method, f"{what} {key!r}: {r.message}", r.counterexample, r.residual
        )
    names = ", ".join(by_part)
    return CheckResult(
        cond, True, method, f"holds for each {what} on its own ({names})", residual=worst
    )


def check(
    model,
    *,
    samples: int = 4096,
    rtol: float = 1e-8,
    seed: int = 0,
    symbolic_timeout: float = 1.0,
) -> ConsistencyReport:
    r"""Check the GENERIC structure of a model.

    Six conditions, in this order: `poisson_antisymmetric` ($L = -L^T$),
    `jacobi_identity` ($\sum_l L_{il}\partial_l L_{jk} + \text{cyclic} = 0$),
    `friction_symmetric` ($M = M^T$), `friction_positive_semidefinite` ($M \succeq 0$),
    `poisson_degeneracy` ($L\nabla S = 0$) and `friction_degeneracy` ($M\nabla E = 0$).
    Each is first attempted symbolically (at most `symbolic_timeout` seconds per condition);
    what SymPy cannot prove is decided by evaluating the compiled model in float64 at
    `samples` points drawn from the checked region (every state variable *and every
    parameter* over its declared domain, or a documented default derived from its sign
    assumption), with relative tolerance `rtol`; positive semi-definiteness is then also
    searched for a violation by optimisation from the worst samples. A failure comes with
    the counterexample where the violation is largest; the report lists the region covered
    and which intervals were defaulted rather than declared.

    Results are cached on the model (models are immutable): checking the same model again
    with the same options is free.

    **Arguments:**

    - `model`: any model (`GenericModel`, `StructuredModel`, ...).
    - `samples`: number of sampled points for the numeric stage.
    - `rtol`: relative tolerance of the numeric stage.
    - `seed`: seed of the sampler (the check is deterministic).
    - `symbolic_timeout`: seconds of symbolic work per condition (`float("inf")`: no
        time box).

    **Returns:** a [`generic_mm.ConsistencyReport`][].
    """
    from ._model import AbstractModel

    if not isinstance(model, AbstractModel):
        raise InputError(
            f"check: expected a model (GenericModel, StructuredModel, ...), got "
            f"{type(model).__name__}; compiled models carry no symbolic form to check (check "
            "the model before compiling)."
        )
    if isinstance(samples, bool) or not (isinstance(samples, int) and samples >= 1):
        raise InputError(f"check: samples must be a positive integer, got {samples!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"check: seed must be an integer, got {seed!r}.")
    if not (0 < rtol < 1):
        raise InputError(f"check: rtol must be in (0, 1), got {rtol!r}.")
    if not (isinstance(symbolic_timeout, (int, float)) and symbolic_timeout >= 0):
        raise InputError(
            f"check: symbolic_timeout must be a number of seconds >= 0, got {symbolic_timeout!r}."
        )
    options = CheckOptions(samples, float(rtol), int(seed), float(symbolic_timeout))
    return model.cached(("check", options), lambda: model.consistency_report(options))
