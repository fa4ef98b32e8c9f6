"""simulate(): closed-form physics, conservation, ensembles, gradients, failures."""

import math

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm._codegen import Program
from generic_mm.models import damped_oscillator, heat_exchange, maxwell, rigid_body

from .helpers import oscillator


@pytest.fixture(scope="module")
def osc():
    return damped_oscillator.model()


def assert_thermodynamics(traj, e_rtol=1e-6):
    e = np.asarray(traj.energy)
    s = np.asarray(traj.entropy)
    assert np.max(np.abs(e - e[..., :1])) <= e_rtol * np.max(np.abs(e[..., 0]))
    assert np.all(np.diff(s, axis=-1) >= -1e-12)
    assert np.all(np.asarray(traj.entropy_production) >= -1e-14)
    assert traj.ok


def test_damped_oscillator_matches_classical_solution(osc):
    traj = gm.simulate(osc, y0={"q": 1.0, "p": 0.0, "s": 0.0}, t1=30.0, saveat=301)
    t = np.asarray(traj.ts)
    beta, wd = 0.05, math.sqrt(1 - 0.05**2)  # gamma / 2m, sqrt(k/m - beta^2)
    q = np.exp(-beta * t) * (np.cos(wd * t) + beta / wd * np.sin(wd * t))
    np.testing.assert_allclose(traj["q"], q, atol=2e-7)
    p_exact = -np.exp(-beta * t) * (1 + beta**2 / wd**2) * wd * np.sin(wd * t)
    np.testing.assert_allclose(traj["p"], p_exact, atol=2e-7)
    assert_thermodynamics(traj)


def test_damped_oscillator_final_temperature(osc):
    # U = c T0 exp(s/c): T_inf = T0 + E_mech(0) / c
    y0 = {"q": 1.0, "p": 0.5, "s": 0.0}
    traj = gm.simulate(osc, y0, t1=400.0, saveat=5)
    T_final = math.exp(float(traj["s"][-1]))
    assert T_final == pytest.approx(1.0 + (0.5 + 0.125), rel=1e-7)
    assert_thermodynamics(traj)


def test_two_bodies_equilibrate_to_closed_form():
    model = heat_exchange.model()
    C1, C2, T10, T20 = 1.0, 2.0, 2.0, 1.0
    traj = gm.simulate(model, heat_exchange.state_for_temperatures(T10, T20), t1=60.0)
    T_eq = (C1 * T10 + C2 * T20) / (C1 + C2)
    T1 = math.exp(float(traj["s1"][-1]) / C1)
    T2 = math.exp(float(traj["s2"][-1]) / C2)
    assert T1 == pytest.approx(T_eq, rel=1e-7) and T2 == pytest.approx(T_eq, rel=1e-7)
    dS = C1 * math.log(T_eq / T10) + C2 * math.log(T_eq / T20)
    assert float(traj.entropy_produced) == pytest.approx(dS, rel=1e-7)
    assert_thermodynamics(traj)
    # entropy production agrees with kappa (T1 - T2)^2 / (T1 T2) along the way
    T1s = np.exp(np.asarray(traj["s1"]) / C1)
    T2s = np.exp(np.asarray(traj["s2"]) / C2)
    np.testing.assert_allclose(
        traj.entropy_production, 0.5 * (T1s - T2s) ** 2 / (T1s * T2s), rtol=1e-10, atol=1e-15
    )


def test_rigid_body_conserves_casimir_and_settles_on_major_axis():
    model = rigid_body.model(gamma=0.5)
    y0 = rigid_body.initial_state
    traj = gm.simulate(model, y0, t1=300.0, saveat=301)
    m = np.stack([traj["m1"], traj["m2"], traj["m3"]], axis=-1)
    m2 = np.sum(m**2, axis=-1)
    np.testing.assert_allclose(m2, m2[0], rtol=1e-7)
    assert abs(m[-1, 2]) ** 2 == pytest.approx(m2[0], rel=1e-6)  # I3 = 3 is the largest
    E_rot0 = 1.0 / 2 + 0.04 / 4 + 0.01 / 6
    T_inf = 1.0 + (E_rot0 - m2[0] / 6.0) / 1.0
    assert math.exp(float(traj["s"][-1])) == pytest.approx(T_inf, rel=1e-6)
    assert_thermodynamics(traj)


def test_maxwell_stress_relaxes_exponentially():
    model = maxwell.model()
    traj = gm.simulate(model, maxwell.initial_state, t1=20.0, saveat=41)
    G, eta, eps = 1.0, 2.0, 0.5
    sigma = G * (eps - np.asarray(traj["eps_v"]))
    np.testing.assert_allclose(sigma, G * eps * np.exp(-G * np.asarray(traj.ts) / eta), atol=1e-8)
    long = gm.simulate(model, maxwell.initial_state, t1=200.0, saveat=2)
    assert math.exp(float(long["s"][-1])) == pytest.approx(1.0 + G * eps**2 / 2, rel=1e-8)
    assert_thermodynamics(traj)


def test_stiff_implicit_solver_works(osc):
    traj = gm.simulate(osc, damped_oscillator.initial_state, t1=20.0, solver=diffrax.Kvaerno5())
    ref = gm.simulate(osc, damped_oscillator.initial_state, t1=20.0)
    np.testing.assert_allclose(traj.ys, ref.ys, atol=1e-6)
    assert_thermodynamics(traj)


def test_fixed_step_solver_needs_dt0(osc):
    with pytest.raises(gm.InputError, match="dt0: the solver Euler has no error estimate"):
        gm.simulate(osc, damped_oscillator.initial_state, t1=1.0, solver=diffrax.Euler())
    traj = gm.simulate(
        osc,
        damped_oscillator.initial_state,
        t1=1.0,
        solver=diffrax.Heun(),
        dt0=0.01,
        stepsize_controller=diffrax.ConstantStepSize(),
    )
    assert int(traj.num_steps) == 100


def test_saveat_variants(osc):
    y0 = damped_oscillator.initial_state
    assert gm.simulate(osc, y0, 1.0, saveat=11).ts.shape == (11,)
    ts = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(gm.simulate(osc, y0, 1.0, saveat=ts).ts, ts)
    tr = gm.simulate(osc, y0, 1.0, saveat=diffrax.SaveAt(t0=True, t1=True))
    np.testing.assert_allclose(tr.ts, [0.0, 1.0])
    steps = gm.simulate(osc, y0, 1.0, saveat=diffrax.SaveAt(steps=True), max_steps=500)
    valid = np.isfinite(np.asarray(steps.ts))
    assert valid.sum() == int(steps.num_steps) and steps.ok
    with pytest.raises(gm.InputError, match="no dense output"):
        gm.simulate(osc, y0, 1.0, saveat=diffrax.SaveAt(dense=True))


def test_initial_state_forms_agree(osc):
    q, p, s = osc.state
    a = gm.simulate(osc, {q: 1.0, p: 0.2, s: 0.0}, 2.0)
    b = gm.simulate(osc, {"q": 1.0, "p": 0.2, "s": 0.0}, 2.0)
    c = gm.simulate(osc, np.array([1.0, 0.2, 0.0]), 2.0)
    np.testing.assert_array_equal(a.ys, b.ys)
    np.testing.assert_array_equal(a.ys, c.ys)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y0={"q": 1.0, "p": 0.0}), r"y0: missing initial value\(s\) for 's'"),
        (dict(y0={"q": 1.0, "p": 0.0, "s": 0.0, "r": 1.0}), r"y0\['r'\]: not a state variable"),
        (dict(y0=[1.0, 0.0]), r"y0: expected shape \(3,\) or \(B, 3\)"),
        (dict(y0=[1.0, float("nan"), 0.0]), r"y0: contains non-finite values"),
        (
            dict(params={"gama": 1.0}),
            r"params\['gama'\]: not a parameter .* \(did you mean 'gamma'\?\)",
        ),
        (
            dict(params={"k": [1.0, 2.0], "m": [1.0, 2.0, 3.0]}),
            "batched values have different lengths",
        ),
        (dict(t1=-1.0), "t1: must be greater than t0"),
        (dict(saveat=1), "saveat: a number of points must be at least 2"),
        (dict(saveat=[0.0, 5.0, 1.0]), "saveat: times must be increasing"),
        (dict(solver="Tsit5"), "solver: expected a diffrax solver"),
        (dict(max_steps=0), "max_steps: expected a positive integer"),
    ],
)
def test_bad_arguments_are_named(osc, kwargs, match):
    args = dict(y0=damped_oscillator.initial_state, t1=2.0)
    args.update(kwargs)
    with pytest.raises(gm.InputError, match=match):
        gm.simulate(osc, **args)


def test_solver_failure_reports_time_state_and_advice(osc):
    with pytest.raises(
        gm.SimulationError,
        match=r"stopped at t=.*maximum number of solver steps.*\n"
        r"state there: q=.*, p=.*, s=.*\nwhat to try: increase max_steps \(now 20\)",
    ):
        gm.simulate(osc, damped_oscillator.initial_state, t1=100.0, max_steps=20)


def test_blow_up_is_reported_as_failure():
    x = sp.Symbol("x", real=True)
    # E = 0, S = x, M = x^2: dx/dt = x^2 blows up at t = 1 for x(0) = 1
    model = gm.GenericModel([x], 0, x, None, [[x**2]])
    with pytest.raises(
        gm.SimulationError, match=r"stopped at t=(0\.99\d*|1): .*\nstate there: x=\d\.\d+e\+\d\d"
    ):
        gm.simulate(model, {"x": 1.0}, t1=2.0)


def test_inconsistent_model_is_refused_unless_check_false():
    # M grad S = (0, 1, 0) pushes p: energy is not conserved
    bad = oscillator(friction=[[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    with pytest.raises(gm.ConsistencyError, match="violates .*friction_degeneracy"):
        gm.simulate(bad, {"q": 1.0, "p": 0.0, "s": 0.0}, 1.0)
    with pytest.warns(UserWarning, match="E drifting beyond the solver tolerance"):
        traj = gm.simulate(bad, {"q": 0.0, "p": 0.0, "s": 0.0}, 5.0, check=False)
    assert bool(jnp.any(traj.energy_drifted)) and not traj.ok
    cm = gm.compile(bad, check=False)
    with pytest.raises(gm.InputError, match="compiled with check=False"):
        gm.simulate(cm, {"q": 1.0, "p": 0.0, "s": 0.0}, 1.0)


def test_ensemble_matches_individual_runs(osc):
    y0 = np.array([[1.0, 0.0, 0.0], [0.5, 0.3, 0.1], [0.0, 1.0, -0.2]])
    gammas = np.array([0.1, 0.2, 0.4])
    ens = gm.simulate(osc, y0, 10.0, params={"gamma": gammas}, saveat=21)
    assert ens.ys.shape == (3, 21, 3) and ens.energy.shape == (3, 21) and ens.ts.shape == (21,)
    for b in range(3):
        one = gm.simulate(osc, y0[b], 10.0, params={"gamma": float(gammas[b])}, saveat=21)
        np.testing.assert_allclose(ens.ys[b], one.ys, rtol=1e-12, atol=1e-12)
    # dict form with batched values, scalars broadcast
    d = gm.simulate(osc, {"q": y0[:, 0], "p": y0[:, 1], "s": 0.0}, 10.0, saveat=21)
    assert d.ys.shape == (3, 21, 3)
    assert_thermodynamics(ens)


def test_second_call_does_not_retrace(osc, monkeypatch):
    calls = {"n": 0}
    original = Program.__call__

    def counting(self, y, p):
        calls["n"] += 1
        return original(self, y, p)

    monkeypatch.setattr(Program, "__call__", counting)
    y0 = {"q": 0.7, "p": 0.1, "s": 0.0}
    gm.simulate(osc, y0, 3.0, saveat=7)
    first = calls["n"]
    assert first > 0
    gm.simulate(osc, {"q": 0.2, "p": 0.3, "s": 0.1}, 3.0, saveat=7, params={"k": 2.0})
    assert calls["n"] == first


def test_gradients_match_finite_differences(osc):
    def final_q(k, q0):
        traj = gm.simulate(
            osc,
            {"q": q0, "p": 0.0, "s": 0.0},
            5.0,
            params={"k": k},
            saveat=2,
            rtol=1e-11,
            atol=1e-12,
        )
        return traj["q"][-1] + 0.1 * traj.entropy[-1]

    gk, gq = jax.grad(final_q, argnums=(0, 1))(1.3, 0.8)
    h = 1e-5
    fd_k = (final_q(1.3 + h, 0.8) - final_q(1.3 - h, 0.8)) / (2 * h)
    fd_q = (final_q(1.3, 0.8 + h) - final_q(1.3, 0.8 - h)) / (2 * h)
    assert float(gk) == pytest.approx(float(fd_k), rel=1e-5)
    assert float(gq) == pytest.approx(float(fd_q), rel=1e-5)


def test_progress_bar(osc, capfd):
    traj = gm.simulate(osc, damped_oscillator.initial_state, 5.0, progress=True)
    err = capfd.readouterr().err
    assert "100.00%" in err
    assert traj.ok


def test_compiled_model_plugs_into_diffeqsolve(osc):
    cm = gm.compile(osc)
    sol = diffrax.diffeqsolve(
        cm.term,
        diffrax.Tsit5(),
        0.0,
        5.0,
        0.01,
        jnp.array([1.0, 0.0, 0.0]),
        stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-11),
    )
    ref = gm.simulate(
        cm,
        damped_oscillator.initial_state,
        5.0,
        saveat=diffrax.SaveAt(t1=True),
        rtol=1e-9,
        atol=1e-11,
    )
    np.testing.assert_allclose(sol.ys[-1], ref.ys[-1], rtol=1e-7)


def test_trajectory_indexing_and_summary(osc):
    traj = gm.simulate(osc, damped_oscillator.initial_state, 2.0)
    with pytest.raises(gm.InputError, match=r"trajectory\['x'\]: not a state variable"):
        traj["x"]
    text = traj.summary()
    assert "relative drift" in text and "entropy produced" in text


def test_bad_step_and_tolerance_arguments_are_input_errors(osc):
    y0 = {"q": 1.0, "p": 0.0, "s": 0.0}
    for kwargs, match in (
        ({"dt0": -0.1}, "dt0: expected a finite positive number"),
        ({"rtol": 0.0}, "rtol: expected a finite positive number"),
        ({"atol": float("nan")}, "atol: expected a finite positive number"),
        ({"atol": "tiny"}, "atol: expected a positive number"),
    ):
        with pytest.raises(gm.InputError, match=match):
            gm.simulate(osc, y0, 1.0, **kwargs)
    with pytest.raises(gm.InputError, match="seed must be an integer"):
        gm.check(osc, seed=1.5)


def test_default_atol_scales_with_the_state():
    from generic_mm._simulate import default_atol

    assert float(default_atol(np.array([300.0, 3e-6, 0.0]), 1e-8)) == pytest.approx(3e-16)
    assert float(default_atol(np.zeros(3), 1e-8)) == pytest.approx(1e-10)
    # A stray tiny value does not make the tolerance vanish: floor 1e-10 of the largest.
    assert float(default_atol(np.array([1.0, 1e-200]), 1e-8)) == pytest.approx(1e-20)


def test_flags_use_the_scale_aware_atol_with_fixed_steps_too(osc):
    y0 = {"q": 1e-6, "p": 0.0, "s": 0.0}
    traj = gm.simulate(osc, y0, 1.0, solver=diffrax.Euler(), dt0=0.01, saveat=5)
    atol = 1e-2 * 1e-8 * 1e-6  # 1e-2 rtol times the smallest nonzero initial magnitude
    expected = 1e-8 * float(np.max(np.abs(np.asarray(traj.entropy)))) + atol
    assert float(traj.entropy_tolerance) == pytest.approx(expected, rel=1e-12)
