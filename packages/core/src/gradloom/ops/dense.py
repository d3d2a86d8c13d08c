"""Dense layers: FullyConnected, Embedding, dot, batch_dot."""
import numpy as np

from ..base import ShapeError
from ._common import OpKernel, as_shapes, is_known, is_unknown, merge, prod, scatter_add_rows
from .opdef import OpDef, Param, parse_bool, parse_dtype, parse_int, parse_str


# -- FullyConnected ---------------------------------------------------------------------
class FullyConnectedKernel(OpKernel):
    def setup(self):
        data = self.in_shapes[0]
        h = self.attrs.num_hidden
        if self.attrs.flatten:
            self.rows, self.cols = data[0], prod(data[1:])
        else:
            self.rows, self.cols = prod(data[:-1]), data[-1]
        self.x2 = (self.rows, self.cols)
        self.y2 = (self.rows, h)
        self.has_bias = not self.attrs.no_bias

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x = inputs[0].reshape(self.x2)
        out = outputs[0].reshape(self.y2)  # outputs are contiguous: a view
        xp.matmul(x, inputs[1].T, out=out)
        if self.has_bias:
            out += inputs[2]

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp = self.xp
        g = out_grads[0].reshape(self.y2)
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            xp.matmul(g, inputs[1], out=dst.reshape(self.x2))
            self.grad_done(0, in_grads, req, dst)
        if self.wants(1, in_grads, req):
            dst = self.grad_dst(1, in_grads, req)
            xp.matmul(g.T, inputs[0].reshape(self.x2), out=dst)
            self.grad_done(1, in_grads, req, dst)
        if self.has_bias and self.wants(2, in_grads, req):
            if req[2] == "write":
                xp.sum(g, axis=0, out=in_grads[2])
            else:
                in_grads[2] += g.sum(axis=0)


class FullyConnected(OpDef):
    name = "FullyConnected"
    kernel = FullyConnectedKernel
    params = {"num_hidden": Param(parse_int), "no_bias": Param(parse_bool, False),
              "flatten": Param(parse_bool, True)}

    def arguments(self, attrs):
        return ["data", "weight"] if attrs.no_bias else ["data", "weight", "bias"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        h = attrs.num_hidden
        if h < 1:
            raise ShapeError(f"FullyConnected: num_hidden={h} must be at least 1")
        data, weight = in_shapes[0], in_shapes[1]
        out = out_shapes[0]
        if attrs.flatten:
            if not is_unknown(data):
                out = merge(out, (data[0], h), self.name, "output")
                if is_known(data[1:]) or len(data) == 1:
                    weight = merge(weight, (h, prod(data[1:])), self.name, "input 'weight'")
            elif not is_unknown(out):
                out = merge(out, (out[0], h), self.name, "output")
            if not is_unknown(out) and out[0] and not is_unknown(data) and not data[0]:
                data = (out[0],) + tuple(data[1:])
            if not is_unknown(weight) and not is_unknown(data) and len(data) == 2:
                data = merge(data, (data[0], weight[1]), self.name, "input 'data'")
        else:
            if not is_unknown(data):
                out = merge(out, tuple(data[:-1]) + (h,), self.name, "output")
                if data[-1]:
                    weight = merge(weight, (h, data[-1]), self.name, "input 'weight'")
            if not is_unknown(out):
                lead = tuple(out[:-1])
                if is_unknown(data) and not is_unknown(weight) and weight[1]:
                    data = lead + (weight[1],)
                elif not is_unknown(data):
                    data = merge(data, lead + (data[-1],), self.name, "input 'data'")
        weight = merge(weight, (h, 0), self.name, "input 'weight'")
        shapes = [data, weight]
        if not attrs.no_bias:
            shapes.append(merge(in_shapes[2], (h,), self.name, "input 'bias'"))
        return shapes, [out]


# -- Embedding --------------------------------------------------------------------------
class EmbeddingKernel(OpKernel):
    def setup(self):
        xp = self.xp
        self.idx = xp.empty(self.in_shapes[0], dtype=np.intp)  # clipped row numbers
        self.fidx = xp.empty(self.in_shapes[0], dtype=np.float64)
        self.rows = self.attrs.input_dim
        self.width = self.attrs.output_dim

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        # indices are truncated toward zero, then clipped (bucketing pads with -1 -> row 0)
        if inputs[0].dtype.kind == "f":
            xp.trunc(inputs[0], out=self.fidx)
        else:
            xp.copyto(self.fidx, inputs[0], casting="unsafe")
        xp.clip(self.fidx, 0, self.rows - 1, out=self.fidx)
        xp.copyto(self.idx, self.fidx, casting="unsafe")
        xp.take(inputs[1], self.idx, axis=0, out=outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(0, in_grads, req)  # indices have no gradient
        if self.wants(1, in_grads, req):
            dw = in_grads[1]
            if req[1] == "write":
                dw[...] = 0
            scatter_add_rows(self.backend, dw, self.idx.reshape(-1),
                             out_grads[0].reshape(-1, self.width))


class Embedding(OpDef):
    name = "Embedding"
    kernel = EmbeddingKernel
    params = {"input_dim": Param(parse_int), "output_dim": Param(parse_int),
              "dtype": Param(parse_dtype, "float32"), "sparse_grad": Param(parse_bool, False)}

    def arguments(self, attrs):
        return ["data", "weight"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        weight = merge(in_shapes[1], (attrs.input_dim, attrs.output_dim), self.name,
                       "input 'weight'")
        if not is_unknown(data):
            out = merge(out, tuple(data) + (attrs.output_dim,), self.name, "output")
        if not is_unknown(out):
            data = merge(data, tuple(out[:-1]), self.name, "input 'data'")
        return [data, weight], [out]

    def infer_type(self, attrs, in_types, out_types):
        return [in_types[0] or attrs.dtype, attrs.dtype], [attrs.dtype]


# -- dot and batch_dot ------------------------------------------------------------------
class DotKernel(OpKernel):
    """``dot``: lhs/rhs (optionally fully transposed) contracted over one axis via 2-D views."""

    def setup(self):
        lhs, rhs = self.in_shapes[:2]
        self.ta, self.tb = self.attrs.transpose_a, self.attrs.transpose_b
        left = lhs[::-1] if self.ta else lhs
        right = rhs[::-1] if self.tb else rhs
        self.m, self.k, self.n = prod(left[:-1]), left[-1], prod(right[1:])

    def _operands(self, inputs):
        a = inputs[0].T if self.ta else inputs[0]
        b = inputs[1].T if self.tb else inputs[1]
        return a.reshape(self.m, self.k), b.reshape(self.k, self.n)

    def forward(self, is_train, inputs, outputs, aux):
        a, b = self._operands(inputs)
        self.xp.matmul(a, b, out=outputs[0].reshape(self.m, self.n))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        a, b = self._operands(inputs)
        g = out_grads[0].reshape(self.m, self.n)
        grads = ((0, g @ b.T, self.ta), (1, a.T @ g, self.tb))
        for i, value, transposed in grads:
            if self.wants(i, in_grads, req):
                if transposed:  # gradient of the transposed operand, transposed back
                    value = value.reshape(self.in_shapes[i][::-1]).T
                else:
                    value = value.reshape(self.in_shapes[i])
                self.store_grad(i, in_grads, req, value)


class Dot(OpDef):
    name = "dot"
    kernel = DotKernel
    params = {"transpose_a": Param(parse_bool, False), "transpose_b": Param(parse_bool, False),
              "forward_stype": Param(parse_str, None)}

    def arguments(self, attrs):
        return ["lhs", "rhs"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        lhs, rhs = in_shapes
        out = out_shapes[0]
        if is_known(lhs) and is_known(rhs):
            left = tuple(lhs[::-1]) if attrs.transpose_a else tuple(lhs)
            right = tuple(rhs[::-1]) if attrs.transpose_b else tuple(rhs)
            if left[-1] != right[0]:
                raise ShapeError(f"dot: cannot contract lhs {tuple(lhs)} with rhs {tuple(rhs)} "
                                 f"(transpose_a={attrs.transpose_a}, "
                                 f"transpose_b={attrs.transpose_b}); sizes {left[-1]} and "
                                 f"{right[0]} differ")
            out = merge(out, left[:-1] + right[1:], self.name, "output")
        return [lhs, rhs], [out]


class BatchDotKernel(OpKernel):
    def setup(self):
        self.ta, self.tb = self.attrs.transpose_a, self.attrs.transpose_b

    def _operands(self, inputs):
        a = inputs[0].swapaxes(1, 2) if self.ta else inputs[0]
        b = inputs[1].swapaxes(1, 2) if self.tb else inputs[1]
        return a, b

    def forward(self, is_train, inputs, outputs, aux):
        a, b = self._operands(inputs)
        self.xp.matmul(a, b, out=outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp = self.xp
        a, b = self._operands(inputs)
        g = out_grads[0]
        for i, transposed in ((0, self.ta), (1, self.tb)):
            if not self.wants(i, in_grads, req):
                continue
            value = xp.matmul(g, b.swapaxes(1, 2)) if i == 0 else xp.matmul(a.swapaxes(1, 2), g)
            if transposed:
                value = value.swapaxes(1, 2)
            self.store_grad(i, in_grads, req, value)


class BatchDot(Dot):
    name = "batch_dot"
    kernel = BatchDotKernel

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        lhs, rhs = in_shapes
        out = out_shapes[0]
        if is_known(lhs) and is_known(rhs):
            if len(lhs) != 3 or len(rhs) != 3:
                raise ShapeError(f"batch_dot: inputs must be 3-d, got {tuple(lhs)} and "
                                 f"{tuple(rhs)}")
            b, m, k = (lhs[0], lhs[2], lhs[1]) if attrs.transpose_a else tuple(lhs)
            b2, k2, n = (rhs[0], rhs[2], rhs[1]) if attrs.transpose_b else tuple(rhs)
            if b != b2 or k != k2:
                raise ShapeError(f"batch_dot: lhs {tuple(lhs)} and rhs {tuple(rhs)} do not "
                                 f"match (batch {b}/{b2}, inner {k}/{k2})")
            out = merge(out, (b, m, n), self.name, "output")
        return [lhs, rhs], [out]


OPS = [FullyConnected(), Embedding(), Dot(), BatchDot()]
