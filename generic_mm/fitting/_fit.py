r"""`generic_mm.fit`: parameters of a model fitted to observed trajectories by nonlinear least
squares through the solves."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import diffrax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._arguments import positive
from .._compiled import CompiledModel
from .._errors import InputError, SimulationError
from .._model import AbstractModel
from .._region import validate_overrides
from .._simulate import FIRST_STEP, as_compiled, simulate, stepping
from ._data import Experiment, load_experiments
from ._params import Fitted, Transform, fitted_parameters
from ._problem import Problem, check_method, run
from ._result import FitResult, against_bounds, correlation, covariance, unflatten
from ._setup import Setup

_STALLED = 1e-2  # a search that could still lower the cost by this many noise variances


def fit(
    model: AbstractModel | CompiledModel,
    data: Experiment | Sequence[Experiment] | str | os.PathLike,
    params: Sequence[str] | Mapping[str, Any],
    *,
    derive: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    sigma: float | Mapping[str, float] | None = None,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-8,
    atol: float | None = None,
    dt0: float | None = None,
    max_steps: int = 100_000,
    method: str | optx.AbstractLeastSquaresSolver = "levenberg-marquardt",
    tol: float = 1e-6,
    max_iterations: int = 200,
    check: bool = True,
) -> FitResult:
    r"""Fit parameters of a model to observed trajectories by nonlinear least squares.

    Minimises $\sum_i (y_i - \hat y_i(\theta))^2/\sigma_i^2$ over the fitted values
    $\theta$, where $\hat y_i$ is the model's prediction of observation $i$ (a state
    variable, observable, $E$, $S$ or conjugate variable of some experiment at its sample
    time). Every experiment is integrated in one vmapped solve (as
    [`generic_mm.simulate`][] integrates, with forward-mode derivatives through the
    solver); the whole fit is one jitted program, reused by later fits of the same model,
    shapes and options. Each bounded value is reached by reparameterisation (never
    clipped; see the fitting page).

    **Arguments:**

    - `model`: a model (`GenericModel`, `StructuredModel`, ...) or a `CompiledModel`;
        checked (once, cached) unless `check=False`, as `simulate` does.
    - `data`: an [`generic_mm.fitting.Experiment`][], a sequence of them, or the path of a
        CSV data file ([`generic_mm.fitting.load_experiments`][]).
    - `params`: the fitted names: a list of model parameters (starting at the model's
        values), or a mapping name -> starting value or [`generic_mm.fitting.Parameter`][]
        (bounds). Names that are not model parameters are handed to `derive`.
    - `derive`: a function of the fitted values (name -> JAX array) returning model
        parameter values (name -> value), e.g. a conductivity field from two numbers;
        written with `jax.numpy`. Pass the same function object to reuse the compiled fit.
    - `sigma`: the noise standard deviation of the observations: a number, or quantity
        name -> number (an `Experiment`'s own `sigma` takes precedence). Given, the
        residuals are weighted by it and the covariance uses it; `None` (and no
        experiment's `sigma`): unweighted, with the noise variance estimated from the
        residuals, $s^2 = \mathrm{RSS}/(N - p)$, one for all quantities.
    - `solver`, `rtol`, `atol`, `dt0`, `max_steps`: the solves, as in `simulate`.
    - `method`: `"levenberg-marquardt"` (default), `"gauss-newton"`, or an Optimistix
        least-squares solver.
    - `tol`: the search stops when an accepted step changes no residual by more than
        `tol` (relative to the starting misfit, and to the residual); `max_iterations`:
        its most steps. At the end, a search that could still lower $\chi^2$ by 0.01 of
        the noise variance by a Gauss-Newton step is reported as not converged.
    - `check`: refuse models that fail [`generic_mm.check`][].

    **Returns:** a [`generic_mm.fitting.FitResult`][]: values, standard errors and
    correlations from the Gauss-Newton covariance $s^2(J^TJ)^{-1}$ at the optimum,
    residuals, cost, the fitted trajectories (one `Trajectory` per experiment) and
    `result.model`: the model with the fitted values, for a `GenericModel` a
    `GenericModel` (`with_params`, fitted and derived values must then be numbers);
    for every other kind the `CompiledModel` with the values (`CompiledModel.with_params`),
    which `simulate` takes like a model.

    **Warns** when the search did not converge, when a value is unidentifiable ($J^TJ$
    singular: its standard error is `inf`), ends against a bound, or lies outside the
    region the consistency check sampled.

    **Raises:** `InputError` for malformed arguments or data (naming the argument,
    experiment, quantity, or file, line and column); `SimulationError` when a solve fails
    at the starting values (at other trial values a failed solve only rejects the step).

    **Example:**

    ```python
    import generic_mm as gm
    from generic_mm.models import LIBRARY

    model = gm.load_model(LIBRARY / "damped_oscillator.toml")
    data = LIBRARY / "damped_oscillator_observations.csv"
    result = gm.fit(model, data, ["gamma", "k"], sigma={"q": 0.02, "T": 0.005})
    print(result)  # gamma = 0.30256 ± 0.0016 ...
    ```
    """
    compiled = as_compiled(model, check, "fit")
    experiments = _experiments(data, model if isinstance(model, AbstractModel) else compiled)
    fitted = fitted_parameters(compiled, params, derive)
    if not isinstance(max_steps, int) or max_steps < 1:
        raise InputError(f"max_steps: expected a positive integer, got {max_steps!r}.")
    if not isinstance(max_iterations, int) or max_iterations < 1:
        raise InputError(f"max_iterations: expected a positive integer, got {max_iterations!r}.")
    tol = positive(tol, "tol")
    rtol = positive(rtol, "rtol")
    atol_value: Any = 1e-2 * rtol if atol is None else positive(atol, "atol")
    dt0 = None if dt0 is None else positive(dt0, "dt0")
    solver, controller, dt0 = stepping(solver, None, dt0, rtol, atol_value)
    check_method(method)
    setup = Setup(compiled, experiments, fitted, derive, sigma)
    spans = setup.t1 - setup.t0
    steps = np.full_like(spans, dt0) if dt0 is not None else FIRST_STEP * spans
    problem = Problem(
        compiled=compiled,
        transform=Transform(fitted),
        varying={k: jnp.asarray(v) for k, v in setup.varying.items()},
        y0=jnp.asarray(setup.y0),
        t0=jnp.asarray(setup.t0),
        t1=jnp.asarray(setup.t1),
        dt0=jnp.asarray(steps),
        ts=jnp.asarray(setup.ts),
        obs={k: jnp.asarray(v) for k, v in setup.obs.items()},
        mask={k: jnp.asarray(v) for k, v in setup.mask.items()},
        weight={k: jnp.asarray(v) for k, v in setup.weight.items()},
        fail=jnp.asarray(setup.fail),
        solver=solver,
        controller=controller,
        quantities=setup.quantities,
        derive=derive,
        scale_atol=atol is None and isinstance(controller, diffrax.PIDController),
        max_steps=max_steps,
    )
    out = run(problem, method, tol, max_iterations)
    out = {k: _numpy(v) for k, v in out.items()}
    settings = dict(solver=solver, rtol=rtol, atol=atol, dt0=dt0, max_steps=max_steps)
    return _result(model, compiled, setup, fitted, problem, out, settings, check)


def _numpy(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: np.asarray(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(np.asarray(v) for v in x)
    return x if isinstance(x, optx.RESULTS) else np.asarray(x)


def _experiments(data: Any, model: Any) -> list[Experiment]:
    if isinstance(data, (str, os.PathLike)):
        return load_experiments(data, model)
    if isinstance(data, Experiment):
        return [data]
    if isinstance(data, Sequence) and data and all(isinstance(e, Experiment) for e in data):
        return list(data)
    raise InputError(
        "data: expected an Experiment, a non-empty sequence of Experiments or the path of a "
        f"CSV data file, got {type(data).__name__}."
    )


def _result(model, compiled, setup: Setup, fitted, problem, out, settings, check) -> FitResult:
    names = tuple(f.name for f in fitted)
    shapes = tuple(f.shape for f in fitted)
    labels = tuple(label for f in fitted for label in f.labels())
    failed0, t0_end, y0_end = out["start"]
    _raise_if_failed(setup, failed0, t0_end, y0_end, fitted, "at the starting values")
    values_flat = out["values"]
    values = unflatten(values_flat, names, shapes)
    failed, t_end, y_end = out["end"]
    _raise_if_failed(setup, failed, t_end, y_end, fitted, "at the fitted values")
    r = out["residuals"]
    cost = float(np.sum(r**2))
    n, p = setup.n_observations, len(labels)
    if setup.weighted:
        variance = 1.0
    elif n > p:
        variance = cost / (n - p)
    else:
        variance = math.nan
        warnings.warn(
            f"fit: {n} observations for {p} fitted values: the noise variance cannot be "
            "estimated; give sigma for standard errors.",
            stacklevel=3,
        )
    cov, unidentifiable = covariance(out["jacobian"], variance, values_flat)
    stderr = unflatten(np.sqrt(np.diag(cov)), names, shapes)
    bad = [f.name for f in fitted if np.any(unidentifiable[_entries(fitted, f.name)])]
    over = {
        k: np.asarray(v)
        for k, v in problem.overrides({k: jnp.asarray(v) for k, v in values.items()}).items()
    }
    derived = {k: _plain(v) for k, v in over.items() if k not in values}
    lower, upper = (np.asarray(b) for b in (problem.transform.lower, problem.transform.upper))
    beyond, left = against_bounds(values_flat, lower, upper, out["jacobian"], r, ~unidentifiable)
    at_bound = [f.name for f in fitted if np.any(beyond[_entries(fitted, f.name)])]
    converged = bool(out["result"] == optx.RESULTS.successful)
    message = "" if converged else str(optx.RESULTS[out["result"]]).split("\n")[0]
    # The possible fall must matter against the noise and against round-off of the starting
    # cost (an exact fit without sigma estimates a variance of round-off).
    if converged and left > _STALLED * variance and left > 1e-12 * float(out["cost0"]):
        # Solves failing (or a derived value leaving its domain) nearer the optimum made
        # the search stop short: every step towards it was rejected.
        converged = False
        message = (
            f"it stopped where the cost could still fall by {left / variance:.3g} noise "
            "variances: the solves fail beyond (raise max_steps, change rtol or the solver) "
            "or a derived value leaves its domain there"
        )
    elif not converged:
        message += "; raise max_iterations, loosen tol or start nearer"
    _warn(compiled, fitted, over, bad, at_bound, converged, message, int(out["steps"]))
    residuals = _residuals(setup, out["preds"])
    result = FitResult(
        values=values,
        stderr=stderr,
        labels=labels,
        covariance=cov,
        correlation=correlation(cov),
        derived=derived,
        residuals=residuals,
        cost=cost,
        n_observations=n,
        noise_variance=variance,
        weighted=setup.weighted,
        converged=converged,
        message=message,
        num_steps=int(out["steps"]),
        unidentifiable=tuple(bad),
        at_bound=tuple(at_bound),
        model_name=compiled.name,
        experiment_names=tuple(setup.labels),
    )
    result._simulate = lambda: _trajectories(compiled, setup, over, settings, check)
    result._rebuild = lambda: _rebuilt(model, compiled, over)
    return result


def _entries(fitted: list[Fitted], name: str) -> slice:
    i = 0
    for f in fitted:
        if f.name == name:
            return slice(i, i + f.size)
        i += f.size
    raise KeyError(name)


def _plain(value: np.ndarray) -> Any:
    return float(value) if value.ndim == 0 else value


def _raise_if_failed(setup: Setup, failed, t_end, y_end, fitted, when: str) -> None:
    if not np.any(failed):
        return
    i = int(np.argmax(failed))
    start = ", ".join(f"{f.name}={np.asarray(f.initial).reshape(-1)[0]:.6g}" for f in fitted)
    raise SimulationError(
        f"fit({setup.compiled.name!r}): the solve of {setup.labels[i]} fails {when} "
        f"({start} to start): it stopped at t={float(t_end[i]):.6g} (state there: "
        f"{setup.compiled.layout.describe(y_end[i])}), or a derived parameter left its "
        "domain. Start from other values, tighten rtol, raise max_steps or use an "
        "implicit solver such as diffrax.Kvaerno5()."
    )


def _warn(compiled, fitted, over, bad, at_bound, converged, message, steps) -> None:
    if not converged:
        warnings.warn(
            f"fit({compiled.name!r}): the least-squares search did not converge in {steps} "
            f"steps: {message}.",
            stacklevel=4,
        )
    if bad:
        warnings.warn(
            f"fit({compiled.name!r}): the data do not determine {', '.join(bad)} (J^T J is "
            "singular: a combination of the fitted values leaves the predictions unchanged); "
            "their standard errors are inf. Fix one of them, or observe more.",
            stacklevel=4,
        )
    if at_bound:
        bounds = {f.name: f"({f.lower:g}, {f.upper:g})" for f in fitted}
        warnings.warn(
            f"fit({compiled.name!r}): "
            + ", ".join(f"{n} ended against a bound of {bounds[n]}" for n in at_bound)
            + ": the data's optimum lies there or beyond; the standard error is a "
            "linearisation at the bound.",
            stacklevel=4,
        )
    validate_overrides(compiled.parameter_specs, over, "fitted", warn=compiled.warns)


def _residuals(setup: Setup, preds: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    out = []
    for i, e in enumerate(setup.experiments):
        one = {}
        for name in e.observed:
            steps = e.times.size
            diff = setup.obs[name][i, :steps] - preds[name][i, :steps]
            one[name] = np.where(setup.mask[name][i, :steps], diff, np.nan)
        out.append(one)
    return out


def _with_values(compiled: CompiledModel, values: Mapping[str, Any]) -> CompiledModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit has warned about these values once
        return compiled.with_params(**values)


def _trajectories(compiled, setup: Setup, over, settings, check) -> list[Any]:
    out = []
    for i, e in enumerate(setup.experiments):
        model = _with_values(compiled, {**setup.known[i], **over})
        out.append(
            simulate(
                model,
                setup.y0[i],
                float(e.times[-1]),
                e.t0,
                saveat=e.times,
                check=check,
                **settings,
            )
        )
    return out


def _rebuilt(model: Any, compiled: CompiledModel, over: Mapping[str, Any]) -> Any:
    with_params = getattr(model, "with_params", None)
    if isinstance(model, AbstractModel) and with_params is not None:
        if all(np.ndim(v) == 0 for v in over.values()):
            return with_params(**{k: float(v) for k, v in over.items()})
    return _with_values(compiled, over)
