"""The single-process stores ``'local'`` and ``'device'``.

Both sum the values pushed for a key (one per device) and copy the stored value back out on
``pull``. They differ only in where the sum happens: ``'local'`` reduces in host memory,
``'device'`` on the device of the first value pushed (with one host backend the two are the
same computation, so one class serves both names).

Keys are ``int`` or ``str``; one store never mixes the two (as in MXNet). Values are
NDArrays, lists of NDArrays (one per device), or, for a list of keys, one such entry per key.
"""
import numpy as np

from ..base import ParameterError, StateError
from .base import Capability, KVStore

__all__ = ["LocalKVStore"]


def _raw(value):
    raw = getattr(value, "raw", None)
    return value if raw is None else raw


def _is_array(value):
    return hasattr(value, "shape") and not isinstance(value, (list, tuple))


def _pairs(key, value):
    """Normalise ``(key, value)`` to ``[(key, [values...]), ...]``."""
    if isinstance(key, (list, tuple)):
        if value is None:
            return [(k, None) for k in key]
        if not isinstance(value, (list, tuple)) or len(value) != len(key):
            raise ParameterError(
                f"{len(key)} keys were given but {1 if _is_array(value) else len(value)} "
                f"values; pass one value (or one list of per-device values) per key")
        return [(k, v) for k, v in zip(key, value)]
    return [(key, value)]


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class LocalKVStore(KVStore):
    """Sums per-device values for each key; optionally runs an optimizer on the stored copy."""

    capabilities = frozenset({Capability.OPTIMIZER_ON_STORE})

    def __init__(self, name="local", reduce_on="host"):
        super().__init__(name)
        if reduce_on not in ("host", "device"):
            raise ParameterError(f"reduce_on must be 'host' or 'device', not {reduce_on!r}")
        self._reduce_on = reduce_on
        self._store = {}          # key -> NDArray holding the stored value

    def _stored(self, key):
        try:
            return self._store[key]
        except KeyError:
            raise StateError(f"kvstore key {key!r} was never initialised; call "
                             f"kv.init({key!r}, value) first") from None

    # -- reduction ----------------------------------------------------------------------
    def _home(self, first):
        """Where the sum of a push lives: host memory or the first value's device."""
        from ..context import Context
        from ..ndarray import NDArray
        if self._reduce_on == "host" or not hasattr(first, "context"):
            return Context("cpu", 0)
        return first.context if isinstance(first, NDArray) else Context("cpu", 0)

    def _reduce(self, values, home):
        """Sum of ``values`` as a new array on context ``home``.

        The home backend does the summation (``Backend.reduce_sum_into``): values of other
        devices arrive by its cross-device path (NCCL or peer copies on GPUs, the host
        otherwise), so this store never branches on device types.
        """
        backend = home.backend
        first = _raw(values[0])
        total = backend.empty(first.shape, first.dtype, home.device_id)
        raws, owners = [], []
        for value in values:
            raw = _raw(value)
            ctx = getattr(value, "context", None)
            raws.append(raw)
            owners.append(ctx.backend if ctx is not None else backend)
        backend.reduce_sum_into(total, raws, owners)
        return total

    # -- API ----------------------------------------------------------------------------
    def init(self, key, value):
        from ..ndarray import NDArray
        for k, v in _pairs(key, value):
            k = self._check_key(k)
            values = _as_list(v)
            if not values:
                raise ParameterError(f"kv.init({k!r}, ...) needs a value")
            home = self._home(values[0])
            self._store[k] = NDArray(self._reduce(values[:1], home), home)

    def push(self, key, value, priority=0):
        from ..ndarray import NDArray
        for k, v in _pairs(key, value):
            k = self._check_key(k)
            stored = self._stored(k)
            values = _as_list(v)
            if not values:
                raise ParameterError(f"kv.push({k!r}, ...) needs at least one value")
            merged = self._reduce(values, stored.context)
            if merged.shape != stored.shape:
                raise ParameterError(
                    f"kv.push({k!r}): value shape {tuple(merged.shape)} does not match the "
                    f"initialised shape {stored.shape}")
            if self._updater is not None:
                # the optimizer sees the summed gradient and updates the stored weight
                self._updater(k, NDArray(merged, stored.context), stored)
            else:
                stored.raw[...] = merged   # a push replaces the stored value, as in MXNet

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        if out is None:
            raise ParameterError("kv.pull needs out=: the array(s) to copy the value into")
        for k, o in _pairs(key, out):
            k = self._check_key(k)
            stored = self._stored(k)
            for target in _as_list(o):
                _copy_into(target, stored)


def _copy_into(target, source):
    """Copy the NDArray ``source`` into ``target`` (NDArray or raw array), across devices."""
    dst = _raw(target)
    src = source.raw
    ctx = getattr(target, "context", None)
    if ctx is None or ctx == source.context or isinstance(dst, np.ndarray) and isinstance(
            src, np.ndarray):
        if tuple(dst.shape) != tuple(src.shape):
            raise ParameterError(f"cannot pull a value of shape {tuple(src.shape)} into an "
                                 f"array of shape {tuple(dst.shape)}")
        dst[...] = src
        return
    host = src if isinstance(src, np.ndarray) else source.context.backend.to_host(src)
    ctx.backend.copy_from_host(dst, host)


def create_local(name="local", **options):
    return LocalKVStore(name, reduce_on="host", **options)


def create_device(name="device", **options):
    return LocalKVStore(name, reduce_on="device", **options)
