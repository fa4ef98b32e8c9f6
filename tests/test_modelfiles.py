"""Model files: the library loads, checks and runs; round trips; errors name file/table/key."""

import math
import re
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
def test_library_file_loads_checks_and_runs(path, library_models):
    model = library_models[path.stem]  # gm.load_model(path), shared with the tests below
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
def test_python_models_and_their_files_agree(module, library_models):
    name = module.__name__.rsplit(".", 1)[-1]
    from_file = library_models[name]
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

    def same_ops(x, y):
        return x.keys() == y.keys() and all(
            eq(u, v) for k in x for u, v in zip(x[k], y[k], strict=True)
        )

    sa, sb = a.source_form(), b.source_form()
    return (
        a.state == b.state
        and a.params == b.params
        and a.name == b.name
        and a.description == b.description
        and a.initial_state == b.initial_state
        and a.domain == b.domain
        and a.simulation == b.simulation
        and dict(a.units) == dict(b.units)
        and a.observable_names == b.observable_names
        and (a.named_processes, a.named_couplings) == (b.named_processes, b.named_couplings)
        and eq(a.energy, b.energy)
        and eq(a.entropy, b.entropy)
        and all(eq(u, v) for u, v in zip(a.poisson, b.poisson))
        and all(eq(u, v) for u, v in zip(a.friction, b.friction))
        and all(eq(a.observables[k], b.observables[k]) for k in a.observables)
        # as written: definitions unexpanded, operators by name
        and sa.definitions.keys() == sb.definitions.keys()
        and all(eq(sa.definitions[k], sb.definitions[k]) for k in sa.definitions)
        and eq(sa.energy, sb.energy)
        and same_ops(sa.poisson, sb.poisson)
        and same_ops(sa.friction, sb.friction)
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


def test_oldroyd_b_startup_shear_closed_forms(library_models):
    model = library_models["oldroyd_b"]
    assert model.observable_names == ("T", "sigma_xy", "N1")
    assert (model.units["T"], model.units["sigma_xy"]) == ("K", "Pa")
    assert tuple(model.processes) == ("relaxation",) and tuple(model.couplings) == ("convection",)
    G, lam, gdot = 1.0, 1.0, 1.0
    traj = gm.simulate(model, model.initial_state, 8.0, saveat=81)
    t = np.asarray(traj.ts)
    np.testing.assert_allclose(
        np.asarray(traj["sigma_xy"]), G * lam * gdot * (1 - np.exp(-t / lam)), atol=1e-8
    )
    np.testing.assert_allclose(
        np.asarray(traj["N1"]),
        2 * G * (lam * gdot) ** 2 * (1 - (1 + t / lam) * np.exp(-t / lam)),
        atol=1e-8,
    )
    # the drive's work ends up as heat: total energy conserved, all produced by relaxation
    assert float(traj.energy_drift) < 1e-7
    np.testing.assert_allclose(
        traj.entropy_production_by_process["relaxation"], traj.entropy_production, rtol=1e-12
    )


def test_reaction_reaches_chemical_equilibrium_and_heats_up(library_models):
    model = library_models["reaction"]
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
        ("[initial]", "[domain]\nx = [0.0, 1.0]\n[initial]", r"\[domain\] x: 'x' is not a state"),
        ("[initial]", "[domain]\nq = [1.0, 0.0]\n[initial]", r"\[domain\] q: expected lo < hi"),
        ('name = "osc"', 'name = "osc"\ndescription = 3', r"description: expected a string"),
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


# -- definitions, observables, units -----------------------------------------------------

q, p, k = sp.symbols("q p k", real=True)


def test_definitions_are_observables_unless_private_and_stay_unexpanded(tmp_path):
    text = GOOD.replace(
        'V = "k*q**2/2"',
        'V = "k*q**2/2"\nW = { value = "2*V", private = true }\nF = { value = "-k*q", unit = "N" }',
    ).replace('energy = "p**2/2 + V"', 'energy = "p**2/2 + W/2"')
    model = gm.load_model(write(tmp_path, text))
    V = sp.Symbol("V", real=True)
    assert tuple(model.definitions) == ("V", "W", "F")
    assert model.definitions["W"] == 2 * V  # as written, not substituted
    assert model.observable_names == ("V", "F")  # W is private
    assert model.observables["V"] == k * q**2 / 2
    assert dict(model.units) == {"F": "N"}
    assert model.source_form().energy == p**2 / 2 + sp.Symbol("W", real=True) / 2
    assert model.energy == p**2 / 2 + k * q**2 / 2


def test_units_table_names_states_parameters_and_observables(tmp_path):
    text = GOOD + '[units]\nq = "m"\nk = "N/m"\nV = "J"\n'
    model = gm.load_model(write(tmp_path, text))
    assert dict(model.units) == {"q": "m", "k": "N/m", "V": "J"}


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("[initial]", '[units]\nx = "m"\n[initial]', r"\[units\] x: 'x' is not a state variable"),
        ("[initial]", "[units]\nq = 3\n[initial]", r"\[units\] q: expected a unit as a string"),
        (
            'V = "k*q**2/2"',
            'V = { value = "k*q**2/2", private = true }\n[units]\nV = "J"',
            r"\[units\] V: 'V' is a private definition",
        ),
        (
            'V = "k*q**2/2"',
            'V = { value = "k*q**2/2", unit = "J" }\n[units]\nV = "J"',
            r"\[units\] V: the unit of 'V' is also given in \[definitions\]",
        ),
        (
            'V = "k*q**2/2"',
            'V = { value = "k*q**2/2", private = true, unit = "J" }',
            r"\[definitions\] V.unit: a private definition .* has no unit",
        ),
        ('V = "k*q**2/2"', "V = { private = true }", r"\[definitions\] V: missing \"value\""),
        (
            'V = "k*q**2/2"',
            'V = { value = "k*q**2/2", private = "yes" }',
            r"\[definitions\] V.private: expected true or false",
        ),
        (
            'V = "k*q**2/2"',
            'V = { value = "k*q**2/2", hidden = true }',
            r"\[definitions\] V: unknown key 'hidden'",
        ),
    ],
)
def test_definition_and_unit_errors(tmp_path, old, new, match):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(gm.ModelFileError, match=match):
        gm.load_model(path)


# -- named processes ----------------------------------------------------------------------

THERMO = """
name = "oscillator with two dampers"
state = ["q", "p", "s"]
[assumptions]
positive = ["g1", "g2"]
[parameters]
g1 = 0.1
g2 = 0.3
[definitions]
T = { value = "exp(s)", unit = "K" }
[generic]
energy = "p**2/2 + q**2/2 + exp(s)"
entropy = "s"
[generic.poisson.inertia]
antisymmetric = true
entries = { "q,p" = "1" }
[generic.friction.viscous]
symmetric = true
entries = { "p,p" = "g1*T", "p,s" = "-g1*p", "s,s" = "g1*p**2/T" }
[generic.friction.dry]
symmetric = true
entries = { "p,p" = "g2*T", "p,s" = "-g2*p", "s,s" = "g2*p**2/T" }
[initial]
q = 1.0
p = 0.0
s = 0.0
[simulation]
t1 = 4.0
points = 41
"""


def test_named_processes_are_checked_and_produce_entropy_each(tmp_path):
    model = gm.load_model(write(tmp_path, THERMO))
    assert model.named_processes and tuple(model.processes) == ("viscous", "dry")
    assert model.named_couplings and tuple(model.couplings) == ("inertia",)
    report = gm.check(model)
    assert report.ok and set(report.processes) >= {"viscous", "dry"}
    traj = gm.simulate(model, model.initial_state, 4.0, saveat=41)
    parts = traj.entropy_production_by_process
    total = np.asarray(traj.entropy_production)
    np.testing.assert_allclose(parts["viscous"] + parts["dry"], total, rtol=1e-12, atol=1e-15)
    # same mechanism, rates g1 and g2: the productions are in the ratio g1 : g2
    moving = total > 1e-8
    np.testing.assert_allclose(parts["dry"][moving] / parts["viscous"][moving], 3.0, rtol=1e-10)


def test_dense_named_processes_equal_sparse_ones(tmp_path):
    dense = THERMO.replace(
        """[generic.friction.viscous]
symmetric = true
entries = { "p,p" = "g1*T", "p,s" = "-g1*p", "s,s" = "g1*p**2/T" }
[generic.friction.dry]
symmetric = true
entries = { "p,p" = "g2*T", "p,s" = "-g2*p", "s,s" = "g2*p**2/T" }""",
        """[generic.friction]
viscous = [["0", "0", "0"], ["0", "g1*T", "-g1*p"], ["0", "-g1*p", "g1*p**2/T"]]
dry = [["0", "0", "0"], ["0", "g2*T", "-g2*p"], ["0", "-g2*p", "g2*p**2/T"]]""",
    )
    a = gm.load_model(write(tmp_path, THERMO))
    b = gm.load_model(write(tmp_path, dense))
    assert _same(a, b)


@pytest.mark.parametrize(
    "old, new, match",
    [
        (
            "[generic.friction.dry]\nsymmetric = true\n",
            "[generic.friction.dry]\nsymmetric = true\n[generic.friction.entries]\n",
            r"\[generic\] friction: mixes the keys of one sparse operator \(entries\) with "
            r"process names \(viscous, dry\)",
        ),
        (
            "[generic.friction.dry]",
            "[generic.friction.symmetric]",
            r"\[generic\] friction: mixes",
        ),
        (
            "[generic.friction.dry]",
            "[generic.friction.2dry]",
            r"\[generic\] friction.2dry: '2dry' is not a valid name",
        ),
        (
            '"p,p" = "g2*T"',
            '"p,x" = "g2*T"',
            r"\[generic\] friction.dry.entries\['p,x'\]: .*'x' is not one",
        ),
        (
            '"p,p" = "g2*T"',
            '"p,p" = "g2*TT"',
            r"\[generic\] friction.dry.entries\['p,p'\]: undefined symbol 'TT'",
        ),
        (
            "[generic.friction.dry]\nsymmetric = true",
            "[generic.friction.dry]\nantisymmetric = true",
            r"\[generic\] friction.dry: unknown key 'antisymmetric'",
        ),
    ],
)
def test_named_process_errors_name_the_process(tmp_path, old, new, match):
    assert old in THERMO
    with pytest.raises(gm.ModelFileError, match=match):
        gm.load_model(write(tmp_path, THERMO.replace(old, new, 1)))


def test_process_named_like_a_key_is_refused(tmp_path):
    text = THERMO.replace(
        "[generic.friction.dry]\nsymmetric = true\n"
        'entries = { "p,p" = "g2*T", "p,s" = "-g2*p", "s,s" = "g2*p**2/T" }\n',
        "",
    ).replace("[generic.friction.viscous]", "[generic.friction.symmetric]")
    with pytest.raises(gm.ModelFileError, match=r"friction.symmetric: 'symmetric' is a key"):
        gm.load_model(write(tmp_path, text))


def test_shipped_pendulum_names_conduction_and_its_temperatures_are_conjugates(library_models):
    model = library_models["double_pendulum"]
    assert tuple(model.processes) == ("conduction",)
    assert model.units["T1"] == model.units["T2"] == "K"
    traj = gm.simulate(model, model.initial_state, 1.0, saveat=11, rtol=1e-10, atol=1e-12)
    # a temperature is the conjugate of its entropy: T_i = dE/ds_i
    np.testing.assert_allclose(traj["T1"], traj.grad_energy["s1"], rtol=1e-12)
    np.testing.assert_allclose(traj["T2"], traj.grad_energy["s2"], rtol=1e-12)
    np.testing.assert_allclose(
        traj.entropy_production_by_process["conduction"], traj.entropy_production, rtol=1e-12
    )


# -- saving ---------------------------------------------------------------------------------


def test_saved_file_keeps_everything_and_runs_as_the_original(tmp_path):
    model = gm.load_model(write(tmp_path, THERMO))
    saved = gm.save_model(model, tmp_path / "saved.toml")
    text = saved.read_text()
    assert "[generic.friction]" in text and "viscous = " in text  # named, by name
    assert 'T = "exp(s)"' in text and 'T = "K"' in text  # an observable, with its unit
    again = gm.load_model(saved)
    assert _same(model, again)
    a = gm.simulate(model, model.initial_state, 1.0, saveat=5)
    b = gm.simulate(again, again.initial_state, 1.0, saveat=5)
    np.testing.assert_array_equal(a.ys, b.ys)
    np.testing.assert_array_equal(
        a.entropy_production_by_process["dry"], b.entropy_production_by_process["dry"]
    )


def test_saved_private_definitions_stay_private(tmp_path):
    model = gm.load_model(next(p for p in LIBRARY if p.stem == "oldroyd_b"))
    text = gm.save_model(model, tmp_path / "ob.toml").read_text()
    assert 'det = { value = "cxx*cyy - cxy**2", private = true }' in text
    assert gm.load_model(tmp_path / "ob.toml").observable_names == ("T", "sigma_xy", "N1")


def test_python_model_observables_are_saved_as_definitions(tmp_path):
    T0, s = sp.symbols("T0 s", real=True)
    model = gm.GenericModel(
        [q, p, s],
        p**2 / 2 + q**2 / 2 + sp.exp(s),
        s,
        sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
        None,
        observables={"T": sp.exp(s), "kinetic": p**2 / 2},
        units={"T": "K"},
    )
    again = gm.load_model(gm.save_model(model, tmp_path / "py.toml"))
    assert again.observable_names == ("T", "kinetic") and dict(again.units) == {"T": "K"}
    assert again.observables["kinetic"] == p**2 / 2


def test_save_model_into_a_missing_folder_names_the_folder(tmp_path):
    model = gm.load_model(write(tmp_path, GOOD))
    target = tmp_path / "no" / "such" / "m.toml"
    with pytest.raises(
        gm.InputError, match=f"the folder {tmp_path / 'no' / 'such'} does not exist"
    ):
        gm.save_model(model, target)
    with pytest.raises(gm.InputError, match="is a folder"):
        gm.save_model(model, tmp_path)
    assert [f.name for f in tmp_path.iterdir()] == ["model.toml"]  # no temporary file left


# -- solvers --------------------------------------------------------------------------------


def test_every_solver_name_makes_a_solver():
    import diffrax

    from generic_mm.io._modelfile import SOLVERS, make_solver

    assert "DiscreteGradient" in SOLVERS and "Tsit5" in SOLVERS
    for name in SOLVERS:
        assert isinstance(make_solver(name), diffrax.AbstractSolver), name
    assert isinstance(make_solver("DiscreteGradient"), gm.DiscreteGradient)
    with pytest.raises(gm.InputError, match="unknown solver 'RK45'.*DiscreteGradient"):
        make_solver("RK45")


def test_file_can_ask_for_the_discrete_gradient_solver(tmp_path):
    from generic_mm.io import make_solver

    text = THERMO.replace("points = 41", 'points = 41\nsolver = "DiscreteGradient"\ndt0 = 0.05')
    model = gm.load_model(write(tmp_path, text))
    sim = model.simulation
    assert sim["solver"] == "DiscreteGradient"
    traj = gm.simulate(
        model,
        model.initial_state,
        1.0,
        saveat=11,
        solver=make_solver(sim["solver"]),
        dt0=sim["dt0"],
    )
    e = np.asarray(traj.energy)
    assert np.max(np.abs(e - e[0])) < 1e-10  # the discrete gradient conserves E to round-off
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-14)


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("points = 41", "points = 41\nrtol = 0.0", r"\[simulation\] rtol: expected a positive"),
        ("points = 41", "points = 0", r"\[simulation\] points: expected an integer from 2"),
        ("t1 = 4.0", "t1 = 4.0\nt0 = 5.0", r"\[simulation\] t1: the end time 4.0 is not after"),
    ],
)
def test_simulation_table_errors(tmp_path, old, new, match):
    assert old in THERMO
    with pytest.raises(gm.ModelFileError, match=match):
        gm.load_model(write(tmp_path, THERMO.replace(old, new, 1)))


def test_simulation_points_need_both_end_points(tmp_path):
    (path,) = [f for f in LIBRARY if f.stem == "damped_oscillator"]
    text = path.read_text()
    assert "points" in text
    bad = tmp_path / "one_point.toml"
    bad.write_text(re.sub(r"points = \d+", "points = 1", text))
    with pytest.raises(gm.ModelFileError, match=r"\[simulation\] points.*from 2 to"):
        gm.load_model(bad)
