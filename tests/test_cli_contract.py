"""The generic-mm command line under abuse: bad numbers, outputs that cannot be written,
warnings, signals. Every problem ends in its documented exit status with a message, never a
traceback, and never leaves a file behind.

Exit status: 0 ok, 1 inconsistent, 2 invalid input, 3 solver failure, 130 interrupted,
143 terminated.
"""

import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

from generic_mm import cli
from generic_mm._errors import SimulationError
from generic_mm.cli import _run
from generic_mm.models import LIBRARY

ROOT = Path(cli.__file__).parents[2]  # the folder holding the generic_mm package


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _cache_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def no_check(monkeypatch):
    """Fail if the consistency check starts: the input must be refused before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the check ran before the input was validated")

    monkeypatch.setattr(_run, "checked", refuse)


# -- numbers -------------------------------------------------------------------------------
BAD_NUMBERS = [
    ("--points", "0", "expected an integer >= 2, got 0"),
    ("--points", "1", "expected an integer >= 2, got 1"),
    ("--points", "-3", "expected an integer >= 2, got -3"),
    ("--points", "2.5", "expected an integer, got '2.5'"),
    ("--points", "nan", "expected an integer, got 'nan'"),
    ("--rtol", "0", "expected a number > 0, got 0"),
    ("--rtol", "-1e-6", "expected a number > 0"),
    ("--rtol", "1", "expected a number < 1, got 1"),
    ("--rtol", "nan", "expected a finite number, got 'nan'"),
    ("--atol", "0", "expected a number > 0, got 0"),
    ("--atol", "-1", "expected a number > 0"),
    ("--atol", "nan", "expected a finite number, got 'nan'"),
    ("--atol", "inf", "expected a finite number, got 'inf'"),
    ("--max-steps", "0", "expected an integer >= 1, got 0"),
    ("--max-steps", "-10", "expected an integer >= 1"),
    ("--max-steps", "nan", "expected an integer, got 'nan'"),
    ("--dt0", "0", "expected a number > 0, got 0"),
    ("--dt0", "-0.1", "expected a number > 0"),
    ("--dt0", "NaN", "expected a finite number, got 'NaN'"),
    ("--t1", "nan", "expected a finite number, got 'nan'"),
    ("--t1", "-inf", "expected a finite number"),
    ("--t1", "ten", "expected a number, got 'ten'"),
]


@pytest.mark.parametrize("flag, value, match", BAD_NUMBERS)
def test_bad_run_numbers_exit_2_with_a_message(capsys, flag, value, match):
    code, _, err = run(capsys, "run", "heat_exchange", f"{flag}={value}")
    assert code == 2
    assert f"argument {flag}: {match}" in err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--samples", "0"], "argument --samples: expected an integer >= 1, got 0"),
        (["--rtol", "0"], "argument --rtol: expected a number > 0, got 0"),
        (["--rtol", "nan"], "argument --rtol: expected a finite number"),
    ],
)
def test_bad_check_numbers_exit_2_with_a_message(capsys, argv, match):
    code, _, err = run(capsys, "check", "heat_exchange", *argv)
    assert code == 2 and match in err


def _with_simulation(tmp_path, table: str) -> Path:
    text = (LIBRARY / "heat_exchange.toml").read_text()
    path = tmp_path / "model.toml"
    path.write_text(text[: text.index("[simulation]")] + "[simulation]\n" + table)
    return path


@pytest.mark.parametrize("key, value", [("rtol", "0.0"), ("atol", "-1e-9"), ("dt0", "0.0")])
def test_bad_file_numbers_exit_2_naming_the_key(capsys, tmp_path, no_check, key, value):
    path = _with_simulation(tmp_path, f"t1 = 1.0\n{key} = {value}\n")
    code, _, err = run(capsys, "run", str(path), "--out", str(tmp_path / "o.npz"))
    assert code == 2 and re.search(rf"\[simulation\] {key}", err), err


def test_end_time_not_after_start_is_refused_before_the_check(capsys, tmp_path, no_check):
    for t1 in ("0", "-5"):
        code, _, err = run(capsys, "run", "heat_exchange", "--t1", t1)
        assert code == 2 and f"--t1 {t1}: the end time must be after the start time t0 = 0" in err
    path = _with_simulation(tmp_path, "t0 = 5.0\nt1 = 1.0\n")
    code, _, err = run(capsys, "run", str(path))
    assert code == 2
    assert re.search(r"\[simulation\] t1.* t0 = 5", err), err  # the file's reader may say it
    assert list(tmp_path.iterdir()) == [path]


# -- outputs -------------------------------------------------------------------------------
def test_output_problems_exit_2_before_the_check(capsys, tmp_path, no_check):
    cases = {
        str(tmp_path): "is a folder; give a file name",
        str(tmp_path / "missing" / "o.npz"): "the folder .* does not exist",
        str(tmp_path / "o.txt"): "the extension must be .npz or .csv",
    }
    for out, match in cases.items():
        code, _, err = run(capsys, "run", "heat_exchange", "--out", out)
        assert code == 2 and re.search(f"--out {re.escape(out)}: {match}", err), err


def test_unwritable_folder_exits_2_before_the_check(capsys, tmp_path, no_check, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into read-only folders: let the OS answer as for a user
        real = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode, **kw: False if os.fspath(p) == str(folder) else real(p, mode, **kw),
        )
    code, _, err = run(capsys, "run", "heat_exchange", "--out", str(folder / "o.npz"))
    assert code == 2 and "is not writable" in err


def test_a_failing_write_exits_2_and_leaves_nothing(capsys, tmp_path, monkeypatch):
    import tempfile

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    out = tmp_path / "o.npz"
    argv = ("--t1", "1", "--points", "3", "--out", str(out))
    code, _, err = run(capsys, "run", "heat_exchange", *argv)
    assert code == 2 and f"--out {out}: cannot write the file: No space left on device" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    out = folder / "heat.npz"
    argv = ["run", "heat_exchange", "--t1", "5", "--points", "6", "--out", str(out)]
    assert cli.main(argv) == 0
    return out


def test_plot_output_problems_exit_2(capsys, results, tmp_path):
    cases = {
        str(tmp_path / "f.jpg"): "unsupported figure format '.jpg'; use .png, .svg, .pdf",
        str(tmp_path / "f"): "unsupported figure format",
        str(tmp_path / "missing" / "f.png"): "the folder .* does not exist",
        str(tmp_path): "is a folder",
    }
    for out, match in cases.items():
        code, _, err = run(capsys, "plot", str(results), "-o", out)
        assert code == 2 and re.search(f"-o {re.escape(out)}: {match}", err), err
    assert list(tmp_path.iterdir()) == []


def test_plot_of_a_file_whose_columns_do_not_match_exits_2(capsys, tmp_path):
    table = tmp_path / "r.csv"
    table.write_text("t,s1,s2,E,S,entropy_production\n0,1,2,3,4,5,6\n1,1,2,3,4,5,6\n")
    code, _, err = run(capsys, "plot", str(table), "-o", str(tmp_path / "f.png"))
    assert code == 2 and "7 columns of numbers but 6 names" in err
    junk = tmp_path / "r.npz"
    np.savez(junk, ts=np.arange(3.0))
    code, _, err = run(capsys, "plot", str(junk), "-o", str(tmp_path / "f.png"))
    assert code == 2 and "not a generic_mm trajectory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.npz"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_umasks_permissions(capsys, results, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        csv = tmp_path / "o.csv"
        argv = ("--t1", "1", "--points", "3", "--out", str(csv))
        assert run(capsys, "run", "heat_exchange", *argv)[0] == 0
        png = tmp_path / "f.png"
        assert run(capsys, "plot", str(results), "-o", str(png))[0] == 0
    finally:
        os.umask(old)
    for path in (csv, png):
        assert path.stat().st_mode & 0o777 == mode, path


# -- warnings ------------------------------------------------------------------------------
def test_warnings_are_said_once_in_the_cli_words(capsys, tmp_path):
    # The rigid body's dissipation is judged by sampling, so values outside the sampled
    # region are unverified (a symbolically proved model, e.g. heat_exchange, is not).
    out = tmp_path / "o.npz"
    argv = ("--sweep", "gamma=0.1,900,1000", "--t1", "1", "--points", "3", "--out", str(out))
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        code, _, err = run(capsys, "run", "rigid_body", *argv)
    assert code == 0
    said = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(said) == 1, err
    assert said[0].startswith("generic-mm: warning: --sweep gamma: gamma = 900 lies outside")
    assert "params[" not in err and "UserWarning" not in err and ".py:" not in err
    assert [w for w in leaked if issubclass(w.category, UserWarning)] == []


def test_repeated_library_warnings_are_said_once_with_cli_flags(capsys, tmp_path, monkeypatch):
    def drifting(model, *args, **kwargs):
        for _ in range(3):
            warnings.warn(
                "simulate('x'): 0 saved step(s) with S decreasing and 4 with E drifting beyond "
                "the solver tolerance; tighten rtol/atol or use a structure-preserving solver.",
                stacklevel=2,
            )
        raise SimulationError(
            "simulate('x'): the solver stopped at t=1: The maximum number of solver steps was "
            "reached. Try increasing `max_steps`.\nstate there: s1=1\nwhat to try: increase "
            "max_steps (now 9), loosen rtol/atol, or use an implicit solver such as "
            "diffrax.Kvaerno5(); if no step was taken at all, give a smaller dt0."
        )

    monkeypatch.setattr(_run, "simulate", drifting)
    code, _, err = run(capsys, "run", "heat_exchange", "--out", str(tmp_path / "o.npz"))
    assert code == 3
    assert err.count("generic-mm: warning:") == 1
    assert (
        "generic-mm: warning: 0 saved step(s) with S decreasing and 4 with E drifting beyond the "
        "solver tolerance; tighten --rtol/--atol or use a structure-preserving solver "
        "(--solver DiscreteGradient --dt0 H)." in err
    )
    assert "generic-mm: solver failure: the solver stopped at t=1" in err
    assert "Try increasing --max-steps" in err and "increase --max-steps (now 9)" in err
    assert "loosen --rtol/--atol" in err and "--solver Kvaerno5" in err
    assert "give a smaller --dt0" in err and "simulate(" not in err and "diffrax." not in err
    assert list(tmp_path.iterdir()) == []


# -- interruptions -------------------------------------------------------------------------
@pytest.mark.parametrize("raised", ["keyboard", "jax"])
def test_interrupt_during_integration_exits_130_and_writes_nothing(
    capsys, tmp_path, monkeypatch, raised
):
    def interrupted(*args, **kwargs):
        if raised == "jax":  # Ctrl-C inside a host callback (the progress bar)
            raise jax.errors.JaxRuntimeError("INTERNAL: CpuCallback error: KeyboardInterrupt")
        raise KeyboardInterrupt

    monkeypatch.setattr(_run, "simulate", interrupted)
    code, _, err = run(capsys, "run", "heat_exchange", "--out", str(tmp_path / "o.npz"))
    assert code == 130 and "interrupted; no output written" in err
    assert list(tmp_path.iterdir()) == []


def test_interrupt_while_writing_leaves_no_file(capsys, tmp_path, monkeypatch):
    # Ctrl-C after the temporary file holds data, before it is renamed into place.
    calls = []

    def interrupted_fsync(fd):
        calls.append(fd)
        raise KeyboardInterrupt

    out = tmp_path / "o.npz"
    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    code, _, err = run(capsys, "run", "heat_exchange", "--t1", "1", "--out", str(out))
    monkeypatch.undo()
    assert calls, "the interrupt never reached the file write"
    assert code == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_other_runtime_errors_are_solver_failures(capsys, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise jax.errors.JaxRuntimeError("INTERNAL: something else\nmore")

    monkeypatch.setattr(_run, "simulate", broken)
    code, _, err = run(capsys, "run", "heat_exchange", "--out", str(tmp_path / "o.npz"))
    assert code == 3 and "generic-mm: solver failure: INTERNAL: something else" in err


def _environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache)}


def _long_run(t1: str) -> list[str]:
    """An oscillator with almost no friction: at t1 = 1e7 the solve takes minutes."""
    command = [sys.executable, "-m", "generic_mm.cli", "run", "damped_oscillator"]
    return command + [
        "--set",
        "gamma=1e-9",
        "--t1",
        t1,
        "--points",
        "3",
        "--max-steps",
        "100000000",
    ]


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache holding the compiled long run (a short run compiles the same program), so
    the long run starts integrating soon after its report."""
    cache = tmp_path_factory.mktemp("signal-cache")
    out = cache / "warm.npz"
    done = subprocess.run(
        [*_long_run("1"), "--out", str(out)],
        capture_output=True,
        env=_environment(cache),
        cwd=cache,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return cache


def test_the_console_script_caches_the_compiled_solve(warm_cache):
    # No host callbacks in the solve (EQX_ON_ERROR=nan), so JAX stores it.
    stored = [p.name for p in (warm_cache / "generic_mm" / "jax").iterdir()]
    assert any(name.startswith("jit__integrate") for name in stored), stored


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("how", ["plain", "sigint-ignored", "terminal", "sigterm"])
def test_signal_during_a_long_run_ends_it_at_once(tmp_path, warm_cache, how):
    """Ctrl-C (SIGINT) during integration: exit 130 within seconds, nothing written, no
    traceback; also when the shell started the command with SIGINT ignored (a background
    job) and when a terminal shows the progress bar. SIGTERM: exit 143 likewise."""
    out = tmp_path / "o.npz"
    master = slave = None
    stderr: int = subprocess.PIPE
    if how == "terminal":
        master, slave = pty.openpty()
        stderr = slave
    command = [*_long_run("1e7"), "--out", str(out)]
    if how == "sigint-ignored":  # as a shell starts a background job: SIG_IGN survives exec
        ignore = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        command = [sys.executable, "-c", ignore + "os.execv(sys.argv[1], sys.argv[1:])", *command]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=_environment(warm_cache),
        cwd=tmp_path,  # not the repository: PYTHONPATH decides which generic_mm runs
    )
    chunks: list[bytes] = []
    if master is not None:
        assert slave is not None
        os.close(slave)
        threading.Thread(target=_drain, args=(master, chunks), daemon=True).start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the report is printed (and flushed) before solving
        if not first.startswith(b"Consistency report"):
            proc.kill()
            pytest.fail(f"no report: {first!r} {b''.join(chunks)!r} {proc.communicate()!r}")
        # Tracing and loading the cached program take about a second of CPU: after four,
        # the compiled solve is running.
        start = _cpu_seconds(proc.pid)
        while _cpu_seconds(proc.pid) - start < 4.0:
            time.sleep(0.1)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        code = proc.wait(timeout=60)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    if master is None:
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    else:
        time.sleep(0.2)
        err = b"".join(chunks).decode(errors="replace")
    expected = (143, "terminated") if how == "sigterm" else (130, "interrupted")
    assert code == expected[0], err
    assert f"generic-mm: {expected[1]}; no output written" in err
    assert "Traceback" not in err and "JaxRuntimeError" not in err
    assert waited < 10
    assert list(tmp_path.iterdir()) == []


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the terminal closed
            return
        if not data:
            return
        chunks.append(data)


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "o.npz"
    script = (
        "import os, signal, sys\n"
        "from generic_mm import cli\n"
        "real = os.fsync\n"
        "def fsync(fd):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    real(fd)\n"
        "os.fsync = fsync\n"
        f"sys.exit(cli.main(['run', 'heat_exchange', '--t1', '1', '--out', {str(out)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=_environment(tmp_path / "cache"),
        cwd=tmp_path,
    )
    assert done.returncode == 143, done.stderr
    assert "generic-mm: terminated; no output written" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
