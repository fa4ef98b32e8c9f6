"""Ensembles are sharded over all local devices (4 forced host devices, in a subprocess)."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    import generic_mm as gm
    from generic_mm.models import damped_oscillator
    assert jax.local_device_count() == 4, jax.devices()
    model = damped_oscillator.model()
    rng = np.random.default_rng(0)
    for batch in (8, 6):  # 6 is padded to 8 internally
        y0 = np.column_stack([rng.uniform(0.5, 1.5, batch), rng.uniform(-0.5, 0.5, batch), np.zeros(batch)])
        gammas = rng.uniform(0.05, 0.3, batch)
        ens = gm.simulate(model, y0, 5.0, params={"gamma": gammas}, saveat=11)
        assert ens.ys.shape == (batch, 11, 3), ens.ys.shape
        if batch == 8:
            devices = ens.ys.sharding.device_set
            assert len(devices) == 4, devices
        for b in (0, batch - 1):
            one = gm.simulate(model, y0[b], 5.0, params={"gamma": float(gammas[b])}, saveat=11)
            np.testing.assert_allclose(ens.ys[b], one.ys, rtol=1e-11, atol=1e-12)
    print("SHARDED-OK")
    """
)


def test_ensemble_is_sharded_over_four_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SHARDED-OK" in out.stdout


CACHE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import jax
    import generic_mm as gm
    from generic_mm.models import heat_exchange
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None
    )
    path = gm.enable_compilation_cache(sys.argv[1])
    t = time.perf_counter()
    gm.simulate(heat_exchange.model(), heat_exchange.initial_state, 5.0)
    print(f"{time.perf_counter() - t:.3f}", len(os.listdir(path)), len(hits))
    """
)


def test_persistent_compilation_cache_is_written_and_reused(tmp_path):
    env = dict(os.environ, EQX_ON_ERROR="nan", JAX_PLATFORMS="cpu")
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", CACHE_SCRIPT, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        seconds, entries, hits = out.stdout.split()
        runs.append((float(seconds), int(entries), int(hits)))
    assert runs[0][1] > 0  # the first process compiled and wrote entries
    assert runs[1][2] >= runs[0][1] > runs[0][2]  # the second loaded every one of them
    assert runs[1][1] == runs[0][1]  # and wrote nothing new
