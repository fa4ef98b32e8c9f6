"""Structured models: template checks, assembly, closed forms, size independence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm import ModelError
from generic_mm.integrators import DENSE_LIMIT
from generic_mm.models import atomic_chain, heat_conduction, thermoelastic_rod
from generic_mm.structured import Cells, Grid, Interaction, StructuredModel


def _mode_rate(k, shape):
    # C dT/dt = kappa * discrete Laplacian; a Fourier mode decays at sum_d 2 (1 - cos(2 pi m_d / N_d)).
    return sum(2 * (1 - np.cos(2 * np.pi * m / n)) for m, n in zip(k, shape))


@pytest.mark.parametrize("shape, mode", [((32,), (3,)), ((12, 16), (1, 2))])
def test_fourier_mode_decays_at_the_discrete_rate(shape, mode):
    C, k = 2.0, 0.7
    model = heat_conduction.model(shape, C=C, k=k, periodic=True)
    x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    phase = sum(2 * np.pi * m * xi / n for m, xi, n in zip(mode, x, shape))
    T0 = 1.0 + 0.2 * np.cos(phase)
    t1 = 3.0
    traj = gm.simulate(
        model,
        {"s": heat_conduction.entropy_of(T0, C)},
        t1,
        saveat=[0.0, t1],
        rtol=1e-11,
        atol=1e-13,
    )
    T = np.exp(np.asarray(traj["s"][-1]) / C)
    expected = 1.0 + 0.2 * np.exp(-k / C * _mode_rate(mode, shape) * t1) * np.cos(phase)
    np.testing.assert_allclose(T, expected, rtol=0, atol=2e-9)
    assert abs(float(traj.energy[-1] - traj.energy[0])) <= 1e-9 * float(traj.energy[0])
    assert float(traj.entropy[-1]) > float(traj.entropy[0])


def test_steady_state_between_two_reservoirs_is_linear():
    n, TL, TR = 10, 2.0, 1.0
    model = heat_conduction.model(n, k=0.5, reservoirs={"x-": TL, "x+": TR})
    traj = gm.simulate(
        model,
        {"cell.s": 0.0, "reservoir.s": 0.0},
        2000.0,
        saveat=[0.0, 2000.0],
        solver=__import__("diffrax").Kvaerno5(),
        rtol=1e-10,
        atol=1e-12,
    )
    T = np.exp(np.asarray(traj["cell.s"][-1]))
    # series resistances: half a cell at each end, so T_i = TL + (TR - TL)(i + 1/2)/n
    np.testing.assert_allclose(T, TL + (TR - TL) * (np.arange(n) + 0.5) / n, atol=1e-7)
    # the reservoirs' entropy flows: the left one loses Q/TL, the right one gains Q/TR
    s_res = np.asarray(traj["reservoir.s"][-1])
    assert s_res[0] < 0 < s_res[1]


def test_template_report_is_symbolic_and_assembly_matches_flat_model():
    model = heat_conduction.model(
        (3, 4),
        k=np.arange(1.0, 13.0).reshape(3, 4),
        spacing=(1.0, 0.5),
        reservoirs={"x-": 1.5, "y+": 0.8},
    )
    report = gm.check(model)
    assert report.ok and all(r.method == "symbolic" for r in report)
    flat = model.to_generic()
    assert gm.check(flat).ok
    y = np.random.default_rng(0).normal(size=model.n) * 0.3
    cs, cf = gm.compile(model), gm.compile(flat)
    np.testing.assert_allclose(cs.vector_field(0, y), cf.vector_field(0, y), rtol=1e-12, atol=1e-14)
    for a, b in zip(cs.thermodynamics(y), cf.thermodynamics(y)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    L, M, gE, gS = cs.operators(y)
    Lf, Mf, gEf, gSf = cf.operators(y)
    np.testing.assert_allclose(M, Mf, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gE, gEf, rtol=1e-12)


@pytest.mark.parametrize(
    "build",
    [lambda: thermoelastic_rod.model(6), lambda: atomic_chain.model(7)],
    ids=["rod", "chain"],
)
def test_library_structured_models_pass_template_and_assembled_checks(build):
    model = build()
    assert gm.check(model).ok
    flat = model.to_generic()
    assert gm.check(flat).ok
    rng = np.random.default_rng(1)
    y = rng.normal(size=model.n) * 0.01
    np.testing.assert_allclose(
        gm.compile(model).vector_field(0, y),
        gm.compile(flat).vector_field(0, y),
        rtol=1e-11,
        atol=1e-14,
    )


def test_fields_sum_to_totals():
    model = atomic_chain.model(9)
    cm = gm.compile(model)
    y = jnp.asarray(np.random.default_rng(2).normal(size=model.n) * 0.2)
    E, S, sigma = cm.thermodynamics(y)
    f = cm.fields(y)
    assert f["atom"]["energy"].shape == (9,)
    for key, total in (("energy", E), ("entropy", S), ("entropy_production", sigma)):
        got = sum(float(jnp.sum(f[k][key])) for k in f)
        np.testing.assert_allclose(got, float(total), rtol=1e-12, atol=1e-15)
    assert float(sigma) > 0


def test_uniform_velocity_of_the_chain_decays_exponentially_into_the_bath():
    n, gamma, m = 16, 0.3, 2.0
    model = atomic_chain.model(n, gamma=gamma, m=m)
    traj = gm.simulate(model, {"u": 0.0, "p": m * 0.5, "bath.s": 0.0}, 4.0, rtol=1e-10, atol=1e-12)
    v = np.asarray(traj["p"]) / m
    expected = 0.5 * np.exp(-gamma / m * np.asarray(traj.ts))[:, None]
    np.testing.assert_allclose(v, np.broadcast_to(expected, v.shape), rtol=1e-7)
    kinetic_lost = n * m * 0.25 / 2 * (1 - np.exp(-2 * gamma / m * 4.0))
    np.testing.assert_allclose(
        float(traj["bath.s"][-1][0]) * 1.0, kinetic_lost, rtol=1e-7
    )  # T_bath = 1
    assert traj.ok


def test_heated_free_rod_is_at_rest_at_the_thermal_expansion_strain():
    n, alpha, c = 20, 0.1, 1.0
    model = thermoelastic_rod.model(n, alpha=alpha, c=c)
    cm = gm.compile(model)
    h = 1.0 / n
    s = 0.02 * c * h  # entropy per cell: theta = T0 s / (c h) = 0.02
    eps = alpha * 0.02  # stress-free strain: K eps = K alpha theta
    u = eps * h * np.arange(n)
    y = cm.layout.pack({"u": u, "p": 0.0, "s": s})
    rates = np.asarray(cm.vector_field(0, y)).reshape(n, 3)
    np.testing.assert_allclose(rates[:, :2], 0.0, atol=1e-15)  # stress free, at rest
    # an end cell has one bond, so half the coupling shift of its temperature: heat flows
    # there only; the interior is in equilibrium
    np.testing.assert_allclose(rates[2:-2, 2], 0.0, atol=1e-15)
    assert abs(rates[0, 2]) > 1e-6


def test_rod_vibration_is_damped_by_conduction_with_energy_conserved():
    n = 32
    model = thermoelastic_rod.model(n, periodic=True, alpha=0.3, k=0.02)
    x = (np.arange(n) + 0.5) / n
    y0 = {"u": 0.01 / n * np.sin(2 * np.pi * x), "p": 0.0, "s": 0.0}
    traj = gm.simulate(model, y0, 30.0, saveat=301, rtol=1e-10, atol=1e-12)
    assert traj.ok and float(traj.energy_drift) < 1e-6  # E is ~1e-3: drift at atol level
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-14)
    assert float(traj.entropy_produced) > 0
    # The wave's envelope decays at the rate of the acoustic eigenvalue of the linearised
    # model (thermoelastic damping by conduction): an independent reference for the rate.
    cm = gm.compile(model)
    J = np.asarray(jax.jacfwd(lambda y: cm.vector_field(0.0, y))(jnp.zeros(cm.n)))
    w, V = np.linalg.eig(J)
    sin = np.sin(2 * np.pi * x)
    weight = np.abs(V[0::3, :].T @ sin) / np.linalg.norm(V, axis=0) * (np.abs(w.imag) > 1e-9)
    lam = w[np.argmax(weight)]
    assert -0.1 < lam.real < -0.01  # damped, weakly: the rate is a real check
    A = np.asarray(traj["u"]) @ sin * 2 / n
    P = np.asarray(traj["p"]) @ sin * 2 / n
    mass = 1.0 / n  # rho h
    envelope = np.sqrt(A**2 + (P / (mass * abs(lam.imag))) ** 2)
    rate = np.polyfit(np.asarray(traj.ts), np.log(envelope), 1)[0]
    assert rate == pytest.approx(lam.real, rel=1e-3)


def test_compiled_program_size_does_not_depend_on_the_number_of_cells():
    sizes = []
    for shape in ((8, 8), (200, 200)):
        cm = gm.compile(
            heat_conduction.model(shape, periodic=(True, False), reservoirs={"y-": 1.0})
        )
        y = jnp.zeros(cm.n)
        sizes.append(len(jax.make_jaxpr(lambda cm, y: cm.vector_field(0, y))(cm, y).eqns))
    assert sizes[0] == sizes[1]


def test_discrete_gradient_on_a_large_structured_model_uses_matrix_free_newton():
    model = heat_conduction.model(
        (24, 24), k=np.where(np.arange(24)[:, None] < 12, 1.0, 0.1) * np.ones((24, 24))
    )
    x = np.arange(24)
    T0 = 1.0 + 0.5 * (x[:, None] < 8) * (x[None, :] < 8)
    traj = gm.simulate(
        model,
        {"s": heat_conduction.entropy_of(T0)},
        2.0,
        solver=gm.DiscreteGradient(),
        dt0=0.25,
        saveat=__import__("diffrax").SaveAt(steps=True),
    )
    e = np.asarray(traj.energy)[np.isfinite(np.asarray(traj.ts))]
    s = np.asarray(traj.entropy)[np.isfinite(np.asarray(traj.ts))]
    assert len(e) == 8 and model.n > DENSE_LIMIT  # so Newton runs GMRES on Jacobian-vector products
    assert np.max(np.abs(e - e[0])) <= 1e-11 * e[0]
    assert np.all(np.diff(s) > 0)


def test_wrong_friction_block_fails_with_a_template_counterexample():
    s = sp.Symbol("s", real=True)
    kappa = sp.Symbol("kappa", positive=True)
    g = Grid(5)
    cells = Cells("cell", [s], sp.exp(s), s, shape=g)
    bad = Interaction(
        "bad",
        ("cell", "cell"),
        g.edges,
        friction=lambda a, b: kappa * sp.Matrix([[1, -1], [-1, 1]]),
        params={kappa: 1.0},
    )
    report = gm.check(StructuredModel(cells, [bad]))
    r = report["friction_degeneracy"]
    assert not r.passed and "template 'bad'" in r.message and r.counterexample
    with pytest.raises(gm.ConsistencyError, match="friction_degeneracy"):
        gm.compile(StructuredModel(cells, [bad]))


def test_state_dependent_overlapping_poisson_blocks_are_not_claimed():
    q = sp.Symbol("q", real=True)
    g = Grid(4)
    cells = Cells("cell", [q], q**2 / 2, 0, shape=g)
    inter = Interaction(
        "twist",
        ("cell", "cell"),
        g.edges,
        poisson=lambda a, b: sp.Matrix([[0, a.q * b.q], [-a.q * b.q, 0]]),
    )
    r = gm.check(StructuredModel(cells, [inter]))["jacobi_identity"]
    assert not r.passed and "not established" in r.message


def test_bad_templates_are_reported_by_name():
    s = sp.Symbol("s", real=True)
    g = Grid(4)
    cells = Cells("cell", [s], sp.exp(s), s, shape=g, params={"c": np.ones(4)})
    with pytest.raises(ModelError, match=r"interaction 'x' edges: entry 0 refers to cell 9"):
        StructuredModel(
            cells, [Interaction("x", ("cell", "cell"), [[9, 1]], friction=lambda a, b: sp.zeros(2))]
        )
    with pytest.raises(ModelError, match=r"expected a 2x2 SymPy Matrix"):
        StructuredModel(
            cells, [Interaction("x", ("cell", "cell"), g.edges, friction=lambda a, b: sp.zeros(3))]
        )
    with pytest.raises(ModelError, match=r"no variable or parameter 'T'; it has \['s', 'c'\]"):
        StructuredModel(
            cells,
            [Interaction("x", ("cell", "cell"), g.edges, friction=lambda a, b: a.T * sp.eye(2))],
        )
    with pytest.raises(ModelError, match=r"Poisson operator must not depend on dE"):
        StructuredModel(
            cells,
            [
                Interaction(
                    "x",
                    ("cell", "cell"),
                    g.edges,
                    poisson=lambda a, b: sp.Matrix([[0, a.dE("s")], [-a.dE("s"), 0]]),
                )
            ],
        )
    with pytest.raises(ModelError, match=r"joins cell 1 of 'cell' to itself"):
        StructuredModel(
            cells, [Interaction("x", ("cell", "cell"), [[1, 1]], friction=lambda a, b: sp.zeros(2))]
        )
    with pytest.raises(
        ModelError, match=r"params\['c'\]: expected a number or an array of shape \(4,\)"
    ):
        Cells("cell", [s], sp.exp(s), s, shape=g, params={"c": np.ones(3)})
    with pytest.raises(ModelError, match=r"unknown symbol 'k'"):
        Cells("cell", [s], sp.Symbol("k") * s, s, shape=g)
    with pytest.raises(ModelError, match="periodic axis needs at least 3 cells"):
        Grid(2, periodic=True)


def test_initial_fields_are_validated_by_name():
    model = heat_conduction.model((3, 3))
    with pytest.raises(
        gm.InputError, match=r"y0\['s'\]: expected a number or an array of shape \(3, 3\)"
    ):
        gm.simulate(model, {"s": np.zeros(4)}, 1.0)
    with pytest.raises(gm.InputError, match=r"y0\['T'\]: not a state variable"):
        gm.simulate(model, {"T": 0.0}, 1.0)
