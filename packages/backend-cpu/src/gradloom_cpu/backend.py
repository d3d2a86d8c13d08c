"""The ``cpu`` backend: numpy arrays in host memory.

CPU device ids only tell executors apart (data parallelism over ``[cpu(0), cpu(1)]``); all of
them share the host's memory, so transfers are plain copies.
"""
import os

import numpy as np

from gradloom.backend import Backend

from .kernels._parallel import SPLITTER, bounds

# elements per block of ``elementwise``: a block of each of a step's 4-5 float32 arrays stays
# in a core's L2 cache between the numpy passes over it (an SGD-momentum step over 1.9M
# weights: 2.07 ms in one piece, 1.41 ms in blocks of 64K, on one thread)
BLOCK = 1 << 16


class CpuBackend(Backend):
    device_type = "cpu"
    package = "gradloom-backend-cpu"

    @property
    def xp(self):
        return np

    def device_count(self):
        return os.cpu_count() or 1

    def has_device(self, device_id):
        # CPU "devices" only tell executors apart; any non-negative id shares host memory
        return device_id >= 0

    def owns(self, array):
        return isinstance(array, np.ndarray)

    def to_host(self, array):
        return np.asarray(array)

    def from_host(self, array, device_id=0):
        return np.array(array, copy=True)

    def copy_from_host(self, dst, array):
        np.copyto(dst, array, casting="unsafe")

    def elementwise(self, fn, arrays):
        n = arrays[0].shape[0]
        if n < 2 * BLOCK:
            fn(*arrays)
            return
        cut = [isinstance(a, np.ndarray) and a.ndim == 1 and a.shape[0] == n for a in arrays]
        SPLITTER.run(fn, [tuple(a[start:stop] if c else a for a, c in zip(arrays, cut))
                          for start, stop in bounds(n, -(-n // BLOCK))])

    def make_executor(self, request):
        from .executor import CpuExecutor
        return CpuExecutor(self, request)
