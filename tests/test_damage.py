"""Gradient damage as GENERIC: consistency, conservation, irreversibility, and the AT1/AT2
closed forms (peak stress, crack profile, crack energy G_c) with the local model's
mesh-dependence as the contrast.

Closed forms (1D, E the modulus, Gc the toughness, l the internal length):
- AT1 (w = d, c_w = 8/3): elastic up to sigma_c = sqrt(3 Gc E / (8 l)); the fully developed
  crack has d(x) = (1 - |x|/(2l))^2 on |x| < 2l and the crack energy Gc per unit area.
- AT2 (w = d^2, c_w = 2): homogeneous damage d = a/(1 + a), a = E eps^2 l / Gc, stress
  E eps/(1 + a)^2, maximal at a = 1/3: sigma_c = (3 sqrt3 / 16) sqrt(Gc E / l).
- Local (no gradient) AT1: the crack is one element, its energy (Gc/(c_w l)) h: it vanishes
  with the mesh.

The bar is short (L = 5 l, under the snap-back length 16 l / 3 of AT1: its elastic energy at
the peak, sigma_c^2 L / (2E), is less than Gc), so the crack forms quasi-statically and the
crack energy can be compared with Gc.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm import damage
from generic_mm._errors import InputError

L, ELL, GC = 0.25, 0.05, 1e-3
SPEED = 1e-3


def _pull(law, elements, opening=0.1, weak=(L / 2, 0.2 * L, 0.05), **kw):
    bar = damage.Bar(elements, law, length=L, weak=weak, **kw)
    return bar, bar.pull(SPEED, opening)


@pytest.fixture(scope="module")
def at1():
    return _pull(damage.AT1(Gc=GC, l=ELL, tau=1e-3), 50)


@pytest.fixture(scope="module")
def local_pair():
    law = damage.AT1(Gc=GC, l=ELL, tau=1e-3, local=True)
    # one weak element at the centre (odd counts: it is an element's centre in both meshes)
    return [_pull(law, n, opening=0.05, weak=(L / 2, 0.9 * L / n, 0.05)) for n in (25, 75)]


def _centre(bar, d):
    """The crack centre: the peak of a parabola through the three largest values."""
    x = bar.centres()[0]
    i = int(np.clip(np.argmax(d), 1, d.size - 2))
    a, b, _ = np.polyfit(x[i - 1 : i + 2], d[i - 1 : i + 2], 2)
    return -b / (2 * a)


@pytest.mark.parametrize("law", [damage.AT1(), damage.AT2(), damage.Peerlings()], ids=repr)
def test_bar_models_pass_all_six_checks(law):
    report = gm.check(damage.Bar(8, law).model)
    assert report.ok, str(report)
    assert [r.name for r in report.results] == list(gm.CONDITIONS)


def test_plate_model_passes_all_six_checks():
    report = gm.check(damage.Plate((4, 2), damage.AT2()).model)
    assert report.ok, str(report)


def test_a_wrong_heat_or_a_negative_rate_is_caught(monkeypatch):
    """What the checks guard in the damage block: the heat Y d_dot (twice it breaks
    M grad E = 0) and phi >= 0 (without <Y>_+, phi < 0 where Y < 0 < Y - R V and M is
    indefinite). Irreversibility itself is the rate's <f>_+ <Y>_+, which a consistent but
    healing law would drop without the checks noticing: the rate test below guards it."""
    from generic_mm.damage import _forms

    def doubled(phi, Y, T):
        M = _forms.dissipation_block(sp.Matrix([[phi]]), sp.Matrix([[T, Y]]), T)
        M[1, 1] *= 2
        return M

    monkeypatch.setattr(_forms, "damage_block", doubled)
    report = gm.check(damage.Bar(6, damage.AT1()).model)
    assert not report["friction_degeneracy"].passed
    monkeypatch.undo()

    def negative(overstress, Y, tau, delta):
        return sp.Max(overstress, 0) * Y / (tau * (Y**2 + delta**2))

    monkeypatch.setattr(_forms, "_rate", negative)
    report = gm.check(damage.Bar(6, damage.AT1()).model)
    assert not report["friction_positive_semidefinite"].passed


@pytest.mark.parametrize("law", [damage.AT1(), damage.AT2(), damage.Peerlings()], ids=repr)
def test_damage_rate_is_never_negative(law):
    """d_dot >= 0 from the compiled vector field at random states (any strain, any damage
    in [0, 1], any z): irreversibility by the friction, for every law."""
    bar = damage.Bar(6, law)
    compiled = gm.compile(bar.model, check=False)
    rng = np.random.default_rng(0)
    states = []
    for _ in range(200):
        y = {**bar.initial(0.0), "u": rng.normal(0, 0.2, 7), "d": rng.uniform(0, 1, 6)}
        y["s"] = rng.normal(0, 0.01, 6)
        if law.extra:
            y["z"] = rng.uniform(0, 0.05, 6)
        states.append(compiled.layout.pack(y))
    rates = jax.vmap(lambda y: compiled.vector_field(0.0, y))(jnp.stack(states))
    d_dot = np.asarray(compiled.layout.select(rates, "d"))
    assert d_dot.min() >= 0.0 and d_dot.max() > 0


def test_damage_rate_is_the_overstress_over_the_crack_functional():
    """tau V d_dot = Y - dGamma/dd exactly where the overstress is positive: the resistance
    R V is the derivative of the discrete crack energy `crack_energy` evaluates (Gc averaged
    on edges, Neumann ends, a weak zone), in a bar and in a plate."""
    rng = np.random.default_rng(1)
    for spec, stretch in (
        (damage.Bar(7, damage.AT1(Gc=2e-3, l=0.1), length=0.7, weak=(0.35, 0.1, 0.3)), "u"),
        (damage.Plate((5, 3), damage.AT1(Gc=2e-3, l=0.1), weak=(0.5, 0.2, 0.3)), "ux"),
    ):
        compiled = gm.compile(spec.model, check=False)
        n = int(np.prod(spec.element_shape))
        d = rng.uniform(0, 0.8, spec.element_shape)
        x = spec.node_coordinates()[0]
        y = compiled.layout.pack({**spec.initial(0.0), stretch: 0.5 * x, "d": d})
        Y = -np.asarray(compiled.layout.select(compiled.grad_energy(y), "d")).reshape(-1)
        d_dot = np.asarray(compiled.layout.select(compiled.vector_field(0.0, y), "d")).reshape(-1)
        eye = np.eye(n)
        grad = [
            (
                spec.crack_energy(d.reshape(-1) + 1e-6 * e)
                - spec.crack_energy(d.reshape(-1) - 1e-6 * e)
            )
            / 2e-6
            for e in eye
        ]
        assert np.all(Y > np.asarray(grad))  # loaded beyond the resistance everywhere
        np.testing.assert_allclose(
            spec.law.tau * spec.volume * d_dot, Y - np.asarray(grad), rtol=1e-7
        )


def test_plate_element_energy_stress_and_damping():
    """An affine field on the plate: the bilinear elements hold W * volume exactly
    (plane strain), the grip carries sigma_xx = lambda tr eps + 2 mu eps_xx, and the
    Kelvin-Voigt heat rate at the affine velocity field is zeta V eps_dot : eps_dot."""
    nu, E = 0.3, 2.0
    plate = damage.Plate((4, 3), damage.AT2(), size=(1.0, 0.5), thickness=0.7, E=E, nu=nu)
    compiled = gm.compile(plate.model, check=False)
    X, Yc = plate.node_coordinates()
    exx, eyy, gxy = 1e-3, -4e-4, 6e-4  # engineering shear
    ux, uy = exx * X + gxy / 2 * Yc, eyy * Yc + gxy / 2 * X
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    W = mu * (exx**2 + eyy**2 + gxy**2 / 2) + lam / 2 * (exx + eyy) ** 2
    rest = compiled.layout.pack(plate.initial(0.0))
    y = compiled.layout.pack({**plate.initial(0.0), "ux": ux, "uy": uy})
    assert float(compiled.energy(y) - compiled.energy(rest)) == pytest.approx(
        W * 0.5 * 0.7, rel=1e-9
    )
    gx = np.asarray(compiled.layout.select(compiled.grad_energy(y), "ux"))
    sxx = lam * (exx + eyy) + 2 * mu * exx
    assert gx[-1].sum() / plate.section == pytest.approx(sxx, rel=1e-9)
    m = plate.masses()
    moving = compiled.layout.pack({**plate.initial(0.0), "px": m * ux, "py": m * uy})
    s_dot = np.asarray(compiled.layout.select(compiled.vector_field(0.0, moving), "s"))
    rate = plate.zeta * 0.5 * 0.7 * (exx**2 + eyy**2 + gxy**2 / 2)
    assert s_dot.sum() == pytest.approx(rate, rel=1e-9)  # T = T0 = 1


def test_peerlings_plate_pulls():
    """A Peerlings plate from rest (the equivalent strain smooth at zero strain): finite
    rates, E conserved, S produced, the z field following the squared strain."""
    plate = damage.Plate((6, 2), damage.Peerlings(l=0.1, tau_z=0.05), size=(0.6, 0.2))
    pull = plate.pull(1e-3, 0.02, saves=11)
    E = np.asarray(pull.trajectory.energy)
    assert np.max(np.abs(E - E[0])) < 1e-8 * abs(E[0])
    assert np.all(np.diff(np.asarray(pull.trajectory.entropy)) >= -1e-14)
    z = np.asarray(pull.trajectory["z"][-1])
    assert 0 < z.mean() < (0.02 / 0.6) ** 2 * 1.2


def test_at1_peak_stress_profile_and_crack_energy(at1):
    """The peak between the weak zone's sigma_c (5% lower Gc: sqrt(0.95) sigma_c) and the
    bar's, the crack profile within 0.05 of (1 - |x|/2l)^2, the crack energy within 3% of
    Gc A; E conserved, S and every d non-decreasing."""
    bar, pull = at1
    law = bar.law
    sigma_c = law.critical_stress(1.0)
    assert 0.95**0.5 * sigma_c < pull.peak < sigma_c
    d = pull.damage[-1]
    assert d.max() > 0.99
    x0 = _centre(bar, d)
    assert abs(x0 - L / 2) < 0.2 * L  # in the weak zone
    assert np.max(np.abs(d - law.profile(bar.centres()[0] - x0))) < 0.05
    assert bar.crack_energy(d) == pytest.approx(GC * bar.section, rel=3e-2)
    traj = pull.trajectory
    E = np.asarray(traj.energy)
    assert np.max(np.abs(E - E[0])) < 1e-6 * abs(E[0])
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-14)
    # irreversible by the friction, not a clip: the vector field has d_dot >= 0 at every
    # saved state; the Runge-Kutta solution (Tsit5 has negative weights) only to its tolerance
    compiled = gm.compile(bar.model)
    rates = jax.vmap(lambda y: compiled.vector_field(0.0, y))(jnp.asarray(traj.ys))
    d_dot = np.asarray(traj.layout.select(rates, "d"))
    assert d_dot.min() >= -1e-12 * np.abs(d_dot).max() and d_dot.max() > 0
    assert np.diff(pull.damage, axis=0).min() > -1e-5
    # the heat is the crack energy plus the viscous losses, never less
    assert pull.heat[-1] >= bar.crack_energy(d)
    # elastic before the peak: sigma = E eps
    early = pull.opening < 0.5 * law.critical_stress(1.0) * L
    np.testing.assert_allclose(pull.stress[early][1:], pull.opening[early][1:] / L, rtol=1e-3)


def test_local_model_localises_in_one_element_and_its_energy_vanishes(local_pair):
    """Without the gradient term the crack is one element wide; its energy is
    (Gc / (c_w l)) h A: a third when the mesh is three times finer (here within 10%)."""
    energies = []
    for bar, pull in local_pair:
        d = pull.damage[-1]
        assert np.sum(d > 0.5) == 1
        h = bar.spacing[0]
        energies.append(bar.crack_energy(d))
        assert energies[-1] == pytest.approx(GC / (8 / 3 * ELL) * h * bar.section, rel=0.1)
    assert energies[1] / energies[0] == pytest.approx(1 / 3, rel=0.1)


def test_at2_peak_stress():
    law = damage.AT2(Gc=GC, l=ELL, tau=1e-3)
    bar, pull = _pull(law, 25, opening=0.06)
    assert pull.peak == pytest.approx(law.critical_stress(1.0), rel=1e-2)
    # homogeneous before localisation: d = a / (1 + a), a = E eps^2 l / Gc (viscous lag)
    k = np.argmax(pull.stress)
    eps = pull.opening[k] / L
    a = eps**2 * ELL / GC
    assert np.median(pull.damage[k]) == pytest.approx(a / (1 + a), rel=5e-2)


def test_specimens_refuse_bad_input():
    with pytest.raises(InputError, match="elements must be an integer >= 3"):
        damage.Bar(2)
    with pytest.raises(InputError, match="law must be a damage law"):
        damage.Bar(10, "AT1")
    with pytest.raises(InputError, match="weak = .* reduction < 1"):
        damage.Bar(10, weak=(0.5, 0.1, 1.5))
    with pytest.raises(InputError, match="Gc must be positive"):
        damage.AT1(Gc=-1.0)
    with pytest.raises(InputError, match="nu must be in"):
        damage.Plate((4, 2), nu=0.5)
    with pytest.raises(InputError, match="no element centre lies in the band"):
        damage.Bar(10, weak=(5.0, 0.1, 0.3))
    with pytest.raises(InputError, match="local must be True or False"):
        damage.AT1(local="no")
    with pytest.raises(InputError, match="E must be positive"):
        damage.AT1().critical_stress(-1.0)
    with pytest.raises(InputError, match="expected one damage field of shape"):
        damage.Bar(10).crack_energy(np.zeros((3, 10)))
    with pytest.raises(InputError, match="saves must be an integer >= 2"):
        damage.Bar(10).pull(1e-3, 0.1, saves=1)
    with pytest.raises(InputError, match="ny >= 2"):
        damage.Plate((4, 1))
    with pytest.raises(InputError, match="size must be"):
        damage.Plate((4, 2), size=(1.0, 2.0, 3.0))
    with pytest.raises(InputError, match="size\\[1\\] must be positive"):
        damage.Plate((4, 2), size=(1.0, -2.0))
    with pytest.raises(InputError, match="crack_energy: defined for the phase-field laws"):
        damage.Bar(10, damage.Peerlings()).crack_energy(np.zeros(10))


def test_peerlings_bar_localises_conserves_and_never_heals():
    """Peerlings' law on a bar of 20 l: damage starts in the weak zone and stays a band
    (the ends undamaged) shortly past the peak, E is conserved, d never falls; the peak is
    near E kappa0 (the weak zone's kappa0 is 5% lower: the peak lies between)."""
    law = damage.Peerlings(l=L / 20, tau_z=0.2)
    bar, pull = _pull(law, 60, opening=0.02, weak=(L / 2, 0.2 * L, 0.05))
    assert 0.95 * 0.05 * 0.99 < pull.peak < 0.05
    d = pull.damage[-1]
    assert d.max() > 0.95 and d[:5].max() < 1e-3 and d[-5:].max() < 1e-3
    assert np.diff(pull.damage, axis=0).min() > -1e-5  # the solver's tolerance
    E = np.asarray(pull.trajectory.energy)
    assert np.max(np.abs(E - E[0])) < 1e-8 * abs(E[0])
    assert np.all(np.diff(np.asarray(pull.trajectory.entropy)) >= -1e-14)
