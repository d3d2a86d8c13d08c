"""The ``gpu`` backend: cupy arrays on NVIDIA GPUs.

cupy is imported on first use, never at import time. Availability is probed once and the
reason kept, so ``gradloom plugins`` and the error for ``gpu(0)`` can say what is missing
(cupy not installed, no driver, no device) and what to install.
"""
import contextlib
import functools

import numpy as np

from gradloom.backend import Backend

_INSTALL = "pip install 'gradloom-backend-cuda[cuda12]' (or [cuda13], matching your CUDA driver)"


@functools.lru_cache(maxsize=1)
def _probe():
    """(cupy module or None, device count, reason or None); computed once per process."""
    try:
        import cupy
    except ImportError as exc:
        return None, 0, f"cupy is not installed ({exc}); {_INSTALL}"
    except Exception as exc:  # a broken cupy install must not break gradloom
        return None, 0, f"cupy failed to import: {type(exc).__name__}: {exc}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver / no device
        return cupy, 0, f"no usable CUDA device: {type(exc).__name__}: {exc}"
    if count == 0:
        return cupy, 0, "no CUDA device found (cupy sees 0 GPUs)"
    return cupy, count, None


class CudaBackend(Backend):
    device_type = "gpu"
    package = "gradloom-backend-cuda"

    def __init__(self):
        super().__init__()
        # device-side staging buffers and events for cross-device sums, made on first use
        self._staging = {}
        self._events = {}

    @property
    def unavailable_reason(self):
        return _probe()[2]

    def device_count(self):
        return _probe()[1]

    @property
    def xp(self):
        return _probe()[0]

    def owns(self, array):
        # look at the type's module first so arrays of other backends never import cupy
        return type(array).__module__.startswith("cupy")

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def from_host(self, array, device_id=0):
        with self.device_scope(device_id):
            return self.xp.asarray(np.ascontiguousarray(array))

    def copy_from_host(self, dst, array):
        src = np.ascontiguousarray(array, dtype=dst.dtype)
        if src.shape != dst.shape:
            src = src.reshape(dst.shape)
        with self.device_scope(dst.device.id):
            if dst.flags.c_contiguous:
                dst.set(src)
            else:
                dst[...] = self.xp.asarray(src)

    def device_scope(self, device_id):
        if self.xp is None:
            return contextlib.nullcontext()
        return self.xp.cuda.Device(device_id)

    def synchronize(self, device_id=None):
        if device_id is None:
            self.xp.cuda.runtime.deviceSynchronize()
        else:
            with self.device_scope(device_id):
                self.xp.cuda.runtime.deviceSynchronize()

    def device_of(self, array):
        return array.device.id

    def _make_rng(self, seed, device_id):
        with self.device_scope(device_id):
            return self.xp.random.default_rng(None if seed is None else seed * 1009 + device_id)

    def make_executor(self, request):
        from .executor import CudaExecutor
        return CudaExecutor(self, request)

    # -- kernels' helpers ----------------------------------------------------------------
    def scatter_add(self, dst, index, values):
        """``dst[index[j]] += values[j]`` with duplicates accumulating (atomic adds)."""
        import cupyx
        cupyx.scatter_add(dst, index, values)

    # -- cross-device reduction -------------------------------------------------------
    def reduce_sum_into(self, dst, srcs, src_backends=None):
        """``dst[...] = sum(srcs)`` on ``dst``'s GPU.

        GPU arrays of other devices arrive by NCCL (when every source is on its own GPU and
        ``dst`` is one of them) or by peer copies into a staging buffer; arrays of other
        backends are staged through host memory. Nothing waits on the host except that
        staging.
        """
        from . import reduction
        reduction.reduce_sum_into(self, dst, srcs, src_backends)

    def staging(self, key, shape, dtype, device_id):
        """A cached device buffer for cross-device copies (allocated once per key)."""
        full = (key, tuple(shape), np.dtype(dtype).str, device_id)
        buf = self._staging.get(full)
        if buf is None:
            with self.device_scope(device_id):
                buf = self._staging[full] = self.xp.empty(shape, dtype=dtype)
        return buf

    def event(self, device_id):
        """A reusable CUDA event on ``device_id`` (for ordering work across devices)."""
        ev = self._events.get(device_id)
        if ev is None:
            with self.device_scope(device_id):
                ev = self._events[device_id] = self.xp.cuda.Event(block=False,
                                                                   disable_timing=True)
        return ev
