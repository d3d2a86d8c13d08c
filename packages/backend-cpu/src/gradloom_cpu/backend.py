"""The ``cpu`` backend: numpy arrays in host memory.

CPU device ids only tell executors apart (data parallelism over ``[cpu(0), cpu(1)]``); all of
them share the host's memory, so transfers are plain copies.
"""
import os

import numpy as np

from gradloom.backend import Backend


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

    def make_executor(self, request):
        from .executor import CpuExecutor
        return CpuExecutor(self, request)
