"""The buffer pool executors carve their intermediate arrays from.

One flat array per dtype per device. An executor lays its intermediate buffers (operator
outputs, intermediate gradients) out from offset 0; executors bound with ``shared_exec`` use
the same pool and overlap, which is safe because buckets of a ``BucketingModule`` run one at a
time. When an executor needs more than the pool holds, the pool is reallocated larger and its
``generation`` increases; every executor compares the generation at the start of ``forward``
(one int compare) and re-carves its views when it changed. So the pool ends up the size of the
largest bucket, not the sum of all buckets (MXNet issues #1799/#5035).
"""
import numpy as np

ALIGN_BYTES = 64  # keeps every buffer cache-line (and SIMD) aligned


def aligned_elements(nelems, dtype):
    """``nelems`` rounded up so the next buffer starts on an ``ALIGN_BYTES`` boundary."""
    per = max(1, ALIGN_BYTES // np.dtype(dtype).itemsize)
    return -(-nelems // per) * per


class MemoryPool:
    """Flat per-dtype arrays on one device of one backend."""

    def __init__(self, backend, device_id):
        self.backend = backend
        self.device_id = device_id
        self.arrays = {}
        self.generation = 0

    def compatible(self, backend, device_id):
        return self.backend is backend and self.device_id == device_id

    def reserve(self, needs):
        """Make sure the pool holds ``needs[dtype]`` elements per dtype (grows, never shrinks)."""
        grown = False
        for dtype, nelems in needs.items():
            current = self.arrays.get(dtype)
            if current is None or current.size < nelems:
                # the old contents are scratch space, so a fresh array needs no copy
                self.arrays[dtype] = self.backend.empty((max(nelems, 1),), dtype=dtype,
                                                        device_id=self.device_id)
                grown = True
        if grown:
            self.generation += 1
        return self.generation

    def view(self, dtype, offset, shape):
        size = int(np.prod(shape, dtype=np.int64))
        return self.arrays[dtype][offset:offset + size].reshape(shape)

    def nbytes(self):
        return sum(int(a.size) * a.dtype.itemsize for a in self.arrays.values())
