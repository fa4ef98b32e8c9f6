"""RVE homogenization: exact laminates, orderings, bounds, Dykhne, Levin, Hill-Mandel, RVE size.

Compiling a cell problem costs seconds, solving it milliseconds: one program is compiled per
(grid shape, boundary condition, field kind) and shared by every test on that grid, so the
tests reuse a few grids (32^2, 64^2, 16^3) and module-scoped solves.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import generic_mm as gm
import generic_mm.homogenization as hz
from generic_mm.composites import Composite
from generic_mm.models import heat_conduction

BCS = (hz.Neumann(), hz.Periodic(), hz.Dirichlet())  # lower, between, upper
MOD = np.array([(1.0, 0.5), (10.0, 3.0)])  # (bulk, shear) per phase
K20 = [1.0, 20.0]
DISKS = hz.random_inclusions((32, 32), 0.35, 3.5, seed=3)


def _scalar(result):
    K = np.asarray(result.tensor)
    return float(np.trace(K) / K.shape[0])


def _ordered(lower, upper, tol=1e-9):
    """upper - lower positive semidefinite (relative tol)."""
    diff = np.asarray(upper.tensor) - np.asarray(lower.tensor)
    return np.min(np.linalg.eigvalsh(diff)) >= -tol * np.max(np.abs(np.asarray(upper.tensor)))


@pytest.fixture(scope="module")
def disks_conductivity():
    return {bc.name: hz.effective_conductivity(DISKS, K20, bc) for bc in BCS}


@pytest.fixture(scope="module")
def disks_elasticity():
    return {bc.name: hz.effective_elasticity(DISKS, MOD, bc, tol=1e-11) for bc in BCS}


def _laminate_tensor(fractions, k, axis):
    r"""Closed form for layers normal to `axis` of anisotropic phases: the normal flux and
    the tangential gradient are continuous, so with $a = \langle 1/k_{nn}\rangle$ and
    $b_j = \langle k_{nj}/k_{nn}\rangle$: $K = \langle k - k_{:n}k_{n:}/k_{nn}\rangle +
    b\,b^T/a$."""
    f = np.asarray(fractions)[:, None, None]
    knn = k[:, axis, axis][:, None, None]
    a = np.sum(f[:, 0, 0] / knn[:, 0, 0])
    b = np.sum(f[:, 0] * k[:, axis, :] / knn[:, 0], axis=0)
    return (
        np.sum(f * (k - k[:, :, axis, None] * k[:, None, axis, :] / knn), axis=0)
        + np.outer(b, b) / a
    )


@pytest.mark.parametrize("shape", [(32, 32), (8, 6, 10)])
def test_laminate_conductivity_is_exact_to_solver_tolerance(shape):
    m = hz.laminate(shape, 0.25, axis=1, periods=2)
    f = hz.volume_fractions(m)
    along, across = hz.laminate_bounds(f, [2.0, 30.0])
    r = hz.effective_conductivity(m, [2.0, 30.0], "periodic", tol=1e-12)
    expected = np.full(len(shape), along)
    expected[1] = across
    np.testing.assert_allclose(np.asarray(r.tensor), np.diag(expected), rtol=1e-9, atol=1e-9)
    assert float(r.hill_mandel_residual) < 1e-12


@pytest.mark.parametrize("shape", [(32, 32), (8, 6, 10)])
def test_anisotropic_phase_tensors_on_a_laminate_match_the_closed_form(shape):
    d = len(shape)
    rng = np.random.default_rng(d)
    A = rng.normal(size=(2, d, d))
    k = A @ np.swapaxes(A, 1, 2) + np.array([0.5, 5.0])[:, None, None] * np.eye(d)
    m = hz.laminate(shape, 0.25, axis=1, periods=2)
    r = hz.effective_conductivity(m, k, "periodic", tol=1e-12)
    expected = _laminate_tensor(hz.volume_fractions(m), k, axis=1)
    assert np.max(np.abs(expected - np.diag(np.diag(expected)))) > 0.1  # really anisotropic
    np.testing.assert_allclose(np.asarray(r.tensor), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("d", [2, 3])
def test_laminate_stiffness_is_exact_to_solver_tolerance(d):
    m = hz.laminate((32, 32) if d == 2 else (8, 8, 8), 0.5, axis=0)
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


def test_boundary_conditions_are_ordered_inside_the_bounds(disks_conductivity, disks_elasticity):
    f = hz.volume_fractions(DISKS)
    res = disks_conductivity
    assert _ordered(res["neumann"], res["periodic"]) and _ordered(res["periodic"], res["dirichlet"])
    values = [_scalar(res[bc.name]) for bc in BCS]
    assert hz.reuss(f, K20) <= values[0] < values[1] < values[2] <= hz.voigt(f, K20)
    lo, hi = hz.hashin_shtrikman(f, K20, d=2)
    assert lo <= values[1] <= hi
    for r in res.values():
        assert float(r.hill_mandel_residual) < 1e-10
    el = disks_elasticity
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


def test_boundary_conditions_are_ordered_in_3d_beyond_laminates():
    """Random spheres on 16^3: Reuss <= Neumann <= periodic <= Dirichlet <= Voigt as tensors
    (Loewner order), each step strict, and every solve Hill-Mandel consistent."""
    m = hz.random_inclusions((16, 16, 16), 0.3, 2.5, seed=1)
    f = hz.volume_fractions(m)
    res = [hz.effective_conductivity(m, K20, bc) for bc in BCS]
    tensors = [np.asarray(r.tensor) for r in res]
    assert np.max(np.abs(tensors[1] - np.diag(np.diag(tensors[1])))) > 1e-3  # not a laminate
    chain = [hz.reuss(f, K20) * np.eye(3), *tensors, hz.voigt(f, K20) * np.eye(3)]
    for lower, upper in zip(chain, chain[1:], strict=False):
        assert np.min(np.linalg.eigvalsh(upper - lower)) > 1e-3
    for r in res:
        assert float(r.hill_mandel_residual) < 1e-10


def test_boundary_conditions_are_objects_with_names(disks_conductivity):
    for bc in BCS:
        r = hz.effective_conductivity(DISKS, K20, bc)
        assert r.bc == bc and str(r.bc) == bc.name and r.bc.name == bc.name
        np.testing.assert_array_equal(
            np.asarray(r.tensor), np.asarray(disks_conductivity[bc.name].tensor)
        )
    assert [bc.bound for bc in BCS] == ["lower", "between", "upper"]
    assert isinstance(hz.Periodic(), hz.AbstractBoundaryCondition)
    with pytest.raises(TypeError):
        hz.AbstractBoundaryCondition()


def test_isotropic_elastic_moduli_inside_hashin_shtrikman():
    m = hz.random_inclusions((32, 32), 0.3, 2.0, seed=7)
    f = hz.volume_fractions(m)
    C = np.asarray(hz.effective_elasticity(m, MOD, "periodic", tol=1e-9).tensor)
    kappa = (C[0, 0] + C[1, 1] + 2 * C[0, 1]) / 4  # 2D bulk of the isotropic part
    mu = (C[0, 0] + C[1, 1] - 2 * C[0, 1]) / 8 + C[2, 2] / 2
    hs = hz.hashin_shtrikman_elastic(f, MOD[:, 0], MOD[:, 1], d=2)
    assert hs["bulk"][0] <= kappa <= hs["bulk"][1]
    assert hs["shear"][0] <= mu <= hs["shear"][1]


def test_checkerboard_converges_to_dykhne():
    """The figures docs/homogenization.md quotes: 16 % at 8^2, 2.9 % at 64^2, like h^0.8."""
    sizes = (8, 16, 32, 64)
    errors = []
    for n in sizes:
        r = hz.effective_conductivity(hz.checkerboard((n, n)), [1.0, 10.0], "periodic")
        K = np.asarray(r.tensor)
        assert K[0, 0] == pytest.approx(K[1, 1], rel=1e-9)
        errors.append(K[0, 0] / hz.dykhne(1.0, 10.0) - 1)
    assert all(e > 0 for e in errors) and all(np.diff(errors) < 0)
    assert errors[0] == pytest.approx(0.16, abs=0.005)
    assert errors[-1] == pytest.approx(0.029, abs=0.0005)
    rate = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert rate == pytest.approx(-0.8, abs=0.05)  # corner singularities: slower than first order


def test_dilute_inclusions_follow_maxwell_garnett():
    for d, shape in ((2, (64, 64)), (3, (16, 16, 16))):
        m = hz.inclusion(shape, 0.08)
        f = hz.volume_fractions(m)[1]
        k = _scalar(hz.effective_conductivity(m, [1.0, 10.0], "periodic"))
        mg = hz.maxwell_garnett(1.0, 10.0, f, d=d)
        lo, hi = hz.hashin_shtrikman([1 - f, f], [1.0, 10.0], d=d)
        assert lo <= k <= hi
        assert k == pytest.approx(mg, rel=0.02)


def test_thermal_expansion_satisfies_levin_exactly(disks_elasticity):
    f = hz.volume_fractions(DISKS)
    alpha = np.array([1.0, 0.2])
    K, G = MOD.T
    kappa = K + G / 3
    Sp = np.linalg.inv(np.stack([np.asarray(hz.isotropic_stiffness(a, b, 2)) for a, b in MOD]))
    for bc in ("periodic", "neumann"):
        stiff = disks_elasticity[bc]
        ex = hz.effective_expansion(DISKS, MOD, alpha, bc, tol=1e-11)
        lv = hz.levin(
            f, 3 * K * alpha / (2 * kappa), kappa, np.linalg.inv(np.asarray(stiff.tensor)), Sp
        )
        np.testing.assert_allclose(np.asarray(ex.tensor), lv, rtol=1e-7, atol=1e-9)
        assert float(ex.hill_mandel_residual) < 1e-9


def test_effective_properties_are_differentiable():
    m = hz.laminate((32, 32), 0.5, axis=0)

    def across(k, micro=m):
        return hz.effective_conductivity(micro, k, "periodic", tol=1e-12).tensor[0, 0]

    k = jnp.array([2.0, 5.0])
    grad = jax.grad(across)(k)
    harm = float(across(k))
    np.testing.assert_allclose(np.asarray(grad), 0.5 * harm**2 / np.asarray(k) ** 2, rtol=1e-7)
    g = jax.grad(across)(k, DISKS)
    eps = 1e-5
    fd = [
        (across(k.at[i].add(eps), DISKS) - across(k.at[i].add(-eps), DISKS)) / (2 * eps)
        for i in range(2)
    ]
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5)


def _laminate_family(n, seed):
    """Two realizations per size: phase 1 takes n/2 -/+ j cells of n, j = 2 at n = 8."""
    j = 2 if n == 8 else 1
    return hz.laminate((n, n), (n // 2 + (-1) ** seed * j) / n)


def test_rve_size_is_the_first_size_whose_spread_meets_the_tolerance():
    """Laminates have a closed form (trace / 2 = mean of arithmetic and harmonic), so the
    table, the spread (sample std / mean) and the answer are known without the code."""
    k, sizes = [1.0, 10.0], (8, 16, 32)
    closed = np.array(
        [
            [
                np.mean(hz.laminate_bounds(hz.volume_fractions(_laminate_family(n, s)), k))
                for s in (0, 1)
            ]
            for n in sizes
        ]
    )
    spread = closed.std(axis=1, ddof=1) / closed.mean(axis=1)
    tolerance = 0.9
    # 16 is the first size with 2 std / mean <= tolerance, and the factor 2 and the sample
    # std (ddof=1) both matter at 8: spread < 2 spread / sqrt(2) <= tolerance < 2 spread.
    assert 2 * spread[1] <= tolerance and 2 * spread[0] / math.sqrt(2) <= tolerance < 2 * spread[0]
    study = hz.rve_size(_laminate_family, k, tolerance, sizes=sizes, realizations=2)
    np.testing.assert_allclose(study.values["periodic"], closed, rtol=1e-8)
    np.testing.assert_allclose(study.spread["periodic"], spread, rtol=1e-6)
    assert study.size == 16
    assert hz.rve_size(_laminate_family, k, 0.1, sizes=sizes, realizations=2).size is None


def _gaussian(n, seed):
    return hz.gaussian_field((n, n), 0.4, 2.0, seed=seed)


def test_rve_size_spread_and_gap_shrink_and_both_criteria_count():
    k, tolerance = [1.0, 10.0], 0.2
    study = hz.rve_size(_gaussian, k, tolerance, sizes=(32, 64), realizations=3, criterion="both")
    v = study.values
    # The table holds trace / d under each condition for generate(size, seed).
    direct = hz.effective_conductivity(_gaussian(64, 2), k, hz.Dirichlet(), tol=1e-8)
    assert v["dirichlet"][1, 2] == pytest.approx(_scalar(direct), rel=1e-12)
    # Every realization is ordered, the spread shrinks and the gap closes.
    assert np.all(v["neumann"] < v["periodic"]) and np.all(v["periodic"] < v["dirichlet"])
    spread = v["periodic"].std(axis=1, ddof=1) / v["periodic"].mean(axis=1)
    gap = (v["dirichlet"].mean(axis=1) - v["neumann"].mean(axis=1)) / v["periodic"].mean(axis=1)
    np.testing.assert_allclose(study.gap, gap, rtol=1e-12)
    assert spread[1] < spread[0] and gap[1] < gap[0]
    # At 32 the spread meets the tolerance and the gap does not; at 64 both do.
    assert (
        2 * spread[0] <= tolerance < gap[0] and 2 * spread[1] <= tolerance and gap[1] <= tolerance
    )
    assert study.size == 64


def test_hand_off_to_composites_and_structured_models():
    m = hz.checkerboard((32, 32))
    k = hz.effective_conductivity(m, [1.0, 4.0])
    value = hz.isotropic_value(k)
    model = heat_conduction.model((6,), C=1.0, k=value, periodic=True)
    assert gm.check(model).ok
    lam = hz.laminate((32, 32), 0.5)
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
            r"effective_conductivity: bc must be one of \('dirichlet', 'periodic', 'neumann'\)"
            r".*got 'affine'",
        ),
        (
            lambda: hz.effective_elasticity(hz.checkerboard((4, 4)), MOD, hz.Periodic),
            gm.InputError,
            "effective_elasticity: bc must be one of .* got <class",
        ),
        (
            lambda: hz.rve_size(
                lambda n, s: hz.checkerboard((n, n)), [1, 2], 0.1, sizes=(8,), bcs=("flux",)
            ),
            gm.InputError,
            "rve_size: bc must be one of .* got 'flux'",
        ),
        (
            lambda: hz.rve_size(
                lambda n, s: hz.checkerboard((n, n)),
                [1, 2],
                0.1,
                sizes=(8,),
                criterion="gap",
                bcs=("periodic", hz.Dirichlet()),
            ),
            gm.InputError,
            r"needs bcs \['neumann', 'periodic', 'dirichlet'\]; \['neumann'\] missing",
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
            lambda: hz.effective_conductivity(hz.checkerboard((4, 4)), [1, np.nan]),
            gm.InputError,
            "conductivities: contains non-finite values",
        ),
        (
            lambda: hz.reuss([0.5, 0.5], [1.0, np.inf]),
            gm.InputError,
            "reuss: values: expected finite positive",
        ),
        (lambda: hz.voigt([0.5, 0.6], [1.0, 2.0]), gm.InputError, "sum to 1"),
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
            lambda: hz.effective_conductivity(DISKS, [1, 1e4], max_steps=2),
            gm.SolverError,
            r"solve \(periodic\) did not reach",
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


def test_repr_shows_the_values():
    m = hz.laminate((32, 32), 0.25, axis=1, periods=2)  # the grid of the tests above
    along, across = hz.laminate_bounds(hz.volume_fractions(m), [2.0, 30.0])
    r = hz.effective_conductivity(m, [2.0, 30.0], "periodic", tol=1e-12)
    text = repr(r)
    assert text.startswith("Homogenized(\n  tensor=[[") and "bc=Periodic()" in text
    assert "f64" not in text  # values, not shapes
    tensor = text.split("tensor=", 1)[1].split("]],", 1)[0]
    # Round-off off the diagonal prints as 0, not as 1e-17 in scientific notation.
    printed = [float(x) for x in tensor.replace("[", " ").replace("]", " ").split(",")]
    np.testing.assert_allclose(printed, [along, 0.0, 0.0, across], rtol=1e-7, atol=0)
    assert "e-" not in tensor

    seen = []

    def traced(t):  # inside a JAX transformation there are no values: equinox's shapes
        seen.append(repr(hz.Homogenized(t, t[0, 0], jnp.zeros(2, int), hz.Periodic())))
        return t

    jax.eval_shape(traced, jnp.eye(2))
    assert "tensor=f64[2,2]" in seen[0]
