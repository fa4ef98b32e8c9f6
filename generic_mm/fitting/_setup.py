"""A fit's data as padded arrays: every experiment validated against the model and the
fitted names (initial state, known parameters, observed quantities and their shapes, noise
levels), and `derive` checked once at the starting values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._arguments import check_initial_state, initial_state
from .._errors import InputError
from .._expressions import closest
from .._validate import real_array
from ._data import Experiment, quantity_kind, sigma_value, unknown_quantity
from ._params import Fitted
from ._quantities import Quantity, param_shape, quantity_shape

MAX_RESIDUALS = 10_000_000
"""The most entries of the padded residual vector (experiments x save times x values)."""
_FAIL = 1e6  # a failed solve's residual, relative to the largest weighted observation


class Setup:
    """The experiments as padded arrays, validated against the model and the fitted names."""

    def __init__(self, compiled, experiments, fitted: list[Fitted], derive, sigma):
        self.compiled = compiled
        self.experiments = experiments
        self.labels = [label(e, i) for i, e in enumerate(experiments)]
        fitted_names = {f.name for f in fitted}
        known = [self._known(e, i, fitted_names) for i, e in enumerate(experiments)]
        self.known = known
        self.y0 = np.stack([self._y0(e, i) for i, e in enumerate(experiments)])
        self.t0 = np.array([e.t0 for e in experiments])
        self.t1 = np.array([e.times[-1] for e in experiments])
        self.quantities = self._quantities()
        self._pad(sigma)
        names = sorted({k for kn in known for k in kn})
        model: dict[str, Any] = dict(compiled.params)
        # A value an experiment does not give is the model's own.
        self.varying = {
            k: np.stack([np.broadcast_to({**model, **kn}[k], np.shape(model[k])) for kn in known])
            for k in names
        }
        self.start = self._derived_start(fitted, derive, set(names))
        for i in range(len(experiments)):
            params = {**compiled.params, **known[i], **self.start}
            try:
                check_initial_state(compiled, jnp.asarray(self.y0[i]), params, None, set())
            except InputError as err:
                raise InputError(f"{self.labels[i]}: {err}") from None

    def _known(self, e: Experiment, i: int, fitted: set[str]) -> dict[str, np.ndarray]:
        out = {}
        for name, value in e.params.items():
            where = f"{label(e, i)}: params[{name!r}]"
            if name not in self.compiled.params:
                raise InputError(
                    f"{where}: not a parameter of {self.compiled.name!r}"
                    f"{closest(name, self.compiled.params)}."
                )
            if name in fitted:
                raise InputError(f"{where}: {name} is fitted; it cannot also be known.")
            shape = param_shape(self.compiled, name)
            try:
                value = np.broadcast_to(value, shape)
            except ValueError:
                raise InputError(
                    f"{where}: shape {np.shape(value)}, but {name} has shape {shape}."
                ) from None
            spec = self.compiled.parameter_specs.get(name)
            if spec is not None:
                spec.validate(value, where, warn=self.compiled.warns)
            elif not np.all(np.isfinite(value)):
                raise InputError(f"{where}: contains non-finite values.")
            out[name] = np.asarray(value, dtype=float)
        return out

    def _y0(self, e: Experiment, i: int) -> np.ndarray:
        try:
            y0, batch = initial_state(self.compiled, e.y0)
        except InputError as err:
            raise InputError(f"{label(e, i)}: {err}") from None
        if batch is not None:
            raise InputError(
                f"{label(e, i)}: y0: one initial state per experiment, got a batch of {batch}."
            )
        return np.asarray(y0, dtype=float)

    def _quantities(self) -> tuple[Quantity, ...]:
        found: dict[str, Quantity] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        for i, e in enumerate(self.experiments):
            for name, values in e.observed.items():
                where = f"{self.labels[i]}: observed[{name!r}]"
                kind = quantity_kind(self.compiled, name)
                if kind is None:
                    raise InputError(f"{where}: {unknown_quantity(self.compiled, name)}.")
                if name not in found:
                    found[name] = Quantity(name, *kind)
                    self.shapes[name] = quantity_shape(self.compiled, kind)
                want = (e.times.size, *self.shapes[name])
                if values.shape != want:
                    raise InputError(
                        f"{where}: expected shape {want} (times x {name}), got {values.shape}."
                    )
        return tuple(found.values())

    def _pad(self, sigma: Any) -> None:
        n_exp = len(self.experiments)
        steps = max(e.times.size for e in self.experiments)
        size = n_exp * steps * sum(math.prod(s) for s in self.shapes.values())
        if size > MAX_RESIDUALS:
            raise InputError(
                f"data: {n_exp} experiments padded to {steps} times make {size:,} residuals, "
                f"more than {MAX_RESIDUALS:,}; fit fewer experiments at once or thin the data."
            )
        self.ts = np.stack(
            [np.pad(e.times, (0, steps - e.times.size), mode="edge") for e in self.experiments]
        )
        self.obs, self.mask, self.weight = {}, {}, {}
        sigmas = self._sigmas(sigma)
        self.weighted = sigmas is not None
        for q in self.quantities:
            obs = np.zeros((n_exp, steps, *self.shapes[q.name]))
            mask = np.zeros(obs.shape, dtype=bool)
            for i, e in enumerate(self.experiments):
                if q.name in e.observed:
                    values = e.observed[q.name]
                    mask[i, : values.shape[0]] = np.isfinite(values)
                    obs[i, : values.shape[0]] = np.where(np.isfinite(values), values, 0.0)
            self.obs[q.name], self.mask[q.name] = obs, mask
            self.weight[q.name] = np.ones(n_exp) if sigmas is None else 1.0 / sigmas[q.name]
        self.n_observations = int(sum(m.sum() for m in self.mask.values()))
        largest = max(
            float(
                np.max(
                    np.abs(self.obs[q]) * self.weight[q].reshape(-1, *[1] * (self.obs[q].ndim - 1))
                )
            )
            for q in self.obs
        )
        self.fail = _FAIL * (1.0 + largest)

    def _sigmas(self, sigma: Any) -> dict[str, np.ndarray] | None:
        """Quantity -> sigma per experiment, or `None` (unweighted)."""
        default = sigma_value(sigma, "sigma")
        observed = [q.name for q in self.quantities]
        for where, given, names in [
            ("sigma", default, observed),
            *(
                (f"{self.labels[i]}: sigma", e.sigma, list(e.observed))
                for i, e in enumerate(self.experiments)
            ),
        ]:
            for name in given if isinstance(given, Mapping) else ():
                if name not in names:
                    raise InputError(
                        f"{where}[{name!r}]: not an observed quantity{closest(name, names)}; "
                        f"observed: {', '.join(names)}."
                    )
        if default is None and all(e.sigma is None for e in self.experiments):
            return None
        out = {}
        for q in self.quantities:
            column = np.ones(len(self.experiments))
            for i, e in enumerate(self.experiments):
                if q.name not in e.observed:
                    continue
                value = _pick(e.sigma, q.name)
                value = _pick(default, q.name) if value is None else value
                if value is None:
                    raise InputError(
                        f"sigma: no noise level for {q.name!r} (observed in {self.labels[i]}); "
                        "give sigma for every observed quantity, or none at all (the noise "
                        "variance is then estimated from the residuals)."
                    )
                column[i] = value
            out[q.name] = column
        return out

    def _derived_start(self, fitted: list[Fitted], derive, varying: set[str]) -> dict[str, Any]:
        """The model parameters set at the starting values (fitted model parameters and,
        checked here once, `derive`'s output)."""
        start = {f.name: jnp.asarray(f.initial) for f in fitted}
        out: dict[str, Any] = {k: v for k, v in start.items() if k in self.compiled.params}
        if derive is None:
            return out
        try:
            made = derive(dict(start))
        except Exception as err:  # the user's function: say which call failed
            raise InputError(
                f"derive: calling it with the starting values raised {type(err).__name__}: {err}"
            ) from None
        if not isinstance(made, Mapping):
            raise InputError(
                f"derive: expected it to return a mapping parameter name -> value, got "
                f"{type(made).__name__}."
            )
        for name, value in made.items():
            where = f"derive(...)[{name!r}]"
            if name not in self.compiled.params:
                raise InputError(
                    f"{where}: not a parameter of {self.compiled.name!r}"
                    f"{closest(str(name), self.compiled.params)}."
                )
            if name in start:
                raise InputError(f"{where}: {name} is also fitted; fit it or derive it.")
            if name in varying:
                raise InputError(f"{where}: {name} is also a known parameter of an experiment.")
            shape = param_shape(self.compiled, name)
            value = real_array(value, where, expected="a real number or array")
            try:
                value = np.broadcast_to(value, shape)
            except ValueError:
                raise InputError(
                    f"{where}: shape {np.shape(value)}, but {name} has shape {shape} in the "
                    "model (to derive a per-cell field, build the model with one value per "
                    "cell)."
                ) from None
            spec = self.compiled.parameter_specs.get(name)
            if spec is not None:
                spec.validate(value, f"{where} at the starting values", warn=False)
            out[name] = value
        return out


def label(e: Experiment, i: int) -> str:
    return f"data[{i}]" if e.name is None else f"experiment {e.name!r}"


def _pick(sigma: Any, name: str) -> float | None:
    if sigma is None or not isinstance(sigma, Mapping):
        return sigma
    return sigma.get(name)
