"""Model files: the library loads, checks and runs; round trips; errors name file/table/key."""

import math
import textwrap

import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm.models import MODULES, files

LIBRARY = files()


def test_library_has_the_expected_models():
    stems = {p.stem for p in LIBRARY}
    assert {
        "damped_oscillator",
        "heat_exchange",
        "rigid_body",
        "maxwell",
        "double_pendulum",
        "reaction",
        "oldroyd_b",
    } <= stems


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_library_file_loads_checks_and_runs(path):
    model = gm.load_model(path)
    assert model.description
    report = gm.check(model)
    assert report.ok, str(report)
    sim = model.simulation
    rtol, atol = sim.get("rtol", 1e-8), sim.get("atol", 1e-10)
    traj = gm.simulate(
        model, model.initial_state, min(sim["t1"], 5.0), saveat=51, rtol=rtol, atol=atol
    )
    e = np.asarray(traj.energy)
    assert np.max(np.abs(e - e[0])) <= 10 * (rtol * abs(e[0]) + atol)  # = traj.energy_tolerance
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-12)
    assert traj.ok


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_python_models_and_their_files_agree(module):
    name = module.__name__.rsplit(".", 1)[-1]
    from_file = gm.load_model(next(p for p in LIBRARY if p.stem == name))
    in_python = module.model()
    assert from_file.state_names == in_python.state_names
    for a, b in zip(
        [*from_file.rates, from_file.energy, from_file.entropy],
        [*in_python.rates, in_python.energy, in_python.entropy],
    ):
        assert sp.simplify(a - b) == 0


def _same(a: gm.GenericModel, b: gm.GenericModel) -> bool:
    def eq(u, v):
        return u == v or sp.expand(u - v) == 0

    return (
        a.state == b.state
        and a.params == b.params
        and a.name == b.name
        and a.description == b.description
        and a.initial_state == b.initial_state
        and a.domain == b.domain
        and a.simulation == b.simulation
        and eq(a.energy, b.energy)
        and eq(a.entropy, b.entropy)
        and all(eq(u, v) for u, v in zip(a.poisson, b.poisson))
        and all(eq(u, v) for u, v in zip(a.friction, b.friction))
    )


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_round_trip_save_load(path, tmp_path):
    model = gm.load_model(path)
    out = gm.save_model(model, tmp_path / "copy.toml")
    again = gm.load_model(out)
    assert _same(model, again)
    assert _same(again, gm.load_model(gm.save_model(again, tmp_path / "copy2.toml")))


def test_round_trip_of_python_model_keeps_assumptions(tmp_path):
    model = MODULES[2].model()
    again = gm.load_model(gm.save_model(model, tmp_path / "rb.toml"))
    assert _same(model, again)
    assert all(s.is_positive for s in again.param_symbols)


def test_oldroyd_b_startup_shear_closed_forms():
    model = gm.load_model(next(p for p in LIBRARY if p.stem == "oldroyd_b"))
    G, lam, gdot = 1.0, 1.0, 1.0
    traj = gm.simulate(model, model.initial_state, 8.0, saveat=81)
    t = np.asarray(traj.ts)
    np.testing.assert_allclose(
        G * np.asarray(traj["cxy"]), G * lam * gdot * (1 - np.exp(-t / lam)), atol=1e-8
    )
    n1 = G * (np.asarray(traj["cxx"]) - np.asarray(traj["cyy"]))
    np.testing.assert_allclose(
        n1, 2 * G * (lam * gdot) ** 2 * (1 - (1 + t / lam) * np.exp(-t / lam)), atol=1e-8
    )
    # the drive's work ends up as heat: total energy conserved
    assert float(traj.energy_drift) < 1e-7


def test_reaction_reaches_chemical_equilibrium_and_heats_up():
    model = gm.load_model(next(p for p in LIBRARY if p.stem == "reaction"))
    traj = gm.simulate(model, model.initial_state, 40.0, saveat=41)
    nA, nB, s = (float(traj[n][-1]) for n in ("nA", "nB", "s"))
    assert nA + nB == pytest.approx(1.1, rel=1e-9)  # moles conserved
    # equilibrium: nB / nA = K(T) with K = exp((hA - hB)/(R T)) (s0A = s0B), T from the state
    R, cv, hA = 1.0, 1.5, 2.0
    N = nA + nB
    Phi = -R * (nA * math.log(nA) + nB * math.log(nB))
    T = math.exp((s - Phi) / (cv * N))
    assert nB / nA == pytest.approx(math.exp(hA / (R * T)), rel=1e-6)
    # energy conservation fixes T: cv N T + hA nA = cv N T0 + hA nA0
    N0, Phi0 = 1.1, -R * (1.0 * math.log(1.0) + 0.1 * math.log(0.1))
    T0 = math.exp((0.0 - Phi0) / (cv * N0))
    assert T == pytest.approx(T0 + hA * (1.0 - nA) / (cv * N), rel=1e-7)
    assert T > T0


def write(tmp_path, text):
    path = tmp_path / "model.toml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """
name = "osc"
state = ["q", "p"]
[parameters]
k = 1.0
[definitions]
V = "k*q**2/2"
[generic]
energy = "p**2/2 + V"
entropy = "0"
poisson = [["0", "1"], ["-1", "0"]]
[initial]
q = 1.0
p = 0.0
"""


def test_minimal_file_loads(tmp_path):
    model = gm.load_model(write(tmp_path, GOOD))
    assert model.state_names == ("q", "p") and model.initial_state == {"q": 1.0, "p": 0.0}


@pytest.mark.parametrize(
    "old, new, match",
    [
        (
            'energy = "p**2/2 + V"',
            'energy = "p**2/2 + kk*q"',
            r"\[generic\] energy: undefined symbol 'kk' \(did you mean 'k'\?\)",
        ),
        (
            'poisson = [["0", "1"], ["-1", "0"]]',
            'poisson = [["0", "1"]]',
            r"\[generic\] poisson: has 1 rows; expected 2",
        ),
        (
            'poisson = [["0", "1"], ["-1", "0"]]',
            'poisson = [["0", "1"], ["-1"]]',
            r"\[generic\] poisson row 1 \(p\): has 1 entries; expected 2",
        ),
        (
            'poisson = [["0", "1"], ["-1", "0"]]',
            'poisson = [["0", "1"], ["-1", "q.real"]]',
            r"\[generic\] poisson\[p, p\]: attribute access not allowed",
        ),
        ('state = ["q", "p"]', 'state = ["q", "q"]', r"state\[1\]: 'q' appears twice"),
        ("k = 1.0", 'k = "one"', r"\[parameters\] k: expected a number, got str"),
        ("k = 1.0", "q = 1.0", r"\[parameters\] q: 'q' is also a state variable"),
        (
            'V = "k*q**2/2"',
            'V = "W/2"\nW = "k*q**2"',
            r"\[definitions\] V: refers to 'W', which is defined later",
        ),
        (
            'V = "k*q**2/2"',
            'k = "2"',
            r"\[definitions\] k: 'k' is already a state variable, parameter or definition",
        ),
        ("p = 0.0\n", "", r"\[initial\]: missing initial value\(s\) for p"),
        ('name = "osc"', 'name = "osc"\ncolour = "red"', r"top level: unknown key 'colour'"),
        (
            'entropy = "0"',
            'entropy = "0"\nfriction = {entries = {"q,x" = "1"}}',
            r"\[generic\] friction.entries\['q,x'\]: .*'x' is not one",
        ),
        (
            'entropy = "0"',
            'entropy = "0"\nfriction = {entries = {"q,p" = "1", "p,q" = "1"}, symmetric = true}',
            r"entry \(p, q\) is given twice",
        ),
        (
            "[initial]",
            "[simulation]\nsolver = 'RK4'\n[initial]",
            r"\[simulation\] solver: unknown solver 'RK4'",
        ),
        ('entropy = "0"', 'entropy = "exp(" ', r"\[generic\] entropy: syntax error"),
        (
            "[parameters]",
            '[assumptions]\npositive = ["z"]\n[parameters]',
            r"\[assumptions\] positive: 'z' is not a state variable or parameter",
        ),
        ('state = ["q", "p"]', "", r"top level: missing required key 'state'"),
        ('name = "osc"', "name = [", r"not valid TOML"),
    ],
)
def test_file_errors_name_file_table_and_key(tmp_path, old, new, match):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(gm.ModelFileError, match=match) as err:
        gm.load_model(path)
    assert str(path) in str(err.value)


def test_missing_file_is_a_model_file_error(tmp_path):
    with pytest.raises(gm.ModelFileError, match="cannot read the file"):
        gm.load_model(tmp_path / "nope.toml")


def test_sparse_antisymmetric_fill(tmp_path):
    text = GOOD.replace(
        'poisson = [["0", "1"], ["-1", "0"]]',
        'poisson = {entries = {"q,p" = "1"}, antisymmetric = true}',
    )
    model = gm.load_model(write(tmp_path, text))
    assert model.poisson == sp.Matrix([[0, 1], [-1, 0]])
    # without the flag, only the given entry: the file says what it means
    text = GOOD.replace(
        'poisson = [["0", "1"], ["-1", "0"]]', 'poisson = {entries = {"q,p" = "1"}}'
    )
    assert not gm.check(gm.load_model(write(tmp_path, text)))["poisson_antisymmetric"].passed
