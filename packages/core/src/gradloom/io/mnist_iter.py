"""``MNISTIter``: MXNet's MNIST iterator over the IDX files (gzip or raw)."""
import logging
import os

import numpy as np

from ..base import ConfigError, ShapeError
from ..datasets.idx import read_idx
from ..datasets.mnist import DatasetNotFoundError
from ._host import wrap
from .base import BatchHoldingIter
from .desc import DataBatch, DataDesc

_log = logging.getLogger(__name__)

# Accepted for MXNet compatibility; they tune MXNet's C++ prefetcher, which has no
# counterpart here (wrap the iterator in PrefetchingIter instead).
_IGNORED = {"data_shape", "prefetch_buffer", "ctx", "device_id", "dtype", "label_width"}


def _resolve(path):
    """``path``, or ``path + '.gz'`` when only the compressed file exists."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        return path + ".gz"
    if not os.path.exists(path):
        raise DatasetNotFoundError(f"MNIST file {path!r} not found (nor {path + '.gz'!r}); "
                                "see gradloom.datasets.load_mnist for where to get it")
    return path


def part_range(count, num_parts, part_index):
    """Contiguous ``[start, end)`` of part ``part_index`` out of ``num_parts`` equal parts."""
    if num_parts < 1 or not 0 <= part_index < num_parts:
        raise ConfigError(f"need num_parts >= 1 and 0 <= part_index < num_parts, got "
                          f"num_parts={num_parts}, part_index={part_index}")
    start = int(count / num_parts * part_index)
    end = int(count / num_parts * (part_index + 1))
    return start, end


class MNISTIter(BatchHoldingIter):
    """Batches of MNIST images scaled to [0, 1) (pixel / 256) and float32 labels.

    Data is ``(batch, 1, 28, 28)``, or ``(batch, 784)`` with ``flat=True``, or
    ``(batch,) + input_shape``. ``shuffle`` permutes the examples once, with ``seed``, when
    the iterator is built (``reset`` keeps the order, as in MXNet). An incomplete last
    batch is dropped, so ``pad`` is always 0. ``num_parts``/``part_index`` select one of
    ``num_parts`` contiguous, equal shares of the file (one per worker).
    """

    def __init__(self, image="./train-images-idx3-ubyte", label="./train-labels-idx1-ubyte",
                 batch_size=128, shuffle=True, flat=False, seed=0, silent=False, num_parts=1,
                 part_index=0, input_shape=None, data_name="data", label_name="softmax_label",
                 **kwargs):
        unknown = sorted(set(kwargs) - _IGNORED)
        if unknown:
            raise ConfigError(f"MNISTIter got unknown argument(s) {unknown}")
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(batch_size)
        images = read_idx(_resolve(image))
        labels = read_idx(_resolve(label))
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ShapeError(f"{image} / {label}: images {images.shape} and labels "
                             f"{labels.shape} do not match (expected (N, rows, cols) and (N,))")
        start, end = part_range(images.shape[0], int(num_parts), int(part_index))
        self._index = np.arange(start, end)
        if shuffle:
            self._index = np.random.default_rng(seed).permutation(self._index)
        # uint8 kept in memory; each batch is converted on the fly (4x less memory).
        self._images = images[self._index]
        self._labels = labels[self._index].astype(np.float32)
        rows, cols = images.shape[1:]
        if input_shape is not None:
            sample_shape = tuple(int(d) for d in input_shape)
            if int(np.prod(sample_shape)) != rows * cols:
                raise ShapeError(f"input_shape {sample_shape} does not hold a {rows}x{cols} "
                                 "image; use (1, 28, 28) or (784,)")
        elif flat:
            sample_shape = (rows * cols,)
        else:
            sample_shape = (1, rows, cols)
        self._sample_shape = sample_shape
        self.num_data = self._images.shape[0]
        self.cursor = 0
        self.current_batch = None
        self.provide_data = [DataDesc(data_name, (batch_size,) + sample_shape, np.float32)]
        self.provide_label = [DataDesc(label_name, (batch_size,), np.float32)]
        if not silent:
            _log.info("MNISTIter: load %d images, shuffle=%d, shape=%s", self.num_data,
                      int(bool(shuffle)), (batch_size,) + sample_shape)

    def reset(self):
        self.cursor = 0

    def iter_next(self):
        if self.cursor + self.batch_size > self.num_data:
            return False
        s = slice(self.cursor, self.cursor + self.batch_size)
        data = self._images[s].reshape((self.batch_size,) + self._sample_shape)
        data = data.astype(np.float32) * np.float32(1.0 / 256.0)
        self.current_batch = DataBatch([wrap(data)], [wrap(self._labels[s])], pad=0,
                                  index=self._index[s])
        self.cursor += self.batch_size
        return True
