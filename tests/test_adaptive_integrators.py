"""DiscreteGradient at the speed of Runge-Kutta: the reused chord iteration, adaptive steps,
the fourth-order composition, and how failures are reported."""

import math
import warnings

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm.models import damped_oscillator, heat_exchange, rigid_body


def every_step(traj):
    valid = np.isfinite(np.asarray(traj.ts))
    return tuple(np.asarray(a)[valid] for a in (traj.ts, traj.ys, traj.energy, traj.entropy))


@pytest.fixture(scope="module")
def oscillator():
    return damped_oscillator.model(gamma=0.3)


def test_fourth_order_composition_measured_order_and_exact_energy(oscillator):
    y0, T = damped_oscillator.initial_state, 4.0
    ref = gm.simulate(oscillator, y0, T, saveat=diffrax.SaveAt(t1=True), rtol=1e-13, atol=1e-14)
    hs, errors = np.array([0.4, 0.2, 0.1, 0.05]), []
    for h in hs:  # one compiled solve for every h (dt0 is a run-time input)
        traj = gm.simulate(
            oscillator,
            y0,
            T,
            solver=gm.DiscreteGradient4(),
            dt0=float(h),
            saveat=diffrax.SaveAt(t0=True, steps=True),
            max_steps=100,
        )
        _, ys, e, s = every_step(traj)
        errors.append(np.max(np.abs(ys[-1] - np.asarray(ref.ys[-1]))))
        assert np.max(np.abs(e - e[0])) < 1e-13 * abs(e[0])  # at every step
        assert np.min(np.diff(s)) >= -1e-14 and s[-1] > s[0]
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert 3.8 < slope < 4.2, (slope, errors)


def test_error_estimate_is_the_local_error_to_leading_order(oscillator):
    # For linear dynamics the trapezoidal rule equals the midpoint step, so a trapezoidal
    # companion would estimate zero; the h^3/12 y''' estimate must match the true local error.
    cm = gm.compile(oscillator)
    solver = gm.DiscreteGradient()
    y = jnp.array([damped_oscillator.initial_state[k] for k in ("q", "p", "s")])

    @eqx.filter_jit
    def two_steps(h):
        state = solver.init(cm.term, 0.0, h, y, cm)
        y1, _, _, state, _ = solver.step(cm.term, 0.0, h, y, cm, state, False)  # history
        y2, err, _, _, _ = solver.step(cm.term, h, 2 * h, y1, cm, state, False)
        return y1, y2, err

    ratios = []
    for h in (0.1, 0.05, 0.025):
        y1, y2, err = two_steps(jnp.asarray(h))
        exact = gm.simulate(
            cm, y1, 2 * h, t0=h, saveat=diffrax.SaveAt(t1=True), rtol=1e-13, atol=1e-15
        )
        local = np.asarray(y2) - np.asarray(exact.ys[-1])
        ratios.append(np.linalg.norm(np.asarray(err)[:2]) / np.linalg.norm(local[:2]))
    assert ratios[-1] == pytest.approx(1.0, abs=0.15), ratios


def test_adaptive_steps_through_a_fast_transient_then_rest():
    model = heat_exchange.model(kappa=5.0)  # relaxation time about 0.1
    y0, t1 = heat_exchange.initial_state, 1e4
    traj = gm.simulate(
        model,
        y0,
        t1,
        solver=gm.DiscreteGradient(),
        rtol=1e-6,
        saveat=diffrax.SaveAt(t0=True, steps=True),
    )
    ts, ys, e, s = every_step(traj)
    dt = np.diff(ts)
    assert len(ts) < 400, len(ts)  # a fixed step resolving the transient would take 1e6
    assert np.median(dt[ts[:-1] < 1.0]) < 1e-2 and dt[-5:].max() > 100.0  # small, then large
    assert np.max(np.abs(e - e[0])) < 1e-13 * e[0]  # at every accepted step
    assert np.min(np.diff(s)) >= -1e-14
    v = heat_exchange.DEFAULTS
    T0 = (2.0, 1.0)
    T_eq = (v["C1"] * T0[0] + v["C2"] * T0[1]) / (v["C1"] + v["C2"])
    dS = v["C1"] * math.log(T_eq / T0[0]) + v["C2"] * math.log(T_eq / T0[1])
    temps = np.exp(ys[-1] / np.array([v["C1"], v["C2"]]))
    np.testing.assert_allclose(temps, T_eq, rtol=1e-7)
    assert s[-1] - s[0] == pytest.approx(dS, rel=1e-7)


def test_adaptive_runs_save_at_steps_so_energy_is_exact_at_saved_points(oscillator):
    y0 = damped_oscillator.initial_state
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # simulate would flag a drifting saved point
        traj = gm.simulate(oscillator, y0, 30.0, solver=gm.DiscreteGradient(), saveat=31, rtol=1e-7)
    e = np.asarray(traj.energy)
    assert np.max(np.abs(e - e[0])) < 1e-13 * abs(e[0]) and traj.ok
    ref = gm.simulate(oscillator, y0, 30.0, saveat=31, rtol=1e-12, atol=1e-14)
    error = np.max(np.abs(np.asarray(traj.ys) - np.asarray(ref.ys)))
    assert 1e-9 < error < 1e-4, error  # the tolerance steers the accuracy, E stays exact


def test_reused_jacobian_keeps_the_conserved_quantities_of_full_newton():
    model = rigid_body.model(gamma=0.5)
    y0 = rigid_body.initial_state
    runs = {}
    for name, solver in {
        "chord": gm.DiscreteGradient(),
        "newton": gm.DiscreteGradient(root_finder=gm.DiscreteGradient().newton()),
    }.items():
        traj = gm.simulate(
            model, y0, 250.0, solver=solver, dt0=0.25, saveat=diffrax.SaveAt(t0=True, steps=True)
        )
        runs[name] = every_step(traj)
    for _, ys, e, s in runs.values():
        casimir = np.sum(ys[:, :3] ** 2, axis=1)
        assert np.max(np.abs(e - e[0])) < 1e-13 * abs(e[0])
        assert np.max(np.abs(casimir - casimir[0])) < 1e-12 * casimir[0]
        assert np.min(np.diff(s)) >= -1e-14
    # the same trajectory, to the iteration's tolerance
    assert np.max(np.abs(runs["chord"][1] - runs["newton"][1])) < 1e-9
    # ... with the matrix reused: its linearisation point stays put across steps
    cm = gm.compile(model)
    solver = gm.DiscreteGradient()
    y = jnp.array([y0[k] for k in ("m1", "m2", "m3", "s")])
    state = solver.init(cm.term, 0.0, 0.25, y, cm)
    step = eqx.filter_jit(
        lambda t, y, state: solver.step(cm.term, t, t + 0.25, y, cm, state, False)
    )
    points = []
    for i in range(20):
        y, _, _, state, result = step(jnp.asarray(0.25 * i), y, state)
        assert result == diffrax.RESULTS.successful
        points.append(np.asarray(state.lin.point))
    rebuilt = sum(not np.array_equal(a, b) for a, b in zip(points, points[1:], strict=False))
    assert rebuilt <= 5, rebuilt


def _blow_up():
    x = sp.Symbol("x", real=True)
    # S = x, M = x^2, E = 0: dx/dt = x^2 leaves every bound at t = 1 from x = 1
    return gm.GenericModel([x], 0, x, None, [[x**2]])


def test_adaptive_failure_is_reported_with_time_and_state():
    # the steps shrink towards the singularity at t = 1 until max_steps runs out there
    with pytest.raises(
        gm.SimulationError, match=r"stopped at t=0\.999\d*: The maximum number"
    ) as info:
        gm.simulate(
            _blow_up(), {"x": 1.0}, 2.0, solver=gm.DiscreteGradient(), rtol=1e-4, max_steps=300
        )
    x = float(str(info.value).split("state there: x=")[1].split()[0])
    assert x > 1e3  # the last good state, far up the blow-up


def test_fixed_step_failure_names_the_option_to_raise():
    with pytest.raises(gm.SimulationError, match="root_find_max_steps") as info:
        gm.simulate(_blow_up(), {"x": 1.0}, 20.0, solver=gm.DiscreteGradient(), dt0=10.0)
    assert "max_newton_steps" not in str(info.value)


def test_chord_newton_options_are_validated():
    with pytest.raises(gm.InputError, match="refresh_rate must be a number in"):
        gm.ChordNewton(refresh_rate=1.5)
    with pytest.raises(gm.InputError, match="gmres_restart must be a positive integer"):
        gm.ChordNewton(gmres_restart=0)
    with pytest.raises(gm.InputError, match="root_finder must be an optimistix root finder or"):
        gm.DiscreteGradient4(root_finder=1e-12)


def test_backward_in_time_retraces_the_forward_run(oscillator):
    cm = gm.compile(oscillator)
    y0 = jnp.array([damped_oscillator.initial_state[k] for k in ("q", "p", "s")])
    for solver, controller in [
        (gm.DiscreteGradient(), diffrax.PIDController(rtol=1e-9, atol=1e-11)),
        (gm.DiscreteGradient4(), diffrax.ConstantStepSize()),
    ]:
        fwd = diffrax.diffeqsolve(
            cm.term, solver, 0.0, 2.0, 0.01, y0, args=cm, stepsize_controller=controller
        )
        back = diffrax.diffeqsolve(
            cm.term, solver, 2.0, 0.0, -0.01, fwd.ys[-1], args=cm, stepsize_controller=controller
        )
        assert back.result == diffrax.RESULTS.successful
        assert abs(float(cm.energy(back.ys[-1]) - cm.energy(y0))) < 1e-13
        assert float(cm.entropy(back.ys[-1])) < float(cm.entropy(fwd.ys[-1]))  # S falls backward
        np.testing.assert_allclose(np.asarray(back.ys[-1]), np.asarray(y0), atol=1e-6)


def test_adaptive_error_is_controlled_on_a_nonlinear_model():
    # dx/dt = sqrt(x): x = (1 + t/2)^2, whose third derivative vanishes, so the h^3/12 y'''
    # estimate alone sees nothing of the (nonlinear) local error; the defect floor must
    x = sp.Symbol("x", positive=True)
    model = gm.GenericModel([x], 0, x, None, [[sp.sqrt(x)]])
    traj = gm.simulate(model, {"x": 1.0}, 100.0, solver=gm.DiscreteGradient(), saveat=2, rtol=1e-6)
    exact = (1 + 100.0 / 2) ** 2
    assert abs(float(traj.ys[-1, 0]) - exact) / exact < 1e-4
