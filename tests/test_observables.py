"""Observables, named processes and couplings, conjugate variables, units, and trajectories
saved and loaded: what a thermodynamicist reads off a run."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm.models import thermoelastic_rod

q, p, s1, s2 = sp.symbols("q p s1 s2", real=True)
k, gamma, kappa, c = sp.symbols("k gamma kappa c", positive=True)
T1s, T2s = sp.symbols("T1 T2", real=True)


def conduction(Ta, Tb, n, i, j):
    """Heat conduction between entropy variables i and j: M grad E = 0, PSD."""
    M = sp.zeros(n, n)
    M[i, i], M[i, j], M[j, i], M[j, j] = Tb / Ta, -1, -1, Ta / Tb
    return M


def two_bath_oscillator(**extra):
    """A damped oscillator whose friction heats bath 1, which conducts heat to bath 2:
    two named dissipative processes with closed-form entropy production."""
    T1, T2 = sp.exp(s1 / c), sp.exp(s2 / c)
    M_visc = sp.zeros(4, 4)
    # friction on (p, s1): gamma T1 [[1, -p/T1], [-p/T1, p^2/T1^2]]
    M_visc[1, 1], M_visc[1, 2], M_visc[2, 1], M_visc[2, 2] = (
        gamma * T1s,
        -gamma * p,
        -gamma * p,
        gamma * p**2 / T1s,
    )
    return gm.GenericModel(
        [q, p, s1, s2],
        p**2 / 2 + k * q**2 / 2 + c * T1s + c * T2s,
        s1 + s2,
        {"mechanics": [[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]},
        {"viscosity": M_visc, "conduction": kappa * conduction(T1s, T2s, 4, 2, 3)},
        params={k: 1.0, gamma: 0.3, kappa: 0.2, c: 1.0},
        name="two-bath oscillator",
        definitions={"T1": T1, "T2": T2},
        observables={"T1": T1s, "T2": T2s, "kinetic": p**2 / 2},
        units={"T1": "K", "T2": "K", "q": "m", "kinetic": "J"},
        **extra,
    )


MODEL = two_bath_oscillator()
Y0 = {"q": 1.0, "p": 0.0, "s1": 0.0, "s2": -0.5}


@pytest.fixture(scope="module")
def traj():
    return gm.simulate(MODEL, Y0, t1=20.0, saveat=201)


def test_definitions_are_expanded_for_computing_and_kept_for_display():
    assert MODEL.energy == p**2 / 2 + k * q**2 / 2 + c * sp.exp(s1 / c) + c * sp.exp(s2 / c)
    src = MODEL.source_form()
    assert src.definitions == {"T1": sp.exp(s1 / c), "T2": sp.exp(s2 / c)}
    assert T1s in src.energy.free_symbols
    assert set(src.friction) == {"viscosity", "conduction"}
    assert MODEL.observables["T1"] == sp.exp(s1 / c)
    assert MODEL.friction == MODEL.processes["viscosity"] + MODEL.processes["conduction"]
    again = MODEL.with_params(gamma=0.5)
    assert again.source_form().definitions == src.definitions
    assert again.named_processes and again.processes.keys() == MODEL.processes.keys()
    assert again.units == MODEL.units


def test_observables_and_conjugates_along_the_trajectory(traj):
    T1 = np.exp(np.asarray(traj["s1"]) / 1.0)
    np.testing.assert_allclose(traj["T1"], T1, rtol=1e-13)
    np.testing.assert_allclose(traj["kinetic"], np.asarray(traj["p"]) ** 2 / 2, rtol=1e-13)
    # The conjugates come for free: dE/ds1 is the temperature of bath 1, dS/ds = 1.
    np.testing.assert_allclose(traj.grad_energy["s1"], traj["T1"], rtol=1e-13)
    np.testing.assert_allclose(traj.grad_energy["q"], np.asarray(traj["q"]), rtol=1e-13)
    np.testing.assert_allclose(traj.grad_entropy["s2"], 1.0)
    assert np.asarray(traj.grad_energy).shape == traj.ys.shape
    assert traj.observable_names == ("T1", "T2", "kinetic")
    assert traj.units["T1"] == "K" and traj.name == "two-bath oscillator"


def test_entropy_production_by_process_has_closed_forms_and_sums_to_the_total(traj):
    by = traj.entropy_production_by_process
    assert list(by) == ["viscosity", "conduction"]
    P, T1, T2 = (np.asarray(traj[n]) for n in ("p", "T1", "T2"))
    np.testing.assert_allclose(by["viscosity"], 0.3 * P**2 / T1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        by["conduction"], 0.2 * (T1 - T2) ** 2 / (T1 * T2), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        by["viscosity"] + by["conduction"], traj.entropy_production, rtol=1e-13, atol=1e-15
    )
    assert min(np.min(v) for v in by.values()) >= 0.0
    # The production integrates to the entropy produced (trapezoid rule, 201 points).
    integral = np.trapezoid(np.asarray(traj.entropy_production), np.asarray(traj.ts))
    assert integral == pytest.approx(float(traj.entropy_produced), rel=2e-3)
    # Both mechanisms matter here: neither is negligible.
    assert np.trapezoid(by["conduction"], traj.ts) > 0.05 * integral
    assert np.trapezoid(by["viscosity"], traj.ts) > 0.05 * integral


def test_ensembles_batch_observables_and_processes():
    ens = gm.simulate(MODEL, Y0, t1=2.0, saveat=11, params={"gamma": np.array([0.1, 0.4])})
    assert ens["T1"].shape == (2, 11)
    assert ens.entropy_production_by_process["viscosity"].shape == (2, 11)
    assert ens.grad_energy["s1"].shape == (2, 11)
    # More friction, more viscous production early on.
    v = np.asarray(ens.entropy_production_by_process["viscosity"])
    assert np.all(v[1, 1:4] > v[0, 1:4])
    # An ensemble over parameters shares one time axis; per-member results still work.
    produced = np.asarray(ens.entropy_produced)
    assert produced.shape == (2,) and np.all(produced > 0) and "ensemble of 2" in ens.summary()


def test_each_process_is_checked_on_its_own():
    # 2 C - C = C is PSD, but the process "backflow" alone (-C) is not: a process that
    # destroys entropy is refused even when another one more than makes up for it.
    C = conduction(T1s, T2s, 4, 2, 3)
    model = two_bath_oscillator().__class__(
        [q, p, s1, s2],
        p**2 / 2 + k * q**2 / 2 + c * T1s + c * T2s,
        s1 + s2,
        [[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        {"forward": 2 * kappa * C, "backflow": -kappa * C},
        params={k: 1.0, kappa: 0.2, c: 1.0},
        definitions={"T1": sp.exp(s1 / c), "T2": sp.exp(s2 / c)},
    )
    report = gm.check(model)
    assert not report.ok
    psd = report["friction_positive_semidefinite"]
    assert not psd.passed and "'backflow'" in psd.message
    assert [r.passed for r in report.processes["forward"]] == [True, True, True]
    assert not report.processes["backflow"][1].passed
    assert "backflow" in str(report)
    # The same operator given as one sum passes: it is the split that is inconsistent.
    summed = gm.GenericModel(
        [q, p, s1, s2],
        model.energy,
        model.entropy,
        model.poisson,
        model.friction,
        params={k: 1.0, kappa: 0.2, c: 1.0},
    )
    assert gm.check(summed).ok


def test_each_coupling_is_checked_on_its_own_and_jacobi_on_the_sum():
    x, y, z = sp.symbols("x y z", real=True)
    # Two couplings that are each antisymmetric and constant (Jacobi trivially), and one
    # that is not antisymmetric.
    good = gm.GenericModel(
        [x, y, z],
        (x**2 + y**2 + z**2) / 2,
        0,
        {"xy": [[0, 1, 0], [-1, 0, 0], [0, 0, 0]], "yz": [[0, 0, 0], [0, 0, 1], [0, -1, 0]]},
        None,
    )
    report = gm.check(good)
    assert report.ok and set(report.processes) == {"xy", "yz"}
    bad = gm.GenericModel(
        [x, y, z],
        (x**2 + y**2 + z**2) / 2,
        0,
        {"xy": [[0, 1, 0], [-1, 0, 0], [0, 0, 0]], "odd": [[0, 0, 0], [0, 0, 1], [0, 1, 0]]},
        None,
    )
    r = gm.check(bad)
    assert not r["poisson_antisymmetric"].passed and "'odd'" in r["poisson_antisymmetric"].message
    # Jacobi is not additive: in 3D, L_ij = eps_ijk w_k satisfies it iff w . curl w = 0.
    # a (w = (0, 0, 1)) and b (w = (y, 0, 0)) each do; their sum (w = (y, 0, 1)) does not.
    a = [[0, 1, 0], [-1, 0, 0], [0, 0, 0]]
    b = [[0, 0, 0], [0, 0, y], [0, -y, 0]]
    H = (x**2 + y**2 + z**2) / 2
    for alone in (a, b):
        assert gm.check(gm.GenericModel([x, y, z], H, 0, {"only": alone}, None)).ok
    rj = gm.check(gm.GenericModel([x, y, z], H, 0, {"a": a, "b": b}, None))
    assert not rj["jacobi_identity"].passed and not rj.ok


def test_model_errors_name_the_entry():
    with pytest.raises(gm.ModelError, match=r"definitions\['T1'\].*defined later"):
        gm.GenericModel([q, p], p**2 / 2, 0, None, None, definitions={"T1": T2s, "T2": q})
    with pytest.raises(gm.ModelError, match=r"observables\['q'\].*state variable"):
        gm.GenericModel([q, p], p**2 / 2, 0, None, None, observables={"q": p})
    with pytest.raises(gm.ModelError, match=r"units\['qq'\].*did you mean 'q'"):
        gm.GenericModel([q, p], p**2 / 2, 0, None, None, units={"qq": "m"})
    with pytest.raises(gm.ModelError, match=r"observables\['v'\].*unknown symbol"):
        gm.GenericModel([q, p], p**2 / 2, 0, None, None, observables={"v": sp.Symbol("w")})
    with pytest.raises(gm.ModelError, match=r"friction: names must be identifiers"):
        gm.GenericModel([q, p], p**2 / 2, 0, None, {"a b": [[0, 0], [0, 0]]})


def test_structured_models_report_observable_fields_and_processes():
    rod = thermoelastic_rod.model(8, viscosity=0.05)
    report = gm.check(rod)
    assert report.ok
    x = np.linspace(0, 1, 8)
    y0 = {"u": 0.002 * np.sin(np.pi * x), "p": 0.1 * np.cos(np.pi * x), "s": 0.0}
    traj = gm.simulate(rod, y0, t1=2.0, saveat=21)
    assert traj["T"].shape == (21, 8)
    h = 1 / 8
    np.testing.assert_allclose(traj["T"], np.exp(np.asarray(traj["s"]) / h), rtol=1e-13)
    by = traj.entropy_production_by_process
    assert set(by) == {"conduction", "viscosity"}
    np.testing.assert_allclose(sum(by.values()), traj.entropy_production, rtol=1e-12, atol=1e-16)
    assert np.all(np.asarray(by["viscosity"]) >= 0) and np.max(by["viscosity"]) > 0
    # Conjugates per field: dE/dp is the velocity p/(rho h).
    np.testing.assert_allclose(traj.grad_energy["p"], np.asarray(traj["p"]) / h, rtol=1e-12)


def test_save_and_load_round_trip(tmp_path, traj):
    path = traj.save(tmp_path / "run.npz")
    back = gm.load_trajectory(path)
    for key in ("ts", "ys", "energy", "entropy", "entropy_production"):
        np.testing.assert_array_equal(getattr(back, key), getattr(traj, key))
    np.testing.assert_array_equal(back["T1"], traj["T1"])
    np.testing.assert_array_equal(
        back.entropy_production_by_process["conduction"],
        traj.entropy_production_by_process["conduction"],
    )
    np.testing.assert_array_equal(back.grad_energy["s1"], traj.grad_energy["s1"])
    assert back.units == traj.units and back.name == traj.name
    assert float(back.params["gamma"]) == 0.3
    csv = gm.load_trajectory(traj.save(tmp_path / "run.csv"))
    np.testing.assert_allclose(csv["T2"], traj["T2"], rtol=1e-15)
    np.testing.assert_allclose(csv.grad_energy["s1"], traj.grad_energy["s1"], rtol=1e-15)
    assert csv.name == traj.name and csv.units == traj.units
    np.testing.assert_allclose(
        csv.entropy_production_by_process["viscosity"],
        traj.entropy_production_by_process["viscosity"],
        rtol=1e-15,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", "run.npz"]


def test_saving_and_loading_refuse_what_they_cannot_do(tmp_path, traj):
    with pytest.raises(gm.InputError, match=r"unsupported suffix '\.txt'"):
        traj.save(tmp_path / "run.txt")
    with pytest.raises(gm.InputError, match="does not exist"):
        traj.save(tmp_path / "missing" / "run.npz")
    bad = tmp_path / "bad.csv"
    bad.write_text("t,q,p,E,S,entropy_production\n0,1,2,3,4\n")
    with pytest.raises(gm.InputError, match="5 columns of numbers but 6 names"):
        gm.load_trajectory(bad)
    with pytest.raises(gm.InputError, match="no such file"):
        gm.load_trajectory(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", ts=np.zeros(3))
    with pytest.raises(gm.InputError, match="missing the entry 'format'"):
        gm.load_trajectory(tmp_path / "other.npz")


def test_structured_and_ensemble_trajectories_round_trip_through_npz(tmp_path):
    rod = thermoelastic_rod.model(6)
    traj = gm.simulate(rod, {"u": 0.0, "p": 0.05, "s": 0.0}, t1=0.5, saveat=5)
    back = gm.load_trajectory(traj.save(tmp_path / "rod.npz"))
    np.testing.assert_array_equal(back["T"], traj["T"])
    np.testing.assert_array_equal(back["s"], traj["s"])
    with pytest.raises(gm.InputError, match="use .npz"):
        traj.save(tmp_path / "rod.csv")
    ens = gm.simulate(MODEL, Y0, t1=1.0, saveat=5, params={"kappa": np.array([0.1, 0.2])})
    eback = gm.load_trajectory(ens.save(tmp_path / "ens.npz"))
    np.testing.assert_array_equal(eback["T1"], ens["T1"])
    np.testing.assert_array_equal(eback.params["kappa"], [0.1, 0.2])


def test_reprs_read_like_results(traj):
    text = repr(traj)
    assert "'two-bath oscillator'" in text and "observables ['T1', 'T2', 'kinetic']" in text
    assert "processes ['viscosity', 'conduction']" in text and "entropy produced" in text
    latex = MODEL._repr_latex_()
    assert latex.startswith("$$") and r"\dot{q}" in latex and "T_{1}" in latex
    assert r"\mathrm{kinetic}" in latex


def test_units_label_the_checked_region():
    text = str(gm.check(MODEL, symbolic_timeout=0, samples=64))
    assert "sampled region" in text
    assert re.search(r"q in \[[^]]*\] m,", text) and re.search(r"p in \[[^]]*\],", text)


def test_named_processes_never_check_less_than_their_sum(monkeypatch):
    # A sampled pass of every process is evidence, not proof: the sum is judged (and
    # searched) too, and a failure there fails the model.
    import generic_mm._checks as checks

    x, y = sp.symbols("x y", real=True)
    calls = []
    original = checks.check_block

    def spy(block, region, options, conditions=checks.CONDITIONS):
        result = original(block, region, options, conditions)
        if conditions == ("friction_positive_semidefinite",) and block.friction == M_total:
            calls.append(result)
            # Pretend the sum's search found what the processes' did not.
            bad = checks.CheckResult(conditions[0], False, "sampled", "negative eigenvalue")
            return {conditions[0]: bad}
        return result

    a = sp.Matrix([[1 + x**2 * y**2, 0], [0, 0]])  # needs sampling: no symbolic proof of
    b = sp.Matrix([[0, 0], [0, 1 + x**2 * y**2]])  # PSD within a zero time box
    M_total = sp.ImmutableMatrix(a + b)
    monkeypatch.setattr(checks, "check_block", spy)
    model = gm.GenericModel([x, y], 0, x + y, None, {"a": a, "b": b})
    report = gm.check(model, symbolic_timeout=0, samples=64)
    assert calls and calls[0]["friction_positive_semidefinite"].passed
    psd = report["friction_positive_semidefinite"]
    assert not psd.passed and psd.message.startswith("the sum of the processes:")


def test_definitions_that_break_an_entry_and_chained_definitions():
    a = sp.Symbol("a", real=True)
    with pytest.raises(
        gm.ModelError, match=r"friction\[p, p\]: substituting the definitions gives zoo"
    ):
        gm.GenericModel([q, p], p**2 / 2, 0, None, [[0, 0], [0, 1 / a]], definitions={"a": 0})
    # 25 definitions, each using the previous one twice: a tree of 2^25 nodes, a graph of
    # 75; the model is built in well under a second (its nodes are visited once).
    defs = {"d0": q}
    for i in range(1, 26):
        prev = sp.Symbol(f"d{i - 1}", real=True)
        defs[f"d{i}"] = sp.sin(prev) + sp.cos(prev)
    start = time.perf_counter()
    model = gm.GenericModel(
        [q, p], p**2 / 2, 0, None, None, definitions=defs, observables={"x": sp.Symbol("d25")}
    )
    assert time.perf_counter() - start < 5.0 and model.observable_names == ("x",)


def test_csv_refuses_names_of_its_fixed_columns(tmp_path):
    S_ = sp.Symbol("S", real=True)
    model = gm.GenericModel([q, p, S_], p**2 / 2 + q**2 / 2 + sp.exp(S_), S_, None, None)
    traj = gm.simulate(model, {"q": 1.0, "p": 0.0, "S": 0.0}, t1=0.1, saveat=3)
    with pytest.raises(gm.InputError, match="'S' has the name of a fixed .csv column"):
        traj.save(tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())
    np.testing.assert_array_equal(gm.load_trajectory(traj.save(tmp_path / "x.npz"))["S"], traj["S"])
