"""The key-value store interface: how gradients are aggregated and parameters synchronised.

Stores are created by name through the registry (``gradloom.kv.create('local')``); which
names exist is decided by plugins (``gradloom_register_kvstores``), never by sniffing the name.
"""
import abc
import enum

import numpy as np

from ..base import ParameterError


class Capability(enum.Enum):
    #: the store can run the optimizer itself (``set_optimizer`` then ``push``/``pull``)
    OPTIMIZER_ON_STORE = "optimizer_on_store"
    #: the store spans several processes (ranks) that must agree on every collective
    DISTRIBUTED = "distributed"


class KVStore(abc.ABC):
    """Base class of every store. Keys are ``str`` or ``int``; values NDArrays (or lists).

    ``push(key, [v_dev0, v_dev1, ...])`` sums the values of all devices (and, for distributed
    stores, of all workers); ``pull(key, out=[...])`` copies the stored value out.
    """

    #: the name it was created under ("local", "device", "dist_sync", ...)
    type = None
    capabilities = frozenset()
    #: MXNet's capability name for ``is_capable``: the store can run the optimizer
    OPTIMIZER = "optimizer"

    @classmethod
    def register(cls, klass):
        """MXNet's class decorator: ``kv.create(klass.__name__.lower())`` then builds
        ``klass(name)`` (a plugin registers stores through ``gradloom_register_kvstores``
        instead, so ``gradloom kvstores`` lists them)."""
        from ..plugins import load_plugins

        def factory(name, **options):
            return klass(name, **options)
        doc = (klass.__doc__ or "").strip()
        factory.description = doc.splitlines()[0] if doc else "registered by KVStoreBase.register"
        load_plugins().kvstores.add(klass.__name__.lower(), factory,
                                    origin=f"{klass.__module__}.{klass.__qualname__}",
                                    replace=True)
        return klass

    def __init__(self, name):
        self.type = name
        self._updater = None
        self._optimizer = None
        self._key_type = None     # int or str, fixed by the first key used

    def _check_key(self, key):
        """``key`` as a plain ``int`` or ``str``; one store never mixes the two (as MXNet)."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            kind, key = int, int(key)
        elif isinstance(key, str):
            kind = str
        else:
            raise ParameterError(f"kvstore keys must be int or str, not {type(key).__name__} "
                                 f"({key!r})")
        if self._key_type is None:
            self._key_type = kind
        elif kind is not self._key_type:
            raise ParameterError(
                f"key {key!r} is a {kind.__name__} but this store already uses "
                f"{self._key_type.__name__} keys; a store uses either int or str keys, create "
                f"another store for the other kind")
        return key

    @property
    def rank(self):
        """Index of this worker (0 for single-process stores)."""
        return 0

    @property
    def num_workers(self):
        """Number of workers whose gradients are summed (1 for single-process stores)."""
        return 1

    def is_capable(self, capability):
        """Whether the store can do ``capability``: a ``Capability`` or MXNet's name
        (``KVStore.OPTIMIZER``, i.e. ``'optimizer'``)."""
        if capability == self.OPTIMIZER:
            capability = Capability.OPTIMIZER_ON_STORE
        return capability in self.capabilities

    @abc.abstractmethod
    def init(self, key, value):
        """Create keys with initial values (distributed stores broadcast rank 0's values)."""

    @abc.abstractmethod
    def push(self, key, value, priority=0):
        """Sum ``value`` (one array or one per device) into the store under ``key``."""

    @abc.abstractmethod
    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copy the stored value of ``key`` into ``out`` (one array or one per device)."""

    def pushpull(self, key, value, out=None, priority=0):
        """``push`` then ``pull``; ``out=None`` writes the result back into ``value``."""
        self.push(key, value, priority)
        self.pull(key, out=value if out is None else out, priority=priority)

    def row_sparse_pull(self, key, out=None, priority=0, row_ids=None):
        raise ParameterError("row_sparse arrays are not supported; use kv.pull for dense "
                             "arrays")

    def broadcast(self, key, value, out, priority=0):
        """``init`` then ``pull``: every worker and device ends with rank 0's value."""
        self.init(key, value)
        self.pull(key, out=out, priority=priority)

    def allreduce_flat(self, buffer):
        """Sum the raw backend array ``buffer`` over all workers, in place (Module fast path).

        Single-process stores have nothing to add, so the default leaves it as it is.
        """

    def broadcast_flat(self, buffer, root=0):
        """Overwrite the raw array ``buffer`` with rank ``root``'s copy, in place (Module fast
        path: every worker starts from the same parameters).

        Single-process stores hold the only copy, so the default leaves it as it is.
        """

    @property
    def should_write_checkpoint(self):
        """True on the one worker that writes checkpoints (rank 0; always, for one worker)."""
        return self.rank == 0

    def barrier(self):
        """Wait until every worker reaches this point (no-op for one worker)."""

    def shard(self, data_iter):
        """The part of ``data_iter`` this worker trains on.

        ``data_iter`` must yield the same batches on every worker (same data, same shuffle
        seed). A single-process store trains on all of it; a distributed store gives each
        worker its own batches and every worker as many per epoch.
        """
        return data_iter

    def reduce_metric(self, metric):
        """Make ``metric`` count every worker's examples, in place (a collective on
        distributed stores: every worker calls it, once per epoch); returns it."""
        return metric

    def set_optimizer(self, optimizer):
        """Run ``optimizer`` on the store: ``push`` then updates the stored weights."""
        from ..optimizer import get_updater
        self._optimizer = optimizer
        self._updater = get_updater(optimizer)

    def _set_updater(self, updater):
        """Install ``updater(key, summed_value, stored_value)`` (MXNet's private hook)."""
        self._updater = updater

    def _barrier(self):
        self.barrier()

    def set_gradient_compression(self, compression_params):
        """Accepted for compatibility; gradients are always sent uncompressed."""

    def save_optimizer_states(self, fname, dump_optimizer=False):
        from ..base import StateError
        if self._updater is None:
            raise StateError("this kvstore has no optimizer: call set_optimizer() first")
        # the updater's bytes are gradloom's state container (never a pickle)
        from ..fileio import atomic_write
        data = self._updater.get_states(dump_optimizer)
        with atomic_write(fname, "wb") as fobj:
            fobj.write(data)

    def load_optimizer_states(self, fname):
        from ..base import StateError
        if self._updater is None:
            raise StateError("this kvstore has no optimizer: call set_optimizer() first")
        from ..fileio import read_bytes_checked
        self._updater.set_states(read_bytes_checked(fname, "optimizer-state file"))

    def close(self):
        """Release resources (communicators); the store is unusable afterwards."""
