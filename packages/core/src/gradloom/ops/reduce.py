"""Reductions: sum, mean, max, min, prod and norm with MXNet's axis / keepdims / exclude."""
import numpy as np

from ..base import ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge
from .opdef import OpDef, Param, parse_bool, parse_dtype, parse_int, parse_tuple


def reduce_axes(op, attrs, ndim):
    """The reduced axes, sorted; no ``axis`` reduces everything (``exclude`` or not)."""
    if not attrs.axis:
        return tuple(range(ndim))
    if any(not -ndim <= a < ndim for a in attrs.axis):
        raise ShapeError(f"{op}: axis={tuple(attrs.axis)} is out of range for a {ndim}-d "
                         f"input; use axes in -{ndim}..{ndim - 1}")
    axes = sorted(a % ndim for a in attrs.axis)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: axis={tuple(attrs.axis)} names an axis twice for a {ndim}-d "
                         f"input; list each axis once")
    if attrs.get("exclude"):
        return tuple(i for i in range(ndim) if i not in axes)
    return tuple(axes)


def reduced_shape(op, attrs, shape):
    axes = reduce_axes(op, attrs, len(shape))
    if attrs.keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    out = tuple(d for i, d in enumerate(shape) if i not in axes)
    return out or (1,)   # a full reduction gives shape (1,), as in MXNet 1.x


class ReduceKernel(OpKernel):
    def setup(self):
        shape = self.in_shapes[0]
        self.axes = reduce_axes(self.op.name, self.attrs, len(shape))
        self.kept = tuple(1 if i in self.axes else d for i, d in enumerate(shape))
        self.count = 1
        for i in self.axes:
            self.count *= shape[i]
        self.kind = self.op.kind

    def forward(self, is_train, inputs, outputs, aux):
        fn = {"sum": self.xp.sum, "mean": self.xp.mean, "max": self.xp.max,
              "min": self.xp.min, "prod": self.xp.prod}[self.kind]
        fn(inputs[0], axis=self.axes, keepdims=True, out=outputs[0].reshape(self.kept))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        dst = self.grad_dst(0, in_grads, req)
        self.input_grad(inputs[0], outputs[0].reshape(self.kept),
                        out_grads[0].reshape(self.kept), dst)
        self.grad_done(0, in_grads, req, dst)

    def input_grad(self, x, y, g, dst):
        """``dst`` = the data's gradient from output ``y`` and its gradient ``g`` (both
        with the reduced axes kept as size 1)."""
        xp = self.xp
        if self.kind in ("max", "min"):  # flows to every element equal to the extreme
            xp.equal(x, y, out=dst, casting="unsafe")
            dst *= g
        elif self.kind == "mean":
            xp.divide(xp.broadcast_to(g, dst.shape), self.count, out=dst)
        else:
            xp.copyto(dst, xp.broadcast_to(g, dst.shape))


class ProdKernel(ReduceKernel):
    """prod's gradient is the product of the *other* reduced elements.

    Computed from exclusive prefix and suffix products over each group of reduced elements
    (no division), so it is exact where an element is zero; MXNet divides the product by the
    element, which gives NaN there.
    """

    def setup(self):
        super().setup()
        xp, shape = self.xp, self.in_shapes[0]
        kept_axes = tuple(i for i in range(len(shape)) if i not in self.axes)
        # the data with the reduced axes moved last, as (groups, reduced elements)
        self.perm = kept_axes + self.axes
        self.inverse = tuple(int(i) for i in np.argsort(self.perm))
        self.moved = tuple(shape[i] for i in self.perm)
        rows = int(np.prod([shape[i] for i in kept_axes], dtype=np.int64))
        dtype = self.dtypes["in"][0]
        self.x2, self.left, self.right, self.others = (
            xp.empty((rows, self.count), dtype=dtype) for _ in range(4))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        xp.copyto(self.x2.reshape(self.moved), inputs[0].transpose(self.perm))
        xp.cumprod(self.x2, axis=1, out=self.left)                # x0, x0*x1, ...
        xp.cumprod(self.x2[:, ::-1], axis=1, out=self.right)      # from the last element
        suffix = self.right[:, ::-1]                              # suffix[:, i] = x_i*...*x_end
        others = self.others
        others[:, :1] = 1
        others[:, 1:] = self.left[:, :-1]
        others[:, :-1] *= suffix[:, 1:]
        others *= out_grads[0].reshape(-1, 1)
        self.store_grad(0, in_grads, req, others.reshape(self.moved).transpose(self.inverse))


class Reduce(OpDef):
    kernel = ReduceKernel
    params = {"axis": Param(parse_tuple, ()), "keepdims": Param(parse_bool, False),
              "exclude": Param(parse_bool, False)}

    def __init__(self, kind, aliases=(), kernel=None):
        self.name, self.kind, self.aliases = kind, kind, tuple(aliases)
        if kernel is not None:
            self.kernel = kernel

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            out = merge(out, reduced_shape(self.name, attrs, data), self.name, "output")
        return [data], [out]


# -- norm -------------------------------------------------------------------------------
def _norm_order(value):
    order = parse_int(value)
    if order not in (1, 2):
        raise ValueError(f"norm supports ord=1 and ord=2 only; got {value!r}")
    return order


class NormKernel(ReduceKernel):
    """Entrywise L1 or L2 norm over the reduced axes (two axes are not a matrix norm)."""

    def setup(self):
        super().setup()
        xp = self.xp
        dtype = self.dtypes["in"][0]
        # integer data is measured in float64 and cast to the output dtype, as MXNet truncates
        self.work_dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
        self.scaled = xp.empty(self.in_shapes[0], dtype=self.work_dtype)
        self.scale = xp.empty(self.kept, dtype=self.work_dtype)
        self.total = xp.empty(self.kept, dtype=self.work_dtype)
        self.zero = xp.empty(self.kept, dtype=bool)

    def forward(self, is_train, inputs, outputs, aux):
        xp, x = self.xp, inputs[0]
        out = outputs[0].reshape(self.kept)
        if self.attrs.ord == 1:
            xp.abs(x, out=self.scaled)
            xp.sum(self.scaled, axis=self.axes, keepdims=True, out=self.total)
            xp.copyto(out, self.total, casting="unsafe")
            return
        # scaled by the largest magnitude so that squares neither overflow nor underflow
        # (a float32 1e30 has a norm of 1e30, as in MXNet)
        xp.abs(x, out=self.scaled)
        xp.max(self.scaled, axis=self.axes, keepdims=True, out=self.scale)
        xp.equal(self.scale, 0, out=self.zero)
        self.scale += self.zero               # an all-zero group: divide by 1 instead of 0
        self.scaled /= self.scale
        self.scaled *= self.scaled
        xp.sum(self.scaled, axis=self.axes, keepdims=True, out=self.total)
        xp.sqrt(self.total, out=self.total)
        self.total *= self.scale
        xp.copyto(out, self.total, casting="unsafe")

    def input_grad(self, x, y, g, dst):
        xp = self.xp
        if self.attrs.ord == 1:
            xp.sign(x, out=dst)       # 0 at 0, like MXNet
            dst *= g
        else:
            # x / |x|; a zero norm gets gradient 0 (MXNet's 0/0 gives NaN)
            xp.copyto(self.total, y, casting="unsafe")
            xp.equal(self.total, 0, out=self.zero)
            self.total += self.zero
            xp.divide(g, self.total, out=self.total)
            self.total *= ~self.zero
            xp.multiply(x, self.total, out=dst, casting="unsafe")


class Norm(Reduce):
    kernel = NormKernel
    params = {"ord": Param(_norm_order, 2), "axis": Param(parse_tuple, ()),
              "out_dtype": Param(parse_dtype, None), "keepdims": Param(parse_bool, False)}

    def __init__(self):
        super().__init__("norm")

    def infer_type(self, attrs, in_types, out_types):
        dtype = in_types[0] or (None if attrs.out_dtype else out_types[0])
        return [dtype], [attrs.out_dtype or dtype]


OPS = [Reduce("sum", ("sum_axis",)), Reduce("mean"), Reduce("max", ("max_axis",)),
       Reduce("min", ("min_axis",)), Reduce("prod", kernel=ProdKernel), Norm()]
