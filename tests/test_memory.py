"""Memory as a GENERIC embedding, and Mori-Zwanzig from resolved models (generic_mm.memory).

Closed forms: Prony kernels and their integrals and Laplace transforms, the single-exponential
GLE's velocity response, the harmonic chain's kernel 2 m w0 J1(2 w0 t)/t (and the equal-mass
response J0(2 w0 t)), Kac-Zwanzig kernels and their recurrence. Numerics: the Volterra
inversion's order from a log-log slope, Prony fits, and the workflow from a resolved bath to a
fitted GLE. Models are shared through module-scoped fixtures: every compiled program is built
once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.special
import sympy as sp

import generic_mm as gm
from generic_mm import memory as mem


def exp_gle_response(t, c, tau, M=1.0):
    """v(t) of M dv/dt = -int c e^{-(t-s)/tau} v(s) ds, v(0) = 1: the inverse Laplace
    transform of (s + a)/(s^2 + a s + c/M), a = 1/tau, by residues."""
    a = 1.0 / tau
    r = np.roots([1.0, a, c / M]).astype(complex)
    v = sum((r[i] + a) / (r[i] - r[1 - i]) * np.exp(r[i] * np.asarray(t)) for i in range(2))
    return v.real


# ----------------------------------------------------------------------------- kernels


def test_prony_kernel_values_integral_and_laplace():
    K = mem.PronyKernel([2.0, 0.5, 1.0], [0.3, 2.0, 0.7], frequencies=[0.0, 3.0, -1.5])
    t = np.linspace(0.0, 5.0, 11)
    expected = (
        2.0 * np.exp(-t / 0.3)
        + 0.5 * np.exp(-t / 2.0) * np.cos(3.0 * t)
        + np.exp(-t / 0.7) * np.cos(1.5 * t)
    )
    np.testing.assert_allclose(K(t), expected, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(K(jnp.asarray(t))), expected, rtol=1e-14)
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda x: K(x))(jnp.asarray(t))), expected, rtol=1e-14
    )
    assert K.n_terms == 3 and K.n_auxiliary == 5 and list(K.oscillatory) == [False, True, True]
    quad = scipy.integrate.quad(lambda x: float(K(x)), 0, np.inf, limit=400)[0]
    assert K.integral() == pytest.approx(quad, rel=1e-9)
    for s in (0.0, 0.7, 4.0):
        lap = scipy.integrate.quad(
            lambda x, s=s: float(K(x)) * np.exp(-s * x), 0, np.inf, limit=400
        )
        assert K.laplace(s) == pytest.approx(lap[0], rel=1e-9)
    assert K.laplace(0.0) == pytest.approx(K.integral(), rel=1e-14)


def test_kernel_arguments_are_validated():
    with pytest.raises(gm.InputError, match=r"weights\[1\]: expected a positive number, got -0.5"):
        mem.PronyKernel([1.0, -0.5], [1.0, 1.0])
    with pytest.raises(gm.InputError, match=r"times\[0\]: expected a positive number, got 0"):
        mem.PronyKernel([1.0], [0.0])
    with pytest.raises(gm.InputError, match=r"times: expected 2 entries, got 1"):
        mem.PronyKernel([1.0, 2.0], [1.0])
    with pytest.raises(gm.InputError, match=r"frequencies\[0\]: expected a finite number, got nan"):
        mem.PronyKernel([1.0], [1.0], frequencies=[np.nan])
    with pytest.raises(gm.InputError, match="expected at least one term"):
        mem.PronyKernel([], [])
    with pytest.raises(gm.InputError, match=r"CosineKernel: weights\[0\]: expected a nonnegative"):
        mem.CosineKernel([-1.0], [1.0])
    with pytest.raises(gm.InputError, match=r"kernel: expected a PronyKernel"):
        mem.gle_model([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(gm.InputError, match=r"bath_heat_capacity: expected a finite positive"):
        mem.gle_model(mem.PronyKernel([1.0], [1.0]), bath_heat_capacity=-1.0)
    with pytest.raises(gm.ModelError, match=r"energy: unknown symbol\(s\) 'k'"):
        mem.gle_model(mem.PronyKernel([1.0], [1.0]), potential=sp.Symbol("k") * sp.Symbol("q"))
    with pytest.raises(
        gm.ModelError, match=r"potential: got the string 'q\*\*2'; .* never evaluated"
    ):
        mem.gle_model(mem.PronyKernel([1.0], [1.0]), potential="q**2")


# ---------------------------------------------------------------------- the GLE embedding

MIXED = mem.PronyKernel([1.5, 0.4, 0.8], [0.4, 1.5, 0.9], frequencies=[0.0, 2.5, 0.7])


@pytest.mark.parametrize("heat_capacity", [None, 3.0])
def test_gle_and_markovian_models_pass_all_six_checks(heat_capacity):
    q = sp.Symbol("q")
    k = sp.Symbol("k", positive=True)
    model = mem.gle_model(
        MIXED,
        mass=2.0,
        potential=k * q**2 / 2 + q**4,
        params={k: 1.0},
        bath_heat_capacity=heat_capacity,
    )
    report = gm.check(model)
    assert report.ok, str(report)
    assert model.state_names == ("q", "p", "u1", "u2", "w2", "u3", "w3", "s")
    assert model.process_names == ("relaxation_1", "relaxation_2", "relaxation_3")
    assert set(report.processes) == {
        "mechanics",
        "exchange_1",
        "exchange_2",
        "exchange_3",
        *model.process_names,
    }
    assert set(model.observables) == {"v", "F_mem", "T"}
    markov = mem.markovian_model(MIXED, mass=2.0, bath_heat_capacity=heat_capacity)
    assert gm.check(markov).ok
    assert markov.params[sp.Symbol("gamma", positive=True)] == pytest.approx(MIXED.integral())


def test_the_embedding_carries_exactly_the_prony_kernel():
    """Linearise the compiled model at rest: p' = sum u + ..., x' = A x + b v for the
    auxiliary block; eliminating it gives the memory force -int K(t - s) v(s) ds with
    K(t) = -1_u . e^{At} b. It must be the Prony kernel, term by term, cosines included."""
    model = mem.gle_model(MIXED, mass=1.0)
    cm = gm.compile(model)
    J = np.asarray(jax.jacfwd(lambda y: cm.vector_field(0.0, y))(jnp.zeros(cm.n)))
    aux = slice(2, 2 + MIXED.n_auxiliary)
    A, b, ones = J[aux, aux], J[aux, 1] * 1.0, J[1, aux]  # d(aux)/dp * m = d(aux)/dv
    for t in np.linspace(0.0, 6.0, 13):
        assert -ones @ scipy.linalg.expm(A * t) @ b == pytest.approx(MIXED(t), abs=1e-13)
    markov = gm.compile(mem.markovian_model(MIXED, mass=1.0))
    Jm = np.asarray(jax.jacfwd(lambda y: markov.vector_field(0.0, y))(jnp.zeros(3)))
    assert Jm[1, 1] == pytest.approx(-MIXED.integral(), rel=1e-14)


def test_the_embedding_satisfies_the_second_fluctuation_dissipation_theorem():
    """With noise B B^T = 2 kB M, the auxiliary forces under the orthogonal dynamics
    (v held at 0) are an Ornstein-Uhlenbeck process with drift A and diffusion 2 kB M_aux
    (the kB div M drift vanishes on their rows). Its stationary covariance S solves
    A S + S A^T + 2 kB M_aux = 0, and <R(t) R(0)> = f . e^{At} S f (f: the u_k) must be kB T K(t): the
    second FDT, decided from the compiled operators at rest (T = T0 = 1.7, kB = 0.5)."""
    kB, T0 = 0.5, 1.7
    cm = gm.compile(mem.gle_model(MIXED, T0=T0))
    y = jnp.zeros(cm.n)
    aux = slice(2, 2 + MIXED.n_auxiliary)
    J = np.asarray(jax.jacfwd(lambda y: cm.vector_field(0.0, y))(y))
    A, force = J[aux, aux], J[1, aux]  # the memory force is sum_k u_k (not the w_k)
    M = np.asarray(cm.friction(y))
    S = scipy.linalg.solve_continuous_lyapunov(A, -2 * kB * M[aux, aux])
    np.testing.assert_allclose(
        S, kB * T0 * np.diag([1.5, 0.4, 0.4, 0.8, 0.8]), rtol=1e-12, atol=1e-14
    )
    assert list(force) == [1, 1, 0, 1, 0]
    for t in np.linspace(0.0, 6.0, 13):
        R = force @ scipy.linalg.expm(A * t) @ S @ force
        assert R == pytest.approx(kB * T0 * MIXED(t), abs=1e-13)
    # the Ito drift kB div M acts on the bath entropy only
    divM = np.asarray(jax.jacfwd(cm.friction)(y + 0.3))  # d M_ij / d x_k
    assert np.allclose(np.einsum("ijj->i", divM)[:-1], 0.0, atol=1e-14)


@pytest.fixture(scope="module")
def exp_gle():
    """A free particle with one exponential kernel in a finite bath (C = 2)."""
    return mem.gle_model(mem.PronyKernel([5.0], [0.2]), bath_heat_capacity=2.0)


RATIOS = np.array([0.03, 0.1, 0.3, 1.0])  # memory time tau / velocity relaxation time M/gamma


@pytest.fixture(scope="module")
def kicked(exp_gle):
    """One ensemble, one compiled program: K = (gamma/tau) e^{-t/tau} with gamma = M = 1
    and tau = RATIOS, each kicked to v(0) = 1 from rest."""
    y0 = np.zeros(exp_gle.n)
    y0[1] = 1.0
    params = {"c1": 1 / RATIOS, "tau1": RATIOS}
    return gm.simulate(exp_gle, y0, t1=30.0, saveat=601, params=params, rtol=1e-10)


def test_gle_conserves_energy_and_heats_the_bath(kicked):
    """The kinetic energy 1/2 of the kick ends as heat: E constant, S never decreasing,
    the relaxation producing entropy, T_inf = T0 + (1/2)/C = 1.25."""
    E = np.asarray(kicked.energy)
    assert np.max(np.abs(E - E[:, :1])) < 1e-9 * 2.5
    assert np.all(np.diff(np.asarray(kicked.entropy), axis=-1) >= -1e-12)
    assert np.all(np.asarray(kicked.entropy_production_by_process["relaxation_1"]) >= 0)
    np.testing.assert_allclose(np.asarray(kicked["T"])[:, -1], 1.25, rtol=1e-7)
    np.testing.assert_allclose(kicked["F_mem"], kicked["u1"], rtol=1e-14)


# ------------------------------------------------------------------ correlation functions


def test_autocorrelation_equals_the_direct_average_over_origins_and_members():
    x = np.random.default_rng(0).normal(size=(3, 50))
    C = mem.autocorrelation(x, max_lag=20)
    direct = [np.mean([np.mean(r[: 50 - k] * r[k:]) for r in x]) for k in range(21)]
    np.testing.assert_allclose(C, direct, rtol=1e-12, atol=1e-14)


def test_autocorrelation_of_a_sampled_ornstein_uhlenbeck_process():
    """An exact OU discretisation x_{n+1} = a x_n + sqrt(1 - a^2) xi (a = e^{-h/tau}) has
    <x_n x_{n+k}> = a^k. Estimated from 64 members x 4000 steps (2e5 correlation times x
    ...); the standard error of each lag is about sqrt(2 tau / (h N_total)) = 4e-3: assert
    within 5 of them."""
    rng = np.random.default_rng(1)
    h, tau, members, steps = 0.1, 1.0, 64, 4000
    a = np.exp(-h / tau)
    x = np.empty((members, steps))
    x[:, 0] = rng.normal(size=members)
    noise = rng.normal(size=(members, steps)) * np.sqrt(1 - a**2)
    for n in range(1, steps):
        x[:, n] = a * x[:, n - 1] + noise[:, n]
    C = mem.autocorrelation(x, max_lag=30)
    error = np.sqrt(2 * tau / (h * members * steps))
    np.testing.assert_allclose(C, a ** np.arange(31), atol=5 * error)


@pytest.mark.parametrize("case", ["prony", "chain"])
def test_volterra_inversion_is_second_order(case):
    """Largest error of the extracted kernel under h = 0.04 ... 0.005, slope of its
    log-log fit within 0.1 of 2. `prony`: C = e^{-t}(cos t + sin t), the VACF of the GLE
    with K = 2 e^{-2t} (M = 1), not smooth when extended evenly (even=False). `chain`: the
    equal-mass chain's C = J0(t), smooth and even, K = 2 m w0 J1(2 w0 t)/t with m = 2,
    k = 1/2 (the default even=True)."""
    hs = np.array([0.04, 0.02, 0.01, 0.005])
    errors = []
    for h in hs:
        if case == "prony":
            ts = np.arange(0.0, 4.0 + h / 2, h)
            C, exact, even = exp_gle_response(ts, 2.0, 0.5), 2.0 * np.exp(-2.0 * ts), False
            assert np.allclose(C, np.exp(-ts) * (np.cos(ts) + np.sin(ts)), atol=1e-14)
        else:
            ts = np.arange(0.0, 20.0 + h / 2, h)
            C, exact, even = (
                scipy.special.j0(ts),
                mem.chain_kernel(ts, mass=2.0, stiffness=0.5),
                True,
            )
        K = mem.extract_kernel(ts, C, mass=1.0 if case == "prony" else 2.0, even=even)
        errors.append(np.max(np.abs(K - exact)))
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert 1.9 < slope < 2.1, (slope, errors)
    assert errors[-1] < 1e-4
    if case == "prony":  # the even extension of a Prony GLE's VACF costs an order at t = 0
        ts = np.arange(0.0, 4.0, 0.01)
        K = mem.extract_kernel(ts, exp_gle_response(ts, 2.0, 0.5), mass=1.0, even=True)
        assert abs(K[0] - 2.0) > 10 * errors[2]


def test_volterra_inversion_refuses_bad_input():
    with pytest.raises(gm.InputError, match=r"ts: expected increasing, evenly spaced times"):
        mem.extract_kernel([0.0, 0.1, 0.3, 0.4], [1.0, 0.9, 0.8, 0.7], mass=1.0)
    with pytest.raises(gm.InputError, match=r"ts: must start at t = 0"):
        mem.extract_kernel([1.0, 2.0, 3.0, 4.0], [1.0, 0.9, 0.8, 0.7], mass=1.0)
    with pytest.raises(gm.InputError, match=r"vacf\[0\]: C\(0\) = <v\^2> must be positive"):
        mem.extract_kernel([0.0, 1.0, 2.0, 3.0], [0.0, 0.9, 0.8, 0.7], mass=1.0)
    with pytest.raises(gm.InputError, match=r"vacf: expected 4 entries, got 3"):
        mem.extract_kernel([0.0, 1.0, 2.0, 3.0], [1.0, 0.9, 0.8], mass=1.0)


# ---------------------------------------------------------------- the Markovian limit


def test_markovian_limit_fails_as_the_memory_time_reaches_the_relaxation_time(kicked):
    """K = (gamma/tau) e^{-t/tau}, M = gamma = 1, so M/gamma = 1: ratios tau/(M/gamma) of
    0.03, 0.1, 0.3, 1. The GLE's VACF matches its closed form; the Markovian VACF is
    e^{-t} whatever tau. The error max|C_GLE - C_Markov| / C(0) grows monotonically: small
    (< 0.05) at 0.03, a clear failure (> 0.25) at 1, where the GLE's VACF oscillates
    (tau > M/(4 gamma)). Both give the same D = kT/gamma = 1."""
    ts = np.asarray(kicked.ts)
    C_gle = np.asarray(kicked["v"])  # kT = m = 1: C = v_imp
    for C, r in zip(C_gle, RATIOS):
        np.testing.assert_allclose(C, exp_gle_response(ts, 1 / r, r), atol=1e-8)
    C_markov = mem.impulse_vacf(mem.markovian_model(1.0), ts, mass=1.0)
    np.testing.assert_allclose(C_markov, np.exp(-ts), atol=1e-8)
    errors = np.max(np.abs(C_gle - C_markov), axis=1)
    assert np.all(np.diff(errors) > 0), errors
    assert errors[0] < 0.05 and errors[-1] > 0.25, errors
    for C in (*C_gle, C_markov):
        assert mem.diffusion_coefficient(ts, C) == pytest.approx(1.0, abs=2e-3)


# ---------------------------------------------------------------------------- Kac-Zwanzig


def test_kac_zwanzig_kernels_and_their_recurrence():
    """The midpoint oscillators reproduce the continuum kernel in the window (the Ohmic
    tail is negligible at 14 cutoffs); at the recurrence time 2 pi/dw the kernel returns
    as -K(0)."""
    ohmic = mem.Ohmic(gamma=1.0, cutoff=2.0)
    exact = ohmic.discretize(300)
    dw = 2 * exact.frequencies[0]
    window = np.pi / dw
    t = np.linspace(0.0, 0.5 * window, 500)
    # the midpoint rule's error, (dw^2/24) |d/dw (J/w)| at 0 = 1.2e-4 (dw = 0.093)
    assert np.max(np.abs(exact(t) - ohmic.kernel(t))) < 1.5e-4 * ohmic.kernel(0.0)
    assert exact(2 * np.pi / dw) == pytest.approx(-exact(0.0), rel=1e-10)
    assert scipy.integrate.quad(ohmic.kernel, 0, np.inf)[0] == pytest.approx(1.0, rel=1e-9)
    debye = mem.Debye(gamma=1.0, cutoff=2.0)
    # Debye: the omega^-2 tail beyond 50 cutoffs lowers K(0) by (2/pi)/50 = 1.3 %
    assert debye.discretize(300)(0.0) == pytest.approx(2.0 * (1 - 2 / (50 * np.pi)), rel=1e-3)
    Q, kQ = sp.Symbol("Q"), sp.Symbol("kQ", positive=True)
    trapped = mem.kac_zwanzig(8, debye, potential=kQ * Q**2 / 2, params={kQ: 2.0})
    assert gm.check(trapped.model).ok
    with pytest.raises(
        gm.InputError, match=r"spectral_density: expected one of \['debye', 'ohmic'\]"
    ):
        mem.kac_zwanzig(10, "drude")
    with pytest.raises(gm.InputError, match=r"gamma: the spectral density .* already fixes it"):
        mem.kac_zwanzig(10, ohmic, gamma=2.0)
    with pytest.raises(gm.InputError, match=r"Ohmic: cutoff: expected a finite positive number"):
        mem.Ohmic(gamma=1.0, cutoff=0.0)


@pytest.fixture(scope="module")
def bath():
    """The resolved Kac-Zwanzig bath (300 Debye oscillators, gamma = 1, cutoff 2, M = 1):
    memory time 1/2, half the particle's relaxation time M/gamma. Its exact VACF on the
    window (pi/dw = 9.4) and the kernel extracted from it."""
    kz = mem.kac_zwanzig(300, "debye", gamma=1.0, cutoff=2.0, mass=1.0)
    ts = np.linspace(0.0, kz.window, 801)
    C = kz.vacf(ts)
    return kz, ts, C, mem.extract_kernel(ts, C, mass=1.0)


def test_kac_zwanzig_model_is_hamiltonian_and_consistent(bath):
    kz, ts, C, _ = bath
    assert gm.check(kz.model).ok
    assert kz.momentum == "P" and kz.index == 0 and kz.window == pytest.approx(3 * np.pi)
    with pytest.raises(gm.InputError, match=r"index: 'P' is a field of 1 cells"):
        mem.impulse_vacf(kz.model, ts, mass=1.0, momentum="P", index=None)
    # the continuum GLE with K = 2 e^{-2t}: C = e^{-t}(cos t + sin t), reached to 1e-5
    np.testing.assert_allclose(C, exp_gle_response(ts, 2.0, 0.5), atol=1e-5)


def test_extracted_kernel_matches_the_exact_kernel(bath):
    """Against the exact finite-bath kernel K_N: within 0.3 % of K(0) (the h^2 error of
    the scheme on the bath's fastest oscillators, h w_max = 1.2)."""
    kz, ts, _, K = bath
    assert np.max(np.abs(K - kz.kernel(ts))) < 3e-3 * kz.kernel(0.0)


def test_workflow_from_the_resolved_bath_to_a_fitted_gle(bath):
    """Resolved VACF -> extracted kernel -> Prony fit (2 terms asked) -> GLE -> its VACF
    and D. The fit recovers the continuum kernel 2 e^{-2t} within 1 % of K(0) (t > 0.05:
    the bath's cutoff at 100 smooths its first 0.01) and its integral gamma = 1 within
    0.1 %; the GLE's VACF reproduces the resolved one within 2e-3 of C(0) (the fit's
    0.5 % error in c and tau; the exact 2 e^{-2t} reaches 1e-5), and the
    diffusion coefficients (resolved Green-Kubo, GLE Green-Kubo, kT/int K of the fit)
    agree with kT/gamma = 1 within 0.1 %."""
    kz, ts, C, K = bath
    fit = mem.fit_prony(ts, K, 2)
    assert 1 <= fit.n_terms <= 2
    late = ts > 0.05
    assert np.max(np.abs(fit(ts) - 2 * np.exp(-2 * ts))[late]) < 1e-2 * 2.0
    assert fit.integral() == pytest.approx(1.0, rel=1e-3)
    assert np.sqrt(np.mean((fit(ts) - K) ** 2)) < 1e-3 * K[0]
    C_gle = mem.impulse_vacf(mem.gle_model(fit, mass=1.0), ts, mass=1.0)
    assert np.max(np.abs(C_gle - C)) < 2e-3 * C[0]
    D_resolved = mem.diffusion_coefficient(ts, C)
    assert D_resolved == pytest.approx(1.0, rel=1e-3)
    assert mem.diffusion_coefficient(ts, C_gle) == pytest.approx(D_resolved, rel=1e-3)
    assert mem.einstein_diffusion(fit, kT=1.0) == pytest.approx(D_resolved, rel=1e-3)


# ------------------------------------------------------------------ the harmonic chain


def test_chain_kernel_closed_form():
    """K(0) = 2k and int K = 2 sqrt(k m); the ring's exact kernel equals it before sound
    returns (t < 0.7 N/w0, to 1e-10 K(0)); and the classic equal-mass response
    v(t) = J0(2 w0 t) (Hemmer 1959) inverts to it within 1e-4 K(0): an independent check
    of the derivation (and of the Volterra inversion)."""
    m, k = 2.0, 0.5
    w0 = np.sqrt(k / m)
    assert mem.chain_kernel(0.0, mass=m, stiffness=k) == pytest.approx(2 * k, rel=1e-15)
    integral = scipy.integrate.quad(
        lambda t: float(mem.chain_kernel(t, mass=m, stiffness=k)), 0, 4000, limit=8000
    )[0]
    # the J1 tail beyond T contributes ~ sqrt(m k)/sqrt(pi w0 T) cos(...): < 1e-2 at 4000
    assert integral == pytest.approx(2 * np.sqrt(k * m), rel=1e-2)
    ring = mem.ring_kernel(64, mass=m, stiffness=k)
    assert ring.weights.sum() == pytest.approx(2 * k, rel=1e-13)
    t = np.linspace(0.0, 0.7 * 64 / w0, 400)
    assert np.max(np.abs(ring(t) - mem.chain_kernel(t, mass=m, stiffness=k))) < 1e-10 * 2 * k
    ts = np.arange(0.0, 40.0, 0.01)
    K = mem.extract_kernel(ts, scipy.special.j0(2 * w0 * ts), mass=m)
    assert np.max(np.abs(K - mem.chain_kernel(ts, mass=m, stiffness=k))) < 1e-4 * 2 * k


def test_heavy_atom_kernel_from_the_resolved_ring():
    """A ring of 64 atoms (m = k = 1) with one atom of mass 10, resolved: its impulse
    response, inverted, gives the closed-form kernel 2 J1(2t)/t within 1e-4 of K(0) = 2
    over the window 0.7 N/w0 = 44.8 (h = 0.02), and its diffusion coefficient."""
    chain = mem.heavy_atom_chain(64, heavy_mass=10.0)
    assert gm.check(chain.model).ok
    assert chain.window == pytest.approx(0.7 * 64)
    ts = np.linspace(0.0, chain.window, 2241)
    C = chain.vacf(ts, kT=2.0)
    assert C[0] == pytest.approx(2.0 / 10.0, rel=1e-14)  # kT/M
    K = mem.extract_kernel(ts, C, mass=10.0)
    assert np.max(np.abs(K - chain.continuum(ts))) < 1e-4 * 2.0
    assert np.max(np.abs(chain.kernel(ts) - chain.continuum(ts))) < 1e-10 * 2.0
    # Green-Kubo over the window: D = kT / int K = kT / (2 sqrt(k m)) = 1, whatever M
    assert mem.diffusion_coefficient(ts, C) == pytest.approx(1.0, rel=1e-3)


# -------------------------------------------------------------------------- Prony fits


def test_fit_prony_recovers_known_kernels():
    ts = np.linspace(0.0, 9.0, 801)
    known = mem.PronyKernel([1.5, 0.3], [0.2, 1.6])
    fit = mem.fit_prony(ts, known(ts), 2)
    np.testing.assert_allclose(fit.weights, known.weights, rtol=1e-6)
    np.testing.assert_allclose(fit.times, known.times, rtol=1e-6)
    # three terms asked of a two-term kernel: the fit makes two of them equal, merged
    wavy = mem.PronyKernel([1.0, 0.6], [0.3, 1.2], frequencies=[0.0, 2.0])
    fit = mem.fit_prony(ts, wavy(ts), 3, oscillatory=1)
    assert fit.n_terms == 2
    np.testing.assert_allclose(fit.weights, wavy.weights, rtol=1e-5)
    np.testing.assert_allclose(fit.times, wavy.times, rtol=1e-5)
    np.testing.assert_allclose(fit.frequencies, wavy.frequencies, rtol=1e-5, atol=1e-8)


def test_fit_prony_stays_consistent_for_an_unrepresentable_kernel():
    """2 e^{-t} - e^{-t/0.2} has a negative weight: the fit is the best positive series,
    and its embedding passes the checks."""
    ts = np.linspace(0.0, 9.0, 801)
    fit = mem.fit_prony(ts, 2 * np.exp(-ts) - np.exp(-ts / 0.2), 2)
    assert np.all(fit.weights > 0) and np.all(fit.times > 0)
    assert gm.check(mem.gle_model(fit)).ok
    with pytest.raises(gm.InputError, match=r"oscillatory: 3 damped cosines requested"):
        mem.fit_prony(ts, np.exp(-ts), 2, oscillatory=3)
    with pytest.raises(gm.InputError, match=r"kernel: all samples are zero"):
        mem.fit_prony(ts, np.zeros_like(ts), 1)


def test_impulse_vacf_arguments(exp_gle):
    with pytest.raises(gm.InputError, match=r"index: 'p' is one variable"):
        mem.impulse_vacf(exp_gle, [0.0, 1.0], mass=1.0, index=3)
    with pytest.raises(gm.InputError, match=r"ts: expected at least two increasing times"):
        mem.impulse_vacf(exp_gle, [1.0, 2.0], mass=1.0)
    with pytest.raises(gm.InputError, match=r"trajectory\['P'\]: not a state variable"):
        mem.impulse_vacf(exp_gle, [0.0, 1.0], mass=1.0, momentum="P")
