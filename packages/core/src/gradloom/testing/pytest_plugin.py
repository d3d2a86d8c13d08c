"""pytest plugin shipped with gradloom-core (entry point ``pytest11``).

Adds ``--backend NAME`` (repeatable) to narrow backend-parametrised tests, the markers
``gpu``, ``mpi`` and ``slow``, and the ``backend`` fixture parametrised over every
REGISTERED backend; an unavailable backend is skipped with its own reason, so CI without a
GPU stays green and says why.
"""
import pytest

MARKERS = {
    "gpu": "needs a GPU backend (skipped when none is available)",
    "mpi": "launches MPI processes (mpiexec)",
    "slow": "takes more than about 20 seconds",
}


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", default=[],
                     help="run backend-parametrised tests only for this device type "
                          "(repeatable), e.g. --backend cpu")


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def registered_backends():
    from gradloom.plugins import load_plugins
    return load_plugins().backends.names()


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend") or registered_backends()
        # the gpu-backend instances carry the ``gpu`` marker, so ``-m gpu`` selects them
        params = [pytest.param(name, marks=pytest.mark.gpu) if name == "gpu" else name
                  for name in chosen]
        metafunc.parametrize("backend", params, indirect=True)


@pytest.fixture
def backend(request):
    """The Backend object for the parametrised device type (skipped with its reason)."""
    from gradloom.plugins import load_plugins
    backends = load_plugins().backends
    if request.param not in backends:
        pytest.skip(f"no backend registered for {request.param!r}")
    found = backends.get(request.param)
    if not found.is_available():
        pytest.skip(f"backend {request.param!r} unavailable: {found.unavailable_reason}")
    return found


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped when no gpu backend is available."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from gradloom.plugins import load_plugins
    backends = load_plugins().backends
    reason = None
    if "gpu" not in backends:
        reason = "no gpu backend is registered (install gradloom-backend-cuda)"
    elif not backends.get("gpu").is_available():
        reason = f"gpu backend unavailable: {backends.get('gpu').unavailable_reason}"
    if reason:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))
