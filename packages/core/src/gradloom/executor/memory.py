"""The buffer pool executors carve their intermediate arrays from.

One flat array per dtype per device. An executor lays its intermediate buffers (operator
outputs, intermediate gradients) out from offset 0; executors bound with ``shared_exec`` use
the same pool and overlap, which is safe because buckets of a ``BucketingModule`` run one at a
time. When an executor needs more than the pool holds, the pool is reallocated larger and its
``generation`` increases; the executors already using it re-carve their views from the new
arrays at once, so none keeps an outgrown array alive (a bucketing run that starts on its
smallest bucket would otherwise hold every size it grew through). Each executor also compares
the generation at the start of ``forward`` (one int compare). So the pool ends up the size of
the largest bucket, not the sum of all buckets (MXNet issues #1799/#5035).
"""
import weakref

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
        self._users = weakref.WeakSet()   # executors holding views (``attach``)

    def compatible(self, backend, device_id):
        return self.backend is backend and self.device_id == device_id

    def attach(self, executor):
        """Register ``executor``: when the pool grows, its ``_release_views()`` runs before
        the new arrays are allocated and its ``_carve()`` after."""
        self._users.add(executor)

    def reserve(self, needs):
        """Make sure the pool holds ``needs[dtype]`` elements per dtype (grows, never shrinks).

        On growth every attached executor re-carves before this returns."""
        short = [dtype for dtype, nelems in needs.items()
                 if dtype not in self.arrays or self.arrays[dtype].size < nelems]
        if not short:
            return self.generation
        # the old contents are scratch space: let go of them before allocating, so the old
        # and the new array never exist at once
        users = list(self._users)
        for user in users:
            user._release_views()
        try:
            for dtype in short:
                self.arrays.pop(dtype, None)
                self.arrays[dtype] = self.backend.empty((max(needs[dtype], 1),), dtype=dtype,
                                                        device_id=self.device_id)
        finally:
            # also when the allocation failed (out of memory): every user then re-carves,
            # which retries it, before it runs again, instead of running on released views
            self.generation += 1
        for user in users:
            user._carve()
        return self.generation

    def view(self, dtype, offset, shape):
        size = int(np.prod(shape, dtype=np.int64))
        return self.arrays[dtype][offset:offset + size].reshape(shape)

    def nbytes(self):
        return sum(int(a.size) * a.dtype.itemsize for a in self.arrays.values())
