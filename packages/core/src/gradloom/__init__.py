"""gradloom: MXNet's symbolic Module API, maintained, on numpy, cupy and MPI.

``import gradloom as mx`` gives MXNet's vocabulary: ``mx.sym``, ``mx.nd``, ``mx.mod``,
``mx.io``, ``mx.metric``, ``mx.optimizer``, ``mx.init``, ``mx.kv``, ``mx.cpu()``, ...
Submodules load on first use so ``import gradloom`` stays cheap.
"""
import importlib

import pluggy

from .base import GradloomError, MXNetError
from .context import Context, cpu, cpu_pinned, current_context, gpu, num_gpus

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("gradloom")

# attribute -> module that provides it (MXNet's short names included)
_SUBMODULES = {
    "base": "gradloom.base",
    "context": "gradloom.context",
    "plugins": "gradloom.plugins",
    "hookspecs": "gradloom.hookspecs",
    "ops": "gradloom.ops",
    "operator": "gradloom.operator",
    "ndarray": "gradloom.ndarray",
    "nd": "gradloom.ndarray",
    "random": "gradloom.random",
    "symbol": "gradloom.symbol",
    "sym": "gradloom.symbol",
    "name": "gradloom.name",
    "attribute": "gradloom.attribute",
    "executor": "gradloom.executor",
    "module": "gradloom.module",
    "mod": "gradloom.module",
    "io": "gradloom.io",
    "datasets": "gradloom.datasets",
    "metric": "gradloom.metric",
    "optimizer": "gradloom.optimizer",
    "opt": "gradloom.optimizer",
    "lr_scheduler": "gradloom.lr_scheduler",
    "initializer": "gradloom.initializer",
    "init": "gradloom.initializer",
    "callback": "gradloom.callback",
    "model": "gradloom.model",
    "checkpoint": "gradloom.checkpoint",
    "kvstore": "gradloom.kvstore",
    "kv": "gradloom.kvstore",
    "monitor": "gradloom.monitor",
    "mon": "gradloom.monitor",
    "profiler": "gradloom.profiler",
    "rnn": "gradloom.rnn",
    "testing": "gradloom.testing",
    "test_utils": "gradloom.testing",
    "fileio": "gradloom.fileio",
    "visualization": "gradloom.visualization",
    "viz": "gradloom.visualization",
}


# top-level classes MXNet exposes directly: name -> (module, attribute)
_CLASSES = {
    "AttrScope": ("gradloom.attribute", "AttrScope"),
    "NameManager": ("gradloom.name", "NameManager"),
    "Prefix": ("gradloom.name", "Prefix"),
}


def __getattr__(name):
    if name in _CLASSES:
        module_name, attr = _CLASSES[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    target = _SUBMODULES.get(name)
    if target is None:
        raise AttributeError(f"module 'gradloom' has no attribute {name!r}")
    module = importlib.import_module(target)
    globals()[name] = module
    return module


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_CLASSES))
