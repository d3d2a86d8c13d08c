"""Pieces shared by the operator modules: shape unification and gradient bookkeeping.

Shapes follow MXNet's legacy convention: ``None`` or ``()`` is an unknown shape and a ``0``
dimension is an unknown dimension.
"""
import math

from ..base import ShapeError
from .opdef import Kernel, OpDef


def check_axis(op, axis, ndim, name="axis", error=ShapeError):
    """``axis`` made non-negative; ``error`` when it is outside ``-ndim..ndim-1``."""
    if not -ndim <= axis < ndim:
        raise error(f"{op}: {name} {axis} is out of range for the {ndim}-d input; use "
                    f"-{ndim}..{ndim - 1}")
    return axis % ndim


def as_shapes(shapes):
    """Shapes as tuples of ints (``None`` stays): callers may pass lists."""
    return [None if s is None else tuple(int(d) for d in s) for s in shapes]


def is_unknown(shape):
    return shape is None or len(shape) == 0


def is_known(shape):
    """True when every dimension of ``shape`` is known."""
    return not is_unknown(shape) and all(int(d) > 0 for d in shape)


def prod(dims):
    return int(math.prod(int(d) for d in dims))


def merge(a, b, op, what):
    """Unify two partial shapes; raise ``ShapeError`` naming ``what`` if they disagree."""
    if is_unknown(a):
        return None if is_unknown(b) else tuple(b)
    if is_unknown(b):
        return tuple(a)
    if len(a) != len(b):
        raise ShapeError(f"{op}: {what} has shape {tuple(a)} but {tuple(b)} is required; "
                         f"give it a shape with {len(b)} dimensions")
    out = []
    for x, y in zip(a, b):
        x, y = int(x), int(y)
        if x and y and x != y:
            raise ShapeError(f"{op}: {what} has shape {tuple(a)} but {tuple(b)} is required; "
                             f"change the input shape or the operator's attributes")
        out.append(x or y)
    return tuple(out)


class SameShapeMixin:
    """Every input and every output has one shape (elementwise operators)."""

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        shape = None
        names = self.arguments(attrs) + self.aux_states(attrs)
        for name, s in zip(names, in_shapes):
            shape = merge(s, shape, self.name, f"input {name!r}")
        for i, s in enumerate(out_shapes):
            shape = merge(s, shape, self.name, f"output {i}")
        return [shape] * len(in_shapes), [shape] * len(out_shapes)


class UnaryOp(SameShapeMixin, OpDef):
    """One input ``data``, one output of the same shape and dtype."""


class OpKernel(Kernel):
    """Kernel base with helpers for ``req``-aware gradient writes.

    ``grad_dst(i, ...)`` gives the array a kernel should compute argument ``i``'s fresh
    gradient into: the gradient buffer itself for 'write', a workspace (allocated once, on
    the first 'add') for 'add'; ``grad_done`` then accumulates the workspace. This lets the
    math use ``out=`` for both cases.
    """

    def wants(self, i, in_grads, req):
        return in_grads[i] is not None and req[i] != "null"

    def grad_dst(self, i, in_grads, req):
        if req[i] == "write":
            return in_grads[i]
        cache = self.__dict__.setdefault("_add_ws", {})
        buf = cache.get(i)
        if buf is None or buf.shape != in_grads[i].shape or buf.dtype != in_grads[i].dtype:
            buf = cache[i] = self.backend.scratch(self.device_id, in_grads[i].shape,
                                                  in_grads[i].dtype, f"grad{i}")
        return buf

    def grad_done(self, i, in_grads, req, buf):
        if req[i] == "add":
            in_grads[i] += buf

    def store_grad(self, i, in_grads, req, value):
        """Write (``req[i] == 'write'``) or add (``'add'``) ``value`` into ``in_grads[i]``."""
        if req[i] == "write":
            self.xp.copyto(in_grads[i], value)
        else:
            in_grads[i] += value

    def zero_grad(self, i, in_grads, req):
        """An input without a gradient (labels, indices): 'write' stores zeros."""
        if self.wants(i, in_grads, req) and req[i] == "write":
            in_grads[i][...] = 0


def scatter_add_rows(backend, dst, index, values):
    """``dst[index[j]] += values[j]`` with duplicates accumulating.

    A backend whose array module lacks ``add.at`` (or has a faster way) defines
    ``scatter_add(dst, index, values)``.
    """
    custom = getattr(backend, "scatter_add", None)
    if custom is not None:
        custom(dst, index, values)
    else:
        backend.xp.add.at(dst, index, values)
