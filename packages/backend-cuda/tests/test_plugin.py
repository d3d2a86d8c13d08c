"""The gpu backend is registered even without cupy or a GPU, and says why it cannot run.

These run on every machine. Each scenario runs in a fresh interpreter, because the backend
probes cupy once per process; "cupy missing" is simulated by blocking the import.
"""
import json
import subprocess
import sys

import pytest

_BLOCK_CUPY = "import sys; sys.modules['cupy'] = None\n"


def _python(code, block_cupy=False):
    src = (_BLOCK_CUPY if block_cupy else "") + code
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _gpu_usable():
    from gradloom.plugins import load_plugins
    return load_plugins().backends.get("gpu").is_available()


def test_importing_the_plugin_never_imports_cupy():
    out = _python("import json, sys\n"
                  "import gradloom_cuda.plugin, gradloom_cuda.backend, gradloom_cuda.kernels\n"
                  "import gradloom_cuda.executor, gradloom_cuda.fusion\n"
                  "from gradloom.plugins import load_plugins\n"
                  "state = load_plugins()\n"
                  "print(json.dumps(['gpu' in state.backends.names(), 'cupy' in sys.modules]))")
    registered, imported = json.loads(out)
    assert registered and not imported


def test_missing_cupy_is_reported_with_the_package_to_install():
    out = _python("import json\n"
                  "from gradloom.plugins import load_plugins\n"
                  "b = load_plugins().backends.get('gpu')\n"
                  "print(json.dumps([b.is_available(), b.unavailable_reason, b.device_count()]))",
                  block_cupy=True)
    available, reason, count = json.loads(out)
    assert not available and count == 0
    assert "cupy is not installed" in reason
    assert "gradloom-backend-cuda[cuda12]" in reason and "[cuda13]" in reason


def test_gpu_context_raises_backend_unavailable_naming_the_reason():
    out = _python("import json, gradloom\n"
                  "from gradloom.base import BackendUnavailableError\n"
                  "try:\n"
                  "    gradloom.nd.zeros((2,), ctx=gradloom.gpu(0))\n"
                  "    print(json.dumps(None))\n"
                  "except BackendUnavailableError as exc:\n"
                  "    print(json.dumps(str(exc)))\n", block_cupy=True)
    message = json.loads(out)
    assert message is not None, "gpu(0) must not be usable without cupy"
    assert "gpu(0)" in message and "cupy is not installed" in message
    assert "gradloom-backend-cuda" in message


def test_cli_plugins_lists_gpu_with_the_reason():
    pytest.importorskip("gradloom_cli", reason="the gradloom CLI (gradloom-cli) is not installed")
    out = _python("from gradloom_cli.main import cli\n"
                  "cli(['plugins'], standalone_mode=False)\n", block_cupy=True)
    line = next(ln for ln in out.splitlines() if "gpu:" in ln)
    assert "unavailable" in line and "cupy is not installed" in line
    assert "Convolution@gpu" in out and "SoftmaxOutput@gpu" in out


def test_this_machine_reports_its_own_state():
    """Without blocking anything: either a usable GPU, or a reason naming cupy or CUDA."""
    out = _python("import json\n"
                  "from gradloom.plugins import load_plugins\n"
                  "b = load_plugins().backends.get('gpu')\n"
                  "print(json.dumps([b.is_available(), b.unavailable_reason, b.describe()]))")
    available, reason, line = json.loads(out)
    if available:
        assert reason is None and line.startswith("gpu: available")
    else:
        assert reason and ("cupy" in reason or "CUDA" in reason)
        assert line == f"gpu: unavailable ({reason})"
    assert available == _gpu_usable()
    try:
        import gradloom_cli  # noqa: F401
    except ImportError:
        return   # the CLI is a separate distribution
    listing = _python("from gradloom_cli.main import cli\n"
                      "cli(['plugins'], standalone_mode=False)\n")
    gpu_line = next(ln for ln in listing.splitlines() if "gpu:" in ln)
    # `gradloom plugins` shows the same state and reason
    assert ("unavailable" in gpu_line and reason in gpu_line) if not available \
        else "unavailable" not in gpu_line
