"""Fluctuating GENERIC: noise factors, the Ito drift, and statistics against closed forms.

Every statistical test states its error bar: the standard error of the mean over
independent paths (each path's time average after a burn-in is one sample), and asserts
agreement within 4 standard errors (a false alarm about once in 16000 runs; the seeds are
fixed, so a run is deterministic) plus a stated discretisation allowance where Euler-Maruyama's
O(dt) bias of stationary averages matters.
"""

import warnings

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm._noise import psd_factor
from generic_mm.models import atomic_chain, damped_oscillator, heat_exchange, thermoelastic_rod
from generic_mm.structured import (
    Cells,
    Grid,
    Interaction,
    StructuredModel,
    entropic_exchange,
    heat_conduction,
)


def _quiet_simulate(*args, **kwargs):
    # Euler-Maruyama moves E by its discretisation error: the warning is expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return gm.simulate(*args, **kwargs)


def _mean_and_error(samples):
    samples = np.asarray(samples)
    return samples.mean(), samples.std(ddof=1) / np.sqrt(samples.size)


@pytest.fixture(scope="module")
def oscillator():
    return damped_oscillator.model(gamma=1.0)


@pytest.fixture(scope="module")
def two_bodies():
    return heat_exchange.model(C1=1.0, C2=2.0, kappa=1.0)


# -- the pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [0, 1, 3, 5])
def test_psd_factor_reproduces_rank_deficient_matrices(rank):
    rng = np.random.default_rng(rank)
    G = rng.normal(size=(5, rank))
    A = jnp.asarray(G @ G.T)
    B = psd_factor(A)
    assert np.abs(B @ B.T - A).max() < 1e-12 * max(1.0, np.abs(A).max())
    # Columns past the rank are exactly zero: no square roots of round-off.
    assert np.count_nonzero(np.abs(np.asarray(B)).max(axis=0) > 1e-7) == rank


def test_factor_gradient_is_finite_at_a_rank_deficient_matrix():
    v = jnp.array([1.0, -2.0, 0.5])

    def f(a):
        return jnp.sum(psd_factor(a * jnp.outer(v, v)) ** 2)

    g = jax.grad(f)(2.0)
    assert np.isfinite(g) and abs(g - float(v @ v)) < 1e-9  # sum B^2 = tr(A) = a v.v


def test_flat_divergence_and_factor(oscillator):
    cm = gm.compile(oscillator)
    y = jnp.array([0.3, 0.7, 0.2])
    autodiff = sum(jax.jacfwd(lambda x, j=j: cm.friction(x)[:, j])(y)[:, j] for j in range(3))
    assert np.abs(cm.divergence(y) - autodiff).max() < 1e-13
    B = cm.noise_operator(y).as_matrix()
    assert np.abs(B @ B.T - cm.friction(y)).max() < 1e-14
    # B^T grad E = 0 and the Ito drift of E vanishes: grad E . div M = -tr(M H).
    gE, H = cm.grad_energy(y), jax.hessian(cm.energy)(y)
    assert np.abs(B.T @ gE).max() < 1e-14
    assert abs(gE @ cm.divergence(y) + jnp.trace(cm.friction(y) @ H)) < 1e-13


def test_named_processes_get_their_own_noise():
    # An oscillator damped into body 1, which conducts heat to body 2: two processes on
    # the supports {p, s1} and {s1, s2}, one Wiener increment per supported variable.
    q, p, s1, s2 = sp.symbols("q p s1 s2", real=True)
    T1, T2 = sp.exp(s1), sp.exp(s2)
    w = sp.Matrix([0, 1, -p / T1, 0])
    conduction = sp.zeros(4, 4)
    conduction[2:, 2:] = entropic_exchange(1, T1, T2)
    model = gm.GenericModel(
        state=[q, p, s1, s2],
        energy=p**2 / 2 + q**2 / 2 + T1 + T2,
        entropy=s1 + s2,
        poisson=[[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        friction={"damping": T1 * w * w.T, "conduction": conduction},
    )
    cm = gm.compile(model)
    assert cm.noise_dim == 4
    y = jnp.array([0.4, -0.8, 0.3, -0.2])
    B = cm.noise_operator(y, 2.0).as_matrix()
    assert B.shape == (4, 4)
    assert np.abs(B @ B.T - 4.0 * cm.friction(y)).max() < 1e-13
    assert np.all(B[0] == 0)  # q has no noise
    assert np.all(B[3, :2] == 0) and np.all(B[1, 2:] == 0)  # each process its own columns


@pytest.mark.parametrize(
    "model",
    [
        heat_conduction(5, reservoirs={"x-": 1.5}),
        atomic_chain.model(6),
        thermoelastic_rod.model(5, viscosity=0.3),
    ],
    ids=["conduction", "atomic_chain", "thermoelastic_rod"],
)
def test_structured_noise_matches_the_flat_model(model):
    # check=False: the checks of these models are tested elsewhere; here only the noise.
    cs, cf = gm.compile(model, check=False), gm.compile(model.to_generic(), check=False)
    y = jnp.asarray(np.random.default_rng(0).uniform(0.1, 0.5, cs.n))
    assert np.abs(cs.divergence(y) - cf.divergence(y)).max() < 1e-13
    B = cs.noise_operator(y).as_matrix()
    assert B.shape[1] == cs.noise_dim  # one increment per edge and local variable
    assert np.abs(B @ B.T - cf.friction(y)).max() < 1e-13


def test_structured_noise_refuses_cross_cell_conjugates():
    # The friction's column of x_b depends on dE/dx_a, and the spring couples x_a and x_b
    # across the two cells: div M would need the Hessian block between them.
    x, s = sp.symbols("x s", real=True)
    g = sp.Symbol("g", positive=True)
    grid = Grid((4,))
    cells = Cells("c", [x, s], x**2 / 2 + sp.exp(s), s, shape=grid)
    spring = Interaction("spring", ("c", "c"), grid.edges, energy=lambda a, b: a.x * b.x)

    def drag(a, b):
        z = sp.Integer(0)
        phi = g * (1 + a.dE("x") ** 2)
        return sp.Matrix([[phi, z, -phi, z], [z, z, z, z], [-phi, z, phi, z], [z, z, z, z]])

    drag_i = Interaction("drag", ("c", "c"), grid.edges, friction=drag, params={g: 1.0})
    cm = gm.compile(StructuredModel([cells], [spring, drag_i]), check=False)
    with pytest.raises(gm.InputError, match="couples x and x across cells"):
        cm.divergence(jnp.ones(cm.n))


# -- energy along paths, the strong order -----------------------------------------------------


@pytest.mark.parametrize(
    ("solver", "order"), [(diffrax.Euler(), 0.5), (diffrax.ItoMilstein(), 1.0)]
)
def test_pathwise_energy_error_shrinks_at_the_strong_order(oscillator, solver, order):
    # The exact paths conserve E (B^T grad E = 0, div(M grad E) = 0). The Brownian tree
    # gives the same path at every dt, so the error is pathwise. One process of rank one:
    # commutative noise, where ItoMilstein has strong order 1.
    def run(dt, seed=3):
        return _quiet_simulate(
            oscillator,
            damped_oscillator.initial_state,
            t1=4.0,
            noise=0.1,
            key=jax.random.key(seed),
            paths=32,
            dt0=dt,
            saveat=2,
            solver=solver,
        )

    # Not dyadic fractions of the interval: the tree must still give one path.
    dts = [0.02 * 2.0**-k for k in range(4)]
    errors = []
    for dt in dts:
        E = np.asarray(run(dt).energy)
        errors.append(np.abs(E[:, -1] - E[:, 0]).mean())
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.15, (slope, errors)
    # Reproducible from the key; another key, other paths; the paths differ.
    a, b, c = run(dts[0]).ys, run(dts[0]).ys, run(dts[0], seed=4).ys
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3 and np.abs(a[0] - a[1]).max() > 1e-3


def test_stochastic_discrete_gradient_keeps_energy_and_converges_to_the_ito_solution(
    oscillator,
):
    # Against an Euler-Maruyama reference on the same Brownian path (the tree): the error
    # falls at strong order 1/2, so the scheme converges to the Ito solution (a scheme
    # converging to the Stratonovich one would level off at the Ito-Stratonovich gap).
    def run(solver, dt):
        return _quiet_simulate(
            oscillator,
            damped_oscillator.initial_state,
            t1=2.0,
            noise=0.1,
            key=jax.random.key(5),
            paths=64,
            dt0=dt,
            saveat=2,
            solver=solver,
            max_steps=10_000,
        )

    ref = np.asarray(run(diffrax.Euler(), 2.0**-12).ys)[:, -1]
    dts = [0.1 * 2.0**-k for k in range(4)]  # not dyadic: the tree must give one path
    errors = []
    for dt in dts:
        tr = run(gm.StochasticDiscreteGradient(), dt)
        E = np.asarray(tr.energy)
        assert np.abs(E - E[:, :1]).max() < 1e-12 * np.abs(E).max()  # every path, any dt
        errors.append(np.linalg.norm(np.asarray(tr.ys)[:, -1] - ref, axis=-1).mean())
    # At least strong order 1/2 (measured 0.6-0.7 on this rank-one noise), falling at every
    # halving of the step (no levelling off at a different limit).
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert 0.4 < slope < 1.1, (slope, errors)
    assert np.all(np.diff(errors) < 0) and errors[-1] < 0.02, errors


# -- statistics against statistical mechanics -------------------------------------------------


def test_equipartition_of_a_brownian_oscillator_in_a_finite_bath(oscillator):
    r"""The stationary density exp(S/kB) on the energy shell E is, for the oscillator
    (H = p^2/2m + kq^2/2) in a bath of heat capacity c (U = cT), proportional to
    (E - H)^(c/kB - 1): H/E ~ Beta(1, c/kB). Hence <p^2/m> = <k q^2> = kB E/(c + kB), which
    is kB <T>: equipartition at the finite bath's mean temperature."""
    kB, c = 0.1, 1.0
    tr = _quiet_simulate(
        oscillator,
        damped_oscillator.initial_state,
        t1=200.0,
        noise=kB,
        key=jax.random.key(0),
        paths=64,
        dt0=0.0025,
        saveat=1001,
        brownian="steps",
        max_steps=100_000,
    )
    keep = slice(100, None)  # burn-in t < 20 (velocity relaxation time m/gamma = 1)
    p2 = np.asarray(tr["p"])[:, keep] ** 2
    kq2 = np.asarray(tr["q"])[:, keep] ** 2
    E = np.asarray(tr.energy)[:, keep]
    T = np.asarray(tr.grad_energy["s"])[:, keep]
    # Per path: time averages against the closed form at the path's own energy (Euler-
    # Maruyama moves E by its discretisation error; the shell average is exact per E).
    expected = kB * E.mean(axis=1) / (c + kB)
    for samples in (p2.mean(axis=1) / expected, kq2.mean(axis=1) / expected):
        mean, err = _mean_and_error(samples)
        assert err < 0.02  # discriminating: 2% error bar
        assert abs(mean - 1.0) < 4 * err + 0.01, (mean, err)  # + 1% dt bias allowance
    mean, err = _mean_and_error(p2.mean(axis=1) / (kB * T.mean(axis=1)))
    assert abs(mean - 1.0) < 4 * err + 0.01, (mean, err)


@pytest.fixture(scope="module")
def two_bodies_run(two_bodies):
    kB = 0.05
    y0 = heat_exchange.state_for_temperatures(1.2, 1.0, C1=1.0, C2=2.0)
    tr = _quiet_simulate(
        two_bodies,
        y0,
        t1=100.0,
        noise=kB,
        key=jax.random.key(1),
        paths=64,
        dt0=0.005,
        saveat=1001,
        brownian="steps",
        max_steps=100_000,
    )
    return kB, tr


def test_energy_exchanged_between_two_bodies(two_bodies_run):
    r"""Two bodies of heat capacities C1, C2 (U_i = C_i T_i) in contact: exp(S/kB) on the
    shell U1 + U2 = E, in the entropy variables, makes f = U1/E ~ Beta(C1/kB, C2/kB):
    <f> = C1/(C1 + C2), Var f = ab/((a + b)^2 (a + b + 1)), a = C1/kB, b = C2/kB."""
    kB, tr = two_bodies_run
    C1, C2 = 1.0, 2.0
    a, b = C1 / kB, C2 / kB
    T = np.asarray(tr.grad_energy["s1"])[:, 100:], np.asarray(tr.grad_energy["s2"])[:, 100:]
    f = C1 * T[0] / (C1 * T[0] + C2 * T[1])
    mean, err = _mean_and_error(f.mean(axis=1))
    assert abs(mean - a / (a + b)) < 4 * err + 2e-3, (mean, err)
    var_expected = a * b / ((a + b) ** 2 * (a + b + 1))
    var, err = _mean_and_error(((f - a / (a + b)) ** 2).mean(axis=1))
    assert err < 0.05 * var_expected
    assert abs(var / var_expected - 1) < (4 * err) / var_expected + 0.02, (var, var_expected)


def test_mean_entropy_production_at_equilibrium(two_bodies_run):
    r"""At equilibrium d<S>/dt = 0, yet each path produces entropy: with
    sigma = kappa (T1 - T2)^2/(T1 T2) and f ~ Beta(a, b),
    <sigma> = kappa kB (1/(C1 - kB) + 1/(C2 - kB)) > 0, balanced by the noise
    (<sigma> = -kB <div(M grad S)>). S falls along paths; no step is flagged."""
    kB, tr = two_bodies_run
    C1, C2, kappa = 1.0, 2.0, 1.0
    sigma = np.asarray(tr.entropy_production)[:, 100:]
    mean, err = _mean_and_error(sigma.mean(axis=1))
    expected = kappa * kB * (1 / (C1 - kB) + 1 / (C2 - kB))
    assert err < 0.03 * expected
    assert abs(mean / expected - 1) < 4 * err / expected + 0.02, (mean, expected)
    S = np.asarray(tr.entropy)
    assert (np.diff(S, axis=1) < 0).any()  # entropy fluctuates down along paths...
    assert not np.asarray(tr.entropy_decreased).any()  # ...which is not a violation
    assert abs(S[:, 100:].mean(axis=0)[-200:].mean() - S[:, 100:].mean()) < 0.05


def test_structured_chain_equilibrates_to_the_dirichlet_law():
    r"""An isolated conduction chain of N cells with heat capacity C each: U_i/E is
    Dirichlet(C/kB, ..., C/kB), so Var(U_i/E) = a(Na - a)/((Na)^2 (Na + 1)), a = C/kB."""
    N, C, kB = 4, 1.0, 0.05
    model = heat_conduction(N, C=C, k=1.0)
    y0 = np.log(np.array([1.3, 1.0, 0.9, 1.1]))  # T = exp(s/C): a non-uniform start
    tr = _quiet_simulate(
        model,
        y0,
        t1=60.0,
        noise=kB,
        key=jax.random.key(2),
        paths=48,
        dt0=0.005,
        saveat=601,
        brownian="steps",
        max_steps=100_000,
    )
    # The law of the fractions is the same on every shell (it is scale invariant), so the
    # energy must be checked too: Euler-Maruyama's mean drift was 2.8% here (without the
    # kB div M drift the energy grows a hundredfold).
    E = np.asarray(tr.energy)
    assert abs(E[:, -1].mean() / E[:, 0].mean() - 1) < 0.05
    U = np.exp(np.asarray(tr.ys)[:, 100:, :] / C) * C
    f = U / U.sum(axis=-1, keepdims=True)
    a = C / kB
    var_expected = a * (N * a - a) / ((N * a) ** 2 * (N * a + 1))
    var, err = _mean_and_error(((f - 1 / N) ** 2).mean(axis=(1, 2)))
    assert err < 0.05 * var_expected
    assert abs(var / var_expected - 1) < 4 * err / var_expected + 0.02, (var, var_expected)


# -- reproducibility, derivatives, errors -------------------------------------------------------


def test_gradient_through_a_stochastic_run_matches_finite_differences(oscillator):
    cm = gm.compile(oscillator)
    key = jax.random.key(4)

    def final_p2(gamma):
        tr = gm.simulate(
            cm,
            damped_oscillator.initial_state,
            t1=0.5,
            noise=0.1,
            key=key,
            dt0=0.05,
            saveat=2,
            params={"gamma": gamma},
        )
        return tr.ys[-1, 1] ** 2

    g = jax.grad(final_p2)(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        h = 1e-5
        fd = (final_p2(1.0 + h) - final_p2(1.0 - h)) / (2 * h)
    assert abs(g - fd) < 1e-6 * max(1.0, abs(fd)), (g, fd)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(noise=0.1, key=jax.random.key(0)), "dt0: a stochastic run takes fixed steps"),
        (dict(noise=0.1, dt0=0.1), "key: a stochastic run needs a PRNG key"),
        (dict(noise=-1.0, key=jax.random.key(0), dt0=0.1), "noise: expected a finite positive"),
        (dict(noise=True, key=jax.random.key(0), dt0=0.1), "noise: expected Boltzmann"),
        (dict(key=jax.random.key(0)), "only a stochastic run takes them"),
        (dict(paths=4), "only a stochastic run takes them"),
        (dict(noise=0.1, key=jax.random.key(0), dt0=0.1, paths=0), "paths: expected a positive"),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, solver=diffrax.Heun()),
            "Heun converges to the Stratonovich solution",
        ),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, solver=diffrax.Tsit5()),
            "Tsit5 is not an Ito SDE solver",
        ),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, solver=gm.DiscreteGradient()),
            "DiscreteGradient is not an Ito SDE solver",
        ),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, brownian="fast"),
            "brownian: expected one of",
        ),
        (dict(noise=0.1, key=jax.random.key(0), dt0=1e-6), "max_steps: 1000000 steps"),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, y0=np.zeros((2, 3)), paths=3),
            "ensemble .* has 2 members but paths=3",
        ),
        (dict(noise=0.1, key=jnp.zeros(3), dt0=0.1), "key: expected one JAX PRNG key"),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=0.1, adjoint=diffrax.BacksolveAdjoint()),
            "BacksolveAdjoint cannot differentiate an Ito SDE",
        ),
        (
            dict(
                noise=0.1,
                key=jax.random.key(0),
                dt0=0.1,
                brownian="steps",
                adjoint=diffrax.RecursiveCheckpointAdjoint(),
            ),
            "cannot replay brownian='steps' increments",
        ),
        (
            dict(noise=0.1, key=jax.random.key(0), dt0=1e-4, brownian="steps", t0=1e4),
            "below float32 resolution",
        ),
        (
            dict(
                noise=0.1,
                key=jax.random.key(0),
                dt0=0.1,
                stepsize_controller=diffrax.PIDController(rtol=1e-3, atol=1e-3),
            ),
            "stochastic runs take fixed steps",
        ),
    ],
)
def test_bad_stochastic_arguments_are_refused(oscillator, kwargs, match):
    y0 = kwargs.pop("y0", damped_oscillator.initial_state)
    t1 = kwargs.get("t0", 0.0) + 1.0
    with pytest.raises(gm.InputError, match=match):
        gm.simulate(oscillator, y0, t1=t1, **kwargs)


def test_noise_needs_a_dissipative_process_and_milstein_a_flat_model():
    hamiltonian = gm.GenericModel(
        state=sp.symbols("q p", real=True),
        energy=sum(v**2 for v in sp.symbols("q p", real=True)) / 2,
        entropy=0,
        poisson=[[0, 1], [-1, 0]],
        friction=None,
    )
    with pytest.raises(gm.InputError, match="has no dissipative process"):
        gm.simulate(hamiltonian, [1.0, 0.0], 1.0, noise=0.1, key=jax.random.key(0), dt0=0.1)
    with pytest.raises(gm.InputError, match="ItoMilstein differentiates the noise factor"):
        gm.simulate(
            heat_conduction(3),
            np.zeros(3),
            1.0,
            noise=0.1,
            key=jax.random.key(0),
            dt0=0.1,
            solver=diffrax.ItoMilstein(),
        )
    with pytest.raises(gm.InputError, match="solves stochastic equations"):
        gm.simulate(hamiltonian, [1.0, 0.0], 1.0, solver=diffrax.ItoMilstein(), dt0=0.1)


def test_save_times_off_the_step_grid_are_steps_not_interpolations(oscillator):
    # dt0 = 0.03 does not divide the save spacing 0.1: the solver steps onto the save
    # times, so every saved state is a state of the scheme (E to round-off with the
    # stochastic discrete gradient; an interpolated state would miss it by ~1e-3).
    with pytest.warns(UserWarning, match=r"saveat: 6 save time\(s\) fall between steps"):
        tr = gm.simulate(
            oscillator,
            damped_oscillator.initial_state,
            1.0,
            noise=0.1,
            key=jax.random.PRNGKey(0),  # a raw key works too
            dt0=0.03,
            saveat=11,
            solver=gm.StochasticDiscreteGradient(),
        )
    E = np.asarray(tr.energy)
    assert np.abs(E - E[0]).max() < 1e-12 and tr.ok
    assert np.allclose(np.asarray(tr.ts), np.linspace(0, 1, 11))
    assert (
        int(tr.num_steps) == 34 + 6
    )  # 34 steps of 0.03 (the last one short), 6 save times between


def test_gle_random_force_obeys_the_second_fdt():
    r"""The Prony embedding with noise: each auxiliary force is an Ornstein-Uhlenbeck
    process forced by the bath, so the random force R = sum_k u_k of a clamped particle
    (a huge mass: v ~ 0, no memory response) has <R(t) R(0)> = kB T K(t), the second
    fluctuation-dissipation theorem, for exponential and damped-cosine terms alike."""
    from generic_mm.memory import PronyKernel, gle_model

    kB, T0 = 1.0, 1.5
    kernel = PronyKernel([1.0, 0.6], [0.5, 1.5], frequencies=[0.0, 2.0])
    model = gle_model(kernel, mass=1e8, T0=T0)  # an ideal reservoir: T = T0
    state = {name: 0.0 for name in ("q", "p", "u1", "u2", "w2", "s")}
    dt, stride = 0.01, 10
    tr = _quiet_simulate(
        model,
        state,
        t1=400.0,
        noise=kB,
        key=jax.random.key(7),
        paths=32,
        dt0=dt,
        saveat=4001,
        brownian="steps",
        max_steps=50_000,
    )
    # The force on the particle is sum_k u_k (the w_k of a damped cosine only rotate with
    # u_k); burn-in t < 10 (the slowest decay time is 1.5).
    R = np.asarray(tr["F_mem"])[:, 100:]
    assert np.allclose(R, np.asarray(tr["u1"] + tr["u2"])[:, 100:])
    lags = [0, 5, 10, 20, 40]  # saved every 0.1: t = 0, 0.5, 1, 2, 4
    for lag in lags:
        per_path = (R[:, : R.shape[1] - lag] * R[:, lag:]).mean(axis=1)
        mean, err = _mean_and_error(per_path)
        expected = kB * T0 * float(kernel(lag * dt * stride))
        # 4 standard errors, plus Euler-Maruyama's O(dt) bias of the OU variance (~1%).
        assert abs(mean - expected) < 4 * err + 0.01 * kB * T0 * float(kernel(0.0)), (
            lag,
            mean,
            expected,
            err,
        )
    # The error bar resolves the kernel: at t = 0 it is under 3% of K(0).
    assert _mean_and_error((R * R).mean(axis=1))[1] < 0.03 * kB * T0 * float(kernel(0.0))


def test_a_stochastic_trajectory_keeps_its_kb_when_saved(oscillator, tmp_path):
    tr = _quiet_simulate(
        oscillator,
        damped_oscillator.initial_state,
        1.0,
        noise=0.1,
        key=jax.random.key(0),
        paths=3,
        dt0=0.05,
        saveat=11,
        brownian="steps",
    )
    path = tr.save(tmp_path / "paths.npz")
    back = gm.load_trajectory(path)
    assert back.noise == 0.1 and np.array_equal(back.ys, tr.ys)
    # S may fall along a path of a stochastic run: not a violation, here or after loading.
    assert not np.asarray(back.entropy_decreased).any() and back.ok
    assert "stochastic (kB = 0.1)" in back.summary()


def test_a_stochastic_run_saves_on_its_step_grid_and_runs_under_jit(oscillator):
    # By default at most 101 save times, all on the grid t0 + k dt0: the steps stay even.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "between steps" warning
        tr = gm.simulate(
            oscillator,
            damped_oscillator.initial_state,
            1.0,
            noise=0.1,
            key=jax.random.key(0),
            dt0=0.1,
        )
    assert np.allclose(np.asarray(tr.ts), np.linspace(0, 1, 11)) and int(tr.num_steps) == 10
    key = jax.random.key(1)

    def final_p(gamma):
        return gm.simulate(
            oscillator,
            damped_oscillator.initial_state,
            0.2,
            noise=0.1,
            key=key,
            dt0=0.02,
            saveat=11,
            params={"gamma": gamma},
        ).ys[-1, 1]

    # The same path: the Brownian tree's arithmetic is compiled differently under jit, which
    # moves the result at the level of the tree's own round-off (~1e-11 here).
    assert abs(jax.jit(final_p)(1.0) - final_p(1.0)) < 1e-8
