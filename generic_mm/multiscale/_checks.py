r"""The six conditions for a `NestedModel`.

The nested model has no symbolic operator block: its friction is assembled by JAX from the
RVE mesh, the coupling and the phases' conductivity laws. So the checks judge what actually
runs: the dense $L$ and $M$ that the compiled model's matrix-free products give, at sampled
states of an instance (the model, or the same RVE on a grid of at most 3 cells per axis),
with the core's sampled judges; a state where the operator is not finite fails. Symmetry and
positive semi-definiteness of every phase's $K(T)$ over the declared temperature range are
what make $M = DB^TW\hat KBD$ symmetric and positive semi-definite, so each law is also
judged on its own: proved nonnegative by SymPy where it can (a scalar law), otherwise
evaluated at 65536 log-spaced temperatures of the range (0.03 % apart). That is sampling:
a dip narrower than the spacing can escape it, as from any sampled check.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .._checks import CheckOptions
from .._report import CONDITIONS, CheckResult, ConsistencyReport
from ._nested import _CHECK_FLOATS, CHECK_LIMIT, NestedModel, assembled_checks

SCAN_POINTS = 65536
"""Temperatures at which every conductivity law is evaluated (log-spaced over the range)."""


def check_nested(model: NestedModel, options: CheckOptions) -> ConsistencyReport:
    instance = _instance(model)
    fn = instance._functions()
    p = instance.parameter_values()
    ys = _states(instance, options)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        judged = assembled_checks(fn, ys, p, options.rtol)
        bad = ~judged.finite
        results = {
            "poisson_antisymmetric": judged.antisymmetric(),
            "jacobi_identity": CheckResult(
                "jacobi_identity", True, "symbolic", "L = 0: the model has no reversible part"
            ),
            "friction_symmetric": judged.symmetric(),
            "friction_positive_semidefinite": judged.positive_semidefinite(),
            "poisson_degeneracy": judged.poisson_degeneracy(),
            "friction_degeneracy": judged.friction_degeneracy(),
        }
        if bad.any():
            k = int(np.argmax(bad))
            results["friction_positive_semidefinite"] = CheckResult(
                "friction_positive_semidefinite",
                False,
                "sampled",
                f"the assembled operators are not finite at {int(bad.sum())} of {bad.size} "
                "sampled states in the declared temperature range",
                counterexample=judged._counterexample(k),
            )
        for name, result in _scan_laws(instance, p, options.rtol).items():
            if not result.passed or results[name].passed:
                results[name] = result if not result.passed else _joined(results[name], result)
    where = "" if instance is model else f" on the same RVE with {instance.macro_shape} cells"
    lo, hi = model.temperature_range
    region = [
        f"T in [{lo:g}, {hi:g}] (declared: temperature_range=){where}; {ys.shape[0]} assembled "
        f"states of {instance.n} variables"
    ]
    return ConsistencyReport(model.name, [results[c] for c in CONDITIONS], region=region)


def _joined(assembled: CheckResult, law: CheckResult) -> CheckResult:
    return CheckResult(
        assembled.name,
        True,
        "sampled",
        f"{assembled.message}; {law.message}",
        residual=max(assembled.residual or 0.0, law.residual or 0.0),
    )


def _instance(model: NestedModel) -> NestedModel:
    if model.n <= CHECK_LIMIT:
        return model
    shape = tuple(min(m, 3) for m in model.macro_shape)
    return model.cached(
        ("check instance", shape),
        lambda: NestedModel(
            model.micro,
            model.capacity_values,
            list(model.laws),
            shape,
            spacing=model.spacing,
            voxel=model.voxel,
            periodic=model.periodic,
            coupling=model.coupling,
            temperature_range=model.temperature_range,
            params=model.user_params,
            name=model.name,
            reference_temperature=model.reference_temperature,
        ),
    )


def _states(model: NestedModel, options: CheckOptions) -> np.ndarray:
    """Entropy states at log-uniform temperatures in the declared range: half with every
    node independent, half smooth (one temperature per cell, micro perturbations of 1e-3)
    near the states a simulation visits."""
    n = model.n
    count = int(max(8, min(options.samples, _CHECK_FLOATS // (n * n))))
    rng = np.random.default_rng(options.seed)
    lo, hi = np.log(model.temperature_range[0]), np.log(model.temperature_range[1])
    shape = model.field_shape
    rough = np.exp(rng.uniform(lo, hi, (count - count // 2, *shape)))
    cells = rng.uniform(lo, hi, (count // 2, *model.macro_shape) + (1,) * model.dim)
    smooth = np.exp(cells) * (1 + 1e-3 * rng.standard_normal((count // 2, *shape)))
    T = np.clip(np.concatenate([rough, smooth]), *model.temperature_range).reshape(count, n)
    return np.stack([model.state(t.reshape(shape)) for t in T])


def _scan_laws(model: NestedModel, p, rtol: float) -> dict[str, CheckResult]:
    """Every phase's $K(T)$ on a log grid of the declared range: symmetric and positive
    semi-definite."""
    fn = model._functions()
    lo, hi = model.temperature_range
    Ts = jnp.asarray(np.geomspace(lo, hi, SCAN_POINTS))
    pv = fn._pvec(p)
    worst: dict[str, tuple[float, Any]] = {
        "friction_symmetric": (0.0, None),
        "friction_positive_semidefinite": (0.0, None),
    }
    proved = []
    for phase, (law, expr) in enumerate(zip(fn.laws, model.laws, strict=True)):
        if _proved_nonnegative(expr, model):
            proved.append(phase)
            continue
        K = np.asarray(jax.vmap(lambda t, law=law: law(t[None], pv)[0])(Ts))
        finite = np.isfinite(K).all(axis=(1, 2))
        if not finite.all():
            T = float(Ts[int(np.argmin(finite))])
            bad = CheckResult(
                "friction_positive_semidefinite",
                False,
                "sampled",
                f"phase {phase}: the conductivity is not finite at T = {T:.6g} (inside the "
                "declared temperatures)",
                counterexample={"phase": float(phase), "T": T},
                residual=math.inf,
            )
            return {"friction_positive_semidefinite": bad}
        size = np.abs(K).max(axis=(1, 2))
        denom = np.where(size > 0, size, 1.0)
        asym = np.abs(K - np.swapaxes(K, 1, 2)).max(axis=(1, 2)) / denom
        lam = np.linalg.eigvalsh(0.5 * (K + np.swapaxes(K, 1, 2)))[:, 0]
        neg = np.maximum(-lam, 0.0) / denom
        for name, ratio in (("friction_symmetric", asym), ("friction_positive_semidefinite", neg)):
            k = int(np.argmax(ratio))
            if ratio[k] > worst[name][0]:
                worst[name] = (float(ratio[k]), (phase, float(Ts[k]), K[k]))
    out = {}
    for name, (ratio, where) in worst.items():
        what = "symmetric" if name == "friction_symmetric" else "positive semi-definite"
        if ratio <= rtol:
            sampled = [p for p in range(len(fn.laws)) if p not in proved]
            how = []
            if proved:
                how.append(f"phase(s) {proved} {what} for every T > 0 (SymPy)")
            if sampled:
                how.append(f"phase(s) {sampled} at {SCAN_POINTS} temperatures of the range")
            out[name] = CheckResult(
                name,
                True,
                "sampled",
                "conductivity " + what + ": " + "; ".join(how),
                residual=ratio,
            )
        else:
            assert where is not None
            phase, T, K = where
            detail = "K - K^T" if name == "friction_symmetric" else "the smallest eigenvalue of K"
            out[name] = CheckResult(
                name,
                False,
                "sampled",
                f"phase {phase}: the conductivity is not {what} at T = {T:.6g} ({detail} is "
                f"{ratio:.3g} of |K|; K = {np.array2string(K, precision=4)})",
                counterexample={"phase": float(phase), "T": T},
                residual=ratio,
            )
    return out


def _proved_nonnegative(law, model: NestedModel) -> bool:
    """A scalar (isotropic) law that SymPy shows nonnegative for every positive T at the
    parameter values (symmetric and PSD: a multiple of the identity)."""
    if not law.is_diagonal() or len(set(law.diagonal())) != 1:
        return False
    value = sp.sympify(law[0, 0].xreplace(model.user_params))
    try:
        return bool(value.is_nonnegative) and bool(value.is_finite)
    except (TypeError, ValueError, RecursionError):
        return False
