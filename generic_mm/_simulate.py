"""`generic_mm.simulate`: a checked, compiled model integrated with `diffrax.diffeqsolve`."""

from __future__ import annotations

import typing
import warnings
from collections.abc import Mapping
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._arguments import (
    as_time,
    check_initial_state,
    initial_state,
    key_name,
    parameters,
    positive,
    save_spec,
    save_times,
)
from ._compiled import CompiledModel, compile as _compile
from ._errors import InputError, SimulationError
from ._model import AbstractModel
from ._noise import grid_save_times, noise_settings, sde_terms
from ._region import any_violation
from ._sharding import gather_processes, process_share, shard_batch
from ._trajectory import Trajectory
from ._validate import is_traced


def as_compiled(model: Any, check: bool, caller: str = "simulate") -> CompiledModel:
    """The compiled model of `model` (a model, compiled with `check`, or a `CompiledModel`,
    refused when unchecked and `check` is asked for); errors name `caller`."""
    if isinstance(model, AbstractModel):
        return _compile(model, check=check)
    if isinstance(model, CompiledModel):
        if check and not model.checked:
            raise InputError(
                f"{caller}: the compiled model {model.name!r} was compiled with check=False; "
                f"compile it with check=True, or pass check=False to {caller} it unchecked."
            )
        return model
    raise InputError(
        f"{caller}: expected a model (GenericModel, StructuredModel, ...) or a CompiledModel, "
        f"got {type(model).__name__}."
    )


def stepping(solver, controller, dt0, rtol, atol, stochastic=False):
    """`simulate`'s choice of solver, step-size controller and `dt0` from its arguments
    (`Tsit5` and a `PIDController(rtol, atol)` by default; fixed steps need `dt0`), with
    its errors for unusable ones."""
    solver = diffrax.Tsit5() if solver is None else solver
    if not isinstance(solver, diffrax.AbstractSolver):
        raise InputError(f"solver: expected a diffrax solver, got {type(solver).__name__}.")
    structure = getattr(solver, "term_structure", None)
    multi = structure is diffrax.MultiTerm or typing.get_origin(structure) is diffrax.MultiTerm
    if multi and not stochastic:
        raise InputError(
            f"solver: {type(solver).__name__} solves stochastic equations (a drift and a "
            "noise term); give noise=kB for a stochastic run, or use an ODE solver."
        )
    if controller is None:
        # Structure-preserving solvers take the fixed step they are given (dt0), adaptive
        # steps without one; other adaptive solvers start at dt0 and adapt.
        fixed = dt0 is not None and getattr(solver, "fixed_step_with_dt0", False)
        if isinstance(solver, diffrax.AbstractAdaptiveSolver) and not fixed:
            controller = diffrax.PIDController(rtol=rtol, atol=atol)
        else:
            if dt0 is None:
                raise InputError(
                    f"dt0: the solver {type(solver).__name__} has no error estimate, so it takes "
                    "fixed steps: give dt0 (the step size)."
                )
            controller = diffrax.ConstantStepSize()
    return solver, controller, dt0


@eqx.filter_jit
def _integrate(
    compiled,
    y0,
    params,
    t0,
    t1,
    dt0,
    save,
    solver,
    controller,
    adjoint,
    *,
    max_steps,
    meter,
    axes,
    scale_atol,
    keys=None,
    noise=None,
):
    def one(y0, params, key):
        atol = None
        if scale_atol:
            # The scale-aware default, per ensemble member (from its own initial state).
            pid = lambda c: c.controller if isinstance(c, diffrax.ClipStepSizeController) else c  # noqa: E731
            atol = default_atol(y0, pid(controller).rtol)
            controller_ = eqx.tree_at(lambda c: pid(c).atol, controller, atol)
        else:
            controller_ = controller
        out = integrate(
            compiled,
            y0,
            params,
            t0,
            t1,
            dt0,
            save,
            solver,
            controller_,
            adjoint,
            max_steps=max_steps,
            meter=meter,
            key=key,
            noise=noise,
        )
        return (*out, atol)

    if axes is None:
        return one(y0, params, keys)
    return jax.vmap(one, in_axes=axes)(y0, params, keys)


def integrate(
    compiled: CompiledModel,
    y0: Any,
    params: Mapping[str, Any],
    t0: Any,
    t1: Any,
    dt0: Any,
    save: diffrax.SubSaveAt,
    solver: diffrax.AbstractSolver,
    controller: diffrax.AbstractStepSizeController,
    adjoint: diffrax.AbstractAdjoint,
    *,
    max_steps: int,
    meter: diffrax.AbstractProgressMeter | None = None,
    key: Any = None,
    noise: Any = None,
) -> tuple[Any, ...]:
    r"""One solve of a compiled model, traceable: the program `simulate` runs for every
    ensemble member, for callers that differentiate, `vmap` or `jit` it themselves (fitting
    and training go through it, so they integrate exactly what `simulate` integrates).

    `y0` `(n,)`; `params` the full parameter dict of `compiled` (name -> value; a learned
    part is any pytree of arrays); `save` a `diffrax.SubSaveAt`; no argument is validated
    (`simulate` does that), except that parameter values breaking a sign assumption or a
    declared domain raise at run time (`eqx.error_if`). The solver's failure is returned,
    not raised (`throw=False`).

    **Returns:** `(ts, ys, record, result, t_end, y_end, num_steps)`: the saved times and
    states, `record` (E, S, production, observables, conjugates at each saved state, as
    [`generic_mm.CompiledModel.record`][]), the `diffrax.RESULTS` value, the last time and
    state reached, and the number of steps.
    """
    # Values traced under jit/grad/vmap escaped the validation in `parameters`.
    y0 = eqx.error_if(
        y0,
        any_violation(compiled.parameter_specs, params),
        "generic_mm.simulate: a parameter value breaks its sign assumption or declared "
        "domain (the consistency check does not cover it); run with concrete values for "
        "the name and value",
    )
    model = eqx.tree_at(lambda c: c.params, compiled, dict(params))
    saveat = diffrax.SaveAt(subs=[save, diffrax.SubSaveAt(t1=True)])
    if noise is None:
        terms, args = model.term, model
    else:
        kB, tol, tree = noise
        shape = (model.noise_dim,)
        brownian = (
            diffrax.VirtualBrownianTree(t0, t1, tol=tol, shape=shape, key=key)
            if tree
            else diffrax.UnsafeBrownianPath(shape=shape, key=key)
        )
        terms, args = sde_terms(model, brownian), (model, kB)
    sol = diffrax.diffeqsolve(
        terms,
        solver,
        t0,
        t1,
        dt0,
        y0,
        saveat=saveat,
        stepsize_controller=controller,
        args=args,
        adjoint=adjoint,
        max_steps=max_steps,
        throw=False,
        progress_meter=diffrax.NoProgressMeter() if meter is None else meter,
    )
    # Both sub-SaveAts save ts and ys: each is a list with one entry per sub-SaveAt.
    assert sol.ts is not None and sol.ys is not None
    ts, ys = sol.ts[0], sol.ys[0]
    record = jax.vmap(model.record)(ys)
    return ts, ys, record, sol.result, sol.ts[1][0], sol.ys[1][0], sol.stats["num_steps"]


def simulate(
    model: AbstractModel | CompiledModel,
    y0: Any,
    t1: float,
    t0: float = 0.0,
    *,
    saveat: Any = None,
    solver: diffrax.AbstractSolver | None = None,
    dt0: float | None = None,
    rtol: float = 1e-8,
    atol: float | None = None,
    params: Mapping[Any, Any] | None = None,
    max_steps: int = 100_000,
    progress: bool = False,
    check: bool = True,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
    noise: float | None = None,
    key: Any = None,
    paths: int | None = None,
    brownian: str = "tree",
) -> Trajectory:
    r"""Integrate a GENERIC model with `diffrax.diffeqsolve`.

    The model is checked (once, cached) and compiled (once, cached); an inconsistent model is
    refused unless `check=False`. Repeated calls with the same model, solver and shapes
    reuse the compiled program.

    **Arguments:**

    - `model`: a model (`GenericModel`, `StructuredModel`, ...) or a `CompiledModel`.
    - `y0`: initial state: a dict (symbol or name -> value) or an array `(n,)`. An
        ensemble: an array `(B, n)`, or dict values with a leading axis `B`.
    - `t1`, `t0`: end and start times.
    - `saveat`: a number of evenly spaced points (default 101), an array of times, or a
        `diffrax.SaveAt` with `ts`, `t0`/`t1` or `steps=True`. A stochastic run saves by
        default at most 101 times on its step grid $t_0 + k\,dt_0$; save times between
        steps are stepped onto (with a warning: the steps are then uneven).
    - `solver`: any diffrax solver (default `diffrax.Tsit5()`); stiff ones such as
        `diffrax.Kvaerno5()` work. Solvers without an error estimate need `dt0`.
    - `dt0`: initial (or, for fixed-step solvers, the) step size; `None` starts adaptive
        solvers at $10^{-6}$ of the interval (the controller grows it quickly).
    - `rtol`, `atol`: tolerances of the default `diffrax.PIDController` (and of the
        drift and entropy-decrease flags). `atol=None` (default) scales with the state:
        `atol = 1e-2 rtol a`, with `a` the smallest nonzero $|x_i(0)|$ (but at least
        $10^{-10}\max_i|x_i(0)|$; `a = 1` when the state starts at zero), so variables of
        very different size (entropies of $10^{-7}$ J/K next to temperatures of 300 K) are
        all resolved to about `rtol` (see the units and scaling page).
    - `params`: parameter overrides (symbol or name -> value); values with a leading axis
        `B` make an ensemble. Each value is validated against the parameter's sign
        assumptions and declared domain (`InputError`); one outside the default region the
        check sampled (no domain declared) draws a warning when some condition was judged
        by sampling (a symbolic proof covers every value).
    - `max_steps`: the most solver steps before giving up.
    - `progress`: show a tqdm progress bar.
    - `check`: refuse models that fail [`generic_mm.check`][].
    - `stepsize_controller`, `adjoint`: passed to diffrax when given.
    - `noise`: Boltzmann's constant $k_B$ (in the model's units): integrate fluctuating
        GENERIC (Ito), $dx = [L\nabla E + M\nabla S + k_B\,\mathrm{div}M]\,dt + B\,dW$
        with $BB^T = 2k_BM$, driven by a `diffrax.VirtualBrownianTree` (reproducible from
        `key`, differentiable). Fixed steps `dt0`; the solver must be an Ito solver
        (default `diffrax.Euler()`, Euler-Maruyama; `diffrax.ItoMilstein()`;
        [`generic_mm.StochasticDiscreteGradient`][], $E$ to round-off). See the
        fluctuations page.
    - `key`: the PRNG key of a stochastic run (`jax.random.key(seed)`); an ensemble splits
        it, one key per member.
    - `brownian`: `"tree"` (default): a `diffrax.VirtualBrownianTree`, one Brownian path
        per key whatever the step, so runs at different `dt0` see the same path (strong
        convergence); `"steps"`: `diffrax.UnsafeBrownianPath`, independent increments per
        fixed step, much faster (about 25x on a CPU), but a different path at each `dt0`.
    - `paths`: the number of noise realisations (an ensemble of `paths` members from one
        `y0`); with a batched `y0` or `params`, leave it out (each member gets its own
        noise) or give the same number.

    **Returns:** a [`generic_mm.Trajectory`][]; for an ensemble, arrays with a leading axis
    `B`, computed in one vmapped call sharded over the local devices.

    **Raises:** `SimulationError` when the solver fails (with the time and state where it
    stopped and what to try), `ConsistencyError` for an inconsistent model, `InputError`
    for malformed arguments (also: parameter values that break their assumptions or
    domain, an initial state where $E$, $S$ or the rates are not finite).
    """
    compiled = as_compiled(model, check)
    y0_arr, y_batch = initial_state(compiled, y0)
    p_vals, p_batch = parameters(compiled, params)
    # Overrides with a leading axis make the ensemble (a structured model's own per-cell
    # parameter arrays do not).
    p_batched = {key_name(k, "params") for k, v in (params or {}).items() if np.ndim(v) == 1}
    if y_batch is not None and p_batch is not None and y_batch != p_batch:
        raise InputError(f"ensemble: y0 has {y_batch} members but params have {p_batch}.")
    batch = y_batch if y_batch is not None else p_batch
    given_batch = batch  # paths may extend it below; the inputs themselves have this one
    keys, noise_args = None, None
    if noise is None and (key is not None or paths is not None or brownian != "tree"):
        raise InputError(
            "key, paths, brownian: only a stochastic run takes them; give noise=kB as well (or leave "
            "them out)."
        )
    if not isinstance(max_steps, int) or max_steps < 1:
        raise InputError(f"max_steps: expected a positive integer, got {max_steps!r}.")
    t0_f, t1_f = as_time(t0, "t0"), as_time(t1, "t1")
    if not t1_f > t0_f:
        raise InputError(f"t1: must be greater than t0 = {t0_f}, got {t1_f}.")
    fixed_dg = getattr(solver, "fixed_step_with_dt0", False) and stepsize_controller is None
    if (noise is not None or fixed_dg) and saveat is None and dt0 is not None:
        # Fixed steps: by default save on the step grid, never between steps.
        saveat = grid_save_times(t0_f, t1_f, positive(dt0, "dt0"))
    save = save_spec(saveat, t0_f, t1_f)
    rtol = positive(rtol, "rtol")
    scale_atol = atol is None and stepsize_controller is None
    atol_value: Any = 1e-2 * rtol if atol is None else positive(atol, "atol")  # see below
    if dt0 is not None:
        dt0 = positive(dt0, "dt0")
    if noise is not None:
        run = noise_settings(
            compiled,
            noise=noise,
            key=key,
            paths=paths,
            brownian=brownian,
            batch=batch,
            solver=solver,
            controller=stepsize_controller,
            adjoint=adjoint,
            dt0=dt0,
            t0=t0_f,
            t1=t1_f,
            save_ts=save_times(saveat, save, t0_f, t1_f),
            max_steps=max_steps,
        )
        solver, stepsize_controller, dt0, keys, batch, adjoint, noise_args = run
    solver, controller, dt0 = stepping(
        solver, stepsize_controller, dt0, rtol, atol_value, stochastic=noise is not None
    )
    scale_atol = scale_atol and isinstance(controller, diffrax.PIDController)
    if stepsize_controller is None and getattr(solver, "conserves_energy", False):
        controller = _steps_at_saves(controller, save_times(saveat, save, t0_f, t1_f))
    if dt0 is None and isinstance(controller, diffrax.AbstractAdaptiveStepSizeController):
        # Diffrax's own first-step guess takes a trial step that can overflow a stiff model
        # (exp of an entropy); one NaN error estimate then stalls the controller at t0.
        # Start small instead: the controller grows the step up to 10x per step.
        dt0 = FIRST_STEP * (t1_f - t0_f)
    check_initial_state(compiled, y0_arr, p_vals, given_batch, p_batched)
    p_used = dict(p_vals)
    flag_atol = (
        jax.vmap(default_atol, in_axes=(0, None))(y0_arr, rtol)
        if jnp.ndim(y0_arr) == 2
        else default_atol(y0_arr, rtol)
    )
    meter = diffrax.TqdmProgressMeter() if progress else diffrax.NoProgressMeter()
    adjoint = diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    axes = None
    if batch is not None:
        y_axis = 0 if y_batch is not None else None
        p_axes = {k: (0 if k in p_batched else None) for k in p_vals}
        axes = (y_axis, p_axes, None if keys is None else 0)
        y0_arr, p_vals, keys, local = process_share(y0_arr, p_vals, keys, axes, batch)
        y0_arr, p_vals, keys, pad = shard_batch(y0_arr, p_vals, axes, local, keys)
    out = _integrate(
        compiled,
        y0_arr,
        p_vals,
        jnp.asarray(t0_f),
        jnp.asarray(t1_f),
        None if dt0 is None else jnp.asarray(dt0, dtype=float),
        save,
        solver,
        controller,
        adjoint,
        max_steps=max_steps,
        meter=meter,
        axes=axes,
        scale_atol=scale_atol,
        keys=keys,
        noise=noise_args,
    )
    if batch is not None:
        if pad:
            out = jax.tree_util.tree_map(lambda a: a[:local], out)
        out = gather_processes(out, batch)
    ts, ys, record, result, t_end, y_end, num_steps, used_atol = out
    if used_atol is not None:
        atol_value = used_atol
    elif atol is None:
        # Fixed steps or the caller's controller: the flags still use the scale-aware
        # tolerance of each member's initial state.
        atol_value = flag_atol
    energy, entropy = record["energy"], record["entropy"]
    ys = _raise_on_failure(ys, result, t_end, y_end, compiled, max_steps)
    if batch is not None and not save.steps:
        ts = ts[0]
    e_tol = 10.0 * (rtol * jnp.abs(energy[..., 0]) + atol_value)
    if noise is not None and not getattr(solver, "conserves_energy", False):
        # Euler-Maruyama and Milstein move E by their discretisation error, of the order
        # of sqrt(dt0) or dt0: reported in the summary, not flagged as a violation.
        e_tol = jnp.full_like(e_tol, jnp.inf)
    s_tol = rtol * jnp.abs(entropy).max(axis=-1) + atol_value
    traj = Trajectory(
        ts=ts,
        ys=ys,
        energy=energy,
        entropy=entropy,
        entropy_production=record["entropy_production"],
        energy_tolerance=e_tol,
        entropy_tolerance=s_tol,
        num_steps=num_steps,
        layout=compiled.layout,
        production_parts=record["processes"],
        observable_values=record["observables"],
        process_names=compiled.process_names,
        observable_names=compiled.observable_names,
        conjugates=(record["grad_energy"], record["grad_entropy"]),
        params=p_used,
        name=compiled.name,
        unit_items=tuple(compiled.units.items()),
        noise=None if noise is None else float(noise),
    )
    if not is_traced(traj) and not traj.ok:
        advice = (
            "; StochasticDiscreteGradient keeps E to its Newton tolerance: its steps did "
            "not converge tightly, reduce dt0"
            if noise is not None
            else "; the guarantees of a structure-preserving solver hold at its steps: save "
            "at the steps (times that are multiples of dt0)"
            if getattr(solver, "conserves_energy", False)
            else "; tighten rtol/atol or use a structure-preserving solver."
        )
        warnings.warn(
            f"simulate({compiled.name!r}): "
            + traj.summary().splitlines()[-1].removeprefix("WARNING: ")
            + advice,
            stacklevel=2,
        )
    return traj


def _steps_at_saves(controller, ts):
    """An adaptive controller that also steps exactly to the save times: a structure-
    preserving solver keeps E and S at its steps, not between them (interpolation)."""
    if not isinstance(controller, diffrax.PIDController) or ts is None or is_traced(ts):
        return controller
    ts = np.unique(np.asarray(ts, dtype=float))
    return diffrax.ClipStepSizeController(controller, step_ts=jnp.asarray(ts))


ATOL_FLOOR = 1e-10
"""The scale-aware `atol` uses variables no smaller than this fraction of the largest."""


def default_atol(y0: Any, rtol: Any) -> Any:
    """The scale-aware default absolute tolerance of one initial state `y0` (shape `(n,)`):
    `1e-2 rtol a`, `a` the smallest nonzero initial magnitude (at least `ATOL_FLOOR` times the
    largest; 1 for an all-zero state). Traceable (it runs per ensemble member)."""
    mags = jnp.abs(jnp.asarray(y0, dtype=float))
    largest = jnp.max(mags)
    smallest = jnp.min(jnp.where(mags > 0, mags, jnp.inf))
    scale = jnp.where(largest > 0, jnp.maximum(smallest, ATOL_FLOOR * largest), 1.0)
    return 1e-2 * rtol * scale


FIRST_STEP = 1e-6
"""The first adaptive step, as a fraction of the interval (`simulate`'s default `dt0`)."""

_ADVICE = {
    "max_steps": "increase max_steps (now {max_steps}), loosen rtol/atol, or, for a stiff model, "
    "use an implicit solver such as diffrax.Kvaerno5(); if no step was taken at all, give a smaller "
    "dt0",
    "nonlinear": "the implicit step has no solution at this step size, or Newton's method did not "
    "converge (or, for DiscreteGradient4, the step would lower S): reduce dt0, raise the solver's "
    "root_find_max_steps, or let an adaptive controller choose the steps (leave out dt0)",
    "default": "the state may have left the model's domain (e.g. a negative temperature): check the "
    "initial state and parameters; otherwise tighten rtol/atol, reduce dt0 or use an implicit "
    "solver such as diffrax.Kvaerno5()",
}


def _raise_on_failure(ys, result, t_end, y_end, compiled: CompiledModel, max_steps: int):
    failed = result != diffrax.RESULTS.successful
    if is_traced((ys, result)):
        # Inside jax.grad/jit: no Python exception possible, fail at run time instead.
        return eqx.error_if(
            ys,
            failed,
            "generic_mm.simulate: the solver failed; run without "
            "tracing for the time and state where it stopped",
        )
    failed = np.asarray(failed)
    if not failed.any():
        return ys
    member = int(np.argmax(failed.reshape(-1))) if failed.ndim else None
    if member is not None:
        result = jax.tree_util.tree_map(lambda a: a.reshape(-1)[member], result)
    t = float(np.asarray(t_end).reshape(-1)[member or 0])
    y = np.asarray(y_end).reshape(-1, compiled.n)[member or 0]
    state = compiled.layout.describe(y)
    reason = str(diffrax.RESULTS[result]).split("\n")[0]
    if bool(result == diffrax.RESULTS.max_steps_reached):
        key = "max_steps"
    elif "nonlinear" in reason.lower():
        key = "nonlinear"
    else:
        key = "default"
    who = (
        f" (ensemble member {member} of {failed.size}, {int(failed.sum())} failed)"
        if member is not None
        else ""
    )
    raise SimulationError(
        f"simulate({compiled.name!r}): the solver stopped at t={t:.6g}{who}: {reason}\n"
        f"state there: {state}\nwhat to try: {_ADVICE[key].format(max_steps=max_steps)}."
    )
