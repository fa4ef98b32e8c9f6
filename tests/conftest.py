import os

import hypothesis
import pytest

import generic_mm  # noqa: F401  (enables float64 before any test builds arrays)


def pytest_configure(config):
    # The CLI caches compiled programs and reports under $XDG_CACHE_HOME: keep the tests'
    # (and their subprocesses') caches out of the user's. Under pytest-xdist each worker
    # (PYTEST_XDIST_WORKER) inherits the controller's environment: it gets a folder of its
    # own, so that no worker reads or writes another's entries mid-test.
    import tempfile

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if "GENERIC_MM_TEST_CACHE" not in os.environ:
        os.environ["GENERIC_MM_TEST_CACHE"] = tempfile.mkdtemp(prefix="generic_mm_cache_")
        os.environ["XDG_CACHE_HOME"] = os.environ["GENERIC_MM_TEST_CACHE"]
    elif worker and os.environ.get("XDG_CACHE_HOME") == os.environ["GENERIC_MM_TEST_CACHE"]:
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(
            prefix=f"{worker}_", dir=os.environ["GENERIC_MM_TEST_CACHE"]
        )


hypothesis.settings.register_profile(
    "deterministic", derandomize=True, deadline=None, max_examples=20, print_blob=True
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup` (pyproject) a test goes to whichever worker is free, unless it
    carries an `xdist_group` mark. Tests that share a module- or session-scoped fixture of ours
    (a model checked and compiled once, a simulation, a built site) get one, so that the
    fixture is built once: tests linked through shared fixtures (a module's fixtures count as
    one) form one group, named after the least of its fixtures' keys."""
    if not config.pluginmanager.hasplugin("xdist"):
        return  # the mark is pytest-xdist's (and means nothing without it)
    # The notebooks (the longest single tests, each in a kernel of its own) are handed out
    # first, so that they do not leave one worker running alone at the end.
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_tutorials.py")
    shared = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        keys = [
            item.module.__name__ if defs[-1].scope == "module" else name
            for name, defs in (info.name2fixturedefs.items() if info else ())
            if defs[-1].scope in ("module", "package", "session")
            and getattr(defs[-1].func, "__module__", "").startswith("tests.")  # not pytest's
        ]
        if keys and not item.get_closest_marker("xdist_group"):
            shared[item] = keys
    parent = {}

    def root(key):
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for keys in shared.values():
        for key in keys[1:]:
            a, b = root(keys[0]), root(key)
            parent[max(a, b)] = min(a, b)
    for item, keys in shared.items():
        item.add_marker(pytest.mark.xdist_group(root(keys[0])))


@pytest.fixture(scope="session")
def library_models():
    """The library's model files, loaded once per worker and shared by the tests that check,
    compile or run them unchanged (models are immutable; checks and compiled code are cached
    on them): stem -> `GenericModel`."""
    from generic_mm.models import files

    return {path.stem: generic_mm.load_model(path) for path in files()}


@pytest.fixture(autouse=True)
def _float64():
    import jax

    assert jax.config.jax_enable_x64
