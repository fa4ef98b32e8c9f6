"""The generic-mm command line: exit codes, outputs, atomic writes."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from generic_mm import cli
from generic_mm.models import find


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_good_model_exits_0(capsys):
    code, out, _ = run(capsys, "check", "damped_oscillator")
    assert code == 0
    assert "all conditions hold" in out and "friction_degeneracy" in out


def test_check_inconsistent_model_exits_1_and_shows_counterexample(capsys, tmp_path):
    text = (
        find("damped_oscillator")
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


@pytest.mark.parametrize(
    "argv, match",
    [
        (["check", "no_such_model"], "no such file, and no model of that name"),
        (
            ["run", "damped_oscillator", "--set", "gama=1"],
            r"'gama' is neither a parameter nor a state variable \(did you mean 'gamma'\?\)",
        ),
        (["run", "damped_oscillator", "--set", "gamma"], "expected name=value"),
        (["run", "damped_oscillator", "--solver", "RK4"], "--solver 'RK4': unknown"),
        (["run", "damped_oscillator", "--out", "x.txt"], "the extension must be .npz or .csv"),
        (["plot", "missing.npz"], "missing.npz: no such file"),
    ],
)
def test_invalid_input_exits_2(capsys, argv, match):
    code, _, err = run(capsys, *argv)
    assert code == 2
    import re

    assert re.search(match, err), err


def test_bad_model_file_exits_2_with_location(capsys, tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('state = ["x"]\n[generic]\nenergy = "x**2 + y"\nentropy = "0"\n')
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert f"{path}: [generic] energy: undefined symbol 'y'" in err


def test_run_writes_npz_and_csv_and_plot(capsys, tmp_path):
    npz = tmp_path / "out.npz"
    code, out, _ = run(
        capsys,
        "run",
        "heat_exchange",
        "--t1",
        "40",
        "--points",
        "41",
        "--out",
        str(npz),
        "--set",
        "kappa=1.0",
        "--no-progress",
    )
    assert code == 0 and f"wrote {npz}" in out and "relative drift" in out
    with np.load(npz) as data:
        assert data["ys"].shape == (41, 2) and list(data["state_names"]) == ["s1", "s2"]
        assert np.all(np.diff(data["entropy"]) >= -1e-12)
        T1, T2 = np.exp(data["ys"][-1, 0]), np.exp(data["ys"][-1, 1] / 2)
        assert T1 == pytest.approx(4 / 3, rel=1e-7) and T2 == pytest.approx(4 / 3, rel=1e-7)
        assert dict(zip(data["param_names"], data["param_values"]))["kappa"] == 1.0
    csv = tmp_path / "out.csv"
    assert run(capsys, "run", "heat_exchange", "--out", str(csv), "--no-progress")[0] == 0
    header = csv.read_text().splitlines()[0]
    assert header == "t,s1,s2,E,S,entropy_production"
    png = tmp_path / "fig.png"
    code, out, _ = run(capsys, "plot", str(npz), "-o", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(capsys, "plot", str(csv))[0] == 0 and csv.with_suffix(".png").exists()


def test_run_set_initial_value(capsys, tmp_path):
    out = tmp_path / "o.npz"
    assert (
        run(
            capsys,
            "run",
            "maxwell",
            "--set",
            "eps_v=0.5",
            "--t1",
            "1",
            "--out",
            str(out),
            "--no-progress",
        )[0]
        == 0
    )
    with np.load(out) as data:
        np.testing.assert_allclose(data["ys"][:, 0], 0.5)  # eps_v = eps: no stress, nothing moves


def test_solver_failure_exits_3_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "o.npz"
    code, _, err = run(
        capsys, "run", "damped_oscillator", "--max-steps", "5", "--out", str(out), "--no-progress"
    )
    assert code == 3
    assert "stopped at t=" in err and "state there: q=" in err and "what to try" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_interrupt_exits_130_and_leaves_no_file(capsys, tmp_path, monkeypatch):
    # Ctrl-C while the result file is being written (after the temporary file exists and
    # holds data, before it is renamed into place): the real write path must clean up.
    import os

    real_fsync, calls = os.fsync, []

    def interrupted_fsync(fd):
        calls.append(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, "run", "damped_oscillator", "--out", str(out), "--no-progress")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert calls, "the interrupt never reached the file write"
    assert code == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    from generic_mm.io._modelfile import write_atomic

    target = tmp_path / "r.npz"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(target, object())  # fails while writing
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]


def test_list_and_show(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("damped_oscillator", "double_pendulum", "reaction", "oldroyd_b"):
        assert name in out
    code, out, _ = run(capsys, "show", "maxwell")
    assert code == 0 and "deps_v/dt = G*(eps - eps_v)/eta" in out
    code, out, _ = run(capsys, "show", "maxwell", "--latex")
    assert (
        code == 0 and r"\frac{d eps_{v}}{d t} &= \frac{G \left(eps - eps_{v}\right)}{\eta}" in out
    )


def test_console_script_is_installed():
    exe = shutil.which("generic-mm")
    assert exe, "the generic-mm console script is not on PATH (pip install -e .)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for command in ("check", "run", "plot", "list", "show"):
        assert command in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "generic_mm.cli", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "--set NAME=VALUE" in out.stdout
