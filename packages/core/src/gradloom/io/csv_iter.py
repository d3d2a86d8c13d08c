"""``CSVIter``: batches from CSV files of numbers (one example per row)."""
import os

import numpy as np

from ..base import ConfigError, FormatError
from ._host import wrap
from .base import BatchHoldingIter
from .desc import DataBatch, DataDesc

_IGNORED = {"prefetch_buffer", "ctx", "device_id"}
_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}


def _load_rows(path, shape, dtype, what):
    path = os.fspath(path)
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise FormatError(f"{path}: cannot parse as comma-separated numbers ({err})") from err
    width = int(np.prod(shape))
    if rows.shape[0] and rows.shape[1] != width:
        raise FormatError(f"{path}: rows have {rows.shape[1]} values but {what} "
                          f"{tuple(shape)} needs {width}; fix {what} or the file")
    return rows.astype(dtype).reshape((rows.shape[0],) + tuple(shape))


class CSVIter(BatchHoldingIter):
    """Iterate over ``data_csv`` (and ``label_csv``) in batches of ``batch_size`` rows.

    Without ``label_csv`` labels are zeros. With ``round_batch`` (default) the last
    incomplete batch is completed with rows from the start of the file (``pad`` counts
    them) and the next epoch continues after those rows, as MXNet's CSVIter does; without
    it the last batch is filled up and ``pad`` marks the filler rows.
    """

    def __init__(self, data_csv, data_shape, label_csv=None, label_shape=(1,), batch_size=None,
                 round_batch=True, dtype="float32", data_name="data",
                 label_name="softmax_label", **kwargs):
        unknown = sorted(set(kwargs) - _IGNORED)
        if unknown:
            raise ConfigError(f"CSVIter got unknown argument(s) {unknown}")
        if batch_size is None or int(batch_size) < 1:
            raise ConfigError(f"CSVIter needs batch_size >= 1, got {batch_size}")
        dtype = _DTYPES.get(str(np.dtype(dtype)))
        if dtype is None:
            raise ConfigError(f"CSVIter dtype must be one of {sorted(_DTYPES)}")
        super().__init__(int(batch_size))
        data_shape = tuple(int(d) for d in data_shape)
        label_shape = tuple(int(d) for d in label_shape)
        self._data = _load_rows(data_csv, data_shape, dtype, "data_shape")
        n = self._data.shape[0]
        if label_csv is not None:
            self._label = _load_rows(label_csv, label_shape, dtype, "label_shape")
            if self._label.shape[0] != n:
                raise FormatError(f"{label_csv} has {self._label.shape[0]} rows but "
                                  f"{data_csv} has {n}; they must match row for row")
        else:
            self._label = np.zeros((n,) + label_shape, dtype=dtype)
        if label_shape == (1,):
            self._label = self._label.reshape(n)  # one label per example: shape (batch,)
        if n < self.batch_size and round_batch:
            raise ConfigError(f"{data_csv} has {n} rows, fewer than batch_size "
                              f"{self.batch_size}; use a smaller batch")
        self.num_data = n
        self.round_batch = bool(round_batch)
        self._pos = 0
        self._overflow = 0
        self.current_batch = None
        self.provide_data = [DataDesc(data_name, (self.batch_size,) + data_shape, dtype)]
        self.provide_label = [DataDesc(label_name, (self.batch_size,) + self._label.shape[1:],
                                       dtype)]

    def reset(self):
        if not self.round_batch or self._overflow == 0:
            self._pos = 0
        else:
            # The wrapped rows were already served: the new epoch starts after them.
            self._overflow = 0

    def _take(self, rows):
        return DataBatch([wrap(self._data[rows])], [wrap(self._label[rows])],
                         pad=0, index=np.asarray(rows))

    def iter_next(self):
        bs, n = self.batch_size, self.num_data
        if self._overflow or self._pos >= n:
            return False
        if self._pos + bs <= n:
            rows = np.arange(self._pos, self._pos + bs)
            self._pos += bs
            pad = 0
        else:
            pad = bs - (n - self._pos)
            rows = np.concatenate([np.arange(self._pos, n), np.arange(pad) % n])
            if self.round_batch:
                self._overflow = pad
                self._pos = pad
            else:
                self._pos = n
        self.current_batch = self._take(rows)
        self.current_batch.pad = pad
        return True
