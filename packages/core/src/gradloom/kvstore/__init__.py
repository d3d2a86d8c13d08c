"""Key-value stores: ``gradloom.kv.create(name)``.

Which names exist is decided by the plugins that registered stores (``gradloom kvstores``
lists them): core adds ``'local'`` and ``'device'``, the MPI plugin ``'dist_sync'`` and
``'dist_device_sync'``.
"""
from ..base import DTypeError
from .base import Capability, KVStore

__all__ = ["Capability", "KVStore", "KVStoreBase", "create"]

#: MXNet's name for the store base class
KVStoreBase = KVStore


def create(name="local", **options):
    """A new store registered under ``name`` (case-insensitive); a store object passes through.

    An unknown name raises ``UnknownNameError`` listing the registered names.
    """
    if isinstance(name, KVStore):
        return name
    if not isinstance(name, str):
        raise DTypeError(f"kvstore name must be a string such as 'local', not "
                         f"{type(name).__name__}")
    from ..plugins import load_plugins
    registry = load_plugins().kvstores
    key = name.lower()
    factory = registry.get(key)
    # MXNet reports the type as given ('local_allreduce_cpu' stays that)
    return factory(key, **options)
