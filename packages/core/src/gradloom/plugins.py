"""Plugin discovery and the registries it fills.

``get_plugin_manager()`` builds a fresh, isolated manager (tests use it); ``load_plugins()``
builds the process-wide one once, from the ``gradloom`` entry-point group plus core's own
built-in plugin, and fills the registries by calling every registrar hook once per plugin.

Environment (read here and nowhere deeper):

* ``GRADLOOM_LOAD_PLUGINS=a,b`` loads only the named entry points; an empty value loads none.
* ``GRADLOOM_DISABLE_PLUGINS=a,b`` blocks the named entry points.
* ``GRADLOOM_TRACE_HOOKS=1`` traces hook calls to stderr.
"""
import dataclasses
import importlib.metadata
import os
import sys
import threading
import warnings

import pluggy

from . import hookspecs
from .registry import (BackendRegistrar, BackendRegistry, KernelRegistrar, KernelRegistry,
                       KVStoreRegistrar, KVStoreRegistry, OpRegistrar, OpRegistry)

ENTRY_POINT_GROUP = "gradloom"
BUILTIN_PLUGINS = ("gradloom._builtin",)


@dataclasses.dataclass
class PluginRecord:
    name: str
    module: str
    distribution: str = ""
    version: str = ""
    registered: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PluginFailure:
    name: str
    module: str
    distribution: str
    error: str


class PluginState:
    """Everything a loaded plugin manager produced: registries and per-plugin records."""

    def __init__(self, pm):
        self.pm = pm
        self.backends = BackendRegistry()
        self.kvstores = KVStoreRegistry()
        self.ops = OpRegistry()
        self.kernels = KernelRegistry()
        self.records = {}
        self.failures = []

    def fill(self):
        """Call each registrar hook once per plugin so every entry knows its origin."""
        targets = (
            ("gradloom_register_ops", OpRegistrar, self.ops),
            ("gradloom_register_backends", BackendRegistrar, self.backends),
            ("gradloom_register_kvstores", KVStoreRegistrar, self.kvstores),
            ("gradloom_register_kernels", KernelRegistrar, self.kernels),
        )
        for hook_name, registrar_cls, registry in targets:
            caller = getattr(self.pm.hook, hook_name)
            for impl in reversed(caller.get_hookimpls()):
                registrar = registrar_cls(registry, impl.plugin_name)
                impl.function(register=registrar)
                record = self.records.get(impl.plugin_name)
                if record is not None:
                    record.registered.extend(registrar.added)


def get_plugin_manager():
    """A fresh manager that knows the hook specifications and nothing else."""
    pm = pluggy.PluginManager("gradloom")
    pm.add_hookspecs(hookspecs)
    if os.environ.get("GRADLOOM_TRACE_HOOKS") == "1":
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def _split_env(name):
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _entry_points():
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def build_state(pm=None, *, entry_points=None, builtins=BUILTIN_PLUGINS, extra_plugins=()):
    """Load plugins into ``pm`` (a fresh one by default) and fill the registries.

    ``entry_points`` defaults to the installed ``gradloom`` group; ``extra_plugins`` are
    ``(name, object)`` pairs registered directly (tests use it for fake plugins).
    """
    pm = pm or get_plugin_manager()
    state = PluginState(pm)
    allow = _split_env("GRADLOOM_LOAD_PLUGINS")
    blocked = _split_env("GRADLOOM_DISABLE_PLUGINS") or set()
    for name in blocked:
        pm.set_blocked(name)
    for ep in (_entry_points() if entry_points is None else entry_points):
        if (allow is not None and ep.name not in allow) or ep.name in blocked:
            continue
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        version = dist.version if dist is not None else ""
        try:
            module = ep.load()
        except Exception as exc:  # one broken plugin must not take down the others
            message = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"gradloom plugin {ep.name!r} ({ep.value}) failed to load and is "
                          f"skipped: {message}", RuntimeWarning, stacklevel=2)
            state.failures.append(PluginFailure(ep.name, ep.value, dist_name, message))
            continue
        if pm.is_registered(module) or pm.get_plugin(ep.name) is not None:
            continue
        pm.register(module, name=ep.name)
        state.records[ep.name] = PluginRecord(ep.name, ep.value, dist_name, version)
    for module_name in builtins:
        module = importlib.import_module(module_name)
        if pm.get_plugin(module_name) is None:
            pm.register(module, name=module_name)
        state.records[module_name] = PluginRecord(module_name, module_name, "gradloom-core",
                                                  _core_version())
    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
        state.records[name] = PluginRecord(name, getattr(plugin, "__module__", name))
    pm.check_pending()
    state.fill()
    return state


def _core_version():
    try:
        return importlib.metadata.version("gradloom-core")
    except importlib.metadata.PackageNotFoundError:
        return ""


_state = None
_lock = threading.Lock()


def load_plugins():
    """The process-wide plugin state, built on first use."""
    global _state
    if _state is None:
        with _lock:
            if _state is None:
                _state = build_state()
    return _state


def reload():
    """Forget the process-wide state so the next ``load_plugins()`` rebuilds it (tests)."""
    global _state
    with _lock:
        _state = None


def set_state(state):
    """Install ``state`` as the process-wide one; returns the previous one (tests)."""
    global _state
    with _lock:
        previous, _state = _state, state
    return previous


