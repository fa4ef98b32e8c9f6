"""Composites: the averaged models against closed forms and against the resolved laminate."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import sympy as sp

import generic_mm as gm
from generic_mm.composites import (
    Composite,
    Interface,
    Phase,
    laminate,
    layered_flux,
    mode_rates,
    phase_temperatures,
    resolved_laminate,
)
from generic_mm.structured import Grid, heat_conduction

L_PERIOD = 0.1


def _pair(ka=1.0, kb=10.0, ca=1.0, cb=2.0, **kw):
    a = Phase("a", fraction=0.5, conductivity=ka, heat_capacity=ca, **kw.get("a", {}))
    b = Phase("b", fraction=0.5, conductivity=kb, heat_capacity=cb, **kw.get("b", {}))
    return Composite([a, b], [Interface("a", "b", closure=laminate(L_PERIOD / 2, L_PERIOD / 2))])


def test_uniform_relaxation_matches_closed_forms():
    c = Composite(
        [
            Phase("a", fraction=0.3, conductivity=1.0, heat_capacity=2.0, density=1.5),
            Phase("b", fraction=0.7, conductivity=1.0, heat_capacity=0.5),
        ],
        [Interface("a", "b", h=2.0, area_density=1.5)],
    )
    Ca, Cb = 0.3 * 3.0, 0.7 * 0.5
    assert c.relaxation_rates() == pytest.approx([3.0 * (1 / Ca + 1 / Cb)], rel=1e-12)
    T0 = {"a": 1.4, "b": 0.9}
    model = gm.compile(c.model())
    traj = gm.simulate(model, c.state(T0), 3.0, saveat=31, rtol=1e-11, atol=1e-13)
    gE = jax.vmap(model.grad_energy)(traj.ys)
    Ta, Tb = np.asarray(gE[:, 0]), np.asarray(gE[:, 1])
    ts = np.asarray(traj.ts)
    np.testing.assert_allclose(Ta - Tb, 0.5 * np.exp(-c.relaxation_rates()[0] * ts), atol=1e-9)
    Teq = (Ca * 1.4 + Cb * 0.9) / (Ca + Cb)
    assert c.equilibrium_temperature(T0) == pytest.approx(Teq, rel=1e-14)
    assert Ta[-1] == pytest.approx(Teq, abs=1e-9) and Tb[-1] == pytest.approx(Teq, abs=1e-9)
    dS = Ca * math.log(Teq / 1.4) + Cb * math.log(Teq / 0.9)
    assert c.entropy_change(T0) == pytest.approx(dS, rel=1e-14)
    assert float(traj.entropy[-1] - traj.entropy[0]) == pytest.approx(dS, rel=1e-7)
    assert np.ptp(np.asarray(traj.energy)) < 1e-10
    # the interfacial source, as an expression and evaluated, and its entropy production
    (expr,) = c.source_terms().values()
    Ta_s, Tb_s, H_s = sp.symbols("T_a T_b H_a_b", positive=True)
    assert sp.simplify(expr - H_s * (Tb_s - Ta_s)) == 0
    q = np.asarray(c.sources(model, traj.ys)["a<-b"])
    np.testing.assert_allclose(q, 3.0 * (Tb - Ta), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        np.asarray(traj.entropy_production), 3.0 * Ta * Tb * (1 / Ta - 1 / Tb) ** 2, atol=1e-12
    )


def test_averaged_models_are_consistent_by_construction():
    c = _pair(a={"modulus": 2.0, "expansion": 0.1}, b={"modulus": 5.0, "expansion": 0.02})
    models = (
        c.model(inertia=0.3),
        c.structured(Grid((6, 5), periodic=(True, False))),
        c.structured(Grid((7,)), mechanics=True),
    )
    for model in models:
        report = gm.check(model)
        assert report.ok, str(report)
        assert {r.method for r in report} == {"symbolic"}


def test_a_phase_given_by_its_energy_function_equals_the_built_in_form():
    M, al, C = 3.0, 0.2, 1.5
    given = Phase(
        "a",
        fraction=1.0,
        conductivity=1.0,
        energy=lambda s, e: M * e**2 / 2 + M * al * e + C * (sp.exp((s - M * al * e) / C) - 1),
    )
    built = Phase("a", fraction=1.0, conductivity=1.0, heat_capacity=C, modulus=M, expansion=al)
    for field in ("T0", "C", "modulus", "beta"):
        assert getattr(given.linear, field) == pytest.approx(getattr(built.linear, field))
    assert built.linear.adiabatic_modulus == pytest.approx(M + (M * al) ** 2 / C)
    assert given.linear.adiabatic_modulus == pytest.approx(built.linear.adiabatic_modulus)
    y = Composite([given]).state({"a": 1.3}, strain=0.01)
    assert y["S_a"] == pytest.approx(C * math.log(1.3) + M * al * 0.01, rel=1e-10)
    report = gm.check(Composite([given]).model(inertia=1.0))
    assert report.ok


def _resolved_uniform_rates(c, cells):
    model, phases = resolved_laminate(c, {"a": L_PERIOD / 2, "b": L_PERIOD / 2}, cells)
    compiled = gm.compile(model)
    J = jax.jacfwd(lambda y: compiled.vector_field(0.0, y))(jnp.zeros(compiled.n))
    rates = np.sort(-np.linalg.eigvals(np.asarray(J)).real)
    return rates[1], compiled, phases  # rates[0] = 0: the conserved energy


def test_laminate_closure_against_the_resolved_cell():
    # Equal phases: the closure's rate is 48 k/(C l^2), the exact slowest mode 4 pi^2 k/(C l^2).
    c = _pair(ka=1.0, kb=1.0, ca=1.0, cb=1.0)
    closure = c.relaxation_rates()[0]
    assert closure == pytest.approx(48 / L_PERIOD**2, rel=1e-12)
    exact, compiled, phases = _resolved_uniform_rates(c, {"a": 16, "b": 16})
    assert exact == pytest.approx(4 * math.pi**2 / L_PERIOD**2, rel=5e-3)  # grid error
    assert closure / exact == pytest.approx(12 / math.pi**2, rel=5e-3)  # 22 % too fast
    # the phase averages of the resolved cell relax at that rate once the start is forgotten
    s0 = np.where(phases == 0, math.log(1.1), math.log(0.9)) * (L_PERIOD / 32)
    t1 = 8 / exact
    traj = gm.simulate(compiled, {"cell.s": s0}, t1, saveat=9, rtol=1e-10, atol=1e-14)
    T = phase_temperatures(compiled, traj.ys, phases, c)
    d, ts = np.asarray(T["a"] - T["b"]), np.asarray(traj.ts)
    late = -np.diff(np.log(d))[-3:] / np.diff(ts)[-3:]
    np.testing.assert_allclose(late, exact, rtol=1e-3)


SCALE_RATIOS = (1 / 40, 1 / 30, 1 / 20, 1 / 10, 1 / 4, 1 / 2)
"""Layer period over macroscopic wavelength, l/lambda, at which resolved and averaged
models are compared (one compilation each: only the grid spacing changes)."""


@pytest.fixture(scope="module")
def scale_separation():
    """Relative errors of the averaged model's macroscopic (slow) and exchange (fast) decay
    rates against the resolved laminate, per l/lambda, and the closure's own error."""
    c = _pair()  # contrast 10 in conductivity, 2 in heat capacity
    uniform, _, _ = _resolved_uniform_rates(c, {"a": 8, "b": 8})
    slow, fast = [], []
    for ratio in SCALE_RATIOS:
        lam = L_PERIOD / ratio
        resolved, _ = resolved_laminate(
            c, {"a": L_PERIOD / 2, "b": L_PERIOD / 2}, {"a": 8, "b": 8}, nx=4, length=lam
        )
        averaged = c.structured(Grid((4,), periodic=True, spacing=lam / 4))
        r = mode_rates(gm.compile(resolved, check=False), jnp.zeros(4 * 16))[:2]
        a = mode_rates(gm.compile(averaged, check=False), jnp.zeros(4 * 2))
        slow.append(a[0] / r[0] - 1)
        fast.append(a[1] / r[1] - 1)
        # the averaged model's modes are the closed-form two-temperature eigenvalues
        q2 = (2 - 2 * math.cos(2 * math.pi / 4)) / (lam / 4) ** 2
        (Ca, Cb), H = c.heat_capacities.values(), c.exchange["a", "b"]
        A = np.array([[-(0.5 * q2 + H) / Ca, H / Ca], [H / Cb, -(5.0 * q2 + H) / Cb]])
        np.testing.assert_allclose(a, np.sort(-np.linalg.eigvals(A).real), rtol=1e-9)
    closure_error = c.relaxation_rates()[0] / uniform - 1
    return np.array(SCALE_RATIOS), np.array(slow), np.array(fast), closure_error


def test_averaged_model_against_resolved_laminate_as_scale_separation_degrades(
    scale_separation,
):
    ratios, slow, fast, closure_error = scale_separation
    # the macroscopic (slow) mode: exact as l/lambda -> 0, worse as it grows
    assert slow[ratios == 1 / 30][0] == pytest.approx(1.67e-5, rel=0.02)  # as quoted
    assert slow[-1] == pytest.approx(1.57e-2, rel=0.02)  # l/lambda = 1/2
    assert np.all(np.diff(np.abs(slow)) > 0)
    # the exchange (fast) mode carries the closure's error even with perfect separation
    assert fast[0] == pytest.approx(closure_error, abs=5e-3)
    assert closure_error == pytest.approx(0.297, abs=0.002)  # 8 cells per layer


def test_macroscopic_mode_error_grows_like_the_square_of_the_scale_ratio(scale_separation):
    # the slope of a log-log fit over the well-separated ratios (l/lambda <= 1/20); beyond,
    # the growth steepens (local slope near 3 at l/lambda = 1/2).
    ratios, slow, _, _ = scale_separation
    small = ratios <= 1 / 20
    slope = np.polyfit(np.log(ratios[small]), np.log(np.abs(slow[small])), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.05)
    assert abs(slow[0]) == pytest.approx(9.3e-6, rel=0.02)  # l/lambda = 1/40, as quoted
    assert np.log(slow[-1] / slow[-2]) / np.log(2) > 2.5  # from 1/4 to 1/2: steeper


def _layered_bar(periods, m=8):
    """A resolved periodic bar of `periods` layer pairs (k = 1, 10; C = 1, 2) across the
    layers with a macroscopic temperature wave, once its micro-transients have decayed:
    cell temperatures, conductivities, spacing, cells per period, cell energy rates."""
    phase = np.tile(np.r_[np.zeros(m // 2, int), np.ones(m // 2, int)], periods)
    k, C = np.array([1.0, 10.0])[phase], np.array([1.0, 2.0])[phase]
    h, n = L_PERIOD / m, periods * m
    compiled = gm.compile(heat_conduction(n, C=C * h, k=k, periodic=True, spacing=h))
    x = (np.arange(n) + 0.5) * h
    s0 = C * h * np.log(1 + 0.1 * np.sin(2 * np.pi * x / (periods * L_PERIOD)))
    traj = gm.simulate(compiled, {"cell.s": s0}, 0.01, saveat=[0.01], rtol=1e-8, atol=1e-12)
    y = traj.ys[-1]
    T = np.asarray(compiled.layout.select(compiled.grad_energy(y), "cell.s"))
    rate = T * np.asarray(compiled.layout.select(compiled.vector_field(0.0, y), "cell.s"))
    return T, k, h, m, rate


@pytest.fixture(scope="module")
def layered_bars():
    return {periods: _layered_bar(periods) for periods in (16, 32)}


def _period_balance(T, k, h, m, rate, first, shift=0.0):
    """The one-temperature energy balance per averaging window, the windows (one period,
    `m` cells) starting at cell `first` (0: on an interface): the energy rate of each
    window, and the divergence of the window-averaged volume term and of the full flux
    (volume + interfacial) between window centres. `shift` is added to every temperature."""
    periods = len(T) // m
    energy_rate = np.roll(rate, -first).reshape(periods, m).sum(axis=1) / L_PERIOD
    terms = layered_flux(T + shift, k, h, m)
    volume, interfacial = np.asarray(terms["volume"]), np.asarray(terms["interfacial"])
    faces = np.arange(periods) * m + first  # the window of face F is centred on F

    def div(flux):
        return (np.roll(flux[faces], -1) - flux[faces]) / L_PERIOD

    return energy_rate, div(volume), div(volume + interfacial), terms


def test_apparent_heat_source_closes_the_one_temperature_balance(layered_bars):
    residuals, misses = [], []
    for periods in (16, 32):
        T, k, h, m, rate = layered_bars[periods]
        energy_rate, div_volume, div_total, terms = _period_balance(T, k, h, m, rate, 0)
        volume, interfacial = np.asarray(terms["volume"]), np.asarray(terms["interfacial"])
        # the split is exact: volume + interfacial = window average of the resolved flux
        kl = np.roll(k, 1)
        q = -(2 * k * kl / (k + kl)) / h * (T - np.roll(T, 1))
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
        averaged = sum(w * np.roll(q, -j) for w, j in zip(weights, range(-m // 2, m // 2 + 1)))
        np.testing.assert_allclose(volume + interfacial, averaged, atol=1e-12)
        # windows whose ends sit on interfaces: each term carries (k_a - k_b) T_I / l, which
        # moves with the temperature level; only their sum means anything
        level = _period_balance(T, k, h, m, rate, 0, shift=5.0)[3]
        moved = np.asarray(level["volume"]) - volume  # face 0: a b layer, then an a layer
        np.testing.assert_allclose(moved[::m], -(1.0 - 10.0) * 5.0 / L_PERIOD, rtol=1e-9)
        total = np.asarray(level["volume"]) + np.asarray(level["interfacial"])
        np.testing.assert_allclose(total, averaged, atol=1e-9)
        scale = np.max(np.abs(energy_rate))
        without = np.max(np.abs(energy_rate + div_volume)) / scale
        with_ = np.max(np.abs(energy_rate + div_total)) / scale
        assert without > 5  # the jump term is not a correction: it dominates
        assert with_ < 0.05
        residuals.append(with_)
        misses.append(without)
    assert residuals == pytest.approx([0.034, 0.0165], rel=0.02)  # as quoted
    assert residuals[1] < residuals[0] / 1.8  # closes at first order in l/lambda
    # and the volume term's miss is no property of the material: it grows like lambda/l
    assert misses[1] / misses[0] == pytest.approx(2.0, rel=0.02)


def test_volume_term_misses_by_the_conductivity_ratio_when_windows_end_inside_a_phase(
    layered_bars,
):
    # Windows starting mid-layer end in one phase, of conductivity k_edge: the volume term is
    # -k_edge dT/dx, while the layers in series conduct with the harmonic mean. So the
    # volume term alone misses the energy rate by k_edge/k_harmonic - 1, whatever the
    # temperature level; with the interfacial term the balance closes at second order.
    k_harmonic = 2 / (1 / 1.0 + 1 / 10.0)
    quoted = {2: [0.0100, 0.0025], 6: [0.0022, 0.00055]}  # docs/composites.md
    for first, k_edge in ((2, 10.0), (6, 1.0)):  # windows from mid-layer a or mid-layer b
        residuals = []
        for periods in (16, 32):
            T, k, h, m, rate = layered_bars[periods]
            energy_rate, div_volume, div_total, terms = _period_balance(T, k, h, m, rate, first)
            level = _period_balance(T, k, h, m, rate, first, shift=5.0)[3]
            np.testing.assert_allclose(
                np.asarray(level["volume"])[first::m],
                np.asarray(terms["volume"])[first::m],
                atol=1e-9,
            )
            miss = np.dot(-div_volume, energy_rate) / np.dot(energy_rate, energy_rate) - 1
            assert miss == pytest.approx(k_edge / k_harmonic - 1, rel=1e-2)
            scale = np.max(np.abs(energy_rate))
            without = np.max(np.abs(energy_rate + div_volume)) / scale
            assert without == pytest.approx(abs(k_edge / k_harmonic - 1), rel=1e-2)
            residuals.append(np.max(np.abs(energy_rate + div_total)) / scale)
        assert residuals == pytest.approx(quoted[first], rel=0.02)
        assert residuals[1] < residuals[0] / 3.5  # second order in l/lambda


def _damping_pair():
    return Composite(
        [
            Phase("a", fraction=0.5, conductivity=1, modulus=1.0, expansion=0.3),
            Phase("b", fraction=0.5, conductivity=1, modulus=1.0, expansion=-0.3),
        ],
        [Interface("a", "b", h_av=0.25)],
    )


def _assert_free_decay_follows_zener(c, ts, eps, traj):
    """The logarithmic decrement of a free vibration over pi is Zener's loss factor at the
    damped frequency; energy is conserved and entropy never falls."""
    peaks = np.flatnonzero((eps[1:-1] > eps[:-2]) & (eps[1:-1] >= eps[2:])) + 1
    wd = 2 * math.pi / (ts[peaks[-1]] - ts[peaks[-2]])
    measured = math.log(eps[peaks[-2]] / eps[peaks[-1]]) / math.pi
    assert measured == pytest.approx(float(c.zener_loss_factor(wd)), rel=0.025)
    assert np.ptp(np.asarray(traj.energy)) < 1e-12
    assert np.all(np.diff(np.asarray(traj.entropy)) > -1e-15)


def test_thermoelastic_damping_follows_zener():
    c = _damping_pair()
    m = c.moduli()
    assert (m["relaxed"], m["unrelaxed"]) == pytest.approx((1.0, 1.09), rel=1e-12)
    assert c.relaxation_time == pytest.approx(1.0)
    w = np.geomspace(0.05, 20, 9)
    np.testing.assert_allclose(c.loss_factor(w), c.zener_loss_factor(w), rtol=1e-10)
    # the peak of the loss factor (from the complex modulus, not from Zener's formula) sits
    # at omega = 1/tau_bar, tau_bar = tau sqrt(M_U/M_R) with tau = 1/(H(1/C_a + 1/C_b)) = 1
    peak = scipy.optimize.minimize_scalar(
        lambda x: -c.loss_factor(math.exp(x))[0],
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert math.exp(peak.x) == pytest.approx(1 / math.sqrt(1.09), rel=1e-4)
    assert -peak.fun == pytest.approx(0.09 / math.sqrt(1.09) / 2, rel=1e-8)
    compiled = gm.compile(c.model(inertia=1.0))
    for omega in (0.3, 1.0, 3.0):
        sim = compiled.with_params(mu=m["relaxed"] / omega**2)
        period = 2 * math.pi / omega
        ts = np.linspace(0, 10 * period, 10 * 400 + 1)
        y0 = c.state({"a": 1.0, "b": 1.0}, strain=1e-3)
        traj = gm.simulate(sim, y0, ts[-1], saveat=ts, rtol=1e-11, atol=1e-15)
        eps = np.asarray(traj["eps"])
        _assert_free_decay_follows_zener(c, ts, eps, traj)


def test_structured_sources_and_production_are_fields():
    c = _pair()
    model = c.structured(Grid((5,), periodic=True, spacing=0.2), conductivities={"a": 0, "b": 0})
    compiled = gm.compile(model)
    T = {"a": np.linspace(1.0, 1.4, 5), "b": np.full(5, 1.1)}
    V = 0.2
    y = compiled.layout.pack(
        {"cell.S_a": V * 0.5 * np.log(T["a"]), "cell.S_b": V * 0.5 * 2.0 * np.log(T["b"])}
    )
    H = c.exchange["a", "b"]
    src = np.asarray(c.sources(compiled, y)["a<-b"])
    np.testing.assert_allclose(src, H * (T["b"] - T["a"]), rtol=1e-12)
    prod = np.asarray(compiled.fields(y)["cell"]["entropy_production"])
    np.testing.assert_allclose(prod, V * H * (T["a"] - T["b"]) ** 2 / (T["a"] * T["b"]), rtol=1e-10)


def test_exchange_coefficient_is_a_differentiable_leaf():
    c = _pair(ka=1.0, kb=1.0, ca=1.0, cb=1.0)
    compiled = gm.compile(c.model())
    y0 = compiled.layout.pack(c.state({"a": 1.2, "b": 1.0}))

    def gap(H):
        traj = gm.simulate(compiled.with_params(H_a_b=H), y0, 1e-3, saveat=[1e-3], rtol=1e-10)
        gE = compiled.grad_energy(traj.ys[-1])
        return gE[0] - gE[1]

    H = c.exchange["a", "b"]
    rate = 4.0  # 1/Ca + 1/Cb with Ca = Cb = 0.5
    expected = -0.2 * rate * 1e-3 * math.exp(-H * rate * 1e-3)
    assert float(jax.grad(gap)(H)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Composite([Phase("a", fraction=0.4, conductivity=1)]), "sum to 1"),
        (
            lambda: Composite(
                [Phase("a", fraction=1.0, conductivity=1)], [Interface("a", "z", h_av=1)]
            ),
            "unknown phase 'z'",
        ),
        (lambda: Interface("a", "b", h_av=1, closure=laminate(1, 1)), "exactly one of"),
        (lambda: Interface("a", "b", h=1.0), "give both"),
        (lambda: Phase("a", fraction=0.5, conductivity=-1), "conductivity: expected a finite"),
        (lambda: Phase("a", fraction=1, conductivity=1, energy=lambda s, e: "s**2"), "string"),
        (lambda: Phase("a", fraction=1, conductivity=1, energy=lambda s, e: -s), "T = du/ds > 0"),
        (
            lambda: Composite(
                [
                    Phase("a", fraction=0.5, conductivity=1, T0=1.0),
                    Phase("b", fraction=0.5, conductivity=1, T0=2.0),
                ]
            ),
            "one reference temperature",
        ),
    ],
)
def test_bad_composites_are_reported(build, match):
    with pytest.raises(gm.ModelError, match=match):
        build()


def test_mechanical_field_model_reduces_to_the_point_model_mode_by_mode():
    # A standing wave on a periodic bar without macroscopic conduction: every element is the
    # point model with inertia rho / k_h^2 (k_h the discrete wavenumber), so the field's
    # strain follows the point model's, and its decay is Zener's loss factor.
    c = _damping_pair()
    n, length = 32, 2 * math.pi
    grid = Grid((n,), periodic=True, spacing=length / n)
    model = c.structured(grid, conductivities={"a": 0, "b": 0}, mechanics=True)
    assert gm.check(model).ok
    compiled = gm.compile(model)
    x = (np.arange(n) + 0.5) * length / n
    amplitude = 1e-3
    fields = c.field_state(grid, {"a": 1.0, "b": 1.0}, strain=amplitude * np.cos(x))
    assert fields["node.p"].shape == (n,)
    ts = np.linspace(0, 8 * 2 * math.pi, 3201)
    tol = {"rtol": 1e-11, "atol": 1e-15}
    traj = gm.simulate(compiled, compiled.layout.pack(fields), ts[-1], saveat=ts, **tol)
    eps = np.asarray(compiled.layout.select(traj.ys, "cell.eps"))[:, 0]
    kh = 2 * math.sin(length / n / 2) / (length / n)
    point = gm.compile(c.model(inertia=1.0)).with_params(mu=1.0 / kh**2)
    y0 = c.state({"a": 1.0, "b": 1.0}, strain=amplitude * math.cos(x[0]))
    ref = gm.simulate(point, y0, ts[-1], saveat=ts, **tol)
    assert np.max(np.abs(eps - np.asarray(ref["eps"]))) < 1e-6 * amplitude
    _assert_free_decay_follows_zener(c, ts, eps, traj)


def test_free_thermoelastic_bar_conserves_energy_and_momentum():
    c = _damping_pair()
    n = 12
    grid = Grid((n,), spacing=1 / n)
    model = c.structured(grid, mechanics=True)
    assert gm.check(model).ok
    compiled = gm.compile(model)
    x = (np.arange(n) + 0.5) / n
    fields = c.field_state(
        grid,
        {"a": 1.0 + 0.2 * x, "b": np.full(n, 1.1)},
        strain=1e-3 * np.exp(-(((x - 0.3) / 0.1) ** 2)),
        momentum=np.r_[0.0, np.full(n - 1, 1e-4), 0.0],
    )
    assert fields["node.p"].shape == (n + 1,)
    traj = gm.simulate(compiled, compiled.layout.pack(fields), 5.0, saveat=np.linspace(0, 5, 51))
    E, S = np.asarray(traj.energy), np.asarray(traj.entropy)
    assert np.ptp(E) < 1e-10 * abs(E[0])
    assert np.all(np.diff(S) > 0)
    p = np.asarray(compiled.layout.select(traj.ys, "node.p"))
    np.testing.assert_allclose(p.sum(axis=-1), (n - 1) * 1e-4, rtol=1e-9)
    prod = np.asarray(traj.entropy_production)
    assert np.all(prod > 0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.structured(Grid((4, 4)), mechanics=True), gm.ModelError, "needs a 1D grid"),
        (lambda c: c.field_state(Grid((4,)), {"a": 1.0}), gm.InputError, r"missing \['b'\]"),
        (
            lambda c: c.field_state(Grid((4,)), {"a": 1.0, "b": np.ones(3)}),
            gm.InputError,
            r"temperatures\['b'\] must be a number or an array of shape \(4,\)",
        ),
        (
            lambda c: c.field_state(Grid((4,)), {"a": 1.0, "b": -1.0}),
            gm.InputError,
            r"temperatures\['b'\]: expected finite positive values",
        ),
    ],
)
def test_bad_field_requests_are_reported(call, error, match):
    with pytest.raises(error, match=match):
        call(_damping_pair())


def test_repr_shows_the_values():
    c = _pair()
    text = repr(c)
    assert text.startswith("Composite(\n  name='composite of a, b',\n  T0=1,\n")
    assert (
        "Phase('b', fraction=0.5, conductivity=10, heat_capacity=2, density=1, modulus=0, "
        "expansion=0)" in text
    )
    assert f"exchange={{('a', 'b'): {c.exchange['a', 'b']:.7g}}}" in text

    def u(s, eps):
        return sp.exp(s)

    own = Composite([Phase("a", fraction=1.0, conductivity=1.0, energy=u)])
    assert "Phase('a', fraction=1, conductivity=1, energy=u)" in repr(own)
    assert "exchange={}" in repr(own)


def test_the_point_model_names_each_interface_and_reports_phase_temperatures():
    c = Composite(
        [
            Phase("a", fraction=0.3, conductivity=1.0, heat_capacity=2.0),
            Phase("b", fraction=0.5, conductivity=1.0, heat_capacity=0.5),
            Phase("c", fraction=0.2, conductivity=1.0, heat_capacity=1.0),
        ],
        [
            Interface("a", "b", h=2.0, area_density=1.0),
            Interface("b", "c", h=0.5, area_density=1.0),
        ],
    )
    model = c.model()
    assert list(model.processes) == ["exchange_a_b", "exchange_b_c"]
    report = gm.check(model)
    assert report.ok and set(report.processes) == {"exchange_a_b", "exchange_b_c"}
    T0 = {"a": 1.4, "b": 0.9, "c": 1.1}
    traj = gm.simulate(model, c.state(T0), 1.0, saveat=11)
    np.testing.assert_allclose(traj["T_a"][0], 1.4, rtol=1e-12)
    np.testing.assert_allclose(traj["T_c"], traj.grad_energy["S_c"], rtol=1e-13)
    by = traj.entropy_production_by_process
    # Each interface produces H A (Ta - Tb)^2 / (Ta Tb) (Fourier exchange, entropic form).
    Ta, Tb, Tc = (np.asarray(traj[f"T_{n}"]) for n in "abc")
    np.testing.assert_allclose(by["exchange_a_b"], 2.0 * (Ta - Tb) ** 2 / (Ta * Tb), rtol=1e-10)
    np.testing.assert_allclose(by["exchange_b_c"], 0.5 * (Tb - Tc) ** 2 / (Tb * Tc), rtol=1e-10)
    np.testing.assert_allclose(sum(by.values()), traj.entropy_production, rtol=1e-12)
