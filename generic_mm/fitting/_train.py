r"""Training learned parts with Optax: on trajectories (through `simulate`'s own solve) or on
observed rates."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from typing import Any, cast

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check
from .._compiled import compile as compile_model
from .._errors import InputError
from .._report import ConsistencyReport
from .._simulate import FIRST_STEP, integrate
from .._trajectory import Trajectory
from ._learned import LearnedModel

__all__ = ["Rates", "Trajectories", "Training", "train"]


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Observed trajectories of the whole state: `ys` `(B, T, n)` (or `(T, n)`) at the times
    `ts` `(T,)`, shared by the `B` trajectories."""

    ts: Any
    ys: Any


@dataclasses.dataclass(frozen=True)
class Rates:
    r"""Observed rates: `rates[k]` $= \dot x$ at `states[k]` (both `(K, n)`)."""

    states: Any
    rates: Any

    @classmethod
    def from_trajectories(cls, ts: Any, ys: Any) -> Rates:
        r"""Rates estimated from trajectories sampled at evenly spaced times `ts` `(T,)`
        (`ys` `(B, T, n)` or `(T, n)`) by the fourth-order central difference
        $\dot x_i \approx (x_{i-2} - 8x_{i-1} + 8x_{i+1} - x_{i+2})/12h$ at every interior
        sample (the first and last two of each trajectory are dropped): an error of order
        $h^4x^{(5)}/30$."""
        t = _array(ts, "ts", (1,))
        y = _array(ys, "ys", (2, 3))
        y = y[None] if y.ndim == 2 else y
        if y.shape[1] != t.shape[0] or t.shape[0] < 5:
            raise InputError(
                f"Rates.from_trajectories: expected ys of shape (B, {t.shape[0]}, n) and at "
                f"least 5 times, got ys {y.shape} and {t.shape[0]} times."
            )
        h = np.diff(t)
        if np.any(h <= 0) or np.ptp(h) > 1e-9 * h.mean():
            raise InputError("Rates.from_trajectories: ts must be evenly spaced and increasing.")
        d = (y[:, :-4] - 8 * y[:, 1:-3] + 8 * y[:, 3:-1] - y[:, 4:]) / (12 * h.mean())
        n = y.shape[2]
        return cls(y[:, 2:-2].reshape(-1, n), d.reshape(-1, n))


@dataclasses.dataclass(frozen=True)
class Training:
    """The result of `train`: the model with its trained parts (`model`), the loss after
    every step (`losses`), the wall time (`seconds`, compilation included), the number of
    windows whose solve failed and was left out of the loss (`failed_solves`, summed over
    steps), and the consistency report of the trained model (`report`)."""

    model: LearnedModel
    losses: np.ndarray
    seconds: float
    failed_solves: int
    report: ConsistencyReport

    def __repr__(self) -> str:
        return (
            f"Training({self.model.name!r}: {len(self.losses)} steps, loss "
            f"{self.losses[0]:.3g} -> {self.losses[-1]:.3g}, {self.seconds:.1f} s, "
            f"checks {'pass' if self.report.ok else 'FAIL'})"
        )


def _optax():
    try:
        import optax
    except ImportError:  # pragma: no cover - depends on the installation
        raise InputError(
            "train: needs Optax, an optional dependency: pip install 'generic_mm[learn]'."
        ) from None
    return optax


def _array(value: Any, where: str, ndim: Sequence[int]) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"train: {where}: expected an array of numbers.") from None
    if a.ndim not in ndim:
        raise InputError(
            f"train: {where}: expected {' or '.join(f'{d}-d' for d in ndim)}, got shape {a.shape}."
        )
    if not np.all(np.isfinite(a)):
        raise InputError(f"train: {where}: contains non-finite values.")
    return a


def _windows(ts: np.ndarray, ys: np.ndarray, window: int | None):
    """Every run of `window + 1` consecutive samples of every trajectory: its start state,
    its times relative to its start, its samples."""
    T = ts.shape[0]
    w = T - 1 if window is None else window
    if not 1 <= w <= T - 1:
        raise InputError(
            f"train: window: expected 1 .. {T - 1} (samples per trajectory - 1), got {w}."
        )
    starts = np.arange(0, T - w)
    idx = starts[:, None] + np.arange(w + 1)[None, :]
    rel = ts[idx] - ts[starts][:, None]  # (S, w + 1)
    targets = ys[:, idx]  # (B, S, w + 1, n)
    B, S = targets.shape[:2]
    targets = targets.reshape(B * S, w + 1, -1)
    rel = np.broadcast_to(rel, (B, S, w + 1)).reshape(B * S, w + 1)
    return targets[:, 0], rel, targets


def train(
    model: LearnedModel,
    data: Trajectories | Rates | Trajectory,
    *,
    learn: Sequence[str] | None = None,
    optimizer: Any = None,
    steps: int = 1000,
    window: int | None = None,
    batch: int | None = None,
    seed: int = 0,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    max_steps: int = 4096,
    progress: bool = False,
) -> Training:
    r"""Train the learned parts of `model` with Optax.

    On **trajectories** (`Trajectories`, or a batched `Trajectory` from `simulate`) the loss
    is the mean square of the predicted minus observed states over windows of `window + 1`
    consecutive samples (default: whole trajectories), each integrated from its observed
    first state by the solve `simulate` runs (`generic_mm` integrates, differentiates in
    reverse mode, `diffrax.RecursiveCheckpointAdjoint`); each variable is scaled by its
    standard deviation in the data. On **rates** (`Rates`) it is the mean square of the
    vector field minus the observed rates, scaled the same way, without any solve.

    **Arguments:**

    - `learn`: the parameters to train (default: every `equinox.Module` and every array
      parameter with at least one axis; numbers stay fixed unless named).
    - `optimizer`: an Optax gradient transformation (default `optax.adam(1e-3)`), wrapped in
      `optax.apply_if_finite` so a step with a non-finite loss is skipped; line-search
      methods such as `optax.lbfgs()` get the loss of the step's batch (use them with the
      full batch, `batch=None`).
    - `steps`, `batch` (windows or rate samples per step, drawn at random; default all),
      `seed`.
    - `solver`, `rtol`, `atol`, `max_steps`: of each window's solve (default `Tsit5` with a
      `PIDController`); a window whose solve fails is left out of that step's loss (and
      counted in `failed_solves`).

    **Returns:** a `Training`, whose `model` is `model` with the trained parameters and
    whose `report` is its consistency report (`generic_mm.check`).
    """
    optax = _optax()
    if not isinstance(model, LearnedModel):
        raise InputError(f"train: expected a LearnedModel, got {type(model).__name__}.")
    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"train: steps: expected a positive integer, got {steps!r}.")
    params = dict(model.params)
    if learn is None:
        learn = [
            k
            for k, v in params.items()
            if isinstance(v, eqx.Module) or (hasattr(v, "ndim") and v.ndim >= 1)
        ]
    else:
        learn = list(learn)
        unknown = [k for k in learn if k not in params]
        if unknown:
            raise InputError(
                f"train: learn: {unknown} are not parameters of {model.name!r}; they are "
                f"{sorted(params)}."
            )
    if not learn:
        raise InputError(
            f"train: {model.name!r} has nothing to learn; name the parameters in learn=."
        )
    # The numbers being trained move away from the values the model was checked at (the
    # trained model is checked again at the end): integrate a copy that does not pin them.
    unpinned = model.with_params()
    object.__setattr__(unpinned, "_pinned", False)
    compiled = compile_model(unpinned, check=False)
    fixed = {k: v for k, v in params.items() if k not in learn}
    diff, static = eqx.partition({k: params[k] for k in learn}, eqx.is_inexact_array)

    def full(d):
        return {**fixed, **eqx.combine(d, static)}

    n = model.n
    if isinstance(data, Trajectory):
        data = Trajectories(np.asarray(data.ts), np.asarray(data.ys))
    if isinstance(data, Trajectories):
        ts = _array(data.ts, "ts", (1,))
        ys = _array(data.ys, "ys", (2, 3))
        ys = ys[None] if ys.ndim == 2 else ys
        if ys.shape[1:] != (ts.shape[0], n):
            raise InputError(
                f"train: ys: expected shape (B, {ts.shape[0]}, {n}) for {ts.shape[0]} times and "
                f"{n} state variables, got {ys.shape}."
            )
        if np.any(np.diff(ts) <= 0):
            raise InputError("train: ts: times must increase.")
        y0s, rel, targets = _windows(ts, ys, window)
        scale = ys.reshape(-1, n).std(axis=0)
        inputs = (jnp.asarray(y0s), jnp.asarray(rel), jnp.asarray(targets))
        solver_ = diffrax.Tsit5() if solver is None else solver
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        adjoint = diffrax.RecursiveCheckpointAdjoint()

        def window_errors(d, y0, t, target):
            p = full(d)

            def one(y0, t, target):
                out = integrate(
                    compiled,
                    y0,
                    p,
                    t[0],
                    t[-1],
                    FIRST_STEP * (t[-1] - t[0]),  # simulate's first step (no trial overflow)
                    diffrax.SubSaveAt(ts=t),
                    solver_,
                    controller,
                    adjoint,
                    max_steps=max_steps,
                )
                ys_, result = out[1], out[3]
                ok = result == diffrax.RESULTS.successful
                err = jnp.mean(((ys_ - target) / s) ** 2)
                return jnp.where(ok & jnp.isfinite(err), err, 0.0), ok & jnp.isfinite(err)

            return jax.vmap(one)(y0, t, target)

        errors = window_errors

    elif isinstance(data, Rates):
        states = _array(data.states, "states", (2,))
        rates = _array(data.rates, "rates", (2,))
        if states.shape != rates.shape or states.shape[1] != n:
            raise InputError(
                f"train: Rates: states and rates must both be (K, {n}), got {states.shape} and "
                f"{rates.shape}."
            )
        scale = rates.std(axis=0)
        inputs = (jnp.asarray(states), jnp.asarray(rates))

        def rate_errors(d, x, target):
            p = full(d)
            pred = jax.vmap(lambda y: compiled.functions.rates(y, p, compiled.data))(x)
            err = jnp.mean(((pred - target) / s) ** 2, axis=1)
            ok = jnp.isfinite(err)
            return jnp.where(ok, err, 0.0), ok

        errors = rate_errors

    else:
        raise InputError(
            f"train: data: expected Trajectories, Rates or a Trajectory, got {type(data).__name__}."
        )
    _warn_outside(model, np.asarray(inputs[0]).reshape(-1, n))
    s = jnp.asarray(np.where(scale > 0, scale, 1.0))
    total = inputs[0].shape[0]
    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool)):
        raise InputError(f"train: batch: expected an integer, got {batch!r}.")
    size = total if batch is None else batch
    if not 1 <= size <= total:
        raise InputError(f"train: batch: expected 1 .. {total}, got {batch!r}.")
    chosen_optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    if not (hasattr(chosen_optimizer, "init") and hasattr(chosen_optimizer, "update")):
        raise InputError(
            f"train: optimizer: expected an Optax gradient transformation such as "
            f"optax.adam(1e-3), got {optimizer!r}."
        )
    opt = optax.apply_if_finite(optax.with_extra_args_support(chosen_optimizer), 20)
    state = opt.init(diff)

    def loss_fn(d, chosen):
        err, ok = errors(d, *chosen)
        count = jnp.sum(ok)
        # No usable window: a NaN loss, so apply_if_finite skips the step (never a loss of 0).
        loss = jnp.where(count > 0, jnp.sum(err) / jnp.maximum(count, 1), jnp.nan)
        return loss, size - count

    @eqx.filter_jit
    def step(d, state, key):
        if size == total:
            chosen = inputs
        else:
            pick = jax.random.choice(key, total, (size,), replace=False)
            chosen = tuple(a[pick] for a in inputs)
        (loss, failed), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(d, chosen)
        # Line-search optimizers (optax.lbfgs) evaluate the loss on this step's batch.
        updates, state = cast(Any, opt).update(
            grads, state, d, value=loss, grad=grads, value_fn=lambda d_: loss_fn(d_, chosen)[0]
        )
        return eqx.apply_updates(d, updates), state, loss, failed

    key = jax.random.key(seed)
    losses, failed_total = np.empty(steps), 0
    start = time.perf_counter()
    iterator: Any = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"train {model.name}")
    for i in iterator:
        key, sub = jax.random.split(key)
        diff, state, loss, failed = step(diff, state, sub)
        losses[i] = float(loss)
        failed_total += int(failed)
    seconds = time.perf_counter() - start
    if failed_total:
        warnings.warn(
            f"train({model.name!r}): {failed_total} window solves failed over {steps} steps "
            "and were left out of the loss (losses are NaN for steps with none left); "
            "raise max_steps, loosen rtol/atol or shorten the windows.",
            stacklevel=2,
        )
    trained = model.with_params(**eqx.combine(diff, static))
    report = check(trained)
    if not report.ok:
        failed = ", ".join(r.name for r in report if not r.passed)
        warnings.warn(
            f"train({model.name!r}): the trained model fails {failed} (training.report says "
            "where); simulate refuses it unless check=False.",
            stacklevel=2,
        )
    return Training(trained, losses, seconds, failed_total, report)


def _warn_outside(model: LearnedModel, states: np.ndarray) -> None:
    """Warn when training states lie outside the model's declared domain, where the checks
    never look."""
    lo = np.array([model.domain[v][0] for v in model.state])
    hi = np.array([model.domain[v][1] for v in model.state])
    outside = ((states < lo) | (states > hi)).any(axis=1)
    if outside.any():
        k = int(np.argmax(outside))
        where = ", ".join(f"{v} = {x:.4g}" for v, x in zip(model.state, states[k]))
        warnings.warn(
            f"train({model.name!r}): {int(outside.sum())} of {states.shape[0]} training states "
            f"lie outside the declared domain (e.g. {where}); the checks sample only the "
            "domain: widen it to the data's range.",
            stacklevel=3,
        )
