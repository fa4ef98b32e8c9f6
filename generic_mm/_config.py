"""Process-wide settings: JAX's persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache, so a second run of a model starts fast.

    Compiled XLA programs are stored in `directory` (default: `$GENERIC_MM_CACHE` or
    `~/.cache/generic_mm/jax`) and reused by later processes with the same model, solver
    and shapes. JAX skips programs that contain host callbacks: diffrax's runtime error
    checks add some; set the environment variable `EQX_ON_ERROR=nan` before importing
    `generic_mm` to lift that (errors then show as NaN instead of exceptions; `simulate`
    still reports solver failures). Progress bars also use callbacks.

    **Returns:** the cache directory.
    """
    if directory is None:
        directory = os.environ.get(
            "GENERIC_MM_CACHE", Path.home() / ".cache" / "generic_mm" / "jax"
        )
    path = Path(directory).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
