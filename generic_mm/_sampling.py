"""The sampled stage of the consistency checks: float64 evaluations at many states.

Every condition is a residual $R$ that must vanish, judged relative to the size of the terms
it is made of: a sample violates the condition when $|R| > \\mathrm{rtol}\\,(s + g)$, with
$s$ the sum of the magnitudes of the terms of that entry and $g$ the overall scale of the
operator at that state. Round-off and float literals (residues like `1e-17*x`) pass; a real
violation, a residual of the size of its own terms, fails.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ._codegen import model_functions
from ._report import CheckResult


def sample_points(model, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """States `(samples, n)` and parameter vectors `(samples, n_params)` to test at."""
    rng = np.random.default_rng(seed)
    cols = [_sample_symbol(sym, model.domain.get(sym.name), samples, rng) for sym in model.state]
    ys = np.stack(cols, axis=-1)
    pcols = []
    for sym in model.param_symbols:
        interval = model.domain.get(sym.name)
        if interval is None:
            pcols.append(np.full(samples, model.params[sym]))
        else:
            pcols.append(_sample_symbol(sym, interval, samples, rng))
    ps = np.stack(pcols, axis=-1) if pcols else np.zeros((samples, 0))
    return ys, ps


def _sample_symbol(sym, interval, samples, rng) -> np.ndarray:
    if interval is not None:
        lo, hi = interval
        if lo > 0 and hi / lo > 20:
            return np.exp(rng.uniform(math.log(lo), math.log(hi), samples))
        return rng.uniform(lo, hi, samples)
    if sym.is_positive:
        return np.exp(rng.uniform(math.log(0.1), math.log(10.0), samples))
    if sym.is_negative:
        return -np.exp(rng.uniform(math.log(0.1), math.log(10.0), samples))
    if sym.is_nonnegative:
        return rng.uniform(0.0, 2.0, samples)
    if sym.is_nonpositive:
        return rng.uniform(-2.0, 0.0, samples)
    return rng.uniform(-2.0, 2.0, samples)


def _ratio(residual, terms, scale):
    denom = terms + scale
    return np.where(denom > 0, np.abs(residual) / np.where(denom > 0, denom, 1.0), 0.0)


class SampledChecks:
    """Evaluates the operators once at the sampled states and judges each condition."""

    def __init__(self, model, *, samples: int, seed: int, rtol: float):
        self.model = model
        self.rtol = rtol
        self.ys, self.ps = sample_points(model, samples, seed)
        ops = model_functions(model).program("operators")
        L, M, gE, gS = jax.jit(jax.vmap(ops))(jnp.asarray(self.ys), jnp.asarray(self.ps))
        self.L, self.M, self.gE, self.gS = (np.asarray(a) for a in (L, M, gE, gS))
        finite = [
            np.isfinite(a).reshape(samples, -1).all(axis=1)
            for a in (self.L, self.M, self.gE, self.gS)
        ]
        self.finite = np.logical_and.reduce(finite)

    # -- helpers -----------------------------------------------------------------------------
    def _counterexample(self, k: int) -> dict[str, float]:
        out = {name: float(v) for name, v in zip(self.model.state_names, self.ys[k])}
        out.update({name: float(v) for name, v in zip(self.model.param_names, self.ps[k])})
        return out

    def _judge(self, name: str, ratio: np.ndarray, describe) -> CheckResult:
        """`ratio` has a leading sample axis; `describe(k, index)` words the worst violation."""
        n_total = ratio.shape[0]
        flat = ratio.reshape(n_total, -1)
        usable = self.finite & np.isfinite(flat).all(axis=1)
        n_ok = int(usable.sum())
        if n_ok == 0:
            return CheckResult(
                name,
                False,
                "sampled",
                f"undecided: the model is not finite at any of the {n_total} sampled states; "
                "give a domain for the state variables where it is defined.",
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
                f"holds at {n_ok} sampled states, worst relative residual {worst:.1e}{skipped}",
                residual=worst,
            )
        index = np.unravel_index(int(np.argmax(flat[k])), ratio.shape[1:])
        return CheckResult(
            name,
            False,
            "sampled",
            f"{describe(k, index)}; relative residual {worst:.2g} > rtol {self.rtol:g}{skipped}",
            counterexample=self._counterexample(k),
            residual=worst,
        )

    def _entry(self, field: str, i: int, j: int) -> str:
        names = self.model.state_names
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
        M = 0.5 * (self.M + np.swapaxes(self.M, 1, 2))
        M = np.where(self.finite[:, None, None], M, 0.0)
        eigvals, eigvecs = np.linalg.eigh(M)
        lam_min = eigvals[:, 0]
        scale = np.abs(self.M).max(axis=(1, 2))
        ratio = _ratio(np.minimum(lam_min, 0.0), 0.0, scale)[:, None]
        names = self.model.state_names

        def describe(k, idx):
            v = eigvecs[k, :, 0]
            vec = ", ".join(f"{n}: {x:.3g}" for n, x in zip(names, v) if abs(x) > 1e-12)
            return f"friction has the negative eigenvalue {lam_min[k]:.6g} along ({vec})"

        return self._judge("friction_positive_semidefinite", ratio, describe)

    def _degeneracy(self, name: str, op: np.ndarray, grad: np.ndarray, label: str) -> CheckResult:
        prod = op * grad[:, None, :]
        res = prod.sum(axis=2)
        terms = np.abs(prod).sum(axis=2)
        scale = np.abs(op).max(axis=(1, 2))[:, None] * np.abs(grad).max(axis=1)[:, None]
        names = self.model.state_names

        def describe(k, idx):
            (i,) = idx
            return f"({label})[{names[i]}] = {res[k, i]:.6g}, not 0"

        return self._judge(name, _ratio(res, terms, scale), describe)

    def poisson_degeneracy(self) -> CheckResult:
        return self._degeneracy("poisson_degeneracy", self.L, self.gS, "L grad S")

    def friction_degeneracy(self) -> CheckResult:
        return self._degeneracy("friction_degeneracy", self.M, self.gE, "M grad E")

    def jacobi(self) -> CheckResult:
        ops = model_functions(self.model).program("operators")

        def one(args):
            y, p = args
            L = ops(y, p)[0]
            dL = jax.jacfwd(lambda x: ops(x, p)[0])(y)  # dL[j, k, l] = d_l L_jk
            t1 = jnp.einsum("il,jkl->ijk", L, dL)
            a1 = jnp.einsum("il,jkl->ijk", jnp.abs(L), jnp.abs(dL))
            res = t1 + jnp.transpose(t1, (2, 0, 1)) + jnp.transpose(t1, (1, 2, 0))
            terms = a1 + jnp.transpose(a1, (2, 0, 1)) + jnp.transpose(a1, (1, 2, 0))
            scale = jnp.max(jnp.abs(L)) * jnp.max(jnp.abs(dL))
            denom = terms + scale
            return jnp.where(denom > 0, jnp.abs(res) / jnp.where(denom > 0, denom, 1.0), 0.0), res

        n = self.model.n
        batch = max(1, min(64, 2**22 // max(1, n**3)))
        ratio, res = jax.jit(lambda a: jax.lax.map(one, a, batch_size=batch))(
            (jnp.asarray(self.ys), jnp.asarray(self.ps))
        )
        ratio, res = np.asarray(ratio), np.asarray(res)
        names = self.model.state_names

        def describe(k, idx):
            i, j, kk = idx
            return (
                f"Jacobi identity fails for ({names[i]}, {names[j]}, {names[kk]}): "
                f"{{x_i,{{x_j,x_k}}}} + cyclic = {res[k, i, j, kk]:.6g}"
            )

        return self._judge("jacobi_identity", ratio, describe)
