r"""`FitResult`, and the Gauss-Newton covariance of the fitted values.

Near the optimum $\hat v$ the residuals are linear in the values, $r(v) \approx r(\hat v) +
J(v - \hat v)$, so the least-squares estimate scatters (over the noise of the data) with
covariance $s^2 (J^TJ)^{-1}$. With $v = v(z)$ this is the delta method through the
reparameterisation: $J_z = J\,\mathrm{diag}(v'(z))$ and
$\mathrm{diag}(v')(J_z^TJ_z)^{-1}\mathrm{diag}(v') = (J^TJ)^{-1}$, computed here from $J$
directly (finite also where $v'(z)$ vanishes, at a bound).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

RCOND = 1e-6
"""Singular values of the column-scaled Jacobian below `RCOND` times the largest count as
zero ($J^TJ$ singular to $10^{-12}$): the directions they span are not identifiable."""
_NULL_SHARE = (
    1e-6  # a parameter with any weight (above round-off) in a null direction is unidentifiable
)


SENSITIVITY = 1e-3
"""A value whose doubling (or a unit change, for a value near zero) moves the predictions by
less than this many noise standard deviations in all (root sum of squares) is
unidentifiable: its Jacobian column is round-off (a parameter the observations do not
depend on, such as a friction seen only through the conserved energy)."""


def covariance(
    jac: np.ndarray, variance: float, values: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The covariance `variance * (J^T J)^{-1}` of the values and, per value, whether it is
    unidentifiable (in the null space of `J`, or with a column too small to matter, see
    `SENSITIVITY`): those get variance `inf` and `nan` covariances; the others the
    pseudo-inverse restricted to the identifiable directions."""
    p = jac.shape[1]
    norms = np.linalg.norm(jac, axis=0)
    dead = ~(np.isfinite(norms) & (norms > 0))
    if values is not None and np.isfinite(variance) and variance > 0:
        unit = np.where(np.abs(values) > 0, np.abs(values), 1.0)
        dead |= norms * unit < SENSITIVITY * math.sqrt(variance)
    scaled = np.where(dead, 0.0, jac / np.where(dead, 1.0, norms))
    _, s, vt = np.linalg.svd(scaled, full_matrices=False)
    null = s <= RCOND * (s.max() if s.size and s.max() > 0 else 1.0)
    unidentifiable = dead | (np.abs(vt[null]) > _NULL_SHARE).any(axis=0)
    keep = vt[~null]
    inverse = keep.T @ np.diag(1.0 / s[~null] ** 2) @ keep
    safe = np.where(dead, 1.0, norms)
    cov = variance * inverse / np.outer(safe, safe)
    cov[unidentifiable, :] = np.nan
    cov[:, unidentifiable] = np.nan
    cov[np.diag_indices(p)] = np.where(unidentifiable, np.inf, np.diag(cov))
    return cov, unidentifiable


def gauss_newton_step(jac: np.ndarray, r: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The Gauss-Newton step $\\Delta v$ from the optimum in the `free` values (the others
    held): the minimiser of $\\lvert r + J\\Delta v\\rvert^2$; zero at a minimum."""
    step = np.zeros(jac.shape[1])
    if free.any():
        step[free] = -np.linalg.lstsq(jac[:, free], r, rcond=None)[0]
    return step


def against_bounds(
    values: np.ndarray, lower: np.ndarray, upper: np.ndarray, jac: np.ndarray, r: np.ndarray, free
) -> tuple[np.ndarray, float]:
    """Which values the data push beyond a bound (the Gauss-Newton step from the optimum
    crosses it), and by how much $\\sum r^2$ could still fall in the others (zero at a
    minimum)."""
    step = gauss_newton_step(jac, r, free)
    beyond = free & ((values + step <= lower) | (values + step >= upper))
    step = gauss_newton_step(jac, r, free & ~beyond)
    return beyond, float(r @ r - np.sum((r + jac @ step) ** 2))


def correlation(cov: np.ndarray) -> np.ndarray:
    se = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    corr[np.diag_indices(len(se))] = np.where(np.isfinite(se) & (se > 0), 1.0, np.nan)
    return corr


def _scalar_or_array(flat: np.ndarray, shape: tuple[int, ...]) -> Any:
    return float(flat[0]) if shape == () else flat.reshape(shape)


@dataclasses.dataclass(eq=False)
class FitResult:
    r"""What [`generic_mm.fit`][] returns.

    **Attributes:**

    - `values`: name -> fitted value (a float, or an array for a per-cell parameter).
    - `stderr`: name -> standard error from the Gauss-Newton covariance ($\infty$ for an
        unidentifiable parameter).
    - `labels`: one label per fitted entry (`k`, or `k[3]` for an array), the order of
        `covariance` and `correlation`.
    - `covariance`, `correlation`: `(p, p)` arrays over the entries (`nan` in the rows of
        unidentifiable parameters).
    - `derived`: the model parameter values `derive` made of the fitted values.
    - `residuals`: per experiment, quantity -> observed minus fitted, shape `(T, ...)`, in
        the data's units (`nan` where nothing was observed).
    - `cost`: the sum of squared weighted residuals $\sum_i r_i^2/\sigma_i^2$ ($\chi^2$
        when `sigma` was given; the residual sum of squares otherwise).
    - `n_observations`: the number of observed values $N$; `dof` $= N - p$.
    - `noise_variance`: the variance $s^2$ used for the covariance: 1 when `sigma` was
        given (the residuals are already in units of their noise), else
        $\mathrm{RSS}/(N - p)$.
    - `converged`, `message`, `num_steps`: whether the least-squares search converged,
        Optimistix's message, and its number of steps.
    - `weighted`: whether the residuals were weighted by a given `sigma`.
    - `unidentifiable`: names whose value the data do not determine ($J^TJ$ singular).
    - `at_bound`: names that ended against a bound of their domain: the Gauss-Newton step
        from the end crosses it, the data's optimum lies beyond (their standard error is
        a linearisation at the bound).
    - `model_name`, `experiment_names`: the model's name and a label per experiment.
    - `trajectories`: one [`generic_mm.Trajectory`][] per experiment at the fitted values
        (computed on first access with `generic_mm.simulate`).
    - `model`: the model with the fitted values as its own (see [`generic_mm.fit`][]).
    """

    values: dict[str, Any]
    stderr: dict[str, Any]
    labels: tuple[str, ...]
    covariance: np.ndarray
    correlation: np.ndarray
    derived: dict[str, Any]
    residuals: list[dict[str, np.ndarray]]
    cost: float
    n_observations: int
    noise_variance: float
    weighted: bool
    converged: bool
    message: str
    num_steps: int
    unidentifiable: tuple[str, ...]
    at_bound: tuple[str, ...]
    model_name: str
    experiment_names: tuple[str, ...]
    # How to compute `trajectories` and `model` (set by `fit`).
    _simulate: Callable[[], list[Any]] = dataclasses.field(init=False, repr=False)
    _rebuild: Callable[[], Any] = dataclasses.field(init=False, repr=False)

    @property
    def dof(self) -> int:
        """Degrees of freedom $N - p$."""
        return self.n_observations - len(self.labels)

    @functools.cached_property
    def trajectories(self) -> list[Any]:
        """One `Trajectory` per experiment, at its sample times, at the fitted values."""
        return self._simulate()

    @functools.cached_property
    def model(self) -> Any:
        """The model with the fitted (and derived) values as its parameter values."""
        return self._rebuild()

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (what `generic-mm fit --out` writes); values that
        are not finite (an unidentifiable parameter's error) become `None`."""

        def clean(x: Any) -> Any:
            if isinstance(x, Mapping):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple, np.ndarray)):
                return [clean(v) for v in np.asarray(x, dtype=float).tolist()]
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "model": self.model_name,
            "values": clean(self.values),
            "stderr": clean(self.stderr),
            "derived": clean(self.derived),
            "labels": list(self.labels),
            "covariance": clean(self.covariance),
            "correlation": clean(self.correlation),
            "cost": clean(self.cost),
            "observations": self.n_observations,
            "dof": self.dof,
            "noise_variance": clean(self.noise_variance),
            "weighted": self.weighted,
            "converged": self.converged,
            "message": self.message,
            "steps": self.num_steps,
            "unidentifiable": list(self.unidentifiable),
            "at_bound": list(self.at_bound),
            "experiments": list(self.experiment_names),
        }

    def summary(self) -> str:
        """The fitted values with their standard errors, the correlations and the fit's
        quality, as text."""
        n_exp = len(self.residuals)
        status = (
            f"converged in {self.num_steps} steps"
            if self.converged
            else f"NOT converged after {self.num_steps} steps ({self.message})"
        )
        lines = [
            f"fit of {self.model_name!r} to {n_exp} experiment{'s' * (n_exp != 1)}, "
            f"{self.n_observations} observations: {status}",
        ]
        kind = "chi^2" if self.weighted else "residual sum of squares"
        quality = f"{kind} {self.cost:.6g}, {self.dof} degrees of freedom"
        if self.weighted and self.dof > 0:
            quality += f" (chi^2/dof {self.cost / self.dof:.3g})"
        elif not self.weighted:
            quality += f" (noise standard deviation {math.sqrt(self.noise_variance):.3g})"
        lines.append(quality)
        flat_v = np.concatenate([np.ravel(self.values[n]) for n in self.values])
        flat_e = np.concatenate([np.ravel(self.stderr[n]) for n in self.stderr])
        width = max(len(label) for label in self.labels)
        for label, v, e in zip(self.labels, flat_v, flat_e):
            rel = f"  ({100 * e / abs(v):.2g}%)" if np.isfinite(e) and v != 0 else ""
            lines.append(f"  {label:<{width}} = {v:.6g} ± {e:.2g}{rel}")
        for name, v in self.derived.items():
            lines.append(f"  derived {name} = {_short(v)}")
        if len(self.labels) > 1:
            lines.append("correlations:")
            for i, a in enumerate(self.labels):
                for j in range(i):
                    lines.append(f"  {self.labels[j]}, {a}: {self.correlation[i, j]:+.3f}")
        for what, names in (
            ("unidentifiable (J^T J singular)", self.unidentifiable),
            ("ended at a bound", self.at_bound),
        ):
            if names:
                lines.append(f"WARNING: {what}: {', '.join(names)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _short(value: Any) -> str:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return f"array of shape {a.shape} in [{a.min():.6g}, {a.max():.6g}]"


def unflatten(flat: np.ndarray, names: tuple[str, ...], shapes) -> dict[str, Any]:
    out, i = {}, 0
    for name, shape in zip(names, shapes):
        size = math.prod(shape)
        out[name] = _scalar_or_array(flat[i : i + size], shape)
        i += size
    return out
