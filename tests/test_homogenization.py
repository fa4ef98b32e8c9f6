"""RVE homogenization: exact laminates, orderings, bounds, Dykhne, Levin, Hill-Mandel, RVE size."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import generic_mm as gm
import generic_mm.homogenization as hz
from generic_mm.composites import Composite
from generic_mm.models import heat_conduction

BCS = ("neumann", "periodic", "dirichlet")
MOD = np.array([(1.0, 0.5), (10.0, 3.0)])  # (bulk, shear) per phase


def _scalar(result):
    K = np.asarray(result.tensor)
    return float(np.trace(K) / K.shape[0])


@pytest.mark.parametrize("shape", [(24, 16), (8, 6, 10)])
def test_laminate_conductivity_is_exact_to_solver_tolerance(shape):
    m = hz.laminate(shape, 0.25, axis=1, periods=2)
    f = hz.volume_fractions(m)
    along, across = hz.laminate_bounds(f, [2.0, 30.0])
    r = hz.effective_conductivity(m, [2.0, 30.0], "periodic", tol=1e-12)
    expected = np.full(len(shape), along)
    expected[1] = across
    np.testing.assert_allclose(np.asarray(r.tensor), np.diag(expected), rtol=1e-9, atol=1e-9)
    assert float(r.hill_mandel_residual) < 1e-12


@pytest.mark.parametrize("d", [2, 3])
def test_laminate_stiffness_is_exact_to_solver_tolerance(d):
    m = hz.laminate((8,) * d, 0.5, axis=0)
    r = hz.effective_elasticity(m, MOD, "periodic", tol=1e-12)
    C = np.stack([np.asarray(hz.isotropic_stiffness(K, G, d)) for K, G in MOD])
    mean = lambda x: x.mean(axis=0)  # noqa: E731 - equal fractions
    c11 = 1 / mean(1 / C[:, 0, 0])
    c12 = mean(C[:, 0, 1] / C[:, 0, 0]) * c11
    c22 = mean(C[:, 1, 1] - C[:, 0, 1] ** 2 / C[:, 0, 0]) + c12**2 / c11
    shear = 1 / mean(1 / C[:, -1, -1])  # the 12 shear acts across the layers
    Ct = np.asarray(r.tensor)
    np.testing.assert_allclose(
        [Ct[0, 0], Ct[0, 1], Ct[1, 1], Ct[-1, -1]], [c11, c12, c22, shear], rtol=1e-9
    )


def _ordered(lower, upper, tol=1e-9):
    """upper - lower positive semidefinite (relative tol)."""
    diff = np.asarray(upper.tensor) - np.asarray(lower.tensor)
    return np.min(np.linalg.eigvalsh(diff)) >= -tol * np.max(np.abs(np.asarray(upper.tensor)))


def test_boundary_conditions_are_ordered_inside_the_bounds():
    m = hz.random_inclusions((32, 32), 0.35, 3.5, seed=3)
    f = hz.volume_fractions(m)
    k = [1.0, 20.0]
    res = {bc: hz.effective_conductivity(m, k, bc) for bc in BCS}
    assert _ordered(res["neumann"], res["periodic"]) and _ordered(res["periodic"], res["dirichlet"])
    values = [_scalar(res[bc]) for bc in BCS]
    assert hz.reuss(f, k) <= values[0] < values[1] < values[2] <= hz.voigt(f, k)
    lo, hi = hz.hashin_shtrikman(f, k, d=2)
    assert lo <= values[1] <= hi
    for r in res.values():
        assert float(r.hill_mandel_residual) < 1e-10
    el = {bc: hz.effective_elasticity(m, MOD, bc, tol=1e-9) for bc in BCS}
    assert _ordered(el["neumann"], el["periodic"], 1e-6) and _ordered(
        el["periodic"], el["dirichlet"], 1e-6
    )
    C = np.stack([np.asarray(hz.isotropic_stiffness(K, G, 2)) for K, G in MOD])
    voigt = np.einsum("p,pij->ij", f, C)
    reuss = np.linalg.inv(np.einsum("p,pij->ij", f, np.linalg.inv(C)))
    assert np.min(np.linalg.eigvalsh(voigt - np.asarray(el["dirichlet"].tensor))) > -1e-9
    assert np.min(np.linalg.eigvalsh(np.asarray(el["neumann"].tensor) - reuss)) > -1e-9
    for r in el.values():
        assert float(r.hill_mandel_residual) < 1e-8


def test_isotropic_elastic_moduli_inside_hashin_shtrikman():
    m = hz.random_inclusions((40, 40), 0.3, 4.0, seed=7)
    f = hz.volume_fractions(m)
    C = np.asarray(hz.effective_elasticity(m, MOD, "periodic", tol=1e-9).tensor)
    kappa = (C[0, 0] + C[1, 1] + 2 * C[0, 1]) / 4  # 2D bulk of the isotropic part
    mu = (C[0, 0] + C[1, 1] - 2 * C[0, 1]) / 8 + C[2, 2] / 2
    hs = hz.hashin_shtrikman_elastic(f, MOD[:, 0], MOD[:, 1], d=2)
    assert hs["bulk"][0] <= kappa <= hs["bulk"][1]
    assert hs["shear"][0] <= mu <= hs["shear"][1]


def test_checkerboard_converges_to_dykhne():
    errors = []
    for n in (8, 16, 32, 64):
        r = hz.effective_conductivity(hz.checkerboard((n, n)), [1.0, 10.0], "periodic")
        K = np.asarray(r.tensor)
        assert K[0, 0] == pytest.approx(K[1, 1], rel=1e-9)
        errors.append(K[0, 0] / hz.dykhne(1.0, 10.0) - 1)
    assert all(e > 0 for e in errors) and all(np.diff(errors) < 0)
    assert errors[-1] < 0.04
    rate = np.polyfit(np.log([8, 16, 32, 64]), np.log(errors), 1)[0]
    assert rate < -0.5  # corner singularities: slower than first order


def test_dilute_inclusions_follow_maxwell_garnett():
    for d, shape in ((2, (48, 48)), (3, (16, 16, 16))):
        m = hz.inclusion(shape, 0.08)
        f = hz.volume_fractions(m)[1]
        k = _scalar(hz.effective_conductivity(m, [1.0, 10.0], "periodic"))
        mg = hz.maxwell_garnett(1.0, 10.0, f, d=d)
        lo, hi = hz.hashin_shtrikman([1 - f, f], [1.0, 10.0], d=d)
        assert lo <= k <= hi
        assert k == pytest.approx(mg, rel=0.02)


def test_thermal_expansion_satisfies_levin_exactly():
    m = hz.random_inclusions((24, 24), 0.3, 3.0, seed=1)
    f = hz.volume_fractions(m)
    alpha = np.array([1.0, 0.2])
    K, G = MOD.T
    kappa = K + G / 3
    Sp = np.linalg.inv(np.stack([np.asarray(hz.isotropic_stiffness(a, b, 2)) for a, b in MOD]))
    for bc in ("periodic", "neumann"):
        stiff = hz.effective_elasticity(m, MOD, bc, tol=1e-11)
        ex = hz.effective_expansion(m, MOD, alpha, bc, tol=1e-11)
        lv = hz.levin(
            f, 3 * K * alpha / (2 * kappa), kappa, np.linalg.inv(np.asarray(stiff.tensor)), Sp
        )
        np.testing.assert_allclose(np.asarray(ex.tensor), lv, rtol=1e-7, atol=1e-9)
        assert float(ex.hill_mandel_residual) < 1e-9


def test_effective_properties_are_differentiable():
    m = hz.laminate((16, 8), 0.5, axis=0)

    def across(k):
        return hz.effective_conductivity(m, k, "periodic", tol=1e-12).tensor[0, 0]

    k = jnp.array([2.0, 5.0])
    grad = jax.grad(across)(k)
    harm = float(across(k))
    np.testing.assert_allclose(np.asarray(grad), 0.5 * harm**2 / np.asarray(k) ** 2, rtol=1e-7)
    m2 = hz.random_inclusions((16, 16), 0.3, 2.5, seed=0)
    g = jax.grad(
        lambda k: jnp.trace(hz.effective_conductivity(m2, k, "periodic", tol=1e-12).tensor)
    )(k)
    eps = 1e-5
    fd = [
        (
            _scalar(hz.effective_conductivity(m2, k.at[i].add(eps), tol=1e-12))
            - _scalar(hz.effective_conductivity(m2, k.at[i].add(-eps), tol=1e-12))
        )
        * 2
        / (2 * eps)
        for i in range(2)
    ]
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5)


def test_rve_size_spread_and_gap_shrink():
    def generate(n, seed):
        return hz.gaussian_field((n, n), 0.4, n / 8 if n < 16 else 2.0, seed=seed)

    study = hz.rve_size(
        generate, [1.0, 10.0], 0.05, sizes=(8, 16, 32), realizations=3, criterion="both"
    )
    spread, gap = study.spread["periodic"], study.gap
    assert spread[-1] < spread[0] and np.all(np.diff(gap) < 0)
    assert np.all(study.mean["neumann"] < study.mean["periodic"])
    assert np.all(study.mean["periodic"] < study.mean["dirichlet"])
    ok = (2 * spread <= 0.05) & (gap <= 0.05)
    expected = next((n for n, good in zip(study.sizes, ok, strict=True) if good), None)
    assert study.size == expected
    tight = hz.rve_size(generate, [1.0, 10.0], 1e-4, sizes=(8,), realizations=2)
    assert tight.size is None


def test_hand_off_to_composites_and_structured_models():
    m = hz.checkerboard((16, 16))
    k = hz.effective_conductivity(m, [1.0, 4.0])
    value = hz.isotropic_value(k)
    model = heat_conduction.model((6,), C=1.0, k=value, periodic=True)
    assert gm.check(model).ok
    lam = hz.laminate((16, 16), 0.5)
    with pytest.raises(gm.InputError, match="anisotropic"):
        hz.isotropic_value(hz.effective_conductivity(lam, [1.0, 4.0]))
    phase = hz.homogenized_phase(
        "matrix",
        0.6,
        hz.effective_conductivity(lam, [1.0, 4.0]),
        stiffness=hz.effective_elasticity(lam, MOD),
        expansion=hz.effective_expansion(lam, MOD, [1e-3, 2e-4]),
        axis=1,
    )
    assert phase.conductivity == pytest.approx(2.5, rel=1e-9)  # along the layers
    from generic_mm.composites import Interface, Phase

    c = Composite(
        [phase, Phase("fiber", fraction=0.4, conductivity=10.0)],
        [Interface("matrix", "fiber", h_av=2.0)],
    )
    assert gm.check(c.model(inertia=1.0)).ok


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: hz.effective_conductivity(hz.checkerboard((4, 4)), [1, 2], "affine"),
            gm.InputError,
            "bc must be one of",
        ),
        (
            lambda: hz.effective_conductivity(hz.checkerboard((4, 4)), [1, 2, 3]),
            gm.InputError,
            "2 phases",
        ),
        (
            lambda: hz.effective_conductivity(hz.checkerboard((4, 4)), [1, -2]),
            gm.InputError,
            "positive",
        ),
        (
            lambda: hz.effective_conductivity(np.array([[0, 2], [2, 0]]), [1, 2, 3]),
            gm.InputError,
            r"phase\(s\) \[1\]",
        ),
        (lambda: hz.effective_conductivity(np.zeros(8), [1]), gm.InputError, "2D or 3D"),
        (lambda: hz.effective_conductivity(np.full((4, 4), 0.5), [1]), gm.InputError, "integers"),
        (
            lambda: hz.effective_elasticity(hz.checkerboard((4, 4)), [(1, 1), (1, -1)]),
            gm.InputError,
            "positive definite",
        ),
        (lambda: hz.laminate((8, 8), 0.01), gm.InputError, "no cell"),
        (lambda: hz.checkerboard((6, 6), tiles=4), gm.InputError, "divide"),
        (
            lambda: hz.rve_size(lambda n, s: hz.checkerboard((n, n)), [1, 2], 0.1, sizes=(8, 4)),
            gm.InputError,
            "increasing",
        ),
        (
            lambda: hz.effective_conductivity(
                hz.random_inclusions((32, 32), 0.4, 3, seed=0), [1, 1e4], max_steps=2
            ),
            gm.SolverError,
            "did not reach",
        ),
    ],
)
def test_bad_input_is_reported(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_microstructures_have_the_requested_fractions():
    assert hz.volume_fractions(hz.gaussian_field((32, 32), 0.37, 3.0, seed=2))[1] == pytest.approx(
        0.37, abs=1e-3
    )
    assert hz.volume_fractions(hz.random_inclusions((48, 48), 0.3, 4.0, seed=2))[
        1
    ] == pytest.approx(0.3, abs=0.04)
    assert hz.volume_fractions(hz.inclusion((40, 40, 40), 0.2))[1] == pytest.approx(0.2, abs=0.01)
    assert hz.volume_fractions(hz.checkerboard((8, 8, 8)))[1] == 0.5
    assert not np.array_equal(
        hz.gaussian_field((16, 16), 0.5, 2.0, seed=0), hz.gaussian_field((16, 16), 0.5, 2.0, seed=1)
    )
    assert math.isclose(hz.volume_fractions(hz.laminate((10, 4), 0.3))[1], 0.3)
