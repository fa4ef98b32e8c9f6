import os

import hypothesis
import pytest

import generic_mm  # noqa: F401  (enables float64 before any test builds arrays)

hypothesis.settings.register_profile(
    "deterministic", derandomize=True, deadline=None, max_examples=20, print_blob=True
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _float64():
    import jax

    assert jax.config.jax_enable_x64
