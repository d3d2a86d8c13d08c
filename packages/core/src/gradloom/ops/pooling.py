"""Pooling: max, avg, sum and lp over 1-3 spatial axes; global; valid/full conventions.

Each forward visits the kernel offsets (see ``_window``) and combines the strided slices
into the output; max backward routes each output gradient to the first offset that holds
the window's maximum, avg spreads it with the forward's divisor.
"""
import math

from ..base import AttributeValueError, ShapeError
from ._common import as_shapes, is_unknown, merge
from ._window import WindowKernel, spatial_params, window_slices
from .opdef import (OpDef, Param, choice, optional, parse_bool, parse_int, parse_str,
                    parse_tuple)


def pool_geometry(attrs, spatial):
    """(kernel, stride, pad, out_spatial) for the given input spatial shape."""
    if attrs.global_pool:
        kernel = tuple(spatial)
        return kernel, (1,) * len(kernel), (0,) * len(kernel), (1,) * len(kernel)
    kernel = tuple(attrs.kernel)
    if len(kernel) != len(spatial):
        raise ShapeError(f"Pooling: kernel={kernel} has {len(kernel)} axes but the data has "
                         f"{len(spatial)} spatial axes; give a kernel per spatial axis")
    stride, pad = spatial_params("Pooling", attrs, len(kernel), ("stride", "pad"), (1, 0))
    out = []
    for size, k, s, p in zip(spatial, kernel, stride, pad):
        span = size + 2 * p - k
        if span < 0:
            raise ShapeError(f"Pooling: kernel {kernel} (pad {pad}) is larger than the input "
                             f"{tuple(spatial)}; use a smaller kernel or global_pool=True")
        if attrs.pooling_convention == "full":
            out.append(-(-span // s) + 1)
        else:
            out.append(span // s + 1)
    return kernel, stride, pad, tuple(out)


class PoolingKernel(WindowKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        data = self.in_shapes[0]
        dtype = self.dtypes["in"][0]
        self.kind = a.pool_type
        spatial = data[2:]
        kernel, stride, pad, self.out_spatial = pool_geometry(a, spatial)
        self.slices = window_slices(kernel, stride, (1,) * len(kernel), self.out_spatial)
        # pad at the end as well where the 'full' convention reaches past the input
        need = [(o - 1) * s + k for o, s, k in zip(self.out_spatial, stride, kernel)]
        padded = tuple(max(n, size + 2 * p) for n, size, p in zip(need, spatial, pad))
        self.padded = padded != tuple(spatial)
        if self.padded:
            fill = -math.inf if self.kind == "max" else 0
            self.alloc_padding(data[:2], padded, pad, spatial, dtype, fill)
        out_shape = data[:2] + self.out_spatial
        if self.kind == "max":
            self.taken = xp.empty(out_shape, dtype=bool)   # window already routed
            self.hit = xp.empty(out_shape, dtype=bool)
        if self.kind in ("max", "lp"):
            self.part = xp.empty(out_shape, dtype=dtype)
        if self.kind == "avg":
            self.divisor = self._divisor(xp, kernel, stride, pad, spatial, dtype,
                                         a.count_include_pad is not False)

    def _divisor(self, xp, kernel, stride, pad, spatial, dtype, include_pad):
        """Per output position, the number of elements averaged (MXNet's rule)."""
        counts = None
        for axis, (k, s, p, n, o) in enumerate(zip(kernel, stride, pad, spatial,
                                                   self.out_spatial)):
            per = []
            for i in range(o):
                start = i * s - p
                end = min(start + k, n + p)
                if include_pad:
                    per.append(end - start)
                else:
                    per.append(min(end, n) - max(start, 0))
            shape = [1] * len(kernel)
            shape[axis] = o
            col = xp.asarray(per, dtype=dtype).reshape(shape)
            counts = col if counts is None else counts * col
        return counts.reshape((1, 1) + self.out_spatial)

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x, y = self.padded_input(inputs[0]), outputs[0]
        first, rest = self.slices[0], self.slices[1:]
        if self.kind == "max":
            xp.copyto(y, x[first])
            for index in rest:
                xp.maximum(y, x[index], out=y)
        elif self.kind == "lp":
            p = self.attrs.p_value or 2
            xp.abs(x[first], out=y)
            xp.power(y, p, out=y)
            for index in rest:
                xp.abs(x[index], out=self.part)
                xp.power(self.part, p, out=self.part)
                y += self.part
            xp.power(y, 1.0 / p, out=y)
        else:
            xp.copyto(y, x[first])
            for index in rest:
                y += x[index]
            if self.kind == "avg":
                y /= self.divisor

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        g, y = out_grads[0], outputs[0]
        x = self.padded_input(inputs[0])
        target = self.input_grad_target(in_grads, req)
        target[...] = 0
        if self.kind == "max":
            self.taken[...] = False
            for index in self.slices:
                xp.equal(x[index], y, out=self.hit)
                self.hit &= ~self.taken
                self.taken |= self.hit
                xp.multiply(g, self.hit, out=self.part)
                target[index] += self.part
        elif self.kind == "lp":
            # d/dx (sum |x|^p)^(1/p) = |x|^(p-1) sign(x) y^(1-p)
            p = self.attrs.p_value or 2
            scale = g * xp.power(y, 1 - p)
            for index in self.slices:
                xi = x[index]
                target[index] += scale * xp.power(xp.abs(xi), p - 1) * xp.sign(xi)
        else:
            share = g / self.divisor if self.kind == "avg" else g
            for index in self.slices:
                target[index] += share
        self.finish_input_grad(target, in_grads, req)


class Pooling(OpDef):
    name = "Pooling"
    kernel = PoolingKernel
    params = {
        "kernel": Param(parse_tuple, ()),
        "pool_type": Param(choice("max", "avg", "sum", "lp"), "max"),
        "global_pool": Param(parse_bool, False),
        "pooling_convention": Param(choice("valid", "full"), "valid"),
        "stride": Param(parse_tuple, ()),
        "pad": Param(parse_tuple, ()),
        "p_value": Param(optional(parse_int), None),
        "count_include_pad": Param(optional(parse_bool), None),
        "cudnn_off": Param(parse_bool, False),
        "layout": Param(optional(parse_str), None),
        "output_size": Param(parse_tuple, ()),
    }

    def serialized_num_outputs(self, attrs):
        # MXNet 1.9.1's wheels count a max-pooling workspace output in node_row_ptr; we need
        # no workspace, but write the same count so saved JSON matches MXNet's byte for byte
        return 2 if attrs.pool_type == "max" else 1

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not attrs.global_pool and not attrs.kernel:
            raise AttributeValueError("Pooling: kernel is required unless global_pool=True; "
                                      "pass kernel=(k, k)")
        if attrs.layout not in (None, "NCW", "NCHW", "NCDHW"):
            raise AttributeValueError(f"Pooling: layout {attrs.layout!r} is not supported; use "
                                      f"the NC* layout")
        if not is_unknown(data) and all(data[2:]):
            if len(data) < 3 or len(data) > 5:
                raise ShapeError(f"Pooling: input 'data' has shape {tuple(data)}; it needs "
                                 f"(N, C, spatial...) with 1-3 spatial axes")
            *_, spatial = pool_geometry(attrs, data[2:])
            out = merge(out, tuple(data[:2]) + spatial, self.name, "output")
        elif not is_unknown(data) and not is_unknown(out):
            data = merge(data, tuple(out[:2]) + tuple(data[2:]), self.name, "input 'data'")
        return [data], [out]


OPS = [Pooling()]
