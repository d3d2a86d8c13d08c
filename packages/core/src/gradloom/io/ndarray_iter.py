"""``NDArrayIter``: batches over in-memory arrays, with MXNet's last-batch semantics."""
import numpy as np

from ..base import ConfigError, DTypeError
from ._host import host_rng, is_ndarray, to_host, wrap
from .base import DataIter
from .desc import DataBatch, DataDesc
from .errors import DataIterError, UnsupportedDataError

_LAST_BATCH_MODES = ("pad", "discard", "roll_over")


def _is_sparse(value):
    return getattr(value, "stype", "default") not in ("default", None) or \
        type(value).__name__ in ("csr_matrix", "CSRNDArray")


def _named_arrays(data, allow_empty, default_name):
    """Normalise the user's data argument to a name-sorted list of (name, numpy array).

    One array -> ``default_name``; a list of several -> ``_0_<name>``, ``_1_<name>``, ...;
    a dict keeps its keys. Numpy and list inputs become float32 (MXNet converts them with
    ``nd.array``); NDArray inputs keep their dtype.
    """
    if data is None:
        if not allow_empty:
            raise DataIterError("NDArrayIter needs data; pass an array, a list or a dict")
        data = []
    if isinstance(data, (list, tuple)) and len(data) == 0 and not allow_empty:
        raise DataIterError("NDArrayIter got an empty data list; pass at least one array")
    if isinstance(data, (list, tuple)):
        if len(data) == 1:
            data = {default_name: data[0]}
        else:
            data = {f"_{i}_{default_name}": d for i, d in enumerate(data)}
    elif isinstance(data, dict):
        data = dict(data)
    elif isinstance(data, np.ndarray) or is_ndarray(data) or _is_sparse(data):
        data = {default_name: data}
    else:
        raise DTypeError(
            f"NDArrayIter data must be an NDArray, a numpy array, or a list/dict of them, "
            f"got {type(data).__name__}")
    out = []
    for name, value in sorted(data.items()):
        if _is_sparse(value):
            out.append((name, value))
            continue
        if is_ndarray(value):
            arr = to_host(value)
        else:
            arr = to_host(value, np.float32)
        out.append((name, np.ascontiguousarray(arr)))
    return out


class NDArrayIter(DataIter):
    """Iterate over arrays in mini-batches.

    ``last_batch_handle``: ``'pad'`` fills the last batch with examples from the start
    (``batch.pad`` counts them), ``'discard'`` drops it, ``'roll_over'`` carries its
    examples into the first batch of the next epoch (all real samples: ``pad`` is 0).
    ``shuffle=True`` draws a new order on every ``reset()`` from the generator that
    ``gradloom.random.seed`` controls; ``idx`` is the current order.
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", layout="NCHW"):
        super().__init__(batch_size)
        if last_batch_handle not in _LAST_BATCH_MODES:
            raise ConfigError(f"last_batch_handle must be one of {_LAST_BATCH_MODES}, "
                              f"got {last_batch_handle!r}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self._orig_data = _named_arrays(data, False, data_name)
        self._orig_label = _named_arrays(label, True, label_name)
        if any(_is_sparse(v) for _, v in self._orig_data + self._orig_label):
            if last_batch_handle != "discard":
                raise UnsupportedDataError(
                    "NDArrayIter supports sparse (CSR) inputs only with "
                    "last_batch_handle='discard'; pass that or densify the data")
            self._orig_data = [(k, v if not _is_sparse(v) else _densify(v))
                               for k, v in self._orig_data]
            self._orig_label = [(k, v if not _is_sparse(v) else _densify(v))
                                for k, v in self._orig_label]
        self.layout = layout
        axis = DataDesc.get_batch_axis(layout)
        # A layout without N still iterates over the first axis.
        self._axis = axis if axis >= 0 else 0
        self.num_data = self._orig_data[0][1].shape[self._axis]
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.idx = np.arange(self.num_data)
        self._data = self._orig_data
        self._label = self._orig_label
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None
        self.reset()

    # -- descriptions -------------------------------------------------------------------
    def _descs(self, named):
        descs = []
        for name, arr in named:
            shape = list(arr.shape)
            if shape:
                shape[self._axis] = self.batch_size
            descs.append(DataDesc(name, tuple(shape), arr.dtype.type, layout=self.layout))
        return descs

    @property
    def provide_data(self):
        return self._descs(self._data)

    @property
    def provide_label(self):
        return self._descs(self._label)

    @property
    def data(self):
        """``[(name, NDArray)]`` of the data in the current (possibly shuffled) order."""
        return [(k, wrap(v)) for k, v in self._data]

    @property
    def label(self):
        return [(k, wrap(v)) for k, v in self._label]

    # -- epoch control ------------------------------------------------------------------
    def _shuffle_data(self):
        self.idx = host_rng().permutation(self.num_data)
        ax = self._axis
        self._data = [(k, np.take(v, self.idx, axis=ax)) for k, v in self._orig_data]
        self._label = [(k, np.take(v, self.idx, axis=ax)) for k, v in self._orig_label]

    def reset(self):
        """Start a new epoch (reshuffling if ``shuffle``); keeps a roll-over remainder."""
        if self.shuffle:
            self._shuffle_data()
        if (self.last_batch_handle == "roll_over"
                and self.num_data - self.batch_size < self.cursor < self.num_data):
            # The cached remainder (num_data - cursor examples) heads the next epoch.
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def hard_reset(self):
        """Like ``reset`` but also forgets a roll-over remainder (use before predicting)."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    # -- batches ------------------------------------------------------------------------
    def iter_next(self):
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[self._axis] != self.batch_size:
            # Incomplete last batch ('discard' / 'roll_over'): keep it for the next epoch.
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _slice(self, arr, start, end):
        if self._axis == 0:
            return arr[start:end]
        index = (slice(None),) * self._axis + (slice(start, end),)
        return arr[index]

    def _concat(self, parts):
        return np.concatenate(parts, axis=self._axis)

    def _batchify(self, named, cache):
        if self.cursor >= self.num_data:
            raise DataIterError("the iterator is exhausted; call reset() first")
        start, bs, n = self.cursor, self.batch_size, self.num_data
        if self.last_batch_handle == "roll_over" and -bs < start < 0:
            if cache is None:
                raise DataIterError("NDArrayIter lost its roll-over remainder; call "
                                    "hard_reset() to start a clean epoch")
            return [wrap(self._concat([c.asnumpy(), self._slice(v, 0, start + bs)]))
                    for c, (_, v) in zip(cache, named)]
        if self.last_batch_handle == "pad" and start + bs > n:
            pad = start + bs - n
            out = []
            for _, v in named:
                parts = [self._slice(v, start, n)]
                # Tile the whole set when the filler exceeds it (tiny data sets).
                parts.extend([v] * (pad // n))
                if pad % n:
                    parts.append(self._slice(v, 0, pad % n))
                out.append(wrap(self._concat(parts)))
            return out
        end = min(start + bs, n)
        return [wrap(self._slice(v, start, end)) for _, v in named]

    def getdata(self):
        data = self._batchify(self._data, self._cache_data)
        self._cache_data = None if self._is_rolled_batch() else self._cache_data
        return data

    def getlabel(self):
        label = self._batchify(self._label, self._cache_label)
        self._cache_label = None if self._is_rolled_batch() else self._cache_label
        return label

    def _is_rolled_batch(self):
        return self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0

    def getpad(self):
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        # a 'roll_over' batch (last epoch's remainder + this epoch's first samples) is all
        # real samples: pad stays 0 (MXNet reported the carried-over count there, and pad
        # rows are cut off before training and scoring here)
        return 0

    def getindex(self):
        return None


def _densify(value):
    """CSR input (only with 'discard'): iterate over its dense rows."""
    convert = (getattr(value, "asnumpy", None) or getattr(value, "toarray", None)
               or getattr(value, "todense"))
    return np.ascontiguousarray(np.asarray(convert(), dtype=np.float32))
