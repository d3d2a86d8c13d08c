"""``gradloom.nd.random``: NDArrays of random numbers drawn from the backend's generators."""
import numpy as np

from ..base import DTypeError
from .ndarray import NDArray, _resolve_ctx

__all__ = ["uniform", "normal", "randint", "shuffle"]


def _shape(shape):
    if shape is None:
        return (1,)
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


def _draw(ctx, dtype, out, sample):
    """Run ``sample(generator)`` on the target device and wrap (or copy into ``out``)."""
    ctx = out.context if out is not None else _resolve_ctx(ctx)
    backend = ctx.backend
    with backend.device_scope(ctx.device_id):
        raw = sample(backend.rng(ctx.device_id))
    dtype = np.dtype(dtype or (out.dtype if out is not None else np.float32))
    if isinstance(raw, np.ndarray) and backend.xp is not np:
        raw = backend.from_host(raw, ctx.device_id)
    raw = raw.astype(dtype, copy=False)
    if out is not None:
        out[:] = NDArray(raw, ctx)
        return out
    return NDArray(raw, ctx)


def _float_dtype(dtype, out):
    # draw in float32 when that is the target (half the memory and work), else float64
    target = np.dtype(dtype or (out.dtype if out is not None else np.float32))
    return np.float32 if target == np.float32 else np.float64


# Only ``random``, ``standard_normal`` and ``integers`` are used: numpy's and cupy's
# generators both provide them with the same signature.
def uniform(low=0.0, high=1.0, shape=None, dtype=None, ctx=None, out=None, **_ignored):
    """Samples from U[low, high)."""
    shp = out.shape if out is not None else _shape(shape)
    draw_dtype = _float_dtype(dtype, out)
    return _draw(ctx, dtype, out,
                 lambda g: low + (high - low) * g.random(size=shp, dtype=draw_dtype))


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, ctx=None, out=None, **_ignored):
    """Samples from N(loc, scale**2)."""
    shp = out.shape if out is not None else _shape(shape)
    draw_dtype = _float_dtype(dtype, out)
    return _draw(ctx, dtype, out,
                 lambda g: loc + scale * g.standard_normal(size=shp, dtype=draw_dtype))


def randint(low, high, shape=None, dtype="int32", ctx=None, out=None, **_ignored):
    """Integers in [low, high)."""
    if high <= low:
        raise DTypeError(f"randint needs low < high, got low={low}, high={high}")
    shp = out.shape if out is not None else _shape(shape)
    return _draw(ctx, dtype, out, lambda g: g.integers(low, high, size=shp))


def shuffle(data, **_ignored):
    """A copy of ``data`` with its rows (first axis) randomly permuted."""
    ctx = data.context
    backend = ctx.backend
    with backend.device_scope(ctx.device_id):
        keys = backend.rng(ctx.device_id).random(size=data.shape[0])
        if isinstance(keys, np.ndarray) and backend.xp is not np:
            keys = backend.from_host(keys, ctx.device_id)
        perm = backend.xp.argsort(keys)     # a uniform random permutation
        return NDArray(data.raw[perm], ctx)
