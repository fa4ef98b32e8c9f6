"""Second-order (Bloch-wave) homogenization against closed forms and exact references:
Rytov's relation for layered media, the discrete Bloch eigenproblem of the same cell, the
first-order solver, symmetry, and the size effect of a resolved finite-volume ring."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import threadpoolctl

import generic_mm as gm
import generic_mm.homogenization as hz
from generic_mm.homogenization._effective import _stiffness, to_tensor

SIZES = (8, 16, 32)
# Conduction: phase 0 and 1 of a bilaminate (half and half).
KAPPA, CAPACITY = (1.0, 10.0), (1.0, 5.0)
# Elasticity: (bulk, shear) and densities; plane-strain P modulus K + 4G/3, shear G.
MODULI, DENSITY = ((2.0, 1.0), (10.0, 6.0)), (1.0, 3.0)


def p_modulus(bulk, shear):
    return bulk + 4 * shear / 3


def log_slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


@pytest.fixture(scope="module")
def conduction_laminates():
    return {
        n: hz.second_order_conductivity(hz.laminate((n, 2), 0.5), KAPPA, CAPACITY, period=2.0)
        for n in SIZES
    }


@pytest.fixture(scope="module")
def elastic_laminates():
    return {
        n: hz.second_order_elasticity(hz.laminate((n, 2), 0.5), MODULI, DENSITY, period=2.0)
        for n in SIZES
    }


# A non-centrosymmetric 2D cell (an L-shaped inclusion and a small third phase), 8 x 8.
ASYMMETRIC = np.zeros((8, 8), dtype=int)
ASYMMETRIC[1:3, 1:6] = 1
ASYMMETRIC[3:6, 1:3] = 1
ASYMMETRIC[5, 5] = 2
CELL_K, CELL_RHO = (1.0, 7.0, 3.0), (1.0, 3.0, 0.5)
CELL_MODULI = ((1.0, 0.6), (8.0, 3.0), (2.0, 0.3))


@pytest.fixture(scope="module")
def asymmetric_cells():
    # period = 8: unit voxels, so that the discrete Bloch problem below is in the same units.
    return (
        hz.second_order_conductivity(ASYMMETRIC, CELL_K, CELL_RHO, period=8.0),
        hz.second_order_elasticity(ASYMMETRIC, CELL_MODULI, CELL_RHO, period=8.0),
    )


# --- 1. layered media: Rytov and the voxel theory -----------------------------------------


def test_laminate_dispersion_is_the_series_of_rytovs_relation():
    d, E, rho = (0.3, 0.7), (1.0, 6.0), (2.0, 0.5)
    c, beta = hz.laminate_dispersion(d, E, rho)
    k = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    w2 = hz.rytov(k, d, E, rho) ** 2
    fit = np.linalg.lstsq(np.stack([k**2, k**4, k**6, k**8], 1), w2, rcond=None)[0]
    assert fit[0] == pytest.approx(c**2, rel=1e-10)
    assert -fit[1] / (fit[0] * sum(d) ** 2) == pytest.approx(beta, rel=1e-6)
    # The harmonic-mean modulus over the mean density; no dispersion at matched impedance.
    assert c**2 == pytest.approx(1 / (0.3 / 1.0 + 0.7 / 6.0) / (0.3 * 2.0 + 0.7 * 0.5))
    assert hz.laminate_dispersion((0.4, 0.6), (1.0, 4.0), (4.0, 1.0))[1] == 0.0


def test_rytov_transfer_matrix_is_exact():
    d, E, rho = (0.3, 0.7), (1.0, 6.0), (2.0, 0.5)
    k = np.array([0.3, 1.5, 3.0, math.pi])
    w = hz.rytov(k, d, E, rho)
    c, Z = np.sqrt(np.divide(E, rho)), np.sqrt(np.multiply(E, rho))
    t1, t2 = w * d[0] / c[0], w * d[1] / c[1]
    two_layers = np.cos(t1) * np.cos(t2) - 0.5 * (Z[0] / Z[1] + Z[1] / Z[0]) * np.sin(t1) * np.sin(
        t2
    )
    np.testing.assert_allclose(two_layers, np.cos(k), atol=1e-12)
    # Splitting a layer in two changes nothing; a homogeneous stack is nondispersive.
    split = hz.rytov(k, (0.1, 0.2, 0.7), (1.0, 1.0, 6.0), (2.0, 2.0, 0.5))
    np.testing.assert_allclose(split, w, rtol=1e-12)
    np.testing.assert_allclose(hz.rytov(k, (0.5, 0.5), (3.0, 3.0), (2.0, 2.0)), np.sqrt(1.5) * k)
    # Even and periodic in k.
    np.testing.assert_allclose(hz.rytov(-k + 2 * np.pi, d, E, rho), w, rtol=1e-12)


def converges_to(results, beta, branch=None):
    """Relative errors of beta over SIZES; assert h^2 convergence; return them."""
    got = [results[n].dispersion([1.0, 0.0]) for n in SIZES]
    got = np.array(got if branch is None else [g[branch] for g in got])
    errors = np.abs(got - beta) / beta
    ratios = errors[:-1] / errors[1:]
    assert np.all((ratios > 3.8) & (ratios < 4.2)), (errors, ratios)
    return errors


def test_conduction_laminate_converges_to_the_closed_form(conduction_laminates):
    c, beta = hz.laminate_dispersion((1.0, 1.0), KAPPA, CAPACITY)
    errors = converges_to(conduction_laminates, beta)
    # measured: 0.10 relative at 8 voxels per period, 6.3e-3 at 32
    assert errors[-1] < 1e-2
    finest = conduction_laminates[SIZES[-1]]
    harmonic, arithmetic = 2 / (1 / KAPPA[0] + 1 / KAPPA[1]), np.mean(KAPPA)
    np.testing.assert_allclose(finest.first, np.diag([harmonic, arithmetic]), atol=1e-12)
    assert float(finest.mass) == pytest.approx(np.mean(CAPACITY), rel=1e-14)
    assert harmonic / float(finest.mass) == pytest.approx(c**2, rel=1e-12)
    # The rate to second order: first-order rate times (1 - beta (k l)^2).
    k = np.array([0.3, 0.0])
    rate1 = finest.rate(k, order=1)
    assert rate1 == pytest.approx(harmonic * 0.09 / np.mean(CAPACITY), rel=1e-12)
    assert finest.rate(k) == pytest.approx(rate1 * (1 - finest.dispersion([1, 0]) * 0.6**2))


def test_elastic_laminate_p_and_s_waves_converge_to_the_closed_form(elastic_laminates):
    (K1, G1), (K2, G2) = MODULI
    _, beta_s = hz.laminate_dispersion((1.0, 1.0), (G1, G2), DENSITY)
    _, beta_p = hz.laminate_dispersion((1.0, 1.0), (p_modulus(K1, G1), p_modulus(K2, G2)), DENSITY)
    errors_s = converges_to(elastic_laminates, beta_s, branch=0)
    errors_p = converges_to(elastic_laminates, beta_p, branch=1)
    # measured: 8.5e-2 (S) and 8.1e-2 (P) relative at 8 voxels per period, 5.3e-3 and
    # 5.1e-3 at 32
    assert errors_s[-1] < 1e-2 and errors_p[-1] < 1e-2
    # First order: Backus's laminate moduli. Across the layers the harmonic means of G and
    # of the P modulus P = K + 4G/3; along them C_yyyy = <P - L^2/P> + <L/P>^2 / <1/P>,
    # L = K - 2G/3 (plane strain).
    along = elastic_laminates[SIZES[-1]]
    K, G = np.array(MODULI).T
    P, L = p_modulus(K, G), K - 2 * G / 3
    harmonic = lambda x: 1 / np.mean(1 / x)
    backus = np.mean(P - L**2 / P) + np.mean(L / P) ** 2 * harmonic(P)
    w2 = along.frequency2(np.array([[0.2, 0.0], [0.0, 0.2]]), order=1) * np.mean(DENSITY) / 0.04
    np.testing.assert_allclose(w2, [[harmonic(G), harmonic(P)], [harmonic(G), backus]], rtol=1e-10)


# --- 2. the third-order tensor ------------------------------------------------------------


def three_layers(order):
    """A laminate of 8 cells along x: layer thicknesses 4, 3, 1 of phases in `order`."""
    layer = np.repeat(np.asarray(order), (4, 3, 1))
    return np.broadcast_to(layer[:, None], (8, 2)).copy()


@pytest.fixture(scope="module")
def three_layer_results():
    def solve(micro):
        return hz.second_order_elasticity(micro, CELL_MODULI, CELL_RHO, period=2.0)

    cell = three_layers((0, 1, 2))
    return {
        "cell": solve(cell),
        "mirrored": solve(cell[::-1]),
        "shifted": solve(np.roll(cell, 3, axis=0)),
        "centrosymmetric": solve(
            np.broadcast_to(np.array([0, 0, 1, 2, 2, 1, 0, 0])[:, None], (8, 2))
        ),
    }


def test_third_order_tensor_vanishes_exactly_where_symmetry_says(three_layer_results):
    X = np.asarray(three_layer_results["cell"].third)
    scale = np.max(np.abs(three_layer_results["cell"].first)) * 2.0  # stiffness x period
    # measured: max |X| = 8e-3 scale
    assert np.max(np.abs(X)) > 3e-3 * scale
    assert np.max(np.abs(three_layer_results["centrosymmetric"].third)) < 1e-12 * scale
    # Antisymmetric in the components (iX is Hermitian).
    np.testing.assert_allclose(X, -np.swapaxes(X, 0, 1), atol=1e-12 * scale)
    # Normal to the layers the y-mirror decouples P from S: no coupling along x.
    assert np.max(np.abs(X[:, :, 0, 0, 0])) < 1e-12 * scale
    # Conduction (one field) never has one: the 1x1 antisymmetric part is zero.
    cond = hz.second_order_conductivity(three_layers((0, 1, 2)), CELL_K, CELL_RHO)
    assert np.max(np.abs(cond.third)) < 1e-14 * max(CELL_K)


def test_third_order_tensor_is_odd_under_inversion_and_blind_to_shifts(three_layer_results):
    X = np.asarray(three_layer_results["cell"].third)
    # Reversing the layers is the mirror x -> -x: each x index flips the sign.
    s = np.array([-1.0, 1.0])
    mirrored = np.einsum("abjkl,a,b,j,k,l->abjkl", X, s, s, s, s, s)
    np.testing.assert_allclose(three_layer_results["mirrored"].third, mirrored, atol=1e-11)
    np.testing.assert_allclose(three_layer_results["shifted"].third, X, atol=1e-11)
    for key in ("mirrored", "shifted"):
        np.testing.assert_allclose(
            three_layer_results[key].fourth, three_layer_results["cell"].fourth, atol=1e-11
        )


def test_a_supercell_is_the_same_medium():
    """Two by two copies of the cell, of twice the period, are the same medium: the
    physical first, third and fourth tensors are unchanged (to solver tolerance) and beta,
    measured against the period (omega^2 = c^2 k^2 (1 - beta (k l)^2)), is a quarter. This fails if a tensor's scaling with
    the period (h for the third, h^2 for the fourth) or a corrector's is wrong."""
    micro = three_layers((0, 1, 2))
    one = hz.second_order_elasticity(micro, CELL_MODULI, CELL_RHO, period=1.0)
    two = hz.second_order_elasticity(np.tile(micro, (2, 2)), CELL_MODULI, CELL_RHO, period=2.0)
    np.testing.assert_allclose(two.first, one.first, rtol=1e-9, atol=1e-12)
    scale = np.max(np.abs(np.asarray(one.fourth)))
    np.testing.assert_allclose(two.third, one.third, atol=1e-8 * scale)
    np.testing.assert_allclose(two.fourth, one.fourth, atol=1e-8 * scale)
    np.testing.assert_allclose(two.dispersion([1, 2]), one.dispersion([1, 2]) / 4, rtol=1e-7)


def test_si_magnitudes_give_the_same_dispersion():
    """Moduli of 1e9 and capacities of 1e6 (SI) next to densities of 1: each solve is
    judged in its own units, so beta does not move (it did by 1e-3 when one scale was used
    for stiffness and mass solves) and no spurious branch coupling is reported."""
    micro = three_layers((0, 1, 2))
    n = [1.0, 0.5]
    base = hz.second_order_conductivity(micro, CELL_K, CELL_RHO, period=1.0)
    heavy = hz.second_order_conductivity(micro, CELL_K, 1e6 * np.asarray(CELL_RHO), period=1.0)
    assert heavy.dispersion(n) == pytest.approx(base.dispersion(n), rel=1e-8)
    stiff = hz.second_order_elasticity(micro, 1e9 * np.asarray(CELL_MODULI), CELL_RHO)
    soft = hz.second_order_elasticity(micro, CELL_MODULI, CELL_RHO)
    np.testing.assert_allclose(stiff.dispersion([1.0, 0.0]), soft.dispersion([1.0, 0.0]), rtol=1e-8)
    np.testing.assert_allclose(stiff.dispersion(n), soft.dispersion(n), rtol=1e-8)


@pytest.mark.parametrize("angle", [0.3, 1.2])
def test_three_layer_branches_match_the_discrete_bloch_eigenproblem(three_layer_results, angle):
    """Oblique waves in the asymmetric laminate: here the third-order coupling, including its
    mass part D (the D^2 terms of the symbol move the k^4 terms by ~1e-2), is not small."""
    n = np.array([math.cos(angle), math.sin(angle)])
    C = np.asarray(to_tensor(_stiffness(CELL_MODULI, 3, 2), 2))
    a, b = bloch_fit(three_layers((0, 1, 2)), C, np.asarray(CELL_RHO), n, 2)
    result, h = three_layer_results["cell"], 2.0 / 8  # voxel size: the fit is in voxels
    first = result.frequency2(n, order=1)
    np.testing.assert_allclose(a, first, rtol=1e-8)
    assert_k4_terms(b, (result.frequency2(n) - first) / h**2)


def test_equal_speed_branches_split_at_fourth_order(elastic_laminates):
    """Phases whose C11 and C66 have equal harmonic means make P and S waves across the
    layers equally fast; their different impedance contrasts split them at k^4, where the
    pair counts as a whole (degenerate perturbation theory)."""
    voigt = np.array(
        [
            [[1.0, 0.2, 0.0], [0.2, 2.0, 0.0], [0.0, 0.0, 2.0]],
            [[4.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 4 / 3]],
        ]
    )
    micro = hz.laminate((8, 2), 0.5)
    result = hz.second_order_elasticity(micro, voigt, (1.0, 3.0), period=8.0)
    n = np.array([1.0, 0.0])
    a, b = bloch_fit(micro, np.asarray(to_tensor(voigt, 2)), np.array([1.0, 3.0]), n, 2)
    first = result.frequency2(n, order=1)
    assert first[0] == pytest.approx(first[1], rel=1e-12)
    np.testing.assert_allclose(a, first, rtol=1e-8)
    assert_k4_terms(b, result.frequency2(n) - first)
    assert abs(b[1] - b[0]) > 0.1 * abs(b[0])


# --- 3. a 2D cell against the first-order solver and the discrete Bloch problem ------------

GAUSS = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))


def bloch_matrices(micro, C, rho, eta):
    """Dense $A(\\eta) = G(\\eta)^HCG(\\eta)$ and $M = N^T\\rho N$ of the periodic bilinear
    mesh (2x2 Gauss points), assembled element by element: an independent reference."""
    n1, n2 = micro.shape
    m = C.shape[1]
    corners = [(0, 0), (0, 1), (1, 0), (1, 1)]
    A = np.zeros((n1 * n2 * m,) * 2, dtype=complex)
    M = np.zeros((n1 * n2 * m,) * 2)
    element = []
    for x, y in itertools.product(GAUSS, GAUSS):
        phi = np.array([(x if a else 1 - x) * (y if b else 1 - y) for a, b in corners])
        dphi = np.array(
            [
                [(1 if a else -1) * (y if b else 1 - y), (x if a else 1 - x) * (1 if b else -1)]
                for a, b in corners
            ]
        )
        grad = np.zeros((m, 2, 4, m), dtype=complex)  # (component, direction, corner, dof)
        value = np.zeros((m, 4, m))
        for corner, c in itertools.product(range(4), range(m)):
            grad[c, :, corner, c] = dphi[corner] + 1j * eta * phi[corner]
            value[c, corner, c] = phi[corner]
        element.append((grad.reshape(2 * m, 4 * m), value.reshape(m, 4 * m)))
    for i, j in itertools.product(range(n1), range(n2)):
        p = micro[i, j]
        Cm = C[p].reshape(2 * m, 2 * m)
        Ke = sum(g.conj().T @ Cm @ g for g, _ in element) / 4
        Me = rho[p] * sum(v.T @ v for _, v in element) / 4
        nodes = [((i + a) % n1) * n2 + (j + b) % n2 for a, b in corners]
        dofs = [node * m + c for node in nodes for c in range(m)]
        A[np.ix_(dofs, dofs)] += Ke
        M[np.ix_(dofs, dofs)] += Me
    return A, M


def bloch_fit(micro, C, rho, direction, branches):
    """Fit the lowest Bloch eigenvalues along `direction`: $\\lambda = a\\eta^2 + b\\eta^4 +
    \\dots$; returns `(a, b)` per branch."""
    etas = np.linspace(0.01, 0.1, 10)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        lam = np.array(
            [
                scipy.linalg.eigvalsh(
                    *bloch_matrices(micro, C, rho, e * direction), subset_by_index=[0, branches - 1]
                )
                for e in etas
            ]
        )
    fit = np.linalg.lstsq(np.stack([etas ** (2 * i) for i in range(1, 6)], 1), lam, rcond=None)
    return fit[0][0], fit[0][1]


def assert_k4_terms(fitted, theory):
    """The k^4 coefficients of the branches agree to 1e-5 of the largest one (the fit
    resolves them to ~3e-6)."""
    np.testing.assert_allclose(fitted, theory, rtol=1e-5, atol=1e-5 * np.max(np.abs(theory)))


def test_first_order_tensors_match_the_first_order_solver(asymmetric_cells):
    cond, elastic = asymmetric_cells
    K = hz.effective_conductivity(ASYMMETRIC, CELL_K).tensor
    np.testing.assert_allclose(cond.first, K, atol=1e-8)
    np.testing.assert_allclose(
        elastic.voigt, hz.effective_elasticity(ASYMMETRIC, CELL_MODULI).tensor, atol=1e-8
    )
    assert float(cond.mass) == pytest.approx(np.mean(np.asarray(CELL_RHO)[ASYMMETRIC]), rel=1e-14)


@pytest.mark.parametrize("angle", [0.3, 2.0])
def test_dispersion_matches_the_discrete_bloch_eigenproblem(asymmetric_cells, angle):
    cond, elastic = asymmetric_cells
    n = np.array([math.cos(angle), math.sin(angle)])
    rho = np.asarray(CELL_RHO)
    k = np.asarray(CELL_K)[:, None, None] * np.eye(2)
    a, b = bloch_fit(ASYMMETRIC, k[:, None, :, None, :], rho, n, 1)
    first = cond.rate(n, order=1)
    # measured: a to 1e-10 (conduction) and 3e-9 (elasticity) relative, b to 3e-7 and 5e-6
    assert a[0] == pytest.approx(first, rel=1e-8)
    assert_k4_terms(b, cond.rate(n) - first)
    assert cond.dispersion(n) > 0  # the branch bends below c k (docs: the sign)
    C = np.asarray(to_tensor(_stiffness(CELL_MODULI, 3, 2), 2))
    a, b = bloch_fit(ASYMMETRIC, C, rho, n, 2)
    first = elastic.frequency2(n, order=1)
    np.testing.assert_allclose(a, first, rtol=1e-8)
    # The third-order coupling between the branches is part of the k^4 term.
    assert_k4_terms(b, elastic.frequency2(n) - first)


# --- 4. symmetry --------------------------------------------------------------------------


def rotate(t, R):
    """Transform every index of the tensor `t` by the orthogonal matrix `R`."""
    for axis in range(t.ndim):
        t = np.moveaxis(np.tensordot(R, t, axes=([1], [axis])), 0, axis)
    return t


@pytest.fixture(scope="module")
def square_inclusion():
    micro = np.zeros((8, 8), dtype=int)
    micro[2:6, 2:6] = 1
    return (
        hz.second_order_conductivity(micro, (1.0, 10.0), (1.0, 4.0), period=8.0),
        hz.second_order_elasticity(micro, ((1.0, 0.5), (9.0, 4.0)), (1.0, 4.0), period=8.0),
    )


def test_square_inclusion_has_cubic_symmetry(square_inclusion):
    R90, mirror = np.array([[0.0, -1.0], [1.0, 0.0]]), np.diag([-1.0, 1.0])
    for result in square_inclusion:
        for t in (result.first, result.fourth):
            t = np.asarray(t)
            for R in (R90, mirror):
                np.testing.assert_allclose(rotate(t, R), t, atol=1e-10 * np.max(np.abs(t)))
        assert np.max(np.abs(result.third)) < 1e-12
    cond = np.asarray(square_inclusion[0].fourth)
    # Fully symmetric; cubic: Y1111 = Y2222, no odd-index entries; not isotropic.
    for perm in itertools.permutations(range(4)):
        np.testing.assert_allclose(np.transpose(cond, perm), cond, atol=1e-14)
    assert cond[0, 0, 0, 0] == pytest.approx(cond[1, 1, 1, 1], rel=1e-10)
    assert abs(cond[0, 0, 0, 1]) < 1e-12 * abs(cond[0, 0, 0, 0])
    assert abs(3 * cond[0, 0, 1, 1] - cond[0, 0, 0, 0]) > 1e-3 * abs(cond[0, 0, 0, 0])


def test_transposing_the_cell_swaps_the_axes(asymmetric_cells):
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    flipped = (
        hz.second_order_conductivity(ASYMMETRIC.T, CELL_K, CELL_RHO, period=8.0),
        hz.second_order_elasticity(ASYMMETRIC.T, CELL_MODULI, CELL_RHO, period=8.0),
    )
    for result, other in zip(asymmetric_cells, flipped):
        for name in ("first", "third", "fourth"):
            t = np.asarray(getattr(result, name))
            np.testing.assert_allclose(
                getattr(other, name), rotate(t, swap), atol=1e-10 * max(np.max(np.abs(t)), 1)
            )
    # The symbol is Hermitian by construction of the expansion, not by symmetrisation.
    elastic = asymmetric_cells[1]
    Y = np.asarray(elastic.fourth)
    np.testing.assert_allclose(Y, np.swapaxes(Y, 0, 1), atol=1e-10 * np.max(np.abs(Y)))


# --- 5. the size effect -------------------------------------------------------------------


def test_size_effect_of_a_laminate_ring():
    study = hz.size_effect((4, 6, 8, 12, 16), cells=32, voxels=128, rows=1)
    first, second = study.errors()
    ratio = 1 / study.periods
    # measured: slopes 2.12 and 3.95; errors at H = 16 l: 7.2e-3 and 3.3e-5
    assert log_slope(ratio, first) == pytest.approx(2.0, abs=0.2)
    assert log_slope(ratio, second) >= 3.5
    assert np.all(second < 0.1 * first)
    # The layered ring relaxes slower than the homogeneous one: K_app < K.
    assert np.all(study.resolved < study.first)


# --- 6. bad input ------------------------------------------------------------------------

LAM = hz.laminate((8, 2), 0.5)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: hz.second_order_conductivity(LAM, [1.0]), "conductivities"),
        (lambda: hz.second_order_conductivity(LAM, [1.0, -2.0]), "conductivities"),
        (lambda: hz.second_order_conductivity(LAM, [1.0, 2.0], [1.0, 0.0]), "capacities"),
        (lambda: hz.second_order_conductivity(LAM, [1.0, 2.0], period=0.0), "period"),
        (lambda: hz.second_order_conductivity(LAM, [1.0, 2.0], tol=2.0), "tol"),
        (lambda: hz.second_order_conductivity(LAM, [1.0, 2.0], max_steps=0), "max_steps"),
        (lambda: hz.second_order_conductivity(np.ones(8), [1.0]), "microstructure"),
        (lambda: hz.second_order_elasticity(LAM, [[1.0, 1.0]]), "moduli"),
        (lambda: hz.second_order_elasticity(LAM, MODULI, [1.0, -1.0]), "densities"),
        (lambda: hz.laminate_dispersion((1.0, 1.0, 1.0), (1, 2, 3), (1, 2, 3)), "thicknesses"),
        (lambda: hz.laminate_dispersion((1.0, 1.0), (1, -2), (1, 2)), "moduli"),
        (lambda: hz.rytov(0.1, (1.0, 1.0), (1.0,), (1.0, 1.0)), "moduli"),
        (lambda: hz.rytov(np.nan, (1.0, 1.0), (1.0, 2.0), (1.0, 1.0)), "k"),
        (lambda: hz.size_effect((2, 4)), "periods"),
        (lambda: hz.size_effect((4, 6), cells=0), "cells"),
    ],
)
def test_bad_input_is_reported(call, match):
    with pytest.raises(gm.InputError, match=match):
        call()


def test_unconverged_solves_are_reported():
    with pytest.raises(gm.SolverError, match="max_steps"):
        hz.second_order_conductivity(LAM, KAPPA, max_steps=1)


def test_bad_queries_are_reported(conduction_laminates, elastic_laminates):
    cond, elastic = conduction_laminates[8], elastic_laminates[8]
    with pytest.raises(gm.InputError, match="direction"):
        cond.dispersion([0.0, 0.0])
    with pytest.raises(gm.InputError, match="direction"):
        elastic.dispersion([1.0, 0.0, 0.0])
    with pytest.raises(gm.InputError, match="rate"):
        elastic.rate([0.1, 0.0])
    with pytest.raises(gm.InputError, match="frequency2"):
        cond.frequency2([0.1, 0.0])
    with pytest.raises(gm.InputError, match="order"):
        cond.rate([0.1, 0.0], order=3)
    with pytest.raises(gm.InputError, match="k must"):
        cond.rate([0.1, 0.0, 0.0])
    with pytest.raises(gm.InputError, match="voigt"):
        cond.voigt  # noqa: B018


def test_size_effect_refuses_two_different_laminates():
    """0.3 of 32 cells is 0.3125, of 128 voxels 0.297: the ring and the cell would differ by
    more than the size effect being measured."""
    with pytest.raises(gm.InputError, match="fraction: 0.3 is 0.3125 of 32 cells but 0.296875"):
        hz.size_effect((4,), fraction=0.3, cells=32, voxels=128)


def test_three_dimensional_cell():
    """A cube inclusion in a 4^3 cell: the first-order tensor is the 3D first-order solver's,
    the fourth-order tensor has the cube's symmetry (equal along the three axes and in the
    three mixed planes, zero where a mirror makes it odd), and the branch disperses along
    each axis alike."""
    micro = np.zeros((4, 4, 4), dtype=int)
    micro[1:3, 1:3, 1:3] = 1
    r = hz.second_order_conductivity(micro, (1.0, 10.0), (1.0, 4.0), period=4.0)
    K = hz.effective_conductivity(micro, (1.0, 10.0)).tensor
    np.testing.assert_allclose(r.first, K, atol=1e-8)
    Y = np.asarray(r.fourth)
    axes = [Y[i, i, i, i] for i in range(3)]
    assert np.ptp(axes) < 1e-8 * np.max(np.abs(axes))
    mixed = [Y[0, 0, 1, 1], Y[0, 0, 2, 2], Y[1, 1, 2, 2]]  # equal by the cube's symmetry
    assert np.ptp(mixed) < 1e-8 * np.max(np.abs(Y))
    assert abs(Y[0, 0, 0, 1]) < 1e-8 * np.max(np.abs(Y))  # odd in y: zero by the mirror
    betas = [r.dispersion(n) for n in np.eye(3)]
    assert np.ptp(betas) < 1e-8 * max(betas) and min(betas) > 0
