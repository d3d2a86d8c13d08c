"""Reductions: sum, mean, max, min with MXNet's axis / keepdims / exclude."""
from ._common import OpKernel, as_shapes, is_unknown, merge
from .opdef import OpDef, Param, parse_bool, parse_tuple


def reduce_axes(attrs, ndim):
    axes = tuple(sorted({a % ndim for a in attrs.axis})) if attrs.axis else tuple(range(ndim))
    if attrs.exclude:
        axes = tuple(i for i in range(ndim) if i not in axes)
    return axes


def reduced_shape(attrs, shape):
    axes = reduce_axes(attrs, len(shape))
    if attrs.keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    out = tuple(d for i, d in enumerate(shape) if i not in axes)
    return out or (1,)   # a full reduction gives shape (1,), as in MXNet 1.x


class ReduceKernel(OpKernel):
    def setup(self):
        shape = self.in_shapes[0]
        self.axes = reduce_axes(self.attrs, len(shape))
        self.kept = tuple(1 if i in self.axes else d for i, d in enumerate(shape))
        self.count = 1
        for i in self.axes:
            self.count *= shape[i]
        self.kind = self.op.kind

    def forward(self, is_train, inputs, outputs, aux):
        fn = {"sum": self.xp.sum, "mean": self.xp.mean, "max": self.xp.max,
              "min": self.xp.min}[self.kind]
        fn(inputs[0], axis=self.axes, keepdims=True, out=outputs[0].reshape(self.kept))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        g = out_grads[0].reshape(self.kept)
        dst = self.grad_dst(0, in_grads, req)
        if self.kind in ("max", "min"):  # flows to every element equal to the extreme
            xp.equal(inputs[0], outputs[0].reshape(self.kept), out=dst, casting="unsafe")
            dst *= g
        elif self.kind == "mean":
            xp.divide(xp.broadcast_to(g, dst.shape), self.count, out=dst)
        else:
            xp.copyto(dst, xp.broadcast_to(g, dst.shape))
        self.grad_done(0, in_grads, req, dst)


class Reduce(OpDef):
    kernel = ReduceKernel
    params = {"axis": Param(parse_tuple, ()), "keepdims": Param(parse_bool, False),
              "exclude": Param(parse_bool, False)}

    def __init__(self, kind, aliases=()):
        self.name, self.kind, self.aliases = kind, kind, tuple(aliases)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            out = merge(out, reduced_shape(attrs, data), self.name, "output")
        return [data], [out]


OPS = [Reduce("sum", ("sum_axis",)), Reduce("mean"), Reduce("max", ("max_axis",)),
       Reduce("min", ("min_axis",))]
