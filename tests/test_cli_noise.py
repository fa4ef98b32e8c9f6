"""`generic-mm run --noise KB`: stochastic runs of fluctuating GENERIC from the command line
(`--paths`, `--seed`, `--brownian`), their input errors, and the files they write."""

import re

import diffrax
import jax
import numpy as np
import pytest

import generic_mm as gm
from generic_mm import cli
from generic_mm.cli import _run
from generic_mm.models import LIBRARY


def run(capsys, *argv):
    """Exit status, standard output and error of `generic-mm ARGV`, in this process (the
    cache under conftest's $XDG_CACHE_HOME, never the user's)."""
    code = cli.main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


NOISY = ("--noise", "0.1", "--dt0", "0.01")


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--noise", "0"], r"argument --noise: expected a number > 0, got 0$"),
        (["--noise", "-1"], r"argument --noise: expected a number > 0, got -1$"),
        (["--noise", "nan"], r"argument --noise: expected a finite number, got 'nan'"),
        ([*NOISY, "--paths", "0"], r"argument --paths: expected an integer >= 1, got 0"),
        (
            ["--noise", "0.1"],
            r"error: a stochastic run \(--noise\) takes fixed steps \(Euler-Maruyama\): give "
            r"the step size with --dt0 H \(or dt0 in \[simulation\]\)",
        ),
        (
            ["--paths", "3"],
            r"error: --paths: only a stochastic run takes it; give the noise strength with "
            r"--noise KB as well \(or leave it out\)",
        ),
        (
            ["--seed", "3", "--brownian", "steps"],
            r"error: --seed, --brownian: only a stochastic run takes them",
        ),
        ([*NOISY, "--seed", "-1"], r"argument --seed: expected an integer >= 0, got -1"),
        (
            [*NOISY, "--seed", str(2**63)],
            r"argument --seed: expected an integer <= 9223372036854775807, got 9223372036854775808",
        ),
        ([*NOISY, "--brownian", "tre"], r"argument --brownian: invalid choice: 'tre'"),
        (
            [*NOISY, "--solver", "Tsit5"],
            r"error: --solver Tsit5: a stochastic run \(--noise\) needs an Ito SDE solver: "
            r"Euler, ItoMilstein, StochasticDiscreteGradient \(Euler is Euler-Maruyama, the default\)",
        ),
        (
            [*NOISY, "--solver", "DiscreteGradient"],
            r"--solver DiscreteGradient: a stochastic run \(--noise\) needs an Ito SDE solver",
        ),
        (
            ["--noise", "0.1", "--dt0", "1e-6", "--max-steps", "1000"],
            r"error: --dt0 1e-06: 50000000 fixed steps exceed --max-steps 1000",
        ),
        ([*NOISY, "--paths", "2", "--out", "x.csv"], r"--paths writes one .npz with a path axis"),
        (
            [*NOISY, "--paths", "2", "--sweep", "gamma=1,2"],
            r"error: --paths 2 with --sweep: a stochastic sweep integrates one path per swept "
            r"member, each with its own noise; leave --paths out",
        ),
    ],
    ids=[
        "noise-0",
        "noise-negative",
        "noise-nan",
        "paths-0",
        "noise-without-dt0",
        "paths-without-noise",
        "seed-brownian-without-noise",
        "seed-negative",
        "seed-too-large",
        "brownian-unknown",
        "solver-not-sde",
        "solver-discrete-gradient",
        "too-many-steps",
        "paths-to-csv",
        "paths-with-sweep",
    ],
)
def test_bad_noise_options_exit_2_before_the_check(capsys, tmp_path, monkeypatch, argv, match):
    def refuse(*args, **kwargs):
        raise AssertionError("the check ran before the input was validated")

    monkeypatch.setattr(_run, "checked", refuse)
    monkeypatch.chdir(tmp_path)
    if "--out" not in argv:
        argv = [*argv, "--out", "o.npz"]
    code, _, err = run(capsys, "run", "damped_oscillator", *argv)
    assert code == 2
    assert re.search(match, err.strip().splitlines()[-1]), err
    assert list(tmp_path.iterdir()) == []  # nothing written


def _spy(monkeypatch):
    """Record what `run` passes to `simulate`, and stop there."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs)
        raise KeyboardInterrupt  # exit status 130: only the arguments matter here

    monkeypatch.setattr(_run, "simulate", spy)
    return seen


def test_noise_options_reach_simulate(capsys, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    monkeypatch.chdir(tmp_path)
    out = "o.npz"
    argv = (*NOISY, "--paths", "4", "--seed", "5", "--brownian", "steps", "--out", out)
    assert run(capsys, "run", "damped_oscillator", *argv)[0] == 130
    given = seen[-1]
    expected = dict(noise=0.1, paths=4, brownian="steps", dt0=0.01)
    assert {k: given[k] for k in expected} == expected
    # `--seed S` is `key=jax.random.key(S)`: the paths `gm.simulate` gives for that key.
    key_data = jax.random.key_data
    np.testing.assert_array_equal(key_data(given["key"]), key_data(jax.random.key(5)))
    assert given["solver"] is None  # simulate's default for noise: Euler-Maruyama
    # Without --seed: seed 0, so the same command gives the same paths.
    assert run(capsys, "run", "damped_oscillator", *NOISY, "--out", out)[0] == 130
    np.testing.assert_array_equal(key_data(seen[-1]["key"]), key_data(jax.random.key(0)))
    assert (seen[-1]["paths"], seen[-1]["brownian"]) == (None, "tree")
    code, _, err = run(
        capsys, "run", "damped_oscillator", *NOISY, "--solver", "Euler", "--rtol", "1e-3"
    )
    assert code == 130 and isinstance(seen[-1]["solver"], diffrax.Euler)
    assert "--rtol/--atol have no effect: a stochastic run (--noise) takes fixed steps" in err
    # A deterministic run passes none of them.
    assert run(capsys, "run", "damped_oscillator", "--out", out)[0] == 130
    assert not {"noise", "key", "paths", "brownian"} & set(seen[-1])


def test_noise_takes_the_files_dt0_but_not_its_solver(capsys, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    text = (LIBRARY / "damped_oscillator.toml").read_text()
    path = tmp_path / "dg.toml"
    extra = '[simulation]\nsolver = "DiscreteGradient"\ndt0 = 0.25'
    path.write_text(text.replace("[simulation]", extra, 1))
    argv = ("run", str(path), "--noise", "0.1", "--out", str(tmp_path / "o.npz"))
    assert run(capsys, *argv)[0] == 130
    assert seen[-1]["solver"] is None and seen[-1]["dt0"] == 0.25


def test_noise_with_a_sweep_gives_each_member_its_own_path(capsys, tmp_path, monkeypatch):
    seen = _spy(monkeypatch)
    argv = (*NOISY, "--sweep", "gamma=0.5,1,2", "--out", str(tmp_path / "o.npz"))
    assert run(capsys, "run", "damped_oscillator", *argv)[0] == 130
    np.testing.assert_array_equal(seen[-1]["params"]["gamma"], [0.5, 1, 2])
    assert seen[-1]["paths"] is None and seen[-1]["noise"] == 0.1


def test_paths_are_written_with_energy_conserved_to_euler_maruyama_accuracy(capsys, tmp_path):
    """8 paths of the damped oscillator (gamma = 1) at kB = 0.1, dt0 = 0.01, t1 = 1.

    The exact paths conserve E = 1.5; Euler-Maruyama's energy error grows like sqrt(dt0).
    Measured for this model, kB, dt0 and t1 over 1000 paths (seed 123, 11 saved times): the
    largest |E - E(0)| along a path has RMS 0.021, 99.9th percentile 0.072, maximum 0.107
    (RMS 0.0104 at dt0/4). Tolerance: 0.12 for every path and saved time.
    """
    out = tmp_path / "paths.npz"
    argv = ("--set", "gamma=1", *NOISY, "--paths", "8", "--t1", "1", "--points", "11")
    code, stdout, err = run(capsys, "run", "damped_oscillator", *argv, "--out", str(out))
    assert code == 0, err
    assert (
        "noise kB = 0.1: 8 paths, seed 0 (the default; --seed S for other paths), Brownian tree"
        in stdout
    )
    assert "ensemble of 8 members, 11 saved times" in stdout and "solver steps: 100" in stdout
    # Euler-Maruyama's energy error is reported, not flagged as a violation (no warning).
    assert "stochastic (kB = 0.1): S fluctuates along the paths (not flagged)" in stdout
    assert "the solver's discretisation error (the exact paths conserve E)" in stdout
    assert "WARNING" not in stdout and "warning" not in err.lower()

    traj = gm.load_trajectory(out)
    assert traj.ys.shape == (8, 11, 3) and traj.energy.shape == (8, 11)
    np.testing.assert_array_equal(traj.num_steps, 100)  # fixed steps of dt0
    assert float(traj.params["gamma"]) == 1.0
    energy = np.asarray(traj.energy)
    np.testing.assert_allclose(energy[:, 0], 1.5, rtol=1e-15)
    error = np.abs(energy - energy[:, :1]).max(axis=1)
    assert np.all(error < 0.12), error
    assert np.all(error > 1e-4), error  # the noise acted on every path
    assert len({tuple(np.round(p, 12)) for p in np.asarray(traj.ys)[:, -1]}) == 8

    # The plot draws every path, as for a sweep.
    png = tmp_path / "paths.png"
    code, _, err = run(capsys, "plot", str(out), "-o", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_path_is_reproducible_from_its_seed_and_fits_a_csv(capsys, tmp_path):
    argv = ("run", "damped_oscillator", *NOISY, "--t1", "0.5", "--points", "6")
    files = {seed: tmp_path / f"seed{seed}.csv" for seed in (1, 2)}
    for seed, out in files.items():
        code, stdout, err = run(capsys, *argv, "--seed", str(seed), "--out", str(out))
        assert code == 0, err
        assert f"noise kB = 0.1: one path, seed {seed}, Brownian tree" in stdout
    assert run(capsys, *argv, "--seed", "1", "--out", str(tmp_path / "again.csv"))[0] == 0
    assert (tmp_path / "again.csv").read_bytes() == files[1].read_bytes()
    one, two = (np.asarray(gm.load_trajectory(f).ys) for f in files.values())
    assert one.shape == (6, 3)  # a single path: no path axis
    assert np.all(np.abs(two - one)[1:, :2] > 0)  # another seed, other noise
