"""The command line's cache, on by default (`--no-cache`): JAX's persistent compilation cache,
and consistency reports keyed by the model file's bytes.

Both live under `cache_dir()`. A report is reused only for a byte-identical model file,
the same `--set` values and check options, and the same generic_mm code (version and
source files); it is stored as JSON, never executed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .._checks import CheckOptions, check
from .._files import write_atomic
from .._report import CheckResult, ConsistencyReport

_JAX_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/generic_mm`, else `~/.cache/generic_mm`."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "generic_mm"


@contextlib.contextmanager
def compilation_cache(enabled: bool) -> Iterator[Path | None]:
    """JAX's persistent compilation cache in `cache_dir()/jax` for the duration (every
    program, however fast to compile); yields the cache folder, or `None` when disabled or
    not creatable (then everything runs uncached). JAX's previous settings come back
    afterwards: `main` may run inside another program."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    from .._config import enable_compilation_cache

    saved = {k: getattr(jax.config, k) for k in _JAX_SETTINGS}
    root = None
    if enabled:
        try:
            root = cache_dir()
            enable_compilation_cache(root / "jax")
            jax_cache.reset_cache()  # re-read the folder (a program may have used another)
        except (OSError, RuntimeError):  # no home folder, read-only: run uncached
            root = None
    try:
        yield root
    finally:
        if root is not None:
            for k, v in saved.items():
                jax.config.update(k, v)
            jax_cache.reset_cache()


def _code_version() -> str:
    """The package version and the sizes and times of its source files, so that a report
    from other code is never reused (a development install keeps its version number)."""
    package = Path(__file__).parent.parent
    stats = sorted(
        (str(p.relative_to(package)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in package.rglob("*.py")
    )
    digest = hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]
    return f"{importlib.metadata.version('generic_mm')}+{digest}"


def report_key(raw: bytes, options: CheckOptions, sets: Sequence[str]) -> str:
    """The cache key of a report: a hash of the file's bytes, the `--set` items, the check
    options and the code."""
    meta = {"code": _code_version(), "options": dataclasses.asdict(options), "set": list(sets)}
    h = hashlib.sha256(raw)
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def _to_json(report: ConsistencyReport, key: str) -> str:
    def results(rs):
        return [dataclasses.asdict(r) for r in rs]

    return json.dumps(
        {
            "key": key,
            "model_name": report.model_name,
            "results": results(report.results),
            "region": list(report.region),
            "defaulted": list(report.defaulted),
            "processes": {k: results(v) for k, v in report.processes.items()},
        }
    )


def _from_json(text: str, key: str) -> ConsistencyReport | None:
    try:
        data = json.loads(text)
        if data["key"] != key:
            return None

        def results(rs):
            return [CheckResult(**r) for r in rs]

        return ConsistencyReport(
            data["model_name"],
            results(data["results"]),
            region=data["region"],
            defaulted=data["defaulted"],
            processes={k: results(v) for k, v in data["processes"].items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # damaged or from another layout: check again


def _unchanged(path: Path, raw: bytes) -> bool:
    try:
        return path.read_bytes() == raw
    except OSError:
        return False


def checked(
    model,
    source: tuple[Path, bytes | None],
    options: CheckOptions,
    sets: Sequence[str],
    root: Path | None,
) -> ConsistencyReport:
    """`check(model)` with `options`; with a cache folder `root`, the report is read from
    and written to it, keyed by the bytes `source = (path, raw)` the model was loaded from
    (not used if the file changed meanwhile)."""
    path, raw = source
    file = None
    if root is not None and raw is not None and _unchanged(path, raw):
        key = report_key(raw, options, sets)
        file = root / "reports" / f"{key}.json"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            report = _from_json(file.read_text(), key)
            if report is not None:
                # Where check() keeps a model's report: `run` then compiles without checking
                # again.
                model.cached(("check", options), lambda: report)
                file = None
    report = check(
        model,
        samples=options.samples,
        rtol=options.rtol,
        seed=options.seed,
        symbolic_timeout=options.symbolic_timeout,
    )
    if file is not None:
        with contextlib.suppress(OSError):
            file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(file, _to_json(report, file.stem).encode())
    return report


def cacheable_solves() -> None:
    """Make the compiled solve storable in the compilation cache: JAX never stores a program
    with host callbacks, and equinox's runtime checks (`eqx.error_if`, in diffrax and
    generic_mm) are callbacks unless `EQX_ON_ERROR=nan`, which turns a failed check into NaN
    results. The command line validates every value those checks guard before it solves,
    and a NaN solve ends as a solver failure. Called by the console script (a process of its
    own) unless the user set `EQX_ON_ERROR`; read when a program is traced."""
    if "EQX_ON_ERROR" in os.environ:
        return
    # The module global `error_if` reads while tracing (set from the environment on import;
    # equinox is already imported by now). Should equinox move it, only caching is lost.
    module = importlib.import_module("equinox._errors")
    if isinstance(getattr(module, "EQX_ON_ERROR", None), str):
        setattr(module, "EQX_ON_ERROR", "nan")  # noqa: B010 (a module global, not typed)
