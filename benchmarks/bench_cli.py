"""Start-up of the `generic-mm` command: a first run against a second run of the same model
(the caches: compiled programs and consistency reports), and `--no-cache`, side by side.

    python benchmarks/bench_cli.py [MODEL ...]

Each model is run three times in fresh processes with a fresh cache folder: cold (empty
cache), warm (the same command again) and `--no-cache`; `--version` measures the imports
alone. Prints wall-clock seconds and the warm/cold ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def _time(args: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        ["generic-mm", *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"generic-mm {' '.join(args)} failed:\n{out.stderr}")
    return elapsed


def main(models: list[str]) -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        imports = _time(["--version"], env, work)
        print(f"generic-mm --version (imports only): {imports:.2f} s")
        print(f"{'model':<18} {'cold':>7} {'warm':>7} {'no-cache':>9} {'warm/cold':>10}")
        for model in models:
            run = ["run", model, "--no-progress", "--out", f"{model}.npz"]
            cold = _time(run, env, work)
            warm = _time(run, env, work)
            bare = _time([*run, "--no-cache"], env, work)
            print(f"{model:<18} {cold:7.2f} {warm:7.2f} {bare:9.2f} {warm / cold:10.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["damped_oscillator", "heat_exchange", "double_pendulum"])
