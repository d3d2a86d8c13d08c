"""The ``dist_sync`` and ``dist_device_sync`` stores: gradients summed over MPI ranks.

Every worker runs the optimizer itself on identical weights with identical summed gradients
(no parameter server), so the store only has to (1) start every worker from rank 0's values
(``init`` is a broadcast) and (2) sum gradients over the workers.

Sums are deterministic and need no coordinator: the keys of each call are sorted, grouped by
dtype and packed into flat buffers of at most ``fusion_threshold_bytes`` (``fusion.py``), and
each buffer is reduced with one in-place ``Allreduce``. All ranks compute the same plan from
the same keys, so they issue the same collectives in the same order. A plan (and its
buffers) is built once per distinct key list and reused on every later step.

``dist_sync`` stages every value through host memory (``backend.to_host`` /
``copy_from_host``); ``dist_device_sync`` first sums the copies of one key that live on
several devices of this worker on the first value's device, and with ``cuda_aware=True``
hands device buffers to MPI directly in ``allreduce_flat``.
"""
import numpy as np

from gradloom.base import DistributedError, ParameterError, ShapeError, StateError
from gradloom.kvstore.base import Capability, KVStore

from .agreement import check_agreement, signature_of
from .fusion import DEFAULT_FUSION_THRESHOLD, plan_groups, reduce_dtype_for, sort_keys

__all__ = ["MPIKVStore"]


# -- value helpers ---------------------------------------------------------------------------
def _pairs(key, value, what):
    """``(key, value)`` as ``[(key, [per-device values]), ...]``."""
    if isinstance(key, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(key):
            count = 1 if not isinstance(value, (list, tuple)) else len(value)
            raise ParameterError(f"kv.{what}: {len(key)} keys were given but {count} values; "
                                 f"pass one value (or one list of per-device values) per key")
        return [(k, _as_list(v)) for k, v in zip(key, value)]
    return [(key, _as_list(value))]


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _resolve(value):
    """``(raw array, backend or None)``; ``None`` means a numpy array used in place."""
    raw = getattr(value, "raw", value)
    if isinstance(raw, np.ndarray):
        return raw, None
    ctx = getattr(value, "context", None)
    if ctx is None:
        from gradloom.ndarray.ndarray import context_of_raw
        ctx = context_of_raw(raw)
    return raw, ctx.backend


def _host(raw, backend):
    return raw if backend is None else backend.to_host(raw)


class _Plan:
    """The fusion groups of one key list and the host buffers they reduce in (kept)."""

    def __init__(self, entries, threshold):
        self.groups = plan_groups(entries, threshold)
        self.buffers = [np.empty(g.size, dtype=g.dtype) for g in self.groups]
        # where each key's reduced value can be read, with the key's own shape and dtype:
        # a view into the group buffer, or (for half precision reduced in float32) an array
        # the result is cast into
        self.results = {}
        self.casts = []
        for group, buf in zip(self.groups, self.buffers):
            for seg in group.segments:
                view = buf[seg.offset:seg.offset + seg.size].reshape(seg.shape)
                if seg.dtype == group.dtype:
                    self.results[seg.key] = view
                else:
                    out = np.empty(seg.shape, dtype=seg.dtype)
                    self.results[seg.key] = out
                    self.casts.append((out, view))
        self.keys = [seg.key for g in self.groups for seg in g.segments]


class MPIKVStore(KVStore):
    """Sums values over the ranks of an MPI communicator (see the module docstring).

    :param comm: a ``gradloom_mpi.comm.Communicator`` (the factory passes a private ``Dup``
        of ``COMM_WORLD``).
    :param fusion_threshold_bytes: largest fused buffer; 0 sends one allreduce per key.
    :param debug: before every collective, check that all ranks agree on keys, shapes and
        dtypes (raising ``DistributedError`` naming the ranks that differ), and check that
        the sums are finite.
    :param average: divide sums by the number of workers (MXNet's stores sum; the Module
        folds ``1/num_workers`` into ``rescale_grad`` instead).
    :param reduce_on: ``'host'`` or ``'device'`` (where one worker's device copies are summed).
    :param cuda_aware: pass device buffers straight to MPI in ``allreduce_flat``.
    :param barrier_timeout_s: ``barrier()`` raises after this many seconds (None: waits).
    :param stall_timeout_s: a sum that not every rank joins within this many seconds raises
        ``DistributedError`` naming the keys (None: waits, with a blocking ``Allreduce``).
    """

    # set_optimizer works here too: push sums over ranks, then the optimizer runs on the
    # summed value on every rank (MXNet's test optimizer check passes on 2 and 3 ranks)
    capabilities = frozenset({Capability.DISTRIBUTED, Capability.OPTIMIZER_ON_STORE})

    def __init__(self, name, comm, *, fusion_threshold_bytes=DEFAULT_FUSION_THRESHOLD,
                 debug=False, average=False, reduce_on="host", cuda_aware=False,
                 barrier_timeout_s=None, stall_timeout_s=None):
        super().__init__(name)
        if int(fusion_threshold_bytes) < 0:
            raise ParameterError(f"fusion_threshold_bytes must be >= 0 (0 = one allreduce per "
                                 f"key), not {fusion_threshold_bytes}")
        if reduce_on not in ("host", "device"):
            raise ParameterError(f"reduce_on must be 'host' or 'device', not {reduce_on!r}")
        self.comm = comm
        self.fusion_threshold_bytes = int(fusion_threshold_bytes)
        self.debug = bool(debug)
        self.average = bool(average)
        self.reduce_on = reduce_on
        self.cuda_aware = bool(cuda_aware)
        self.barrier_timeout_s = barrier_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._rank = comm.rank
        self._size = comm.size
        self._store = {}       # key -> NDArray on the host: init value, or optimizer's weight
        self._latest = {}      # key -> host array holding the value a pull returns
        self._shapes = {}      # key -> (shape, dtype) fixed by init
        self._plans = {}       # signature -> _Plan
        self._flat_staging = {}  # (size, dtype) -> float32 host buffer for half precision
        self._closed = False

    # -- identity ----------------------------------------------------------------------------
    @property
    def rank(self):
        return self._rank

    @property
    def num_workers(self):
        return self._size

    @property
    def should_write_checkpoint(self):
        """Only rank 0 writes files (checkpoints, optimizer states); all ranks hold the same."""
        return self._rank == 0

    def shard(self, data_iter):
        """Every ``num_workers``-th batch, from this rank's offset (``ShardedIter``)."""
        if self._size == 1:
            return data_iter
        from .data import ShardedIter
        return ShardedIter(data_iter, self)

    def reduce_metric(self, metric):
        from .data import reduce_metric
        return reduce_metric(metric, self)

    def __repr__(self):
        return (f"MPIKVStore(type={self.type!r}, rank={self._rank}, num_workers={self._size}, "
                f"fusion_threshold_bytes={self.fusion_threshold_bytes})")

    def _entries(self, key, value, what):
        """Sorted ``[(key, [(raw, backend), ...]), ...]`` for one call."""
        self._check_open()
        items = {}
        for k, values in _pairs(key, value, what):
            k = self._check_key(k)
            if not values or values[0] is None:
                raise ParameterError(f"kv.{what}({k!r}, ...) needs at least one value")
            if k in items:
                raise ParameterError(f"kv.{what}: key {k!r} appears twice in one call; pass "
                                     f"each key once (with a list of per-device values)")
            items[k] = [_resolve(v) for v in values]
        return [(k, items[k]) for k in sort_keys(items)]

    def _check_open(self):
        if self._closed:
            raise StateError("this kvstore was closed; create a new one with "
                             "gradloom.kv.create(...)")

    # -- init: rank 0's values win --------------------------------------------------------------
    def init(self, key, value):
        from gradloom.context import Context
        from gradloom.ndarray import NDArray
        entries = self._entries(key, value, "init")
        meta = [(k, tuple(vals[0][0].shape), np.dtype(vals[0][0].dtype)) for k, vals in entries]
        # once per key, so always checked: a mismatch here would corrupt every later step
        check_agreement(self.comm, "kv.init", signature_of(meta))
        hosts = {}
        for (k, vals), (_, shape, dtype) in zip(entries, meta):
            raw, backend = vals[0]
            hosts[k] = np.array(_host(raw, backend), dtype=dtype, copy=True, order="C")
        if self._size > 1:
            # fused broadcast: same grouping as the sums, one Bcast per buffer
            for group in plan_groups(meta, self.fusion_threshold_bytes):
                buf = np.empty(group.size, dtype=group.dtype)
                for seg in group.segments:
                    buf[seg.offset:seg.offset + seg.size] = hosts[seg.key].reshape(-1)
                self.comm.bcast_array(buf, root=0)
                for seg in group.segments:
                    hosts[seg.key].reshape(-1)[...] = buf[seg.offset:seg.offset + seg.size]
        cpu = Context("cpu", 0)
        for k, shape, dtype in meta:
            self._store[k] = NDArray(hosts[k], cpu)
            self._latest[k] = hosts[k]
            self._shapes[k] = (shape, dtype)

    # -- push: sum over devices and workers ----------------------------------------------------
    def push(self, key, value, priority=0):
        from gradloom.ndarray import NDArray
        entries = self._entries(key, value, "push")
        plan = self._plan_for(entries, "push")
        values = dict(entries)
        for group, buf in zip(plan.groups, plan.buffers):
            for seg in group.segments:
                self._pack(buf[seg.offset:seg.offset + seg.size].reshape(seg.shape),
                           values[seg.key])
            self._sum(buf, group.segments)
            if self.average and self._size > 1:
                np.multiply(buf, 1.0 / self._size, out=buf, casting="unsafe")
            if self.debug:
                self._check_finite(buf, [seg.key for seg in group.segments])
        for out, view in plan.casts:
            np.copyto(out, view, casting="unsafe")
        if self._updater is None:
            # a push replaces the stored value (MXNet); the plan's buffer holds it until the
            # next push of the same keys, which replaces it again, so no copy is needed
            for k in plan.keys:
                self._latest[k] = plan.results[k]
        else:
            for k in plan.keys:
                stored = self._store[k]
                self._updater(k, NDArray(plan.results[k], stored.context), stored)
                self._latest[k] = stored.raw

    def _sum(self, buf, segments):
        if self.stall_timeout_s is None:
            self.comm.allreduce_sum(buf)
        else:
            keys = [seg.key for seg in segments]
            self.comm.allreduce_sum(buf, self.stall_timeout_s, f"the sum of keys {keys}")

    def _plan_for(self, entries, what):
        meta = []
        for k, vals in entries:
            if k not in self._shapes:
                raise StateError(f"kvstore key {k!r} was never initialised; call "
                                 f"kv.init({k!r}, value) on every rank first")
            shape, dtype = self._shapes[k]
            for raw, _backend in vals:
                if tuple(raw.shape) != shape:
                    raise ShapeError(f"kv.{what}({k!r}): value shape {tuple(raw.shape)} does "
                                     f"not match the initialised shape {shape}")
            meta.append((k, shape, dtype))
        signature = signature_of(meta)
        if self.debug:
            check_agreement(self.comm, f"kv.{what}", signature)
        plan = self._plans.get(signature)
        if plan is None:
            plan = self._plans[signature] = _Plan(meta, self.fusion_threshold_bytes)
        return plan

    def _pack(self, target, values):
        """Write the sum of one key's per-device ``values`` into the host view ``target``."""
        if self.reduce_on == "device" and len(values) > 1 and values[0][1] is not None:
            values = [(self._device_sum(values), values[0][1])]
        first_raw, first_backend = values[0]
        np.copyto(target, _host(first_raw, first_backend), casting="unsafe")
        for raw, backend in values[1:]:
            np.add(target, _host(raw, backend), out=target, casting="unsafe")

    @staticmethod
    def _device_sum(values):
        """Sum of device arrays on the first one's device (one host transfer afterwards)."""
        raw0, backend0 = values[0]
        xp = backend0.xp
        device = backend0.device_of(raw0)
        # a backend may offer a direct device-to-device copy (e.g. CUDA peer copies);
        # without one, a value from another device goes through the host
        peer_copy = getattr(backend0, "copy_to_device", None)
        with backend0.device_scope(device):
            total = xp.array(raw0, copy=True)
            for raw, backend in values[1:]:
                if backend is backend0 and backend0.device_of(raw) == device:
                    part = raw
                elif backend is backend0 and peer_copy is not None:
                    part = peer_copy(raw, device)
                else:
                    part = backend0.from_host(_host(raw, backend), device)
                xp.add(total, part, out=total)
        return total

    def _check_finite(self, buf, keys):
        if buf.dtype.kind == "f" and not np.isfinite(buf).all():
            raise DistributedError(
                f"the sum over {self._size} ranks of keys {keys} holds NaN or Inf: training "
                f"diverged (lower the learning rate or clip gradients with clip_gradient=)")

    # -- pull ------------------------------------------------------------------------------------
    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        if out is None:
            raise ParameterError("kv.pull needs out=: the array(s) to copy the value into")
        self._check_open()
        for k, targets in _pairs(key, out, "pull"):
            k = self._check_key(k)
            src = self._latest.get(k)
            if src is None:
                raise StateError(f"kvstore key {k!r} was never initialised; call "
                                 f"kv.init({k!r}, value) on every rank first")
            for target in targets:
                raw, backend = _resolve(target)
                if tuple(raw.shape) != tuple(src.shape):
                    raise ShapeError(f"kv.pull({k!r}): cannot copy a value of shape "
                                     f"{tuple(src.shape)} into an array of shape "
                                     f"{tuple(raw.shape)}")
                if backend is None:
                    np.copyto(raw, src, casting="unsafe")
                else:
                    backend.copy_from_host(raw, src)

    # -- the Module's fast path ------------------------------------------------------------------
    def allreduce_flat(self, buffer):
        """Sum the contiguous raw array ``buffer`` over all ranks, in place (no copies on CPU)."""
        self._check_open()
        if self.debug:
            check_agreement(self.comm, "allreduce_flat",
                            signature_of([("<flat buffer>", buffer.shape, buffer.dtype)]))
        if self._size == 1:
            return buffer
        if isinstance(buffer, np.ndarray):
            self._allreduce_host(buffer)
            if self.average:
                np.multiply(buffer, 1.0 / self._size, out=buffer, casting="unsafe")
        else:
            _raw, backend = _resolve(buffer)
            if self.cuda_aware and reduce_dtype_for(buffer.dtype) == buffer.dtype:
                # MPI reads device memory itself once the queued kernels are done
                backend.synchronize(backend.device_of(buffer))
                self._sum_flat(buffer)
                if self.average:
                    buffer *= 1.0 / self._size
            else:
                host = np.ascontiguousarray(backend.to_host(buffer))
                self._allreduce_host(host)
                if self.average:
                    np.multiply(host, 1.0 / self._size, out=host, casting="unsafe")
                backend.copy_from_host(buffer, host)
        if self.debug:
            host = buffer if isinstance(buffer, np.ndarray) else _resolve(buffer)[1].to_host(
                buffer)
            self._check_finite(host, ["<flat buffer>"])
        return buffer

    def _sum_flat(self, buffer):
        self.comm.allreduce_sum(buffer, self.stall_timeout_s, "allreduce_flat (the gradients)")

    def broadcast_flat(self, buffer):
        """Overwrite the raw array ``buffer`` with rank 0's, in place (the Module's start)."""
        self._check_open()
        check_agreement(self.comm, "broadcast_flat",
                        signature_of([("<flat buffer>", buffer.shape, buffer.dtype)]))
        if self._size == 1:
            return buffer
        if isinstance(buffer, np.ndarray):
            if not buffer.flags.c_contiguous:
                raise ParameterError("broadcast_flat needs a C-contiguous buffer")
            self.comm.bcast_array(buffer, root=0)
        else:
            _raw, backend = _resolve(buffer)
            if self.cuda_aware:
                backend.synchronize(backend.device_of(buffer))
                self.comm.bcast_array(buffer, root=0)
            else:
                host = np.ascontiguousarray(backend.to_host(buffer))
                self.comm.bcast_array(host, root=0)
                backend.copy_from_host(buffer, host)
        return buffer

    def _allreduce_host(self, buffer):
        if not buffer.flags.c_contiguous:
            raise ParameterError("allreduce_flat needs a C-contiguous buffer; pass the flat "
                                 "gradient buffer, not a strided view")
        rdtype = reduce_dtype_for(buffer.dtype)
        if rdtype == buffer.dtype:
            self._sum_flat(buffer)
            return
        staging = self._flat_staging.get((buffer.size, rdtype))
        if staging is None:
            staging = self._flat_staging[(buffer.size, rdtype)] = np.empty(buffer.shape, rdtype)
        np.copyto(staging.reshape(buffer.shape), buffer, casting="unsafe")
        self._sum_flat(staging)
        np.copyto(buffer, staging.reshape(buffer.shape), casting="unsafe")

    # -- synchronisation and lifetime -------------------------------------------------------
    def barrier(self):
        self._check_open()
        self.comm.barrier(self.barrier_timeout_s)

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Rank 0 writes the (identical on every rank) optimizer states; all ranks wait."""
        if self._rank == 0:
            super().save_optimizer_states(fname, dump_optimizer)
        self.barrier()

    def close(self):
        if not self._closed:
            self._closed = True
            self._plans.clear()
            free = getattr(self.comm, "free", None)
            if free is not None:
                free()


# -- factory (what the plugin registers) -------------------------------------------------------
DEBUG_ENV = "GRADLOOM_KVSTORE_DEBUG"
FUSION_ENV = "GRADLOOM_KVSTORE_FUSION_THRESHOLD"
STALL_ENV = "GRADLOOM_KVSTORE_STALL_TIMEOUT"


def create_store(name, *, comm=None, debug=None, fusion_threshold_bytes=None,
                 install_abort_hook=True, **options):
    """Create a ``dist_sync``/``dist_device_sync`` store over ``comm`` (default COMM_WORLD).

    Environment, read here only: ``GRADLOOM_KVSTORE_DEBUG=1`` turns on the agreement check
    when ``debug`` is not given; ``GRADLOOM_KVSTORE_FUSION_THRESHOLD`` (bytes) sets the
    fusion threshold when ``fusion_threshold_bytes`` is not given;
    ``GRADLOOM_KVSTORE_STALL_TIMEOUT`` (seconds) sets ``stall_timeout_s``.
    """
    import os

    from gradloom.base import ConfigError

    from . import abort
    from .comm import as_communicator

    if debug is None:
        debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if "stall_timeout_s" not in options and os.environ.get(STALL_ENV, ""):
        text = os.environ[STALL_ENV]
        try:
            options["stall_timeout_s"] = float(text)
        except ValueError:
            raise ConfigError(f"{STALL_ENV}={text!r} is not a number of seconds; set it to "
                              f"e.g. 300, or unset it to wait forever") from None
    if fusion_threshold_bytes is None:
        text = os.environ.get(FUSION_ENV, "")
        try:
            fusion_threshold_bytes = int(text) if text else DEFAULT_FUSION_THRESHOLD
        except ValueError:
            raise ConfigError(f"{FUSION_ENV}={text!r} is not a number of bytes; set it to an "
                              f"integer such as 67108864 (0 = one allreduce per key)") from None
    # a private communicator: the store's collectives never match the user's by accident
    communicator = as_communicator(comm).dup()
    if install_abort_hook:
        abort.install()
    return MPIKVStore(name, communicator, fusion_threshold_bytes=fusion_threshold_bytes,
                      debug=debug, **options)
