"""DiscreteGradient: exact discrete energy conservation and entropy monotonicity, order 2."""

import warnings

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
import sympy as sp
from hypothesis import assume, given, settings, strategies as st

import generic_mm as gm
from generic_mm.integrators import discrete_rate, gonzalez, oblique_projector
from generic_mm.models import damped_oscillator, heat_exchange, maxwell, rigid_body

STEPS = 10_000


def every_step(traj):
    valid = np.isfinite(np.asarray(traj.ts))
    return (
        np.asarray(traj.ys)[valid],
        np.asarray(traj.energy)[valid],
        np.asarray(traj.entropy)[valid],
    )


def run_fixed(model, y0, h, solver, steps=STEPS, max_steps=None):
    return gm.simulate(
        model,
        y0,
        steps * h,
        solver=solver,
        dt0=h,
        stepsize_controller=diffrax.ConstantStepSize(),
        saveat=diffrax.SaveAt(t0=True, steps=True),
        max_steps=steps + 10 if max_steps is None else max_steps,
    )


@pytest.fixture(scope="module")
def models(library_models):
    """The models of the module, built once: a test that runs one of them with the solver
    options of another reuses its compiled solve (and its check)."""
    return {
        "damped_oscillator": damped_oscillator.model(),
        "rigid_body": rigid_body.model(gamma=0.5),
        "heat_exchange": heat_exchange.model(),
        "maxwell": maxwell.model(),
        "double_pendulum": library_models["double_pendulum"],
    }


CASES = [
    ("damped_oscillator", damped_oscillator.initial_state, 0.25),
    ("rigid_body", rigid_body.initial_state, 0.25),
    ("heat_exchange", heat_exchange.initial_state, 0.5),
    ("maxwell", maxwell.initial_state, 0.5),
    ("double_pendulum", None, 0.02),
]


@pytest.mark.parametrize("name, y0, h", CASES, ids=[c[0] for c in CASES])
def test_energy_exact_entropy_monotone_over_ten_thousand_steps(name, y0, h, models):
    model = models[name]
    y0 = y0 or model.initial_state
    ys, e, s = every_step(run_fixed(model, y0, h, gm.DiscreteGradient()))
    assert len(e) == STEPS + 1
    drift = np.max(np.abs(e - e[0])) / abs(e[0])
    assert drift < 1e-12, drift
    assert np.min(np.diff(s)) >= -1e-14
    assert s[-1] > s[0]  # and it is not standing still: entropy is produced
    # the default explicit solver at the same step size drifts (simulate warns about it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, e_rk, _ = every_step(run_fixed(model, y0, h, diffrax.Tsit5()))
    drift_rk = np.max(np.abs(e_rk - e_rk[0])) / abs(e_rk[0])
    assert drift_rk > 100 * max(drift, 1e-15), (drift_rk, drift)


def test_rigid_body_casimir_is_kept_exactly(models):
    model = models["rigid_body"]  # its first solve is the one compiled for the test above
    ys, e, s = every_step(run_fixed(model, rigid_body.initial_state, 0.25, gm.DiscreteGradient()))
    c = np.sum(ys[:, :3] ** 2, axis=1)
    assert np.max(np.abs(c - c[0])) / c[0] < 1e-12
    # with the energy-direction friction projection the Casimir is kept only to O(h^2)
    ys2, e2, _ = every_step(
        run_fixed(
            model,
            rigid_body.initial_state,
            0.25,
            gm.DiscreteGradient(friction_projection="energy"),
            steps=400,
        )
    )
    c2 = np.sum(ys2[:, :3] ** 2, axis=1)
    assert np.max(np.abs(e2 - e2[0])) / abs(e2[0]) < 1e-13  # energy is still exact
    assert np.max(np.abs(c2 - c2[0])) / c2[0] > 1e-8
    # ... and the drift is O(h^2): over a fixed time, halving h quarters it (log-log slope)
    hs, drifts = [0.2, 0.1, 0.05], []
    for h in hs:
        ys3, _, _ = every_step(
            run_fixed(
                model,
                rigid_body.initial_state,
                h,
                gm.DiscreteGradient(friction_projection="energy"),
                steps=int(round(8.0 / h)),
                max_steps=410,  # the solve compiled for the 400 steps above, for every h
            )
        )
        c3 = np.sum(ys3[:, :3] ** 2, axis=1)
        drifts.append(abs(c3[-1] - c3[0]) / c3[0])
    slope = np.polyfit(np.log(hs), np.log(drifts), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.15), (drifts, slope)


def test_second_order_convergence():
    model = damped_oscillator.model(gamma=0.3)
    y0, T = damped_oscillator.initial_state, 4.0
    ref = gm.simulate(model, y0, T, saveat=diffrax.SaveAt(t1=True), rtol=1e-13, atol=1e-14)
    hs = np.array([0.2, 0.1, 0.05, 0.025])
    errors = []
    for h in hs:
        traj = gm.simulate(
            model, y0, T, solver=gm.DiscreteGradient(), dt0=float(h), saveat=diffrax.SaveAt(t1=True)
        )
        errors.append(np.max(np.abs(np.asarray(traj.ys[-1]) - np.asarray(ref.ys[-1]))))
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert 1.9 < slope < 2.1, (slope, errors)


def test_gonzalez_discrete_gradient_identity():
    rng = np.random.default_rng(0)
    f = lambda x: jnp.sum(jnp.sin(x) * x**3) + jnp.exp(x[0])
    for _ in range(20):
        x = jnp.asarray(rng.normal(size=4))
        y = x + jnp.asarray(rng.normal(size=4)) * 10 ** rng.uniform(-6, 0)
        g = gonzalez(jax.grad(f)((x + y) / 2), f(x), f(y), y - x)
        # exact up to the round-off level below which the correction is dropped
        noise = 32 * np.finfo(float).eps * (abs(float(f(x))) + abs(float(f(y))))
        assert float(jnp.dot(g, y - x)) == pytest.approx(float(f(y) - f(x)), rel=1e-9, abs=noise)
    x = jnp.ones(4)
    np.testing.assert_allclose(gonzalez(jax.grad(f)(x), f(x), f(x), jnp.zeros(4)), jax.grad(f)(x))


def test_ensembles_and_direct_diffeqsolve(models):
    model = models["damped_oscillator"]
    cm = gm.compile(model)
    y0 = np.array([[1.0, 0.0, 0.0], [0.3, 0.4, 0.1]])
    ens = gm.simulate(model, y0, 20.0, solver=gm.DiscreteGradient(), dt0=0.1, saveat=21)
    assert ens.ys.shape == (2, 21, 3)
    e = np.asarray(ens.energy)
    assert np.max(np.abs(e - e[:, :1])) < 1e-13
    sol = diffrax.diffeqsolve(
        cm.term,
        gm.DiscreteGradient(),
        0.0,
        20.0,
        0.1,
        jnp.asarray(y0[1]),
        args=cm,
        saveat=diffrax.SaveAt(t1=True),
    )
    np.testing.assert_allclose(sol.ys[-1], ens.ys[1, -1], rtol=1e-12, atol=1e-14)
    with pytest.raises(gm.InputError, match="reads E, S, L and M from the compiled model"):
        diffrax.diffeqsolve(
            diffrax.ODETerm(cm.vector_field),
            gm.DiscreteGradient(),
            0.0,
            1.0,
            0.1,
            jnp.asarray(y0[0]),
        )


def test_gradients_through_the_solver(models):
    model = models["damped_oscillator"]

    def final_energy_in_bath(gamma):
        traj = gm.simulate(
            model,
            damped_oscillator.initial_state,
            5.0,
            params={"gamma": gamma},
            solver=gm.DiscreteGradient(),
            dt0=0.05,
            saveat=2,
        )
        return traj["s"][-1]

    g = jax.grad(final_energy_in_bath)(0.2)
    h = 1e-5
    fd = (final_energy_in_bath(0.2 + h) - final_energy_in_bath(0.2 - h)) / (2 * h)
    assert float(g) == pytest.approx(float(fd), rel=1e-6)


def test_newton_failure_is_reported():
    x = sp.Symbol("x", real=True)
    # S = x, M = x^2, E = 0: the step y = x + h ((x + y)/2)^2 has no real root for x = 1, h = 10
    model = gm.GenericModel([x], 0, x, None, [[x**2]])
    # the failed step is the first one (0 -> 10); the state reported is the last good one
    with pytest.raises(
        gm.SimulationError,
        match=r"stopped at t=10: Nonlinear solve diverged.*\n"
        r"state there: x=1\n.*reduce dt0",
    ):
        gm.simulate(model, {"x": 1.0}, 20.0, solver=gm.DiscreteGradient(), dt0=10.0)


def test_bad_options():
    with pytest.raises(gm.InputError, match="friction_projection must be"):
        gm.DiscreteGradient(friction_projection="both")
    with pytest.raises(gm.InputError, match="root_find_max_steps must be a positive integer"):
        gm.DiscreteGradient(root_find_max_steps=0)
    with pytest.raises(gm.InputError, match="root_finder must be an optimistix root finder"):
        gm.DiscreteGradient(root_finder="newton")


def test_is_a_diffrax_implicit_solver_whose_acceptance_uses_the_root_finder_tolerances(models):
    solver = gm.DiscreteGradient()
    assert isinstance(solver, diffrax.AbstractImplicitSolver)
    assert solver.root_finder.rtol == solver.root_finder.atol == 1e-12
    model = models["damped_oscillator"]
    y0 = damped_oscillator.initial_state
    tight = gm.simulate(model, y0, 5.0, solver=solver, dt0=0.1, saveat=2)
    e = np.asarray(tight.energy)
    assert abs(e[-1] - e[0]) < 1e-13 * abs(e[0])
    # A chord iteration (linear convergence) stops at its own tolerance, and the step is
    # accepted on that tolerance, not on a fixed 1e-9: E is then kept only to about it.
    chord = gm.DiscreteGradient(root_finder=optx.Chord(rtol=1e-3, atol=1e-3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the drift is flagged, as it should be
        traj = gm.simulate(model, y0, 5.0, solver=chord, dt0=0.5, saveat=2)
    drift = abs(float(traj.energy[-1] - traj.energy[0]))
    assert 1e-9 < drift < 1e-3
    # One Newton step cannot meet 1e-12 on this nonlinear step equation: refused, not accepted.
    with pytest.raises(gm.SimulationError, match="Nonlinear solve"):
        gm.simulate(model, y0, 5.0, solver=gm.DiscreteGradient(root_find_max_steps=1), dt0=0.5)


# -- property-based: random GENERIC systems -------------------------------------------------
# One template in three variables whose coefficients are parameters: hypothesis draws the
# coefficients (and states, step sizes), so every example reuses one compiled solver.

N = 3
_x = sp.symbols(f"x0:{N}", real=True)
_a = sp.symbols(f"a0:{N}", positive=True)
_b = sp.symbols(f"b0:{N}", real=True)
_c = sp.symbols(f"c0:{N}", real=True)
_J = sp.symbols("J0:12", real=True)  # four antisymmetric 3x3 matrices, 3 entries each


def _skew(v):
    return sp.Matrix([[0, v[0], v[1]], [-v[0], 0, v[2]], [-v[1], -v[2], 0]])


def _template():
    """Random smooth E and S; L = u v^T - v u^T with u, v = K grad S and M = sum w w^T with
    w = J grad E (K, J antisymmetric): antisymmetric / PSD and degenerate by construction,
    with no division anywhere (no singular states)."""
    E = (
        sum(ai * xi**2 / 2 + xi**4 / 12 + bi * xi for ai, bi, xi in zip(_a, _b, _x))
        + _x[0] * _x[1] / 4
    )
    S = sum(ci * xi for ci, xi in zip(_c, _x)) + _x[-1] + sp.sin(_x[0]) / 4
    gE = sp.Matrix([sp.diff(E, xi) for xi in _x])
    gS = sp.Matrix([sp.diff(S, xi) for xi in _x])
    u, v = _skew(_J[0:3]) * gS, _skew(_J[3:6]) * gS
    w1, w2 = _skew(_J[6:9]) * gE, _skew(_J[9:12]) * gE
    L = (u * v.T - v * u.T) * (1 + _x[1] ** 2)
    M = (w1 * w1.T + w2 * w2.T) * (1 + _x[0] ** 2) / 4
    params = {s: 1.0 for s in (*_a, *_b, *_c, *_J)}
    return gm.GenericModel(list(_x), E, S, L, M, params=params)


_TEMPLATE = gm.compile(
    _template(), check=False
)  # a random state-dependent L need not satisfy Jacobi


@jax.jit
def _dg_steps(cm, y0, h):
    sol = diffrax.diffeqsolve(
        cm.term,
        gm.DiscreteGradient(),
        0.0,
        40 * h,
        h,
        y0,
        args=cm,
        saveat=diffrax.SaveAt(t0=True, steps=True),
        max_steps=40,
        throw=False,
    )
    e, s, _ = jax.vmap(cm.thermodynamics)(sol.ys)
    R = diffrax.RESULTS
    ok = sol.result == R.successful
    root_finding_failed = (
        (sol.result == R.nonlinear_divergence)
        | (sol.result == R.nonlinear_max_steps_reached)
        | (sol.result == R.singular)
    )
    return ok, root_finding_failed, sol.ts, e, s


coefficient = st.floats(-2, 2, allow_nan=False)


@settings(max_examples=40)
@given(
    st.lists(st.floats(0.5, 3), min_size=N, max_size=N),
    st.lists(coefficient, min_size=2 * N + 12, max_size=2 * N + 12),
    st.lists(st.floats(-1, 1), min_size=N, max_size=N),
    st.floats(0.01, 0.5),
)
def test_random_systems_conserve_energy_and_never_lose_entropy(a, coeffs, start, h):
    names = [s.name for s in (*_b, *_c, *_J)]
    values = dict(zip(names, coeffs)) | {s.name: v for s, v in zip(_a, a)}
    cm = _TEMPLATE.with_params(**values)
    ok, root_finding_failed, ts, e, s = _dg_steps(cm, jnp.asarray(start), h)
    # Every step taken conserves E and does not lower S. A step whose Newton iteration has
    # no solution at this h fails the solve with the nonlinear-solver result (never another
    # failure, never silently): then the steps before it are the ones taken.
    taken = np.isfinite(np.asarray(ts))
    assert bool(ok) != bool(root_finding_failed)
    assert taken.sum() == 41 if ok else taken.sum() < 41
    assume(taken.sum() >= 3)
    e, s = np.asarray(e)[taken], np.asarray(s)[taken]
    scale = max(1.0, np.max(np.abs(e)))
    assert np.max(np.abs(e - e[0])) <= 1e-12 * scale
    assert np.min(np.diff(s)) >= -1e-13 * max(1.0, np.max(np.abs(s)))


def test_discrete_rate_degeneracies_hold_exactly(models):
    # For arbitrary x, y (not only solved steps) the discrete identities hold exactly:
    # g_E . rate = 0 (L_bar antisymmetric, M_bar g_E = 0) and g_S . rate = g_S M_bar g_S >= 0,
    # with g_E, g_S the Gonzalez discrete gradients, which satisfy g . (y - x) = F(y) - F(x).
    cm = gm.compile(models["rigid_body"])
    rng = np.random.default_rng(3)
    for projection in ("entropy", "energy"):
        for _ in range(5):
            x = jnp.asarray(rng.normal(size=4))
            y = x + jnp.asarray(rng.normal(size=4)) * 0.3
            m = 0.5 * (x + y)
            gE_mid, gS_mid = cm.gradients(m)
            (E0, S0, _), (E1, S1, _) = cm.thermodynamics(x), cm.thermodynamics(y)
            gE = gonzalez(gE_mid, E0, E1, y - x, m)
            gS = gonzalez(gS_mid, S0, S1, y - x, m)
            assert float(jnp.dot(gE, y - x)) == pytest.approx(float(E1 - E0), abs=1e-13)
            assert float(jnp.dot(gS, y - x)) == pytest.approx(float(S1 - S0), abs=1e-13)
            v = discrete_rate(cm, x, y, projection)
            scale = float(jnp.linalg.norm(gE) * jnp.linalg.norm(v))
            assert abs(float(jnp.dot(gE, v))) <= 1e-13 * scale
            production = float(jnp.dot(gS, v))
            assert production >= -1e-13 * float(jnp.linalg.norm(gS) * jnp.linalg.norm(v))
            assert production > 0  # gamma > 0 and a generic pair: strictly dissipative
        a, g = jnp.asarray(rng.normal(size=4)), jnp.asarray(rng.normal(size=4))
        P = oblique_projector(a, g)
        np.testing.assert_allclose(P @ a, 0.0, atol=1e-14)
        np.testing.assert_allclose(P.T @ g, 0.0, atol=1e-14)
        np.testing.assert_allclose(P @ P, P, atol=1e-13)
