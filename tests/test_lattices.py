"""Lattices: Cauchy-Born energy, stress and moduli, phonons, where Cauchy-Born fails, and the
lattice models' dynamics beyond the critical stretch. Closed forms are derived in the
docstrings; tolerances are explicit."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm.lattices import (
    Chain,
    PairPotential,
    TriangularLattice,
    equibiaxial,
    harmonic,
    lennard_jones,
    morse,
    uniaxial,
)

matplotlib.use("Agg")

SQ3 = math.sqrt(3.0)
LJ_MIN = 2 ** (1 / 6)


def lj_d1(r, eps=1.0, sig=1.0):
    return 4 * eps * (-12 * sig**12 / r**13 + 6 * sig**6 / r**7)


def lj_d2(r, eps=1.0, sig=1.0):
    return 4 * eps * (156 * sig**12 / r**14 - 42 * sig**6 / r**8)


@pytest.fixture(scope="module")
def spring_chain():
    """Morse nearest neighbours (D=1, alpha=1.5, r0=1.2) and a next-nearest spring of rest
    length 2 r0: the spacing stays r0 and the zone boundary goes soft at the Morse
    inflection r0 + ln 2/alpha while W'' > 0."""
    return Chain([morse(1.0, 1.5, 1.2), harmonic(0.5, 2.4)])


@pytest.fixture(scope="module")
def spring_triangle():
    return TriangularLattice([lennard_jones(), harmonic(2.0, SQ3 * LJ_MIN)])


# -- potentials -------------------------------------------------------------------------------
def test_builtin_potentials_have_their_closed_forms():
    assert lennard_jones(2.0, 1.5)(1.5 * LJ_MIN) == pytest.approx(-2.0, rel=1e-14)
    assert morse(3.0, 2.0, 1.1)(1.1) == 0.0
    assert morse(3.0, 2.0, 1.1)(50.0) == pytest.approx(3.0, rel=1e-14)
    assert harmonic(4.0, 1.0)(1.5) == pytest.approx(0.5, rel=1e-15)
    r = sp.Symbol("r", positive=True)
    assert (
        sp.simplify(
            lennard_jones().derivative(2).subs(r, 1)
            - 4
            * sp.Symbol("epsilon", positive=True)
            * (
                156 * sp.Symbol("sigma", positive=True) ** 12
                - 42 * sp.Symbol("sigma", positive=True) ** 6
            )
        )
        == 0
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: PairPotential("r**2"), "Text is never evaluated"),
        (lambda: PairPotential(sp.Symbol("x") ** 2), "no symbol named 'r'"),
        (lambda: PairPotential(sp.Symbol("r") * sp.Symbol("k4")), "no value for 'k4'"),
        (lambda: PairPotential(sp.Symbol("r") * sp.Symbol("m"), params={"m": 1.0}), "used by"),
        (lambda: PairPotential(sp.Symbol("r"), params={"q": 1.0}), "not a symbol"),
        (lambda: PairPotential(sp.Symbol("r") * sp.Symbol("p"), params={"p": 2.0}), "used by"),
        (lambda: PairPotential(sp.Symbol("r") * sp.Symbol("ux"), params={"ux": 2.0}), "used by"),
        (lambda: Chain(lennard_jones(), mass="1"), "positive number"),
        (lambda: lennard_jones(epsilon=-1.0), "positive"),
        (lambda: PairPotential(sp.Integer(3), r=sp.Symbol("r")), "does not depend"),
        (lambda: Chain([]), "empty"),
        (lambda: Chain([None]), "at least one potential"),
        (lambda: Chain(lennard_jones(), shells=0), "shells"),
        (lambda: Chain(PairPotential(sp.exp(-sp.Symbol("r")))), "no stress-free spacing"),
    ],
)
def test_bad_potentials_and_lattices_are_refused_with_the_reason(build, message):
    with pytest.raises(gm.ModelError, match=message):
        build()


def test_a_user_expression_on_two_shells_with_different_values_gets_numbered_parameters():
    r, k4, r0 = sp.symbols("r k4 r0", positive=True)
    quartic = PairPotential(k4 * (r - r0) ** 2 / 2 + (r - r0) ** 4, params={k4: 3.0, r0: 1.0})
    softer = PairPotential(k4 * (r - r0) ** 2 / 2 + (r - r0) ** 4, params={k4: 1.0, r0: 2.0})
    chain = Chain([quartic, softer])
    names = {s.name for s in chain.params}
    assert {"k4_1", "k4_2", "r0_1", "r0_2"} <= names
    assert chain.spacing == pytest.approx(1.0, abs=1e-12)  # both springs at rest at a = 1


# -- Cauchy-Born ------------------------------------------------------------------------------
def test_chain_spacing_is_stress_free_in_closed_form():
    assert Chain(lennard_jones(sigma=1.5)).spacing == pytest.approx(1.5 * LJ_MIN, rel=1e-13)
    # two shells: phi'(a) + 2 phi'(2a) = 0  =>  a^6 = 2 (1 + 2^-12)/(1 + 2^-6)
    a6 = 2 * (1 + 2**-12) / (1 + 2**-6)
    assert Chain(lennard_jones(), shells=2).spacing == pytest.approx(a6 ** (1 / 6), rel=1e-13)


def test_chain_cauchy_born_energy_stress_and_modulus():
    """W(lam) = (phi(lam a) + phi(2 lam a))/a, W' and W'' by the chain rule."""
    chain = Chain(lennard_jones(), shells=2)
    a = chain.spacing

    def phi(r):
        return 4 * (r**-12 - r**-6)

    cb = chain.cauchy_born()
    assert cb.F.name == "lam"
    W = sp.lambdify(cb.F, cb.energy.subs(cb.params))
    for lam in (0.97, 1.0, 1.05, 1.2):
        values = chain.cauchy_born(lam)
        expected = (phi(lam * a) + phi(2 * lam * a)) / a
        assert values.energy == pytest.approx(expected, rel=1e-13)
        assert W(lam) == pytest.approx(expected, rel=1e-13)
        assert values.stress == pytest.approx(lj_d1(lam * a) + 2 * lj_d1(2 * lam * a), rel=1e-12)
        modulus = a * (lj_d2(lam * a) + 4 * lj_d2(2 * lam * a))
        assert values.moduli == pytest.approx(modulus, rel=1e-12)
        assert values.ellipticity == values.moduli and values.stable == (modulus > 0)
    assert chain.cauchy_born(1.0).stress == pytest.approx(0.0, abs=1e-12)


def test_triangular_spring_network_has_lame_constants_sqrt3_k_over_4():
    """Nearest-neighbour springs k at rest: isotropic with lambda = mu = sqrt(3) k/4."""
    k = 2.5
    tri = TriangularLattice(harmonic(k, 1.3))
    assert tri.spacing == pytest.approx(1.3, rel=1e-13)
    values = tri.cauchy_born(np.eye(2))
    lam = mu = SQ3 * k / 4
    d = np.eye(2)
    iso = lam * np.einsum("ij,kl->ijkl", d, d) + mu * (
        np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d)
    )
    np.testing.assert_allclose(values.moduli, iso, atol=1e-12 * k)
    np.testing.assert_allclose(values.stress, 0.0, atol=1e-12)
    assert values.ellipticity == pytest.approx(mu, rel=1e-10)  # the shear wave


@pytest.mark.parametrize("shells", [2, 3])
def test_multi_shell_triangular_lattices_are_stress_free_at_their_spacing(shells):
    tri = TriangularLattice(lennard_jones(), shells=shells)
    assert [len(s.offsets) for s in tri.shells] == [3, 3, 3][:shells]
    np.testing.assert_allclose(tri.shells[1].distance, SQ3, rtol=1e-15)
    np.testing.assert_allclose(tri.cauchy_born(np.eye(2)).stress, 0.0, atol=1e-12)


def test_triangular_equibiaxial_stress_is_sqrt3_phi_prime_over_a():
    """P = (1/V0) sum phi'(|FR|) FR/|FR| (x) R = sqrt(3) phi'(lam a)/a I for F = lam I."""
    tri = TriangularLattice(lennard_jones())
    a = tri.spacing
    for lam in (0.98, 1.04, 1.1):
        P = tri.cauchy_born(equibiaxial(lam)).stress
        np.testing.assert_allclose(P, SQ3 * lj_d1(lam * a) / a * np.eye(2), rtol=1e-12, atol=1e-12)
    cb = tri.cauchy_born()
    assert cb.moduli.shape == (2, 2, 2, 2) and cb.stress.shape == (2, 2)


# -- phonons ----------------------------------------------------------------------------------
def test_harmonic_chain_dispersion():
    k_s, m = 3.0, 2.0
    chain = Chain(harmonic(k_s, 1.0), mass=m)
    k = np.linspace(-np.pi, np.pi, 41)
    np.testing.assert_allclose(
        chain.dispersion(k), 4 * k_s / m * np.sin(k / 2) ** 2, rtol=1e-13, atol=1e-13
    )


def test_stretched_lj_chain_dispersion_with_two_shells():
    """omega^2 = (4/m) sum_n phi''(n lam a) sin^2(n k a/2) at stretch lam (PHYSICS.md)."""
    chain = Chain(lennard_jones(), shells=2, mass=1.5)
    a, lam = chain.spacing, 1.06
    k = np.linspace(0, np.pi / a, 33)
    expected = (4 / 1.5) * sum(lj_d2(n * lam * a) * np.sin(n * k * a / 2) ** 2 for n in (1, 2))
    np.testing.assert_allclose(chain.dispersion(k, lam), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        chain.dispersion(k[::4], lam, method="hessian"), expected[::4], rtol=1e-10, atol=1e-10
    )


def test_triangular_dispersion_at_m_and_k_in_closed_form():
    """Equal stretch, nearest neighbours, bond stiffness phi'' along and phi'/r across:
    omega^2(M) = (2/m)(3phi'' + phi'/r), (2/m)(phi'' + 3phi'/r); omega^2(K) = (9/2m)(phi'' +
    phi'/r), twice."""
    tri = TriangularLattice(lennard_jones(), mass=0.7)
    pts = tri.high_symmetry_points()
    lam = 1.04
    r = lam * tri.spacing
    d1, d2 = lj_d1(r), lj_d2(r)
    w2 = tri.dispersion(np.stack([pts["M"], pts["K"]]), equibiaxial(lam))
    m = 0.7
    np.testing.assert_allclose(
        w2[0], np.sort([2 / m * (3 * d2 + d1 / r), 2 / m * (d2 + 3 * d1 / r)]), rtol=1e-12
    )
    np.testing.assert_allclose(w2[1], [4.5 / m * (d2 + d1 / r)] * 2, rtol=1e-12)


def test_long_waves_travel_at_the_cauchy_born_speeds():
    """omega^2(eps n)/eps^2 -> (V0/m) eig Q(n): the continuum is the long-wave limit."""
    tri = TriangularLattice(lennard_jones(), shells=2)
    F = np.array([[1.03, 0.02], [-0.01, 0.99]])
    A = tri.cauchy_born(F).moduli
    for theta in (0.0, 0.4, 1.3):
        n = np.array([np.cos(theta), np.sin(theta)])
        Q = np.einsum("iJkL,J,L->ik", A, n, n)
        eps = 1e-4
        w2 = tri.dispersion(eps * n, F) / eps**2
        np.testing.assert_allclose(w2, tri.volume / tri.mass * np.linalg.eigvalsh(Q), rtol=1e-6)


def test_hessian_of_the_structured_model_gives_the_closed_form_dispersion(spring_triangle):
    tri = spring_triangle
    F = np.array([[1.07, 0.04], [-0.03, 0.97]])
    xi = np.array([[0.5, 0.0], [1 / 3, 1 / 3], [0.25, -0.125], [0.0, 0.375]])
    k = xi @ tri.reciprocal
    closed = tri.dispersion(k, F)
    hessian = tri.dispersion(k, F, method="hessian")
    np.testing.assert_allclose(hessian, closed, rtol=1e-10, atol=1e-10 * np.abs(closed).max())
    with pytest.raises(gm.InputError, match="not a fraction"):
        tri.dispersion(np.array([0.1234567891234, 0.0]) @ tri.reciprocal, F, method="hessian")
    with pytest.raises(gm.InputError, match="not periodic on the supercell"):
        tri.dispersion(k, F, method="hessian", supercell=(6, 6))


# -- where Cauchy-Born fails ------------------------------------------------------------------
def test_lj_chain_fails_at_the_inflection_and_cauchy_born_sees_it():
    inst = Chain(lennard_jones(sigma=0.8)).instability()
    assert inst.kind == "long-wave"
    assert inst.deformation == pytest.approx((13 / 7) ** (1 / 6), abs=1e-10)
    assert inst.stretch == inst.deformation and inst.long_wave_stretch == pytest.approx(
        inst.stretch, abs=1e-10
    )
    np.testing.assert_array_equal(inst.wavevector, [0.0])


def test_two_lj_shells_fail_long_wave_where_phi2_a_plus_4_phi2_2a_vanishes():
    """phi''(a) + 4 phi''(2a) = 0 gives a^6 = (156/42)(1 + 2^-12)/(1 + 2^-6); over the
    spacing a0^6 = 2 (1 + 2^-12)/(1 + 2^-6): the stretch (13/7)^(1/6) again."""
    chain = Chain(lennard_jones(), shells=2)
    inst = chain.instability()
    assert inst.kind == "long-wave"
    assert inst.deformation == pytest.approx((13 / 7) ** (1 / 6), abs=1e-10)
    a = inst.deformation * chain.spacing
    assert abs(lj_d2(a) + 4 * lj_d2(2 * a)) < 1e-8


def test_a_next_nearest_spring_makes_the_zone_boundary_go_soft_first(spring_chain):
    chain = spring_chain
    inst = chain.instability()
    assert inst.kind == "short-wave"
    assert inst.deformation == pytest.approx(1 + math.log(2) / (1.5 * 1.2), abs=1e-10)
    assert inst.wavevector[0] * chain.spacing == pytest.approx(math.pi, abs=1e-7)
    assert inst.reduced[0] == pytest.approx(0.5, abs=1e-8)
    np.testing.assert_allclose(inst.equivalent, [[0.5]])
    assert chain.cauchy_born(inst.deformation).stable  # Cauchy-Born is blind to it
    assert inst.long_wave_stretch == math.inf
    # the soft mode condition itself: omega^2 = 0 at pi/a and positive everywhere just before
    k = np.linspace(1e-3, math.pi, 400) / chain.spacing
    assert abs(chain.dispersion(math.pi / chain.spacing, inst.deformation)) < 1e-9
    assert chain.dispersion(k, inst.deformation - 1e-6).min() > 0


def test_triangular_lj_under_equal_stretch_fails_long_wave_in_closed_form():
    """Nearest neighbours, F = lam I: the longitudinal acoustic tensor 3phi'' + phi'/r
    vanishes at r^6 = 3.8 sigma^6, i.e. lam = 1.9^(1/6)."""
    inst = TriangularLattice(lennard_jones()).instability("equibiaxial")
    assert inst.kind == "long-wave"
    assert inst.stretch == pytest.approx(1.9 ** (1 / 6), abs=1e-10)
    np.testing.assert_allclose(inst.deformation, inst.stretch * np.eye(2), atol=1e-15)


def test_triangular_spring_lattice_doubles_its_period_at_m_under_uniaxial_stretch(
    spring_triangle,
):
    tri = spring_triangle
    inst = tri.instability("uniaxial")
    assert inst.kind == "short-wave"
    assert inst.stretch == pytest.approx(1.18524186818569, abs=1e-9)
    assert any(np.allclose(inst.reduced, e, atol=1e-8) for e in ([0.5, 0.0], [0.5, 0.5]))
    assert len(inst.equivalent) == 2
    assert tri.cauchy_born(inst.deformation).stable
    assert inst.long_wave_stretch > inst.stretch + 0.4
    # omega^2 vanishes at the reported mode, and nowhere is negative just before
    w2 = tri.dispersion(inst.wavevector, inst.deformation)
    assert abs(w2[0]) < 1e-8 * w2[1]
    t = np.arange(1, 64) / 64
    xi = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    before = tri.dispersion(xi @ tri.reciprocal, uniaxial(inst.stretch - 1e-6))
    assert before.min() > 0
    hess = tri.dispersion(inst.wavevector, inst.deformation, method="hessian")
    assert abs(hess[0]) < 1e-8 * hess[1]


def test_stable_tells_phonon_stability_where_cauchy_born_cannot(spring_chain):
    lam_c = 1 + math.log(2) / 1.8
    assert spring_chain.stable(lam_c - 1e-3) and not spring_chain.stable(lam_c + 1e-3)
    assert spring_chain.cauchy_born(lam_c + 1e-3).stable  # the continuum still is


def test_a_path_into_an_undefined_potential_is_an_error_not_an_instability():
    r = sp.Symbol("r", positive=True)
    pot = PairPotential((r - 1) ** 2 / 2 - sp.sqrt(sp.Rational(5, 2) - r) / 100)
    chain = Chain(pot, spacing=1.0)
    with pytest.raises(gm.InputError, match="not finite"):
        chain.instability(stop=3.0)
    with pytest.raises(gm.InputError, match="not finite"):
        chain.cauchy_born(2.6)


def test_instability_refuses_what_it_cannot_answer(spring_chain):
    with pytest.raises(gm.InputError, match="tol"):
        spring_chain.instability(tol=1e-17)
    with pytest.raises(gm.InputError, match="angle"):
        spring_chain.instability(angle=0.3)
    with pytest.raises(gm.InputError, match="path must be"):
        TriangularLattice(lennard_jones()).instability(np.eye(2))
    with pytest.raises(gm.InputError, match="already unstable"):
        spring_chain.instability(start=1.8, stop=2.0)
    with pytest.raises(gm.InputError, match="no phonon goes soft"):
        Chain(harmonic(1.0, 1.0)).instability(stop=1.5)
    with pytest.raises(gm.InputError, match="one path"):
        spring_chain.instability("equibiaxial")
    with pytest.raises(gm.InputError, match="path must be one of"):
        TriangularLattice(lennard_jones()).instability("shear")
    with pytest.raises(gm.InputError, match="step"):
        spring_chain.instability(step=0.0)


def test_deformations_are_validated():
    tri = TriangularLattice(lennard_jones())
    with pytest.raises(gm.InputError, match="det F"):
        tri.cauchy_born(np.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(gm.InputError, match="shape"):
        tri.dispersion(np.zeros(2), np.eye(3))
    with pytest.raises(gm.InputError, match="positive stretch"):
        Chain(lennard_jones()).cauchy_born(-1.0)
    with pytest.raises(gm.InputError, match="method"):
        tri.dispersion(np.zeros(2), method="fd")


# -- the lattice as a GENERIC model, beyond the critical stretch -------------------------------
def test_lattice_models_with_a_bath_pass_every_check(spring_chain, spring_triangle):
    for model in (
        spring_chain.model(8, 1.3, temperature=0.5),
        spring_triangle.model((5, 5), uniaxial(1.1), temperature=0.5),
    ):
        report = gm.check(model)
        assert report.ok, report
    with pytest.raises(gm.InputError, match="at least 5 cells"):
        spring_chain.model(4)
    with pytest.raises(gm.InputError, match="give temperature"):
        spring_chain.model(8, friction=0.3)
    with pytest.raises(gm.InputError, match="must be numbers"):
        spring_chain.model(8, temperature=True)


def _bonds(chain, lam, u):
    return lam * chain.spacing + np.roll(u, -1) - u


def _lattice_energy(model, fields):
    """The model's energy with p = 0 and an empty bath: the lattice energy."""
    cm = gm.compile(model)
    return float(cm.energy(cm.layout.pack({**fields, "bath.s": 0.0})))


@pytest.mark.slow
def test_beyond_a_zone_boundary_instability_the_chain_doubles_its_period(spring_chain):
    chain, n, lam = spring_chain, 16, 1.62  # critical 1 + ln2/1.8 = 1.385
    model = chain.model(n, lam, temperature=0.01, friction=0.5)
    u0 = 1e-3 * np.random.default_rng(0).normal(size=n)
    traj = gm.simulate(model, {"u": u0, "p": 0.0, "bath.s": 0.0}, 300.0)
    assert traj.ok
    E, S = np.asarray(traj.energy), np.asarray(traj.entropy)
    assert abs(E[-1] - E[0]) < 1e-8 * abs(E[0])  # energy conserved, bath included
    assert np.all(np.diff(S) >= -1e-12) and S[-1] - S[0] > 1e-3  # entropy produced
    u = np.asarray(traj["u"][-1])
    bonds = _bonds(chain, lam, u)
    spectrum = np.abs(np.fft.rfft(bonds - bonds.mean()))
    assert np.argmax(spectrum) == n // 2  # k = pi/a: the predicted mode
    assert spectrum[: n // 2].max() < 1e-6 * spectrum[n // 2]
    assert bonds.std() > 0.05 * chain.spacing  # a finite pattern, not noise
    energy = _lattice_energy(model, {"u": u, "p": 0.0})
    assert energy == pytest.approx(chain.potential_energy(u[:, None], lam), rel=1e-12)
    assert energy / n < chain.cauchy_born(lam).energy * chain.volume - 1e-4
    # the pattern is a stable state; the uniform one at the same stretch is not
    assert chain.softest_modes(n, lam, displacement=u, count=2).omega2[0] > -1e-9
    assert chain.softest_modes(n, lam, count=2).omega2[0] < -1e-3


@pytest.mark.slow
def test_beyond_a_long_wave_instability_the_chain_localises():
    chain, n, lam = Chain(lennard_jones()), 12, 1.15
    model = chain.model(n, lam, temperature=0.01, friction=0.5)
    u0 = 1e-3 * np.random.default_rng(1).normal(size=n)
    traj = gm.simulate(model, {"u": u0, "p": 0.0, "bath.s": 0.0}, 300.0)
    assert traj.ok
    E = np.asarray(traj.energy)
    assert abs(E[-1] - E[0]) < 1e-7 * abs(E[0])
    bonds = _bonds(chain, lam, np.asarray(traj["u"][-1]))
    broken = bonds > 1.5 * chain.spacing
    assert broken.sum() == 1  # one neck, not a periodic pattern
    np.testing.assert_allclose(bonds[~broken], chain.spacing, rtol=1e-3)  # the rest relaxes
    energy = _lattice_energy(model, {"u": np.asarray(traj["u"][-1]), "p": 0.0})
    assert energy / n < chain.cauchy_born(lam).energy * chain.volume - 0.1


@pytest.mark.slow
def test_beyond_the_m_point_instability_a_2d_patch_forms_the_predicted_pattern(spring_triangle):
    tri, shape = spring_triangle, (6, 6)
    inst = tri.instability("uniaxial")
    F = uniaxial(1.2)
    model = tri.model(shape, F, temperature=0.01, friction=0.5)
    rng = np.random.default_rng(0)
    y0 = {
        "ux": 1e-3 * rng.normal(size=shape),
        "uy": 1e-3 * rng.normal(size=shape),
        "px": 0.0,
        "py": 0.0,
        "bath.s": 0.0,
    }
    traj = gm.simulate(model, y0, 300.0)
    assert traj.ok
    E = np.asarray(traj.energy)
    assert abs(E[-1] - E[0]) < 1e-8 * abs(E[0])
    ux, uy = np.asarray(traj["ux"][-1]), np.asarray(traj["uy"][-1])
    power = np.abs(np.fft.fft2(ux - ux.mean())) ** 2 + np.abs(np.fft.fft2(uy - uy.mean())) ** 2
    peak = np.array(np.unravel_index(np.argmax(power), shape)) / np.array(shape)
    folded = peak - np.round(peak)
    folded = np.where(np.isclose(folded, -0.5), 0.5, folded)
    assert any(np.allclose(folded, e, atol=1e-9) for e in inst.equivalent)
    assert np.sort(power.reshape(-1))[-2] < 1e-6 * power.max()  # one mode
    energy = _lattice_energy(model, {"ux": ux, "uy": uy, "px": 0.0, "py": 0.0})
    assert energy / ux.size < tri.cauchy_born(F).energy * tri.volume - 1e-5


def test_si_units_give_the_same_answers_as_reduced_units():
    """sigma = 3.4e-10 m, epsilon = 1.65e-21 J: the spacing to round-off (a relative
    tolerance), finite Hessians (high inverse powers), the same critical stretch."""
    s, eps = 3.4e-10, 1.65e-21
    chain = Chain(lennard_jones(eps, s), mass=6.6e-26)
    assert chain.spacing == pytest.approx(s * LJ_MIN, rel=1e-14)
    k = np.pi / chain.spacing * np.array([0.5, 1.0])
    np.testing.assert_allclose(
        chain.dispersion(k, 1.05, method="hessian"), chain.dispersion(k, 1.05), rtol=1e-10
    )
    springy = Chain([morse(eps, 3 / s, s), harmonic(eps * 9 / s**2, 2 * s)])
    assert springy.spacing == pytest.approx(s, rel=1e-14)
    assert springy.instability().stretch == pytest.approx(1 + math.log(2) / 3, abs=1e-10)


def test_the_bath_relaxes_momenta_at_gamma_over_m():
    chain, m, gamma = Chain(harmonic(1.0, 1.0), mass=4.0), 4.0, 0.5
    model = chain.model(6, 1.0, temperature=0.2, friction=gamma)
    traj = gm.simulate(model, {"u": 0.0, "p": m * 0.3, "bath.s": 0.0}, 4.0, rtol=1e-10, atol=1e-12)
    v = np.asarray(traj["p"])[:, 0] / m
    np.testing.assert_allclose(v, 0.3 * np.exp(-gamma / m * np.asarray(traj.ts)), rtol=1e-7)


def test_softest_modes_find_a_whole_degenerate_group():
    """Four equal modes at uniaxial(1.05) on a 6x6 patch: Lanczos must return all four."""
    tri = TriangularLattice(lennard_jones())
    lanczos = tri.softest_modes((6, 6), uniaxial(1.05), count=4).omega2
    dense = tri.softest_modes((6, 6), uniaxial(1.05), count=4, method="dense").omega2
    np.testing.assert_allclose(lanczos, dense, rtol=1e-9)
    assert np.ptp(dense) < 1e-9 * dense[0]  # the group is degenerate


def test_softest_modes_lanczos_matches_dense_and_the_bloch_spectrum(spring_triangle):
    tri, F = spring_triangle, uniaxial(1.2)
    lanczos = tri.softest_modes((6, 6), F, count=4)
    dense = tri.softest_modes((6, 6), F, count=4, method="dense")
    np.testing.assert_allclose(lanczos.omega2, dense.omega2, rtol=1e-8, atol=1e-9)
    # the patch's softest modes are the Bloch modes at its commensurate wave vectors
    t = np.arange(6) / 6
    xi = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)[1:]
    bloch = np.sort(tri.dispersion(xi @ tri.reciprocal, F).reshape(-1))
    np.testing.assert_allclose(lanczos.omega2, bloch[:4], rtol=1e-8, atol=1e-9)
    assert lanczos.vectors.shape == (4, 6, 6, 2)
    with pytest.raises(gm.InputError, match="lanczos"):
        tri.softest_modes((6, 6), F, method="arpack")


def test_dispersion_plot_is_drawn_and_written(spring_chain, spring_triangle, tmp_path):
    fig = spring_triangle.plot_dispersion(
        [uniaxial(1.0), uniaxial(1.1), uniaxial(1.2)], path=tmp_path / "d.png", points=30
    )
    ax = fig.axes[0]
    assert len(ax.get_lines()) >= 6 and [t.get_text() for t in ax.get_xticklabels()] == [
        "Γ",
        "M",
        "K",
        "Γ",
    ]
    assert (tmp_path / "d.png").stat().st_size > 1000
    # imaginary frequencies are drawn negative: the stretched chain's curve dips below zero
    fig = spring_chain.plot_dispersion([1.0, 1.5], points=50)
    assert min(np.min(line.get_ydata()) for line in fig.axes[0].get_lines()) < 0
    with pytest.raises(gm.InputError, match="route"):
        spring_triangle.plot_dispersion(np.eye(2), route=("Γ", "Q"))
