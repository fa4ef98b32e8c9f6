"""Concurrent multiscale: the nested model's consistency (and the checks catching broken
couplings), conservation, the separated-scale limit, and the comparison with the resolved
and hierarchical models."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
import generic_mm.homogenization as hz
import generic_mm.multiscale as ms
from generic_mm.multiscale import _nested

pytestmark = pytest.mark.xdist_group("multiscale")

MICRO = hz.inclusion((4, 4), 0.25)  # phase 1: a 2x2 inclusion in the middle
T = sp.Symbol("T", positive=True)


def _failed(model) -> dict[str, gm.CheckResult]:
    report = gm.check(model, samples=64)
    return {r.name: r for r in report.results if not r.passed}


@pytest.fixture(scope="module")
def ring():
    """A periodic 1D ring of 5 cells with the inclusion RVE."""
    return ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, 0.2], (5,), period=1.0, spacing=1.0)


@pytest.mark.parametrize(
    "shape, periodic, coupling",
    [((5,), True, "boundary"), ((4,), False, "volume"), ((3, 2), (True, False), "boundary")],
)
def test_nested_models_pass_every_check(shape, periodic, coupling):
    model = ms.nested_conduction(
        MICRO,
        [1.0, 3.0],
        [1.0, 0.2 * (1 + T / 100)],
        shape,
        period=1.0,
        spacing=2.0,
        periodic=periodic,
        coupling=coupling,
        temperature_range=(1.0, 1e3),
    )
    report = gm.check(model, samples=64)
    assert report.ok, str(report)
    assert report["jacobi_identity"].method == "symbolic"
    assert "assembled" in report["friction_positive_semidefinite"].message


def test_checks_catch_a_coupling_that_leaks_energy(monkeypatch):
    """An insulated face closed with a ghost cell at zero (instead of no face) makes the
    macroscopic gradient of a uniform field nonzero: M grad E != 0."""
    original = _nested.NestedFunctions._macro_gradients

    def ghost(self, zbar):
        G = original(self, zbar)
        return G.at[1, -1, 0].add(-zbar[-1] / self.model.spacing)

    monkeypatch.setattr(_nested.NestedFunctions, "_macro_gradients", ghost)
    model = ms.nested_conduction(
        MICRO, [1.0, 3.0], [1.0, 0.2], (3,), period=1.0, spacing=1.0, periodic=False
    )
    failed = _failed(model)
    assert set(failed) == {"friction_degeneracy"}
    assert failed["friction_degeneracy"].residual > 1e-3  # not round-off: rtol is 1e-8
    assert "T_macro[0]" in failed["friction_degeneracy"].counterexample


def test_checks_catch_an_unsymmetric_assembly(monkeypatch):
    original = _nested.NestedFunctions._products

    def skewed(self, y, p, v):
        out, T, C = original(self, y, p, v)
        return out + 1e-3 * jnp.roll(out, 1), T, C

    monkeypatch.setattr(_nested.NestedFunctions, "_products", skewed)
    model = ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, 0.2], (3,), period=1.0, spacing=1.0)
    assert "friction_symmetric" in _failed(model)


def test_checks_catch_a_conductivity_negative_in_a_narrow_window():
    """Negative only within about 1 K of 300 K, inside the default range 1e-3..1e4."""
    dip = 0.2 * (1 - 1.5 * sp.exp(-(((T - 300) / 0.5) ** 2)))
    model = ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, dip], (3,), period=1.0, spacing=1.0)
    failed = _failed(model)
    assert set(failed) == {"friction_positive_semidefinite"}
    ce = failed["friction_positive_semidefinite"].counterexample
    assert ce["phase"] == 1 and abs(ce["T"] - 300) < 1
    asym = ms.nested_conduction(
        MICRO, [1.0, 3.0], [[[1.0, 0.5], [0.0, 1.0]], 0.2], (3,), period=1.0, spacing=1.0
    )
    assert set(_failed(asym)) == {"friction_symmetric"}


def test_energy_conserved_entropy_rises_and_insulated_cells_equilibrate():
    model = ms.nested_conduction(
        MICRO, [1.0, 3.0], [1.0, 0.2], (4,), period=1.0, spacing=1.0, periodic=False
    )
    y0 = model.state(np.array([1.0, 2.0, 1.5, 1.2]))
    traj = gm.simulate(
        model, y0, t1=60.0, solver=diffrax.Kvaerno5(), rtol=1e-7, atol=1e-10, check=False
    )
    E = np.asarray(traj.energy)
    assert np.max(np.abs(E - E[0])) < 1e-7 * E[0]  # the implicit solver's tolerance
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-12)
    # The vector field itself conserves E to round-off: grad E . dx/dt = 0.
    compiled = gm.compile(model, check=False)
    for y in np.asarray(traj.ys)[:5]:
        rate = np.asarray(compiled.vector_field(0.0, y))
        power = np.asarray(compiled.grad_energy(y)) * rate
        assert abs(power.sum()) < 1e-13 * np.abs(power).sum()
    # The equilibrium conserves energy: T_eq = E / C (the state's T_ref is 1).
    C = 4 * float(np.sum(model._functions().node_capacity(jnp.asarray([1.0, 3.0]))))
    T_end = np.asarray(model.temperatures(traj.ys[-1]))
    np.testing.assert_allclose(T_end, E[0] / C, rtol=1e-6)


def test_rves_are_batched_compile_size_does_not_grow_with_cells():
    sizes = []
    for cells in (4, 64):
        model = ms.nested_conduction(
            MICRO, [1.0, 3.0], [1.0, 0.2], (cells,), period=1.0, spacing=1.0
        )
        compiled = gm.compile(model, check=False)
        y = jnp.asarray(model.state(1.0))
        field = compiled.vector_field
        sizes.append(len(jax.make_jaxpr(lambda y, f=field: f(0.0, y))(y).eqns))
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize(
    "micro, ks, residual",
    # Across a contrast-100 laminate the heat delivered at the RVE's boundary nodes must
    # cross the slow layer: the fluctuation it drives is 100x larger (Hill-Mandel 3e-3).
    [(MICRO, [1.0, 0.2], 1e-3), (hz.laminate((4, 2), 0.5), [50.0, 0.5], 1e-2)],
    ids=["inclusion", "laminate-across-contrast-100"],
)
def test_separated_scales_decay_at_the_hierarchical_rate_and_hill_mandel_holds(micro, ks, residual):
    """A period 1/40 of the cell: micro diffusion far faster than the macroscopic mode.
    The mode decays at the hierarchical model's discrete rate k_eff (2 sin(qH/2)/H)^2 /
    C_bar: the face choices cost what the RVE's correctors say, so the scheme is the
    compact one with k_eff. Without the corrector term the laminate across its layers
    (<k>/k_eff = 25) would decay 4.6x too fast at 6 cells per wavelength. The RVEs stay in
    micro equilibrium (Hill-Mandel)."""
    N, H, period = 6, 1.0, 1.0 / 40
    caps = [1.0, 3.0]
    model = ms.nested_conduction(micro, caps, ks, (N,), period=period, spacing=H)
    fractions = hz.volume_fractions(micro)
    k_eff = float(hz.effective_conductivity(micro, np.array(ks)).tensor[0, 0])
    hierarchical = k_eff * (2 * np.sin(np.pi / N) / H) ** 2 / float(np.dot(fractions, caps))
    y0 = model.state(1.0 + 1e-3 * np.cos(2 * np.pi * np.arange(N) / N))
    ts = np.array([0.0, 0.5, 1.0]) / hierarchical
    traj = gm.simulate(
        model,
        y0,
        t1=ts[-1],
        saveat=ts,
        solver=diffrax.Kvaerno5(),
        rtol=1e-8,
        atol=1e-11,
        check=False,
    )
    amp = np.abs(np.fft.rfft(np.asarray(model.macro_temperature(traj.ys)), axis=1)[:, 1])
    measured = -np.log(amp[2] / amp[1]) / (ts[2] - ts[1])
    assert abs(measured / hierarchical - 1) < 1e-3
    assert np.max(np.asarray(traj.observables["hill_mandel"])) < residual


def test_input_errors_name_the_argument():
    with pytest.raises(gm.InputError, match="conductivities\\[1\\]: unknown symbol"):
        ms.nested_conduction(
            MICRO, [1.0, 3.0], [1.0, sp.Symbol("q")], (3,), period=1.0, spacing=1.0
        )
    with pytest.raises(gm.InputError, match="one capacity and one conductivity per phase"):
        ms.nested_conduction(MICRO, [1.0], [1.0, 2.0], (3,), period=1.0, spacing=1.0)
    with pytest.raises(gm.InputError, match="must be sequences"):
        ms.nested_conduction(MICRO, 1.0, [1.0, 2.0], (3,), period=1.0, spacing=1.0)
    with pytest.raises(gm.InputError, match="macro_shape"):
        ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, 2.0], (3.5,), period=1.0, spacing=1.0)
    ring = ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, 2.0], (3,), period=1.0, spacing=1.0)
    with pytest.raises(gm.InputError, match="48 variables"):
        ring.macro_temperature(np.zeros(47))
    with pytest.raises(gm.InputError, match="finite"):
        ring.state(np.nan)
    with pytest.raises(gm.InputError, match="coupling"):
        ms.nested_conduction(
            MICRO, [1.0, 3.0], [1.0, 2.0], (3,), period=1.0, spacing=1.0, coupling="edges"
        )
    with pytest.raises(gm.InputError, match="whole number of periods"):
        ms.resolved_conduction(MICRO, [1.0, 3.0], [1.0, 2.0], (3,), period=1.0, spacing=1.5)
    with pytest.raises(gm.InputError, match="table="):
        ms.hierarchical_conduction(MICRO, [1.0, 3.0], [1.0, T / 100], (3,), period=1.0, spacing=1.0)
    with pytest.raises(gm.InputError, match="macro_shape"):
        ms.nested_conduction(MICRO, [1.0, 3.0], [1.0, 2.0], (3, 3, 3), period=1.0, spacing=1.0)


def test_law_parameters_are_pinned_and_states_stay_in_the_checked_range():
    """The checks judged K(T) at the given parameter values and over temperature_range:
    another value (a negative conductivity) or a state outside the range is refused."""
    k0 = sp.Symbol("k0")
    model = ms.nested_conduction(
        MICRO,
        [1.0, 3.0],
        [k0, 0.2],
        (3,),
        period=1.0,
        spacing=1.0,
        params={k0: 1.0},
        temperature_range=(0.5, 10.0),
    )
    assert gm.check(model, samples=32).ok
    y0 = model.state(1.0)
    with pytest.raises(gm.InputError, match="k0"):
        gm.simulate(model, y0, t1=1e-3, params={"k0": -1.0}, check=False)
    with pytest.raises(gm.InputError, match="temperature_range"):
        model.state(0.3)


def test_hierarchical_table_holds_the_effective_conductivity_at_its_nodes():
    laws = [1 / T, T / 10]
    model = ms.hierarchical_conduction(
        MICRO, [1.0, 3.0], laws, (4,), period=1.0, spacing=1.0, table=(1.0, 3.0, 5)
    )
    fn = model._functions()
    pv = fn._pvec(model.parameter_values())
    for t, K in zip(model.table_temperatures, model.table_values, strict=True):
        direct = hz.effective_conductivity(MICRO, np.array([1 / t, t / 10])).tensor
        np.testing.assert_allclose(K, direct, rtol=1e-12, atol=1e-14)
        interpolated = np.asarray(fn.laws[0](jnp.asarray([t]), pv)[0])
        np.testing.assert_allclose(interpolated, direct, rtol=1e-10, atol=1e-12)
    between = hz.effective_conductivity(MICRO, np.array([1 / 2.1, 0.21])).tensor
    np.testing.assert_allclose(
        np.asarray(fn.laws[0](jnp.asarray([2.1]), pv)[0]), between, rtol=1e-3, atol=1e-12
    )
    with pytest.raises(gm.InputError, match="drop table"):
        ms.hierarchical_conduction(
            MICRO, [1.0, 3.0], [1.0, 0.2], (4,), period=1.0, spacing=1.0, table=(1.0, 3.0, 5)
        )


def test_coarse_temperature_of_a_3d_resolved_model_is_the_block_energy_over_capacity():
    micro = np.zeros((2, 2, 2), dtype=int)
    micro[1, 1, 1] = 1
    res = ms.resolved_conduction(micro, [1.0, 3.0], [1.0, 0.2], (3,), period=1.0, spacing=1.0)
    assert res.field_shape == (1, 6, 2, 2)
    T = np.linspace(1.0, 2.0, 6)[:, None, None] * np.ones((6, 2, 2))
    coarse = ms.coarse_temperature(res, res.state(T[None]), (3,))
    C = np.asarray(res._functions().node_capacity(jnp.asarray([1.0, 3.0])))
    expected = [(C * T)[2 * i : 2 * i + 2].sum() / C[2 * i : 2 * i + 2].sum() for i in range(3)]
    np.testing.assert_allclose(coarse, expected, rtol=1e-12)
    nested = ms.nested_conduction(micro, [1.0, 3.0], [1.0, 0.2], (3,), period=1.0, spacing=1.0)
    with pytest.raises(gm.InputError, match="resolved model"):
        ms.coarse_temperature(nested, nested.state(1.0), (3,))
