"""``NDArray``: MXNet's array vocabulary over a raw backend array (numpy, cupy, ...).

The wrapper holds the backend array itself (never a copy), so executors and optimizers can
work on ``.raw`` while user code keeps MXNet's methods. All math goes through the backend's
``xp`` module, so the same code serves every backend.
"""
import numbers

import numpy as np

from ..base import DTypeError, ShapeError
from ..context import Context, current_context

__all__ = ["NDArray", "mx_real_t", "context_of_raw", "as_raw"]

mx_real_t = np.float32


def context_of_raw(raw):
    """The context holding the backend array ``raw`` (numpy arrays live on ``cpu(0)``)."""
    if isinstance(raw, np.ndarray):
        return Context("cpu", 0)
    from ..plugins import load_plugins
    for _name, backend in load_plugins().backends.items():
        try:
            if backend.owns(raw):
                return Context(backend.device_type, backend.device_of(raw))
        except Exception:   # a broken backend must not hide the others
            continue
    raise DTypeError(f"cannot wrap an object of type {type(raw).__name__} in an NDArray: no "
                     f"installed backend owns it; pass a numpy array or use gradloom.nd.array")


def _resolve_ctx(ctx):
    if ctx is None:
        return current_context()
    if isinstance(ctx, Context):
        return ctx
    if isinstance(ctx, str):
        # 'cpu', 'gpu(1)', 'cpu(0)'
        name, _, rest = ctx.partition("(")
        return Context(name.strip(), int(rest.rstrip(")") or 0) if rest else 0)
    raise DTypeError(f"expected a Context such as gradloom.cpu() or gradloom.gpu(0), got "
                     f"{ctx!r}")


def as_raw(value, like):
    """``value`` (NDArray, numpy array, scalar) as an operand for math with ``like``."""
    if isinstance(value, NDArray):
        if value._ctx == like._ctx or isinstance(value._raw, np.ndarray) and isinstance(
                like._raw, np.ndarray):
            return value._raw
        return like._backend().from_host(value.asnumpy(), like._ctx.device_id)
    if isinstance(value, (numbers.Number, np.generic)):
        return value
    if isinstance(value, np.ndarray):
        if isinstance(like._raw, np.ndarray):
            return value
        return like._backend().from_host(value, like._ctx.device_id)
    if isinstance(value, (list, tuple)):
        return as_raw(np.asarray(value, dtype=like._raw.dtype), like)
    return None


class NDArray:
    """A backend array with MXNet's NDArray methods. ``NDArray(raw, ctx)`` does not copy."""

    __slots__ = ("_raw", "_ctx", "_backend_obj", "__weakref__")
    # numpy must hand mixed expressions (np_array + nd) to our reflected operators
    __array_ufunc__ = None
    __array_priority__ = 1000.0

    def __init__(self, raw, ctx=None):
        if isinstance(raw, NDArray):
            raw, ctx = raw._raw, ctx or raw._ctx
        if ctx is None:
            ctx = context_of_raw(raw)
        elif not isinstance(ctx, Context):
            ctx = _resolve_ctx(ctx)
        self._raw = raw
        self._ctx = ctx
        self._backend_obj = None

    # -- identity --------------------------------------------------------------------
    @property
    def raw(self):
        """The backend array (numpy on CPU, cupy on GPU); writes to it change this NDArray."""
        return self._raw

    @property
    def handle(self):
        return self._raw

    def _backend(self):
        backend = self._backend_obj
        if backend is None:
            backend = self._backend_obj = self._ctx.backend
        return backend

    @property
    def _xp(self):
        if isinstance(self._raw, np.ndarray):
            return np
        return self._backend().xp

    @property
    def context(self):
        return self._ctx

    ctx = context

    @property
    def shape(self):
        return tuple(self._raw.shape)

    @property
    def dtype(self):
        """The numpy scalar type (``numpy.float32``...), as MXNet returns it."""
        return self._raw.dtype.type

    @property
    def size(self):
        return int(self._raw.size)

    @property
    def ndim(self):
        return self._raw.ndim

    @property
    def stype(self):
        return "default"

    @property
    def T(self):
        """The transposed array (a copy); arrays with fewer than 2 dims return themselves."""
        if self.ndim < 2:
            return self
        return self._new(self._xp.ascontiguousarray(self._raw.T))

    def _new(self, raw):
        out = NDArray.__new__(NDArray)
        out._raw = raw
        out._ctx = self._ctx
        out._backend_obj = self._backend_obj
        return out

    # -- host transfer ---------------------------------------------------------------
    def asnumpy(self):
        """A numpy copy of the data (never a view: later writes do not affect it)."""
        if isinstance(self._raw, np.ndarray):
            return self._raw.copy()
        return np.array(self._backend().to_host(self._raw), copy=True)

    def __array__(self, dtype=None, copy=None):
        arr = self.asnumpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def asscalar(self):
        """The single value of a 1-element array, as a numpy scalar."""
        if self.size != 1:
            raise ShapeError(f"asscalar() needs an array with exactly one element, this one "
                             f"has shape {self.shape}; index or reduce it first")
        return self.asnumpy().reshape(-1)[0]

    def item(self):
        return self.asscalar().item()

    def tolist(self):
        return self.asnumpy().tolist()

    def wait_to_read(self):
        if not isinstance(self._raw, np.ndarray):
            self._backend().synchronize(self._ctx.device_id)

    wait_to_write = wait_to_read

    # -- copies and moves ------------------------------------------------------------
    def copy(self):
        return self._new(self._raw.copy())

    def copyto(self, other):
        """Copy into the NDArray ``other`` (returned), or to a new array on context ``other``."""
        if isinstance(other, NDArray):
            if other is self:
                return other
            if other.shape != self.shape:
                raise ShapeError(f"copyto: shape {self.shape} does not match the target's "
                                 f"shape {other.shape}; reshape one of them first")
            _copy_raw(self, other)
            return other
        if isinstance(other, (Context, str)):
            ctx = _resolve_ctx(other)
            if ctx == self._ctx:
                return self.copy()
            backend = ctx.backend
            return NDArray(backend.from_host(self.asnumpy(), ctx.device_id), ctx)
        raise DTypeError(f"copyto expects an NDArray or a Context, got {type(other).__name__}")

    def as_in_context(self, context):
        """This array if it already lives on ``context``, else a copy there."""
        ctx = _resolve_ctx(context)
        if ctx == self._ctx:
            return self
        return self.copyto(ctx)

    def astype(self, dtype, copy=True):
        dtype = np.dtype(dtype)
        if not copy and self._raw.dtype == dtype:
            return self
        return self._new(self._raw.astype(dtype))

    # -- shape -----------------------------------------------------------------------
    def reshape(self, *shape, **kwargs):
        """MXNet reshape (a view): dims may use 0 (keep), -1 (infer), -2, -3, -4 codes."""
        reverse = bool(kwargs.pop("reverse", False))
        if "shape" in kwargs:
            shape = kwargs.pop("shape")
        if kwargs:
            raise DTypeError(f"reshape got unexpected arguments {sorted(kwargs)}")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        new_shape = infer_reshape(self.shape, tuple(int(d) for d in shape), reverse)
        return self._new(self._raw.reshape(new_shape))

    def reshape_like(self, other):
        return self.reshape(other.shape)

    def flatten(self):
        """Keep the first axis, collapse the others (MXNet's ``Flatten``)."""
        first = self.shape[0] if self.ndim else 1
        return self.reshape((first, -1) if self.size or first else (0, 0))

    def expand_dims(self, axis):
        return self._new(self._xp.expand_dims(self._raw, axis))

    def squeeze(self, axis=None):
        return self._new(self._xp.squeeze(self._raw, axis=axis))

    def transpose(self, axes=None):
        return self._new(self._xp.ascontiguousarray(self._xp.transpose(self._raw, axes)))

    def swapaxes(self, dim1, dim2):
        return self._new(self._xp.ascontiguousarray(self._xp.swapaxes(self._raw, dim1, dim2)))

    def broadcast_to(self, shape):
        return self._new(self._xp.ascontiguousarray(self._xp.broadcast_to(self._raw, shape)))

    def broadcast_like(self, other):
        return self.broadcast_to(other.shape)

    def tile(self, reps):
        return self._new(self._xp.tile(self._raw, reps))

    def repeat(self, repeats, axis=None):
        return self._new(self._xp.repeat(self._raw, repeats, axis=axis))

    def split(self, num_outputs, axis=1, squeeze_axis=False):
        parts = self._xp.split(self._raw, num_outputs, axis=axis)
        if squeeze_axis:
            parts = [self._xp.squeeze(p, axis=axis) for p in parts]
        return [self._new(p) for p in parts]

    def slice_axis(self, axis, begin, end):
        index = [slice(None)] * self.ndim
        index[axis] = slice(begin, end)
        return self._new(self._raw[tuple(index)].copy())

    def zeros_like(self):
        return self._new(self._xp.zeros_like(self._raw))

    def ones_like(self):
        return self._new(self._xp.ones_like(self._raw))

    # -- reductions and elementwise helpers -----------------------------------------
    def _reduce(self, fn, axis, keepdims, exclude=False):
        if exclude and axis is not None:
            drop = {a % self.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
            axis = tuple(a for a in range(self.ndim) if a not in drop)
        if isinstance(axis, list):
            axis = tuple(axis)
        out = fn(self._raw, axis=axis, keepdims=keepdims)
        out = self._xp.asarray(out)
        if out.ndim == 0:      # MXNet (legacy shapes) never returns 0-d arrays
            out = out.reshape(1)
        return self._new(out)

    def sum(self, axis=None, keepdims=False, exclude=False):
        return self._reduce(self._xp.sum, axis, keepdims, exclude)

    def mean(self, axis=None, keepdims=False, exclude=False):
        return self._reduce(self._xp.mean, axis, keepdims, exclude).astype(self.dtype,
                                                                            copy=False)

    def max(self, axis=None, keepdims=False, exclude=False):
        return self._reduce(self._xp.max, axis, keepdims, exclude)

    def min(self, axis=None, keepdims=False, exclude=False):
        return self._reduce(self._xp.min, axis, keepdims, exclude)

    def prod(self, axis=None, keepdims=False, exclude=False):
        return self._reduce(self._xp.prod, axis, keepdims, exclude)

    def argmax(self, axis=None, keepdims=False):
        # MXNet returns indices as floats in the input's dtype
        return self._reduce(self._xp.argmax, axis, keepdims).astype(self.dtype, copy=False)

    def argmin(self, axis=None, keepdims=False):
        return self._reduce(self._xp.argmin, axis, keepdims).astype(self.dtype, copy=False)

    def norm(self, ord=2, axis=None, keepdims=False):
        xp = self._xp
        if ord == 1:
            fn = lambda a, axis, keepdims: xp.sum(xp.abs(a), axis=axis, keepdims=keepdims)
        else:
            fn = lambda a, axis, keepdims: xp.sqrt(xp.sum(a * a, axis=axis, keepdims=keepdims))
        return self._reduce(fn, axis, keepdims).astype(self.dtype, copy=False)

    def abs(self):
        return self._new(self._xp.abs(self._raw))

    def sqrt(self):
        return self._new(self._xp.sqrt(self._raw))

    def square(self):
        return self._new(self._xp.square(self._raw))

    def exp(self):
        return self._new(self._xp.exp(self._raw))

    def log(self):
        return self._new(self._xp.log(self._raw))

    def sign(self):
        return self._new(self._xp.sign(self._raw))

    def clip(self, a_min, a_max):
        return self._new(self._xp.clip(self._raw, a_min, a_max).astype(self._raw.dtype,
                                                                        copy=False))

    def relu(self):
        return self._new(self._xp.maximum(self._raw, 0).astype(self._raw.dtype, copy=False))

    def sigmoid(self):
        xp = self._xp
        return self._new((1 / (1 + xp.exp(-self._raw))).astype(self._raw.dtype, copy=False))

    def tanh(self):
        return self._new(self._xp.tanh(self._raw))

    def softmax(self, axis=-1):
        xp = self._xp
        shifted = self._raw - xp.max(self._raw, axis=axis, keepdims=True)
        e = xp.exp(shifted)
        return self._new(e / xp.sum(e, axis=axis, keepdims=True))

    def one_hot(self, depth, on_value=1.0, off_value=0.0, dtype="float32"):
        xp = self._xp
        idx = self._raw.astype(np.int64)
        out = xp.full(idx.shape + (int(depth),), off_value, dtype=np.dtype(dtype))
        valid = (idx >= 0) & (idx < depth)
        xp.put_along_axis(out, xp.where(valid, idx, 0)[..., None],
                          xp.where(valid, on_value, off_value)[..., None].astype(out.dtype),
                          axis=-1)
        return self._new(out)

    # -- indexing --------------------------------------------------------------------
    def _index(self, key):
        if isinstance(key, NDArray):
            return as_raw(key, self).astype(np.int64)
        if isinstance(key, tuple):
            return tuple(self._index(k) for k in key)
        if isinstance(key, np.ndarray) and key.dtype.kind == "f":
            key = key.astype(np.int64)
        return key

    def __getitem__(self, key):
        out = self._raw[self._index(key)]
        if getattr(out, "ndim", 1) == 0:
            out = out.reshape(1)     # legacy NDArrays have no 0-d results: x[i] -> shape (1,)
        return self._new(out)

    def __setitem__(self, key, value):
        raw_value = as_raw(value, self)
        if raw_value is None:
            raise DTypeError(f"cannot assign {type(value).__name__} to an NDArray slice; use "
                             f"an NDArray, a numpy array or a number")
        key = self._index(key)
        if isinstance(raw_value, np.ndarray) or hasattr(raw_value, "dtype"):
            if raw_value.dtype != self._raw.dtype:
                raw_value = raw_value.astype(self._raw.dtype)
        try:
            self._raw[key] = raw_value
        except ValueError as err:
            raise ShapeError(f"cannot assign a value of shape "
                             f"{getattr(raw_value, 'shape', ())} to {self._raw[key].shape} "
                             f"of an NDArray with shape {self.shape}: {err}") from None

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d NDArray")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        if self.size == 0:
            return False
        if self.size == 1:
            return bool(self.asscalar())
        raise ShapeError(f"the truth value of an NDArray with {self.size} elements is "
                         f"ambiguous; use .asnumpy().any() or .asnumpy().all()")

    def __float__(self):
        return float(self.asscalar())

    def __int__(self):
        return int(self.asscalar())

    def __index__(self):
        if self._raw.dtype.kind not in "iu":
            raise TypeError("only integer NDArrays can be used as an index")
        return int(self.asscalar())

    # -- arithmetic ------------------------------------------------------------------
    def _binary(self, other, fn, reflect=False):
        rhs = as_raw(other, self)
        if rhs is None:
            return NotImplemented
        out = fn(rhs, self._raw) if reflect else fn(self._raw, rhs)
        if out.dtype != self._raw.dtype and not isinstance(other, NDArray):
            # an array op a scalar keeps the array's dtype, as in MXNet
            out = out.astype(self._raw.dtype)
        return self._new(out)

    def _inplace(self, other, ufunc):
        rhs = as_raw(other, self)
        if rhs is None:
            return NotImplemented
        ufunc(self._raw, rhs, out=self._raw, casting="unsafe")
        return self

    def __add__(self, other):
        return self._binary(other, self._xp.add)

    def __radd__(self, other):
        return self._binary(other, self._xp.add, True)

    def __sub__(self, other):
        return self._binary(other, self._xp.subtract)

    def __rsub__(self, other):
        return self._binary(other, self._xp.subtract, True)

    def __mul__(self, other):
        return self._binary(other, self._xp.multiply)

    def __rmul__(self, other):
        return self._binary(other, self._xp.multiply, True)

    def __truediv__(self, other):
        return self._binary(other, self._xp.true_divide)

    def __rtruediv__(self, other):
        return self._binary(other, self._xp.true_divide, True)

    __div__, __rdiv__ = __truediv__, __rtruediv__

    def __floordiv__(self, other):
        return self._binary(other, self._xp.floor_divide)

    def __rfloordiv__(self, other):
        return self._binary(other, self._xp.floor_divide, True)

    def __mod__(self, other):
        return self._binary(other, self._mod)

    def __rmod__(self, other):
        return self._binary(other, self._mod, True)

    def _mod(self, a, b):
        """MXNet's mod (the operators' math): the divisor's sign, 0 for a zero divisor."""
        from ..ops._math import mxnet_mod
        xp = self._xp
        out = xp.empty(xp.broadcast(a, b).shape, xp.result_type(a, b))
        mxnet_mod(xp, a, b, out)
        return out

    def __pow__(self, other):
        return self._binary(other, self._xp.power)

    def __rpow__(self, other):
        return self._binary(other, self._xp.power, True)

    def __neg__(self):
        return self._new(-self._raw)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __iadd__(self, other):
        return self._inplace(other, self._xp.add)

    def __isub__(self, other):
        return self._inplace(other, self._xp.subtract)

    def __imul__(self, other):
        return self._inplace(other, self._xp.multiply)

    def __itruediv__(self, other):
        return self._inplace(other, self._xp.true_divide)

    __idiv__ = __itruediv__

    def __imod__(self, other):
        return self._inplace(other, self._xp.mod)

    def __ipow__(self, other):
        return self._inplace(other, self._xp.power)

    # comparisons return 0/1 in the array's dtype, like MXNet
    def _compare(self, other, fn):
        rhs = as_raw(other, self)
        if rhs is None:
            return NotImplemented
        return self._new(fn(self._raw, rhs).astype(self._raw.dtype))

    def __eq__(self, other):
        return self._compare(other, self._xp.equal)

    def __ne__(self, other):
        return self._compare(other, self._xp.not_equal)

    def __lt__(self, other):
        return self._compare(other, self._xp.less)

    def __le__(self, other):
        return self._compare(other, self._xp.less_equal)

    def __gt__(self, other):
        return self._compare(other, self._xp.greater)

    def __ge__(self, other):
        return self._compare(other, self._xp.greater_equal)

    __hash__ = object.__hash__

    # -- display ---------------------------------------------------------------------
    def __repr__(self):
        shape_info = "x".join(str(d) for d in self.shape)
        return f"\n{self.asnumpy()}\n<{type(self).__name__} {shape_info} @{self._ctx}>"

    def __str__(self):
        return self.__repr__()

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        from ..base import GradloomError
        raise GradloomError("NDArrays are not pickled by gradloom (pickle is unsafe to "
                            "load); save them with gradloom.nd.save(fname, arrays)")


def _copy_raw(src, dst):
    """Copy the data of NDArray ``src`` into NDArray ``dst`` (same shape), casting."""
    if isinstance(src._raw, np.ndarray) and isinstance(dst._raw, np.ndarray):
        np.copyto(dst._raw, src._raw, casting="unsafe")
    elif src._ctx == dst._ctx:
        dst._xp.copyto(dst._raw, src._raw, casting="unsafe")
    else:
        dst._backend().copy_from_host(dst._raw, src.asnumpy())


def infer_reshape(src, target, reverse=False):
    """MXNet's reshape codes: 0 copy dim, -1 infer, -2 copy the rest, -3 merge two,
    -4 split one into the next two values (one of which may be -1)."""
    if reverse:
        out = infer_reshape(src[::-1], _reverse_codes(target), False)
        return out[::-1]
    out = []
    infer_at = None
    i = 0    # position in src
    j = 0    # position in target
    while j < len(target):
        code = target[j]
        if code > 0:
            out.append(code)
            i += 1
        elif code == 0:
            if i >= len(src):
                raise ShapeError(f"reshape {src} -> {target}: 0 refers to a missing dim")
            out.append(src[i])
            i += 1
        elif code == -1:
            if infer_at is not None:
                raise ShapeError(f"reshape {src} -> {target}: more than one -1")
            infer_at = len(out)
            out.append(-1)
            i += 1
        elif code == -2:
            out.extend(src[i:])
            i = len(src)
        elif code == -3:
            if i + 1 >= len(src):
                raise ShapeError(f"reshape {src} -> {target}: -3 needs two source dims")
            out.append(src[i] * src[i + 1])
            i += 2
        elif code == -4:
            if j + 2 >= len(target) or i >= len(src):
                raise ShapeError(f"reshape {src} -> {target}: -4 needs two following values")
            d = src[i]
            a, b = target[j + 1], target[j + 2]
            if a == -1:
                a = d // b
            if b == -1:
                b = d // a
            if a * b != d:
                raise ShapeError(f"reshape {src} -> {target}: cannot split {d} into {a}x{b}")
            out.extend([a, b])
            i += 1
            j += 2
        else:
            raise ShapeError(f"reshape {src} -> {target}: invalid code {code}")
        j += 1
    total = 1
    for d in src:
        total *= d
    if infer_at is not None:
        known = 1
        for k, d in enumerate(out):
            if k != infer_at:
                known *= d
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape an array of shape {src} ({total} elements) to "
                             f"{target}")
        out[infer_at] = total // known
    size = 1
    for d in out:
        size *= d
    if size != total:
        raise ShapeError(f"cannot reshape an array of shape {src} ({total} elements) to "
                         f"{tuple(out)} ({size} elements); the sizes must match")
    return tuple(out)


def _reverse_codes(target):
    # reversing "-4 a b" gives "b a -4": move the -4 back in front of its (now reversed)
    # pair, so a reversed source dim d splits into (b, a)
    out = list(target)[::-1]
    k = 0
    while k < len(out):
        if k + 2 < len(out) and out[k + 2] == -4:
            out[k], out[k + 1], out[k + 2] = -4, out[k], out[k + 1]
            k += 3
        else:
            k += 1
    return tuple(out)
