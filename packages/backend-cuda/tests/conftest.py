"""Fixtures for the CUDA backend's tests.

``gpu`` yields the registered ``gpu`` backend, or skips the test with the backend's own
reason (cupy missing, no driver, no device), so CI without a GPU stays green and says why.
"""
import pytest


def gpu_backend_or_skip():
    from gradloom.plugins import load_plugins
    backend = load_plugins().backends.get("gpu")
    if not backend.is_available():
        pytest.skip(f"gpu backend unavailable: {backend.unavailable_reason}")
    return backend


@pytest.fixture
def gpu():
    return gpu_backend_or_skip()


@pytest.fixture
def cpu():
    from gradloom.plugins import load_plugins
    return load_plugins().backends.get("cpu")
