"""Module-level NDArray functions with MXNet's names and argument conventions."""
import numbers

import numpy as np

from ..base import DTypeError, ShapeError
from .ndarray import NDArray, as_raw

__all__ = ["concat", "concatenate", "stack", "dot", "batch_dot", "waitall", "maximum",
           "minimum", "add", "subtract", "multiply", "divide", "power", "equal", "not_equal",
           "greater", "greater_equal", "lesser", "lesser_equal", "sqrt", "exp", "log",
           "abs", "square", "sign", "clip", "sum", "mean", "max", "min", "prod", "argmax",
           "argmin", "norm", "transpose", "expand_dims", "flatten", "reshape",
           "broadcast_to", "tile", "repeat", "split", "where", "take", "one_hot", "softmax",
           "relu", "sigmoid", "tanh", "slice_axis", "onehot_encode", "moveaxis", "mod",
           "broadcast_add", "broadcast_plus", "broadcast_sub", "broadcast_minus",
           "broadcast_mul", "broadcast_div", "broadcast_power", "broadcast_maximum",
           "broadcast_minimum", "broadcast_mod", "broadcast_equal", "broadcast_not_equal",
           "broadcast_greater", "broadcast_greater_equal", "broadcast_lesser",
           "broadcast_lesser_equal", "elemwise_add", "elemwise_sub", "elemwise_mul",
           "elemwise_div"]


def _check(arr, fn):
    if not isinstance(arr, NDArray):
        raise DTypeError(f"nd.{fn} expects NDArrays, got {type(arr).__name__}; wrap numpy "
                         f"data with gradloom.nd.array(...)")
    return arr


def concat(*data, dim=1, num_args=None):
    """Join arrays along ``dim`` (MXNet's ``Concat``; the default axis is 1)."""
    if len(data) == 1 and isinstance(data[0], (list, tuple)):
        data = tuple(data[0])
    if not data:
        raise ShapeError("nd.concat needs at least one array")
    first = _check(data[0], "concat")
    raws = [as_raw(_check(d, "concat"), first) for d in data]
    try:
        return first._new(first._xp.concatenate(raws, axis=dim))
    except ValueError as err:
        raise ShapeError(f"nd.concat along dim {dim}: shapes {[d.shape for d in data]} do "
                         f"not fit ({err})") from None


def concatenate(arrays, axis=0, always_copy=True):
    """Join a list of arrays along ``axis`` (default 0)."""
    if not always_copy and len(arrays) == 1:
        return arrays[0]
    return concat(*arrays, dim=axis)


def stack(*data, axis=0, num_args=None):
    if len(data) == 1 and isinstance(data[0], (list, tuple)):
        data = tuple(data[0])
    first = _check(data[0], "stack")
    return first._new(first._xp.stack([as_raw(_check(d, "stack"), first) for d in data],
                                      axis=axis))


def dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """MXNet's ``dot``: contracts the last axis of ``lhs`` with the first axis of ``rhs``
    (after the optional transposes, which reverse all axes)."""
    _check(lhs, "dot")
    xp = lhs._xp
    a = lhs.raw
    b = as_raw(_check(rhs, "dot"), lhs)
    if transpose_a:
        a = xp.transpose(a)
    if transpose_b:
        b = xp.transpose(b)
    if a.shape[-1] != b.shape[0]:
        raise ShapeError(f"nd.dot: shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                         f"match (last axis of lhs vs first axis of rhs)")
    if a.ndim <= 2 and b.ndim <= 2:
        out = xp.dot(a, b)
    else:
        out = xp.tensordot(a, b, axes=1)
    if out.ndim == 0:
        out = out.reshape(1)
    return lhs._new(out)


def batch_dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """Batched matrix product of two 3-d arrays (batch, m, k) x (batch, k, n)."""
    xp = _check(lhs, "batch_dot")._xp
    a = lhs.raw
    b = as_raw(_check(rhs, "batch_dot"), lhs)
    if transpose_a:
        a = xp.swapaxes(a, 1, 2)
    if transpose_b:
        b = xp.swapaxes(b, 1, 2)
    return lhs._new(xp.matmul(a, b))


def waitall():
    """Wait until every device of every usable backend has finished its queued work."""
    from ..plugins import load_plugins
    for _name, backend in load_plugins().backends.items():
        if backend.is_available():
            backend.synchronize()


# -- elementwise, broadcasting binaries ----------------------------------------------------
def _binary(name, method, ufunc_name):
    def fn(lhs, rhs):
        if isinstance(lhs, NDArray):
            return getattr(lhs, method)(rhs) if method else _apply(lhs, rhs, ufunc_name)
        if isinstance(rhs, NDArray):
            if method:
                return getattr(rhs, method.replace("__", "__r", 1))(lhs)
            return _apply(rhs, lhs, ufunc_name, reflect=True)
        if isinstance(lhs, numbers.Number) and isinstance(rhs, numbers.Number):
            return getattr(np, ufunc_name)(lhs, rhs)
        raise DTypeError(f"nd.{name} expects NDArrays or numbers, got "
                         f"{type(lhs).__name__} and {type(rhs).__name__}")
    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{ufunc_name}`` with broadcasting (NDArray or scalar operands)."
    return fn


def _apply(arr, other, ufunc_name, reflect=False):
    ufunc = getattr(arr._xp, ufunc_name)
    rhs = as_raw(other, arr)
    out = ufunc(rhs, arr.raw) if reflect else ufunc(arr.raw, rhs)
    if out.dtype != arr.raw.dtype:
        out = out.astype(arr.raw.dtype)
    return arr._new(out)


add = _binary("add", "__add__", "add")
subtract = _binary("subtract", "__sub__", "subtract")
multiply = _binary("multiply", "__mul__", "multiply")
divide = _binary("divide", "__truediv__", "true_divide")
power = _binary("power", "__pow__", "power")
mod = _binary("mod", "__mod__", "mod")
maximum = _binary("maximum", None, "maximum")
minimum = _binary("minimum", None, "minimum")
equal = _binary("equal", None, "equal")
not_equal = _binary("not_equal", None, "not_equal")
greater = _binary("greater", None, "greater")
greater_equal = _binary("greater_equal", None, "greater_equal")
lesser = _binary("lesser", None, "less")
lesser_equal = _binary("lesser_equal", None, "less_equal")
# broadcast_* names of MXNet map to the same broadcasting functions
broadcast_add, broadcast_plus = add, add
broadcast_sub, broadcast_minus = subtract, subtract
broadcast_mul = multiply
broadcast_div = divide
broadcast_power = power
broadcast_mod = mod
broadcast_maximum = maximum
broadcast_minimum = minimum
broadcast_equal = equal
broadcast_not_equal = not_equal
broadcast_greater = greater
broadcast_greater_equal = greater_equal
broadcast_lesser = lesser
broadcast_lesser_equal = lesser_equal
elemwise_add, elemwise_sub, elemwise_mul, elemwise_div = add, subtract, multiply, divide


# -- unary and reductions: delegate to the NDArray methods ---------------------------------
def _method(name):
    def fn(data, *args, **kwargs):
        return getattr(_check(data, name), name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``data.{name}(...)``: see :meth:`NDArray.{name}`."
    return fn


def _unary_math(name):
    """``nd.<name>``: the operator's own forward math (``gradloom.ops._math``) on an array."""
    def fn(data):
        from ..ops._math import UNARY
        raw = _check(data, name).raw
        out = data._xp.empty_like(raw)
        UNARY[name][0](data._xp, raw, out)
        return data._new(out)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (as the ``{name}`` operator computes it)."
    return fn


_UNARY_MATH = ("reciprocal", "rsqrt", "cbrt", "sin", "cos", "tan", "log1p", "expm1", "log2",
               "log10", "floor", "ceil", "trunc", "fix", "rint", "round")
for _name in _UNARY_MATH:
    globals()[_name] = _unary_math(_name)
__all__ += list(_UNARY_MATH)

sqrt = _method("sqrt")
exp = _method("exp")
log = _method("log")
abs = _method("abs")          # noqa: A001  (MXNet's name)
square = _method("square")
sign = _method("sign")
clip = _method("clip")
sum = _method("sum")          # noqa: A001
mean = _method("mean")
max = _method("max")          # noqa: A001
min = _method("min")          # noqa: A001
prod = _method("prod")
argmax = _method("argmax")
argmin = _method("argmin")
norm = _method("norm")
transpose = _method("transpose")
expand_dims = _method("expand_dims")
flatten = _method("flatten")
Flatten = flatten
reshape = _method("reshape")
broadcast_to = _method("broadcast_to")
tile = _method("tile")
repeat = _method("repeat")
split = _method("split")
one_hot = _method("one_hot")
softmax = _method("softmax")
relu = _method("relu")
sigmoid = _method("sigmoid")
tanh = _method("tanh")
slice_axis = _method("slice_axis")
swapaxes = _method("swapaxes")


def moveaxis(data, source, destination):
    return data._new(data._xp.ascontiguousarray(data._xp.moveaxis(data.raw, source,
                                                                    destination)))


def where(condition, x, y):
    """Elements of ``x`` where ``condition`` is non-zero, else of ``y``."""
    _check(condition, "where")
    xp = condition._xp
    return condition._new(xp.where(condition.raw != 0, as_raw(x, condition),
                                   as_raw(y, condition)))


def take(a, indices, axis=0, mode="clip"):
    """Rows (slices along ``axis``) of ``a`` picked by ``indices`` (clipped by default)."""
    _check(a, "take")
    xp = a._xp
    idx = as_raw(indices, a)
    idx = xp.asarray(idx).astype(np.int64)
    n = a.shape[axis]
    idx = xp.clip(idx, 0, n - 1) if mode == "clip" else idx % n
    return a._new(xp.take(a.raw, idx, axis=axis))


def onehot_encode(indices, out):
    """Write the one-hot encoding of ``indices`` into ``out`` (shape (n, depth))."""
    out[:] = indices.one_hot(out.shape[1], dtype=out.dtype)
    return out
