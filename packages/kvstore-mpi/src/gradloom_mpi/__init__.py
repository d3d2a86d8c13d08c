"""gradloom's MPI plugin: distributed kvstores, data sharding and ``gradloom launch``.

Nothing here imports ``mpi4py.MPI`` at import time; MPI starts when a store, a
``ShardedIter`` or a communicator is created. The public names load on first use.
"""
import importlib

__version__ = "0.1.0"

_LAZY = {
    "MPIKVStore": "gradloom_mpi.kvstore",
    "create_store": "gradloom_mpi.kvstore",
    "scatter_index": "gradloom_mpi.data",
    "ShardedIter": "gradloom_mpi.data",
    "reduce_metric": "gradloom_mpi.data",
    "Communicator": "gradloom_mpi.comm",
    "world": "gradloom_mpi.comm",
    "install_abort_hook": "gradloom_mpi.abort",
}
_RENAMED = {"install_abort_hook": "install"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradloom_mpi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value
