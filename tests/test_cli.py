"""The generic-mm command line: what each command does and writes."""

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import diffrax
import jax
import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm import cli
from generic_mm.cli import _inputs, _inspect, _run
from generic_mm.io import SOLVERS
from generic_mm.models import LIBRARY

ROOT = Path(cli.__file__).parents[2]  # the folder holding the generic_mm package


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _cache_home(tmp_path_factory, monkeypatch):
    # One cache for the session: compiled programs are shared, the user's cache untouched.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A short heat_exchange run, written as .npz and .csv."""
    folder = tmp_path_factory.mktemp("results")
    files = {s: folder / f"heat{s}" for s in (".npz", ".csv")}
    for out in files.values():
        argv = ["run", "heat_exchange", "--t1", "10", "--points", "11", "--out", str(out)]
        assert cli.main(argv) == 0
    return files


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"generic-mm {gm.__version__}"


def test_check_good_model_exits_0(capsys):
    code, out, _ = run(capsys, "check", "damped_oscillator")
    assert code == 0
    assert "all conditions hold" in out and "friction_degeneracy" in out


def test_check_inconsistent_model_exits_1_and_shows_counterexample(capsys, tmp_path):
    text = (
        (LIBRARY / "damped_oscillator.toml")
        .read_text()
        .replace(
            '["0", "-gamma*p/m", "gamma*p**2/(m**2*T)"]',
            '["0", "gamma*p/m", "gamma*p**2/(m**2*T)"]',
        )
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, _ = run(capsys, "check", str(path))
    assert code == 1
    assert "friction_symmetric" in out and "FAIL" in out and "counterexample:" in out
    code, _, err = run(capsys, "run", str(path), "--out", str(tmp_path / "o.npz"))
    assert code == 1 and "not integrated, the model is inconsistent" in err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["check", "no_such_model"], "no such file, and no model of that name"),
        (
            ["run", "damped_oscillator", "--set", "gama=1"],
            r"'gama' is neither a parameter nor a state variable \(did you mean 'gamma'\?\)",
        ),
        (["run", "damped_oscillator", "--set", "gamma"], "expected NAME=VALUE"),
        (["run", "damped_oscillator", "--set", "gamma=fast"], "'fast' is not a number"),
        (["run", "damped_oscillator", "--set", "gamma=inf"], "the value must be finite"),
        (
            ["run", "damped_oscillator", "--set", "gamma=-1"],
            "--set gamma: gamma is declared positive",
        ),
        (
            ["run", "damped_oscillator", "--solver", "Tsit"],
            r"--solver 'Tsit': unknown solver \(did you mean 'Tsit5'\?\); one of .*DiscreteGradient",
        ),
        (["run", "damped_oscillator", "--out", "x.txt"], "the extension must be .npz or .csv"),
        (["plot", "missing.npz"], "missing.npz: no such file"),
    ],
)
def test_invalid_input_exits_2(capsys, argv, match):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert re.search(match, err), err


def test_bad_model_file_exits_2_with_location(capsys, tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('state = ["x"]\n[generic]\nenergy = "x**2 + y"\nentropy = "0"\n')
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert f"{path}: [generic] energy" in err and "'y'" in err


def test_run_writes_npz_and_csv_and_plot(capsys, tmp_path):
    npz = tmp_path / "out.npz"
    argv = ("--t1", "40", "--points", "41", "--set", "kappa=1.0", "--no-progress")
    code, out, _ = run(capsys, "run", "heat_exchange", *argv, "--out", str(npz))
    assert code == 0 and f"wrote {npz}" in out and "relative drift" in out
    traj = gm.load_trajectory(npz)  # the layout of Trajectory.save
    assert traj.ys.shape == (41, 2) and traj.state_names == ("s1", "s2")
    assert np.all(np.diff(np.asarray(traj.entropy)) >= -1e-12)
    T1, T2 = np.exp(traj.ys[-1, 0]), np.exp(traj.ys[-1, 1] / 2)
    assert T1 == pytest.approx(4 / 3, rel=1e-7) and T2 == pytest.approx(4 / 3, rel=1e-7)
    assert float(traj.params["kappa"]) == 1.0
    csv = tmp_path / "out.csv"
    assert run(capsys, "run", "heat_exchange", *argv, "--out", str(csv))[0] == 0
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("# generic_mm.trajectory/1 name:") and lines[1].startswith(
        "# units:"
    )
    assert lines[2].startswith("t,s1,s2,E,S,entropy_production")
    png = tmp_path / "fig.png"
    code, out, _ = run(capsys, "plot", str(npz), "-o", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(capsys, "plot", str(csv))[0] == 0 and csv.with_suffix(".png").exists()


def test_run_set_initial_value(capsys, tmp_path):
    out = tmp_path / "o.npz"
    argv = ("maxwell", "--set", "eps_v=0.5", "--t1", "1", "--points", "5", "--out", str(out))
    assert run(capsys, "run", *argv)[0] == 0
    with np.load(out) as data:
        np.testing.assert_allclose(data["ys"][:, 0], 0.5)  # eps_v = eps: no stress, nothing moves


def test_solver_failure_exits_3_in_cli_words_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, "run", "damped_oscillator", "--max-steps", "5", "--out", str(out))
    assert code == 3
    assert "stopped at t=" in err and "state there: q=" in err and "what to try" in err
    assert "increase --max-steps (now 5)" in err and "--solver Kvaerno5" in err
    assert "diffrax." not in err and "simulate(" not in err
    assert list(tmp_path.iterdir()) == []


def test_every_solver_is_offered_and_built():
    names = SOLVERS
    assert {"Tsit5", "Kvaerno5", "DiscreteGradient"} <= set(names)
    for name in names:
        assert isinstance(_inputs.make_solver(name, "--solver"), diffrax.AbstractSolver)


def test_run_help_lists_the_solvers(capsys):
    text = " ".join(run(capsys, "run", "--help")[1].split())
    assert f"one of {', '.join(SOLVERS)}" in text and "--dt0 H" in text


def test_discrete_gradient_with_dt0_conserves_energy(capsys, tmp_path):
    out = tmp_path / "dg.npz"
    argv = ("--solver", "DiscreteGradient", "--dt0", "0.05", "--t1", "5", "--points", "11")
    argv += ("--rtol", "1e-3", "--set", "s=2.5")  # s: declared domain [-2, 2]
    code, _, err = run(capsys, "run", "damped_oscillator", *argv, "--out", str(out))
    assert code == 0, err
    assert "--rtol/--atol have no effect: --solver DiscreteGradient takes fixed steps" in err
    assert "generic-mm: warning: the initial value of s starts outside [-2, 2]" in err
    traj = gm.load_trajectory(out)
    energy = np.asarray(traj.energy)
    np.testing.assert_allclose(energy, energy[0], rtol=1e-12)
    assert int(traj.num_steps) == 100  # fixed steps of dt0
    assert np.all(np.diff(np.asarray(traj.entropy)) >= 0)


def test_fixed_step_solver_needs_dt0_and_ignores_tolerances(capsys, tmp_path):
    code, _, err = run(capsys, "run", "damped_oscillator", "--solver", "Euler")
    assert code == 2 and "takes fixed steps" in err and "--dt0 H" in err
    # DiscreteGradient adapts its steps without --dt0 (and keeps E at every saved step)
    out = tmp_path / "adaptive.npz"
    argv = ("--solver", "DiscreteGradient", "--t1", "5", "--rtol", "1e-6", "--out", str(out))
    code, _, err = run(capsys, "run", "damped_oscillator", *argv)
    assert code == 0 and "no effect" not in err, err
    energy = np.asarray(gm.load_trajectory(out).energy)
    np.testing.assert_allclose(energy, energy[0], rtol=1e-12)
    argv = ("--solver", "DiscreteGradient", "--dt0", "1e-6", "--max-steps", "1000")
    code, _, err = run(capsys, "run", "damped_oscillator", *argv)
    assert code == 2 and "fixed steps exceed --max-steps 1000" in err


def test_a_file_asking_for_a_fixed_step_solver_takes_dt0_when_run(capsys, tmp_path):
    text = (LIBRARY / "damped_oscillator.toml").read_text()
    path = tmp_path / "dg.toml"
    path.write_text(text.replace("[simulation]", '[simulation]\nsolver = "Euler"', 1))
    assert gm.load_model(path).simulation["solver"] == "Euler"  # loads
    code, _, err = run(capsys, "run", str(path), "--out", str(tmp_path / "a.npz"))
    assert code == 2 and "--dt0 H" in err
    argv = ("--dt0", "0.05", "--t1", "5", "--out", str(tmp_path / "b.npz"))
    code, _, err = run(capsys, "run", str(path), *argv)
    assert code == 0, err


def test_help_shows_the_defaults_that_are_used(capsys):
    sim = inspect.signature(gm.simulate).parameters
    code, out, _ = run(capsys, "run", "--help")
    text = " ".join(out.split())  # argparse wraps lines
    assert code == 0
    for key in ("rtol", "atol", "max_steps"):
        default = sim[key].default
        assert _inputs.DEFAULTS[key] == default
        if default is None:  # atol: scaled to the state
            assert f"[simulation] {key}, else scaled to the initial state" in text
        else:
            assert f"[simulation] {key}, else {default:g}" in text
    check = inspect.signature(gm.check).parameters
    text = " ".join(run(capsys, "check", "--help")[1].split())
    assert f"default {check['samples'].default}" in text
    assert f"default {check['rtol'].default:g}" in text


def _with_simulation(tmp_path, table: str) -> Path:
    """heat_exchange with another [simulation] table."""
    text = (LIBRARY / "heat_exchange.toml").read_text()
    path = tmp_path / "model.toml"
    path.write_text(text[: text.index("[simulation]")] + "[simulation]\n" + table)
    return path


def test_run_uses_the_files_options_unless_given(capsys, tmp_path, monkeypatch):
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs)
        raise KeyboardInterrupt  # stop before integrating: only the options matter here

    monkeypatch.setattr(_run, "simulate", spy)
    model = _with_simulation(tmp_path, "t1 = 3.0\npoints = 7\nrtol = 1e-10\natol = 1e-12\n")
    out = str(tmp_path / "o.npz")
    assert run(capsys, "run", str(model), "--out", out)[0] == 130
    assert run(capsys, "run", str(model), "--out", out, "--rtol", "1e-6", "--points", "3")[0] == 130
    (file_opts, given) = seen
    assert (file_opts["rtol"], file_opts["atol"], file_opts["saveat"]) == (1e-10, 1e-12, 7)
    assert file_opts["max_steps"] == _inputs.DEFAULTS["max_steps"] and file_opts["dt0"] is None
    assert (given["rtol"], given["atol"], given["saveat"]) == (1e-6, 1e-12, 3)
    assert given["solver"] is None  # Tsit5, simulate's default
    model = _with_simulation(tmp_path, 't1 = 3.0\nsolver = "DiscreteGradient"\ndt0 = 0.25\n')
    assert run(capsys, "run", str(model), "--out", out)[0] == 130
    assert isinstance(seen[-1]["solver"], gm.DiscreteGradient) and seen[-1]["dt0"] == 0.25


def test_sweep_runs_one_vectorised_solve_and_writes_one_file(capsys, tmp_path, monkeypatch):
    calls = []
    real = _run.simulate

    def counting(*args, **kwargs):
        calls.append(kwargs.get("params"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_run, "simulate", counting)
    out = tmp_path / "sweep.npz"
    argv = ("--sweep", "kappa=0.5,1,2", "--t1", "2", "--points", "5", "--out", str(out))
    code, stdout, err = run(capsys, "run", "heat_exchange", *argv)
    assert code == 0, err
    assert len(calls) == 1 and list(calls[0]["kappa"]) == [0.5, 1.0, 2.0]
    assert "swept kappa = 0.5, 1, 2" in stdout and "ensemble of 3 members" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.npz"]
    traj = gm.load_trajectory(out)
    assert traj.ys.shape == (3, 5, 2)
    np.testing.assert_array_equal(np.asarray(traj.params["kappa"]), [0.5, 1.0, 2.0])
    produced = np.asarray(traj.entropy[:, -1] - traj.entropy[:, 0])
    assert np.all(np.diff(produced) > 0)  # a larger conductance relaxes faster
    energy = np.asarray(traj.energy)
    np.testing.assert_allclose(energy, np.broadcast_to(energy[:, :1], energy.shape), rtol=1e-8)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--sweep", "kappa=1,x"], r"--sweep 'kappa=1,x': 'x' is not a number"),
        (["--sweep", "kapa=1,2"], r"'kapa' is neither a parameter .*did you mean 'kappa'"),
        (["--sweep", "kappa=1,2", "--set", "kappa=3"], "also given by --set"),
        (["--sweep", "kappa=1,2", "--sweep", "s1=0,0.1,0.2"], "different lengths"),
        (["--sweep", "kappa=1,2", "--out", "x.csv"], "a --sweep writes one .npz"),
        (["--sweep", "kappa=-1,2", "--t1", "1"], "declared positive"),
    ],
)
def test_sweep_input_errors_exit_2(capsys, argv, match):
    code, _, err = run(capsys, "run", "heat_exchange", *argv)
    assert code == 2 and re.search(match, err), err


def _named_model():
    s1, s2 = sp.symbols("s1 s2", real=True)
    kappa, lam = sp.symbols("kappa lam", positive=True)
    T1, T2 = sp.Symbol("T1", real=True), sp.Symbol("T2", real=True)
    M0 = sp.Matrix([[T2 / T1, -1], [-1, T1 / T2]])
    return gm.GenericModel(
        [s1, s2],
        T1 + T2,
        s1 + s2,
        None,
        {"conduction": kappa * M0, "radiation": lam * T1 * T2 * M0},
        params={kappa: 1.0, lam: 0.1},
        name="two bodies",
        definitions={"T1": sp.exp(s1), "T2": sp.exp(s2)},
        observables={"T_mean": (T1 + T2) / 2},
        units={"T_mean": "K", "s1": "J/K", "kappa": "W/K"},
    )


def test_show_prints_operators_by_entry_per_process_and_keeps_definitions(capsys, monkeypatch):
    monkeypatch.setattr(_inspect, "load", lambda name: (_named_model(), Path("x.toml"), b""))
    code, out, _ = run(capsys, "show", "x")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert "state: s1 [J/K], s2" in lines
    assert "parameters: kappa [W/K] = 1, lam = 0.1" in lines
    assert "T1 := exp(s1)" in lines and "E = T1 + T2" in lines
    assert "L = 0" in lines
    i, j = lines.index("M, process 'conduction':"), lines.index("M, process 'radiation':")
    assert lines[i + 1 : j] == [
        "M[s1, s1] = T2*kappa/T1",
        "M[s1, s2] = M[s2, s1] = -kappa",
        "M[s2, s2] = T1*kappa/T2",
    ]
    assert "observable T_mean [K] = T1/2 + T2/2" in lines
    assert not any(line.startswith("ds1/dt") for line in lines)  # expanded: only with --expand
    code, out, _ = run(capsys, "show", "x", "--expand")
    lines = [line.strip() for line in out.splitlines()]
    assert "E = exp(s1) + exp(s2)" in lines and not any(":=" in line for line in lines)
    assert "M[s1, s2] = M[s2, s1] = -kappa" in lines
    assert any(line.startswith("ds1/dt = ") for line in lines)


def test_show_library_model_and_latex(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("damped_oscillator", "double_pendulum", "reaction", "oldroyd_b"):
        assert name in out
    code, out, _ = run(capsys, "show", "maxwell")  # [definitions] T and sigma
    assert code == 0 and "T := T0*exp(s/C)  (observable)" in out and "dx/dt" in out
    assert "M[eps_v, s] = M[s, eps_v] = sigma/eta" in out
    code, out, _ = run(capsys, "show", "maxwell", "--expand")
    assert code == 0 and "deps_v/dt = G*(eps - eps_v)/eta" in out and ":=" not in out
    assert "observable T = T0*exp(s/C)" in out
    code, out, _ = run(capsys, "show", "damped_oscillator")
    assert "L[q, p] = -L[p, q] = 1" in out and "M[p, s] = M[s, p] = " in out
    code, out, _ = run(capsys, "show", "maxwell", "--latex")
    assert (
        code == 0 and r"\frac{d eps_{v}}{d t} &= \frac{G \left(eps - eps_{v}\right)}{\eta}" in out
    )


def test_plot_vars_and_formats(capsys, results, tmp_path):
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        fig = tmp_path / f"f{suffix}"
        code, _, err = run(capsys, "plot", str(results[".npz"]), "--vars", "s1", "-o", str(fig))
        assert code == 0, err
        assert fig.read_bytes().startswith(magic)
    code, _, err = run(capsys, "plot", str(results[".npz"]), "--vars", "s3", "-o", str(fig))
    assert code == 2 and "--vars: 's3' is not a state variable" in err


def test_cache_reuses_the_report_for_identical_bytes_only(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    before = jax.config.values["jax_compilation_cache_dir"]
    model = tmp_path / "m.toml"
    model.write_bytes((LIBRARY / "heat_exchange.toml").read_bytes())
    out = str(tmp_path / "o.npz")
    argv = ["run", str(model), "--t1", "1", "--points", "3", "--out", out]
    first = run(capsys, *argv)
    assert first[0] == 0
    cache = tmp_path / "xdg" / "generic_mm"
    assert len(list((cache / "reports").glob("*.json"))) == 1
    assert any((cache / "jax").iterdir())
    assert (
        jax.config.values["jax_compilation_cache_dir"] == before
    )  # main() restores JAX's settings

    def no_check(self, options):
        raise AssertionError("checked again")

    monkeypatch.setattr(gm.GenericModel, "consistency_report", no_check)
    second = run(capsys, *argv)
    assert second[0] == 0 and second[1].split("\n")[:8] == first[1].split("\n")[:8]
    with pytest.raises(AssertionError, match="checked again"):  # other --set values
        cli.main([*argv, "--set", "kappa=2"])
    with pytest.raises(AssertionError, match="checked again"):  # other check options
        cli.main(["check", str(model), "--samples", "100"])
    model.write_bytes(model.read_bytes() + b"\n# edited\n")
    with pytest.raises(AssertionError, match="checked again"):
        cli.main(argv)


def test_no_cache_writes_no_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    out = str(tmp_path / "o.npz")
    assert run(capsys, "check", "heat_exchange", "--no-cache")[0] == 0
    argv = ("run", "heat_exchange", "--t1", "1", "--points", "3", "--out", out, "--no-cache")
    assert run(capsys, *argv)[0] == 0
    assert not (tmp_path / "xdg").exists()


def test_damaged_cache_entries_are_ignored(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert run(capsys, "check", "heat_exchange")[0] == 0
    (entry,) = (tmp_path / "xdg" / "generic_mm" / "reports").glob("*.json")
    for damage in (b"{not json", b'{"key": "other"}', b"\xff\xfe"):
        entry.write_bytes(damage)
        code, out, _ = run(capsys, "check", "heat_exchange")
        assert code == 0 and "all conditions hold" in out


def test_console_script_and_module(tmp_path):
    exe = shutil.which("generic-mm")
    assert exe, "the generic-mm console script is not on PATH (pip install -e .)"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)}
    for command in ([exe], [sys.executable, "-m", "generic_mm.cli"]):
        done = subprocess.run(
            [*command, "run", "--help"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,  # not the repository: PYTHONPATH decides which generic_mm runs
        )
        assert done.returncode == 0, done.stderr
        assert "--set NAME=VALUE" in done.stdout and "--sweep NAME=V1,V2,..." in done.stdout
