import os

import hypothesis
import pytest

import generic_mm  # noqa: F401  (enables float64 before any test builds arrays)


def pytest_configure(config):
    # The CLI caches compiled programs and reports under $XDG_CACHE_HOME: keep the tests'
    # (and their subprocesses') caches out of the user's.
    import tempfile

    if "GENERIC_MM_TEST_CACHE" not in os.environ:
        os.environ["GENERIC_MM_TEST_CACHE"] = tempfile.mkdtemp(prefix="generic_mm_cache_")
        os.environ["XDG_CACHE_HOME"] = os.environ["GENERIC_MM_TEST_CACHE"]


hypothesis.settings.register_profile(
    "deterministic", derandomize=True, deadline=None, max_examples=20, print_blob=True
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _float64():
    import jax

    assert jax.config.jax_enable_x64
