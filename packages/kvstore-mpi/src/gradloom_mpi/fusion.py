"""Tensor fusion: which keys share one flat buffer and one allreduce.

Pure functions (no MPI): every rank runs them on the same sorted ``(key, shape, dtype)``
list and so reaches the same plan, which is what lets ranks issue their collectives in the
same order without a coordinator. Keys are grouped by the dtype they are reduced in, then
packed in key order into buffers of at most ``threshold_bytes`` (a key larger than the
threshold gets a buffer of its own; ``threshold_bytes=0`` gives one buffer per key).
"""
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DEFAULT_FUSION_THRESHOLD", "Segment", "Group", "reduce_dtype_for", "sort_keys",
           "plan_groups"]

#: 64 MiB: large enough that an MLP's or a ResNet's gradients go in one or a few messages
DEFAULT_FUSION_THRESHOLD = 64 * 1024 * 1024

# MPI sums half precision with too little headroom (and not every MPI has the type), so
# half-precision values are reduced in float32 and cast back on the way out.
_UPCAST = {np.dtype(np.float16): np.dtype(np.float32)}


def reduce_dtype_for(dtype):
    """The dtype the sum of ``dtype`` values is computed in."""
    dtype = np.dtype(dtype)
    return _UPCAST.get(dtype, dtype)


def sort_keys(keys):
    """Keys in the order every rank uses: ints numerically, strings lexically."""
    return sorted(keys, key=lambda k: (isinstance(k, str), k))


@dataclass
class Segment:
    """One key's slice ``[offset, offset + size)`` of a group's flat buffer."""
    key: object
    offset: int
    size: int
    shape: tuple
    dtype: np.dtype


@dataclass
class Group:
    """Keys reduced by one allreduce of one flat buffer of ``dtype``."""
    dtype: np.dtype
    segments: list = field(default_factory=list)
    size: int = 0

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize


def plan_groups(entries, threshold_bytes=DEFAULT_FUSION_THRESHOLD):
    """Split ``entries`` (``(key, shape, dtype)`` in the agreed order) into fusion groups.

    Groups come out ordered by reduce dtype (by its name), and inside a dtype in the order
    of ``entries``; the result is a deterministic function of the arguments.
    """
    if threshold_bytes < 0:
        raise ValueError(f"threshold_bytes must be >= 0, not {threshold_bytes}")
    by_dtype = {}
    for key, shape, dtype in entries:
        rdtype = reduce_dtype_for(dtype)
        by_dtype.setdefault(rdtype, []).append((key, tuple(shape), np.dtype(dtype)))
    groups = []
    for rdtype in sorted(by_dtype, key=lambda d: d.str):
        current = None
        for key, shape, dtype in by_dtype[rdtype]:
            size = math.prod(shape)
            nbytes = size * rdtype.itemsize
            if current is None or (current.segments and
                                   current.nbytes + nbytes > threshold_bytes):
                current = Group(rdtype)
                groups.append(current)
            current.segments.append(Segment(key, current.size, size, shape, dtype))
            current.size += size
    return groups
