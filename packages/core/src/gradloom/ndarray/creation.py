"""Creating NDArrays: ``array``, ``zeros``, ``ones``, ``empty``, ``full``, ``arange``, ..."""
import numbers

import numpy as np

from ..base import DTypeError
from .ndarray import NDArray, _resolve_ctx, context_of_raw, mx_real_t

__all__ = ["array", "zeros", "ones", "empty", "full", "arange", "zeros_like", "ones_like",
           "full_like", "from_numpy"]


def _shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise DTypeError(f"a shape must be an int or a tuple of ints, got {shape!r}") from None


def _dtype(dtype):
    return np.dtype(mx_real_t if dtype is None else dtype)


def _wrap_host(host, ctx):
    """An NDArray on ``ctx`` holding a copy of the numpy array ``host``."""
    ctx = _resolve_ctx(ctx)
    backend = ctx.backend
    return NDArray(backend.from_host(host, ctx.device_id), ctx)


def array(source_array, ctx=None, dtype=None):
    """A new NDArray holding a copy of ``source_array`` (NDArray, numpy array, list, number).

    Like MXNet, the dtype is float32 unless ``dtype`` is given or the source is an NDArray
    (whose dtype is kept); numpy arrays and lists are converted to float32.
    """
    if not isinstance(source_array, (NDArray, np.ndarray, list, tuple, numbers.Number,
                                     np.generic)):
        # a raw array of some backend (e.g. cupy): wrap it, then copy like an NDArray
        try:
            source_array = NDArray(source_array, context_of_raw(source_array))
        except DTypeError:
            pass
        else:
            dtype = mx_real_t if dtype is None else dtype
    if isinstance(source_array, NDArray):
        dtype = _dtype(source_array.dtype if dtype is None else dtype)
        target = _resolve_ctx(ctx)
        if target == source_array.context:
            # same device: copy there, no trip through host memory
            return source_array._new(source_array.raw.astype(dtype, copy=True))
        host = source_array.asnumpy()
    else:
        try:
            host = np.asarray(source_array)
        except (TypeError, ValueError) as err:
            raise DTypeError(f"nd.array: cannot convert {type(source_array).__name__} to an "
                             f"array ({err}); pass a list, a numpy array or an NDArray") from None
        if host.dtype == object:
            raise DTypeError("nd.array: the source is ragged or holds non-numbers; pass a "
                             "rectangular list of numbers or a numpy array")
    dtype = _dtype(dtype)
    if host.dtype != dtype:
        host = host.astype(dtype)
    return _wrap_host(host, ctx)


def from_numpy(ndarray, zero_copy=True):
    """Wrap a numpy array on ``cpu(0)``; shares memory when ``zero_copy`` (and C-contiguous)."""
    arr = np.ascontiguousarray(ndarray) if zero_copy else np.array(ndarray, copy=True)
    return NDArray(arr)


def empty(shape, ctx=None, dtype=None, **_ignored):
    ctx = _resolve_ctx(ctx)
    return NDArray(ctx.backend.empty(_shape(shape), _dtype(dtype), ctx.device_id), ctx)


def zeros(shape, ctx=None, dtype=None, stype=None, **_ignored):
    ctx = _resolve_ctx(ctx)
    return NDArray(ctx.backend.zeros(_shape(shape), _dtype(dtype), ctx.device_id), ctx)


def full(shape, val, ctx=None, dtype=None, out=None, **_ignored):
    if out is not None:
        out[:] = val
        return out
    arr = empty(shape, ctx, dtype)
    arr.raw[...] = val
    return arr


def ones(shape, ctx=None, dtype=None, **_ignored):
    return full(shape, 1, ctx, dtype)


def zeros_like(other, ctx=None, dtype=None):
    return zeros(other.shape, ctx or other.context, dtype or other.dtype)


def ones_like(other, ctx=None, dtype=None):
    return ones(other.shape, ctx or other.context, dtype or other.dtype)


def full_like(other, fill_value, ctx=None, dtype=None):
    return full(other.shape, fill_value, ctx or other.context, dtype or other.dtype)


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` (``[0, start)`` if no stop), each value
    repeated ``repeat`` times; float32 unless ``dtype`` is given."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise DTypeError("nd.arange: step must not be 0")
    dtype = _dtype(dtype)
    # compute in float64 so float32 outputs do not accumulate rounding, then cast
    host = np.arange(start, stop, step, dtype=np.float64)
    if int(repeat) > 1:
        host = np.repeat(host, int(repeat))
    return _wrap_host(host.astype(dtype), ctx)
