"""Convolution (1-D, 2-D, 3-D; groups, dilation, stride, zero padding), NC* layouts.

Forward gathers the windows into a column buffer (im2col, one strided copy per kernel
offset) and does one batched matmul per group; backward multiplies back and scatters the
columns onto a padded gradient buffer (col2im, one strided add per kernel offset). All
buffers are allocated at bind time.
"""
from ..base import AttributeValueError, ShapeError
from ._common import as_shapes, is_unknown, merge, prod
from ._window import WindowKernel, spatial_params, window_slices
from .opdef import (OpDef, Param, choice, optional, parse_bool, parse_int, parse_str,
                    parse_tuple)

_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def conv_out_size(size, k, s, d, p):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class ConvolutionKernel(WindowKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        data, weight = self.in_shapes[:2]
        out = self.out_shapes[0]
        dtype = self.dtypes["in"][0]
        kernel = tuple(a.kernel)
        nd = len(kernel)
        self.stride, self.dilate, self.pad = spatial_params("Convolution", a, nd)
        n, c = data[:2]
        f = a.num_filter
        g = a.num_group
        self.out_spatial = tuple(out[2:])
        kp, p = prod(kernel), prod(self.out_spatial)
        self.cg = c // g
        self.slices = window_slices(kernel, self.stride, self.dilate, self.out_spatial)
        self.padded = any(self.pad)
        if self.padded:
            padded = tuple(s + 2 * q for s, q in zip(data[2:], self.pad))
            self.alloc_padding((n, c), padded, self.pad, data[2:], dtype)
        self.col = xp.empty((n, c, kp) + self.out_spatial, dtype=dtype)
        self.col4 = self.col.reshape(n, g, self.cg * kp, p)
        self.w3 = (g, f // g, self.cg * kp)
        self.y4 = (n, g, f // g, p)
        self.dcol = xp.empty_like(self.col)
        self.dw_batch = xp.empty((n,) + self.w3, dtype=dtype)
        self.bias_view = (1, f) + (1,) * nd
        self.sum_axes = (0,) + tuple(range(2, 2 + nd))
        self.has_bias = not a.no_bias

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x = self.padded_input(inputs[0])
        for k, index in enumerate(self.slices):
            xp.copyto(self.col[:, :, k], x[index])
        w = inputs[1].reshape(self.w3)
        y = outputs[0]
        xp.matmul(w, self.col4, out=y.reshape(self.y4))
        if self.has_bias:
            y += inputs[2].reshape(self.bias_view)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp = self.xp
        g4 = out_grads[0].reshape(self.y4)
        if self.has_bias and self.wants(2, in_grads, req):
            db = out_grads[0].sum(axis=self.sum_axes)
            self.store_grad(2, in_grads, req, db)
        if self.wants(1, in_grads, req):
            xp.matmul(g4, self.col4.swapaxes(-1, -2), out=self.dw_batch)
            dst = self.grad_dst(1, in_grads, req)
            xp.sum(self.dw_batch, axis=0, out=dst.reshape(self.w3))
            self.grad_done(1, in_grads, req, dst)
        if self.wants(0, in_grads, req):
            w = inputs[1].reshape(self.w3)
            dcol4 = self.dcol.reshape(self.col4.shape)
            xp.matmul(w.swapaxes(-1, -2), g4, out=dcol4)
            target = self.input_grad_target(in_grads, req)
            target[...] = 0
            for k, index in enumerate(self.slices):
                target[index] += self.dcol[:, :, k]
            self.finish_input_grad(target, in_grads, req)


class Convolution(OpDef):
    name = "Convolution"
    kernel = ConvolutionKernel
    params = {
        "kernel": Param(parse_tuple),
        "stride": Param(parse_tuple, ()),
        "dilate": Param(parse_tuple, ()),
        "pad": Param(parse_tuple, ()),
        "num_filter": Param(parse_int),
        "num_group": Param(parse_int, 1),
        "workspace": Param(parse_int, 1024),
        "no_bias": Param(parse_bool, False),
        "cudnn_tune": Param(optional(choice("off", "limited_workspace", "fastest")), None),
        "cudnn_off": Param(parse_bool, False),
        "layout": Param(optional(parse_str), None),
    }

    def arguments(self, attrs):
        return ["data", "weight"] if attrs.no_bias else ["data", "weight", "bias"]

    def _check(self, attrs):
        nd = len(attrs.kernel)
        if nd not in _LAYOUTS:
            raise AttributeValueError(f"Convolution: kernel={attrs.kernel} must have 1, 2 or 3 "
                                      f"values")
        if attrs.layout not in (None, _LAYOUTS[nd]):
            raise AttributeValueError(f"Convolution: layout {attrs.layout!r} is not supported; "
                                      f"use {_LAYOUTS[nd]} (transpose the data first)")
        if attrs.num_filter < 1 or attrs.num_group < 1 or attrs.num_filter % attrs.num_group:
            raise AttributeValueError(f"Convolution: num_filter={attrs.num_filter} must be "
                                      f"positive and divisible by num_group={attrs.num_group}")
        return nd

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        nd = self._check(attrs)
        stride, dilate, pad = spatial_params(self.name, attrs, nd)
        data, out = in_shapes[0], out_shapes[0]
        f, grp = attrs.num_filter, attrs.num_group
        weight = in_shapes[1]
        if not is_unknown(data):
            if len(data) != nd + 2:
                raise ShapeError(f"Convolution: input 'data' has shape {tuple(data)} but a "
                                 f"{nd}-d kernel needs {nd + 2}-d data ({_LAYOUTS[nd]})")
            c = data[1]
            if c and c % grp:
                raise ShapeError(f"Convolution: {c} input channels are not divisible by "
                                 f"num_group={grp}; change num_group")
            if c:
                weight = merge(weight, (f, c // grp) + tuple(attrs.kernel), self.name,
                               "input 'weight'")
            spatial = []
            for size, k, s, d, p in zip(data[2:], attrs.kernel, stride, dilate, pad):
                if size and conv_out_size(size, k, s, d, p) < 1:
                    raise ShapeError(f"Convolution: input 'data' {tuple(data)} is smaller than "
                                     f"the dilated kernel {attrs.kernel} (pad {pad}); use a "
                                     f"smaller kernel or more padding")
                spatial.append(conv_out_size(size, k, s, d, p) if size else 0)
            out = merge(out, (data[0], f) + tuple(spatial), self.name, "output")
        if not is_unknown(out):
            out = merge(out, (out[0], f) + tuple(out[2:]), self.name, "output")
            if not is_unknown(data) and not data[0]:
                data = (out[0],) + tuple(data[1:])
        weight = merge(weight, (f, 0) + tuple(attrs.kernel), self.name, "input 'weight'")
        shapes = [data, weight]
        if not attrs.no_bias:
            shapes.append(merge(in_shapes[2], (f,), self.name, "input 'bias'"))
        return shapes, [out]


OPS = [Convolution()]
