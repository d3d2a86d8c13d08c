"""Rank-aware data: shard indices, a sharding iterator, and metrics summed over ranks.

In synchronous training every rank must run the same number of steps per epoch: a rank with
one batch fewer leaves the others waiting in the last allreduce forever (MXNet's classic
end-of-epoch hang). ``scatter_index`` therefore gives every rank a shard of the same length
by default, and ``ShardedIter`` keeps the batch counts equal.
"""
import numpy as np

from gradloom.base import ConfigError
from gradloom.io import DataIter

__all__ = ["scatter_index", "ShardedIter", "reduce_metric"]


def scatter_index(n, rank, size, equal_length=True):
    """Indices into ``range(n)`` of rank ``rank``'s shard out of ``size``.

    Shards are contiguous and cover every index. With ``equal_length`` (the default) every
    shard has ``ceil(n / size)`` indices: shards start at ``n * rank // size`` and the last
    ones wrap around to the start, so a few examples appear twice per epoch but every rank
    runs the same number of batches. Without it, shard ``rank`` is exactly
    ``[n*rank//size, n*(rank+1)//size)`` (lengths differ by at most one).
    """
    n, rank, size = int(n), int(rank), int(size)
    if size < 1:
        raise ConfigError(f"size must be >= 1, not {size}")
    if not 0 <= rank < size:
        raise ConfigError(f"rank must be in [0, {size}), not {rank}")
    if n < 1:
        raise ConfigError(f"cannot shard an empty data set (n={n}) over {size} ranks")
    begin = n * rank // size
    if equal_length:
        end = begin + -(-n // size)
        return np.arange(begin, end, dtype=np.int64) % n
    return np.arange(begin, n * (rank + 1) // size, dtype=np.int64)


def _named(value, default_name):
    """``value`` (array, NDArray, dict, list of pairs/arrays) as ``[(name, numpy array)]``."""
    if value is None:
        return []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], tuple):
        items = list(value)
    elif isinstance(value, (list, tuple)):
        items = [(f"_{i}_{default_name}", v) for i, v in enumerate(value)]
        if len(items) == 1:
            items = [(default_name, value[0])]
    else:
        items = [(default_name, value)]
    out = []
    for name, arr in items:
        host = arr.asnumpy() if hasattr(arr, "asnumpy") else np.asarray(arr)
        out.append((name, host))
    return out


class ShardedIter(DataIter):
    """Per-rank batches for synchronous training; every rank gets as many batches per epoch.

    ``ShardedIter(data, kv, batch_size=32, label=y)`` (arrays): each epoch, all ranks draw
    the same permutation (from a seed broadcast by rank 0, mixed with the epoch number),
    take their ``scatter_index`` shard of it and batch it with ``NDArrayIter`` (``batch_size``
    is per rank; ``last_batch_handle`` as in ``NDArrayIter``).

    ``ShardedIter(base_iter, kv)`` (any ``DataIter`` that yields the same batches on every
    rank): rank ``r`` keeps batches ``r, r + size, r + 2*size, ...`` and the last, incomplete
    round of batches is dropped on every rank, so batch counts stay equal. Iterators with
    ``num_parts``/``part_index`` (``MNISTIter``) shard more cheaply by themselves.

    ``kv`` may be a dist store, a ``gradloom_mpi`` communicator, an mpi4py communicator, or
    ``None`` for ``COMM_WORLD``.
    """

    def __init__(self, base_iter_or_arrays, kv=None, batch_size=None, label=None,
                 shuffle=True, seed=None, last_batch_handle="pad", data_name="data",
                 label_name="softmax_label"):
        from .comm import as_communicator
        super().__init__(batch_size or 0)
        self._comm = as_communicator(kv)
        self.rank, self.num_parts = self._comm.rank, self._comm.size
        self._epoch = 0
        if isinstance(base_iter_or_arrays, DataIter):
            if label is not None:
                raise ConfigError("label= is for array input; a DataIter brings its own labels")
            self._base = base_iter_or_arrays
            self._arrays = None
            self.batch_size = getattr(self._base, "batch_size", batch_size)
            self._position = 0
            return
        if batch_size is None or int(batch_size) < 1:
            raise ConfigError("ShardedIter over arrays needs batch_size= (examples per rank "
                              "per batch)")
        self._base = None
        self.batch_size = int(batch_size)
        self._arrays = (_named(base_iter_or_arrays, data_name), _named(label, label_name))
        lengths = {len(a) for _, a in self._arrays[0] + self._arrays[1]}
        if len(lengths) != 1:
            raise ConfigError(f"data and label arrays have different lengths {sorted(lengths)}; "
                              f"every array needs one row per example")
        self.num_examples = lengths.pop()
        self._shuffle = bool(shuffle)
        self._last_batch_handle = last_batch_handle
        # one seed for the whole job: rank 0's choice, so all ranks agree on every epoch
        if seed is None and self.rank == 0:
            seed = int(np.random.default_rng().integers(2**31))
        self.seed = int(self._comm.bcast_obj(seed, root=0))
        self._inner = self._make_inner()

    # -- array mode ------------------------------------------------------------------------
    def shard_indices(self, epoch=None):
        """Example indices this rank sees in ``epoch`` (default: the current one)."""
        epoch = self._epoch if epoch is None else epoch
        n = self.num_examples
        order = (np.random.default_rng([self.seed, epoch]).permutation(n) if self._shuffle
                 else np.arange(n))
        return order[scatter_index(n, self.rank, self.num_parts)]

    def _make_inner(self):
        from gradloom.io import NDArrayIter
        idx = self.shard_indices()
        data, label = self._arrays
        return NDArrayIter({k: v[idx] for k, v in data},
                           {k: v[idx] for k, v in label} if label else None,
                           batch_size=self.batch_size, shuffle=False,
                           last_batch_handle=self._last_batch_handle,
                           data_name=data[0][0],
                           label_name=label[0][0] if label else "softmax_label")

    # -- DataIter protocol -----------------------------------------------------------------
    @property
    def provide_data(self):
        return (self._base if self._base is not None else self._inner).provide_data

    @property
    def provide_label(self):
        return (self._base if self._base is not None else self._inner).provide_label

    def reset(self):
        self._epoch += 1
        if self._base is not None:
            self._base.reset()
            self._position = 0
        elif self._shuffle:
            self._inner = self._make_inner()
        else:
            self._inner.reset()

    def next(self):
        if self._base is None:
            return self._inner.next()
        return self._next_round_robin()

    def _next_round_robin(self):
        # read one full round of `size` batches; keep ours (copied: a base iterator may
        # reuse its buffers) and drop the round if it ends early, on every rank alike
        mine = None
        for slot in range(self.num_parts):
            batch = self._base.next()   # StopIteration mid-round ends the epoch everywhere
            if slot == self.rank:
                mine = _copy_batch(batch)
        self._position += 1
        return mine


def _copy_batch(batch):
    from gradloom.io import DataBatch
    from gradloom.ndarray import NDArray

    def copy(arrays):
        if arrays is None:
            return None
        return [NDArray(a.raw.copy(), a.context) if isinstance(a, NDArray) else np.array(a)
                for a in arrays]

    return DataBatch(data=copy(batch.data), label=copy(batch.label), pad=batch.pad,
                     index=batch.index, bucket_key=getattr(batch, "bucket_key", None),
                     provide_data=getattr(batch, "provide_data", None),
                     provide_label=getattr(batch, "provide_label", None))


def reduce_metric(metric, kv=None):
    """Sum a metric's counters over all ranks, in place, and return it (a collective).

    After it, ``metric.get()`` on any rank gives the metric of the whole epoch over every
    rank's examples. ``sum_metric``/``num_inst`` (and the ``global_*`` pair) are summed; a
    ``CompositeEvalMetric`` is reduced child by child. Call it once, at the end of an epoch,
    on every rank (before ``reset``); calling it twice would count the other ranks twice.
    """
    from .comm import as_communicator
    comm = as_communicator(kv)
    metrics = _leaf_metrics(metric)
    fields = ("sum_metric", "num_inst", "global_sum_metric", "global_num_inst")
    values = []
    for m in metrics:
        for name in fields:
            values.append(float(getattr(m, name, 0.0) or 0.0))
    summed = comm.allreduce_float64(values)
    i = 0
    for m in metrics:
        for name in fields:
            if hasattr(m, name):
                current = getattr(m, name)
                setattr(m, name, type(current)(summed[i]) if isinstance(current, int)
                        else float(summed[i]))
            i += 1
    return metric


def _leaf_metrics(metric):
    children = getattr(metric, "metrics", None)
    if isinstance(children, (list, tuple)):
        out = []
        for child in children:
            out.extend(_leaf_metrics(child))
        return out
    return [metric]
