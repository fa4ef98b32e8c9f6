"""An ensemble split across two `jax.distributed` processes (two local CPU processes, with
two CPU devices each) is the ensemble one process computes alone, every process holds all
of it, and each process integrates only its share.

JAX 0.10 runs collectives between CPU processes with gloo by default
(`jax_cpu_collectives_implementation`), so `jax.distributed.initialize` is all it takes.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import diffrax
import jax
import numpy as np
import pytest

import generic_mm as gm
from generic_mm.models import damped_oscillator

# The runs each process makes, and this process alone for reference.
T1, KB, DT0, SAVEAT, SEED, PATHS = 0.5, 0.1, 0.01, 6, 7, 5  # 5 paths: odd, one is repeated
GAMMAS = [0.5, 1.0, 1.5, 2.0, 2.5]
JIT_GAMMAS = [0.5, 1.0, 1.5]

WORKER = textwrap.dedent(
    f"""
    import json, sys, warnings
    import jax

    process, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_num_cpu_devices", 2)  # each share is sharded again, over 2 devices
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{{port}}",
        num_processes=2,
        process_id=process,
        initialization_timeout=60,
    )
    import diffrax
    import numpy as np
    import generic_mm as gm
    import generic_mm._simulate as simulate_module
    from generic_mm.models import damped_oscillator as d

    # What this process integrates: the members handed to the compiled solve.
    seen = []
    integrate = simulate_module._integrate

    def recording(compiled, y0, params, *args, keys=None, **kwargs):
        members = params["gamma"] if keys is None else keys
        if isinstance(members, jax.core.Tracer):
            seen.append(dict(traced=members.shape[0]))
        else:
            data = members if keys is None else jax.random.key_data(keys)
            seen.append(dict(members=np.asarray(data).tolist(),
                             devices=len(members.sharding.device_set)))
        return integrate(compiled, y0, params, *args, keys=keys, **kwargs)

    simulate_module._integrate = recording
    warnings.simplefilter("ignore")  # Euler-Maruyama's energy error is flagged, as it should be
    model = d.model(gamma=1.0)
    noisy = gm.simulate(
        model, d.initial_state, {T1}, noise={KB}, key=jax.random.key({SEED}), paths={PATHS},
        dt0={DT0}, saveat={SAVEAT},
    )
    swept = gm.simulate(
        model, d.initial_state, {T1}, params={{"gamma": np.array({GAMMAS})}}, saveat={SAVEAT}
    )
    jitted = jax.jit(
        lambda g: gm.simulate(
            model, d.initial_state, {T1}, params={{"gamma": g}}, solver=diffrax.Euler(),
            dt0=0.05, saveat=3,
        ).ys
    )(np.array({JIT_GAMMAS}))
    np.savez(out, noisy=noisy.ys, noisy_energy=noisy.energy, swept=swept.ys, jitted=jitted)
    report = dict(
        process=jax.process_index(), processes=jax.process_count(),
        local_devices=jax.local_device_count(), integrated=seen,
    )
    print("REPORT", json.dumps(report))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(folder, script) -> list[subprocess.Popen]:
    """The two processes of one run, on a free port, writing to files in `folder`."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    port = _free_port()
    procs = []
    for i in range(2):
        with open(folder / f"out{i}.txt", "w") as out, open(folder / f"err{i}.txt", "w") as err:
            cmd = [sys.executable, str(script), str(i), str(port), str(folder / f"p{i}.npz")]
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=err, env=env))
    return procs


def _wait(procs: list[subprocess.Popen], deadline: float) -> None:
    try:
        while any(p.poll() is None for p in procs):
            if any(p.returncode not in (None, 0) for p in procs):
                break  # the other one would wait for its partner until it timed out
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _finish(folder, script, procs, timeout: float = 300.0):
    """Both processes' reports and output files; a failure shows their standard error. A
    port taken by another program between our probe and the coordinator's bind is retried."""
    for attempt in range(3):
        _wait(procs, time.monotonic() + timeout)
        if all(p.returncode == 0 for p in procs):
            break
        errors = [(folder / f"err{i}.txt").read_text() for i in range(2)]
        if attempt < 2 and any("Failed to start RPC server" in e for e in errors):
            procs = _start(folder, script)
            continue
        codes = [p.returncode for p in procs]
        pytest.fail(
            f"exit codes {codes} (negative: killed after {timeout:g} s)\n"
            + "\n".join(f"process {i}:\n{e[-3000:]}" for i, e in enumerate(errors))
        )
    reports, files = [], []
    for i in range(2):
        lines = (folder / f"out{i}.txt").read_text().splitlines()
        reports.append(json.loads([s for s in lines if s.startswith("REPORT ")][-1][7:]))
        with np.load(folder / f"p{i}.npz") as data:
            files.append({k: data[k] for k in data.files})
    return reports, files


@pytest.mark.filterwarnings("ignore:simulate.*E drifting:UserWarning")
def test_two_processes_split_the_ensemble_and_gather_it_on_both(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = _start(tmp_path, script)

    # Meanwhile, the reference: the same calls in this process alone, on the CPU too.
    model = damped_oscillator.model(gamma=1.0)
    y0 = damped_oscillator.initial_state
    key = jax.random.key(SEED)
    euler = dict(solver=diffrax.Euler(), dt0=0.05, saveat=3)
    with jax.default_device(jax.devices("cpu")[0]):
        noisy = gm.simulate(model, y0, T1, noise=KB, key=key, paths=PATHS, dt0=DT0, saveat=SAVEAT)
        swept = gm.simulate(model, y0, T1, params={"gamma": np.array(GAMMAS)}, saveat=SAVEAT)
        jitted = gm.simulate(model, y0, T1, params={"gamma": np.array(JIT_GAMMAS)}, **euler).ys
    assert noisy.ys.shape == (PATHS, SAVEAT, 3) and jax.process_count() == 1

    reports, files = _finish(tmp_path, script, procs)
    for i, (report, got) in enumerate(zip(reports, files)):
        assert (report["process"], report["processes"], report["local_devices"]) == (i, 2, 2)
        # Every process holds the whole ensemble, the paths one process computes alone: the
        # key is split identically, and a path does not depend on where it was integrated.
        np.testing.assert_allclose(got["noisy"], noisy.ys, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["noisy_energy"], noisy.energy, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["swept"], swept.ys, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["jitted"], jitted, rtol=1e-12, atol=1e-12)

    # Each process integrated only its share: ceil(5 / 2) = 3 consecutive members, the last
    # one repeated to fill the share and to pad it to a multiple of its 2 devices.
    keys = np.asarray(jax.random.key_data(jax.random.split(key, PATHS)))
    for report, share in zip(reports, ([0, 1, 2, 2], [3, 4, 4, 4])):
        stochastic, swept_share, under_jit = report["integrated"]
        np.testing.assert_array_equal(stochastic["members"], keys[share])
        np.testing.assert_array_equal(swept_share["members"], np.array(GAMMAS)[share])
        assert stochastic["devices"] == swept_share["devices"] == 2
        # Traced inputs are not split (a share of tracers cannot be gathered): under jit
        # every process computes the whole ensemble.
        assert under_jit == {"traced": len(JIT_GAMMAS)}
