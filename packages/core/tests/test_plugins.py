"""The plugin machinery: isolated managers, registrars, broken plugins, env switches."""
import importlib.metadata
import subprocess
import sys
import types

import pluggy
import pytest

import gradloom
from gradloom.base import BackendUnavailableError, PluginError, UnknownNameError
from gradloom.plugins import build_state, set_state
from gradloom.testing.fakes import FakeBackend

hookimpl = pluggy.HookimplMarker("gradloom")


class FakePlugin:
    def __init__(self, backend):
        self.backend = backend

    @hookimpl
    def gradloom_register_backends(self, register):
        register.add(self.backend)

    @hookimpl
    def gradloom_register_kvstores(self, register):
        register.add("fakestore", lambda name, **kw: ("store", name, kw), aliases=("fs",),
                     description="a fake store")


def _ep(name, value):
    return importlib.metadata.EntryPoint(name=name, value=value, group="gradloom")


@pytest.fixture
def isolated():
    """Install a fresh plugin state for one test and restore the real one afterwards."""
    installed = []

    def install(**kwargs):
        state = build_state(**kwargs)
        installed.append(set_state(state))
        return state

    yield install
    for previous in reversed(installed):
        set_state(previous)


def test_fake_plugin_registers_backend_and_kvstore(isolated):
    state = isolated(entry_points=[], extra_plugins=[("fake", FakePlugin(FakeBackend()))])
    assert state.backends.get("fake").device_count() == 2
    assert state.kvstores.get("fs")("fs") == ("store", "fs", {})
    assert state.kvstores.origin("fakestore") == "fake"
    assert ("backend", "fake") in state.records["fake"].registered
    ctx = gradloom.Context("fake", 1)
    assert ctx.backend is state.backends.get("fake")


def test_unavailable_backend_explains_itself(isolated):
    isolated(entry_points=[],
             extra_plugins=[("fake", FakePlugin(FakeBackend(reason="no driver found")))])
    with pytest.raises(BackendUnavailableError, match="no driver found"):
        gradloom.Context("fake", 0).backend


def test_missing_gpu_backend_names_the_package(isolated):
    isolated(entry_points=[])
    with pytest.raises(BackendUnavailableError, match="gradloom-backend-cuda"):
        gradloom.gpu(0).backend


def test_duplicate_backend_names_both_plugins(isolated):
    with pytest.raises(PluginError, match="'one'.*'two'|'two'.*'one'"):
        isolated(entry_points=[], extra_plugins=[("one", FakePlugin(FakeBackend())),
                                                 ("two", FakePlugin(FakeBackend()))])


def test_broken_entry_point_warns_and_others_keep_working(isolated):
    eps = [_ep("broken", "gradloom_no_such_module_xyz"), _ep("cpu", "gradloom_cpu.plugin")]
    with pytest.warns(RuntimeWarning, match="broken"):
        state = isolated(entry_points=eps)
    assert [f.name for f in state.failures] == ["broken"]
    assert "ModuleNotFoundError" in state.failures[0].error
    assert "cpu" in state.backends


def test_load_plugins_allow_list_and_block_list(isolated, monkeypatch):
    eps = [_ep("cpu", "gradloom_cpu.plugin")]
    monkeypatch.setenv("GRADLOOM_LOAD_PLUGINS", "")
    assert "cpu" not in isolated(entry_points=eps).backends
    monkeypatch.setenv("GRADLOOM_LOAD_PLUGINS", "cpu")
    assert "cpu" in isolated(entry_points=eps).backends
    monkeypatch.delenv("GRADLOOM_LOAD_PLUGINS")
    monkeypatch.setenv("GRADLOOM_DISABLE_PLUGINS", "cpu")
    assert "cpu" not in isolated(entry_points=eps).backends


def test_typo_in_hook_name_is_caught(isolated):
    plugin = types.SimpleNamespace()

    @hookimpl
    def gradloom_register_backend(register):  # missing "s": not a hook we define
        pass

    plugin.gradloom_register_backend = gradloom_register_backend
    with pytest.raises(pluggy.PluginValidationError):
        isolated(entry_points=[], extra_plugins=[("typo", plugin)])


def test_unknown_kvstore_lists_registered(isolated):
    state = isolated(entry_points=[], extra_plugins=[("fake", FakePlugin(FakeBackend()))])
    with pytest.raises(UnknownNameError, match="fakestore"):
        state.kvstores.get("nope")


def test_installed_plugins_are_discovered():
    names = {ep.name for ep in importlib.metadata.entry_points(group="gradloom")}
    assert {"cpu", "cuda", "mpi", "cli"} <= names
    state = gradloom.plugins.load_plugins()
    assert state.backends.get("cpu").is_available()
    assert "gpu" in state.backends  # registered even without cupy or a GPU


@pytest.mark.parametrize("module", ["gradloom", "gradloom_cpu.plugin", "gradloom_cuda.plugin",
                                    "gradloom_mpi.plugin", "gradloom_cli.plugin",
                                    "gradloom_cli.main"])
def test_importing_plugin_modules_is_cheap(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "heavy = [m for m in ('cupy', 'mpi4py', 'mpi4py.MPI') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_loading_every_plugin_imports_neither_cupy_nor_mpi():
    code = ("import sys, gradloom.plugins as p; s = p.load_plugins(); "
            "assert not s.failures, s.failures; "
            "heavy = [m for m in ('cupy', 'mpi4py.MPI') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
