"""Convolution (1-D, 2-D, 3-D; groups, dilation, stride, zero padding), NC* layouts.

Forward gathers the windows into a column buffer (im2col, one strided copy per kernel
offset) and does one batched matmul per group; backward multiplies back and scatters the
columns onto a padded gradient buffer (col2im, one strided add per kernel offset). All
buffers are allocated at bind time. ``ConvWindowsKernel`` holds these steps for one
geometry so that Deconvolution (a convolution run backwards) reuses them.
"""
from ..base import AttributeValueError, ShapeError
from ._common import as_shapes, is_unknown, merge, prod
from ._window import WindowKernel, spatial_params, window_slices
from .opdef import (OpDef, Param, choice, optional, parse_bool, parse_int, parse_str,
                    parse_tuple)

_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def conv_out_size(size, k, s, d, p):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def check_conv_attrs(op, attrs):
    """Validate kernel, layout, num_filter and num_group; return the number of spatial axes."""
    nd = len(attrs.kernel)
    if nd not in _LAYOUTS or not all(k > 0 for k in attrs.kernel):
        raise AttributeValueError(f"{op}: kernel={attrs.kernel} must have 1, 2 or 3 positive "
                                  f"values")
    if attrs.layout not in (None, _LAYOUTS[nd]):
        raise AttributeValueError(f"{op}: layout {attrs.layout!r} is not supported; "
                                  f"use {_LAYOUTS[nd]} (transpose the data first)")
    if attrs.num_filter < 1 or attrs.num_group < 1 or attrs.num_filter % attrs.num_group:
        raise AttributeValueError(f"{op}: num_filter={attrs.num_filter} must be "
                                  f"positive and divisible by num_group={attrs.num_group}")
    for name, values in zip(("stride", "dilate"), spatial_params(op, attrs, nd)[:2]):
        if not all(v > 0 for v in values):
            raise AttributeValueError(f"{op}: {name}={values} must be positive")
    return nd


def check_conv_data(op, data, nd, num_group):
    """Raise ``ShapeError`` unless ``data`` is ``(N, C, *spatial)`` with C divisible by groups."""
    if len(data) != nd + 2:
        raise ShapeError(f"{op}: input 'data' has shape {tuple(data)} but a "
                         f"{nd}-d kernel needs {nd + 2}-d data ({_LAYOUTS[nd]})")
    if data[1] and data[1] % num_group:
        raise ShapeError(f"{op}: {data[1]} input channels are not divisible by "
                         f"num_group={num_group}; change num_group")


class ConvWindowsKernel(WindowKernel):
    """The steps of one convolution geometry, for kernels that run it forwards or backwards.

    ``setup_windows`` is given the convolution's data shape ``(N, C, *S)`` and output shape
    ``(N, F, *O)``; its weight is ``(F, C/groups, *kernel)``. Then ``im2col(x)`` gathers
    ``x``'s windows, after which ``apply(w, y)`` computes the convolution and
    ``weight_grad(dy, dst)`` its weight gradient; ``col2im(w, dy, target)`` scatters the
    data gradient onto ``target`` (``padded_input``/``input_grad_target`` shaped).
    """

    def setup_windows(self, data, out, num_filter, num_group, kernel, stride, dilate, pad,
                      dtype):
        xp = self.xp
        nd = len(kernel)
        n, c = data[:2]
        f, g = num_filter, num_group
        self.stride, self.dilate, self.pad = stride, dilate, pad
        self.out_spatial = tuple(out[2:])
        kp, p = prod(kernel), prod(self.out_spatial)
        self.cg = c // g
        self.slices = window_slices(kernel, stride, dilate, self.out_spatial)
        self.padded = any(pad)
        if self.padded:
            padded = tuple(s + 2 * q for s, q in zip(data[2:], pad))
            self.alloc_padding((n, c), padded, pad, data[2:], dtype)
        self.col = xp.empty((n, c, kp) + self.out_spatial, dtype=dtype)
        self.col4 = self.col.reshape(n, g, self.cg * kp, p)
        self.w3 = (g, f // g, self.cg * kp)
        self.y4 = (n, g, f // g, p)
        self.dcol = xp.empty_like(self.col)
        self.dw_batch = xp.empty((n,) + self.w3, dtype=dtype)
        # one bias per channel of the output written (Deconvolution writes this geometry's data)
        self.bias_view = (1, -1) + (1,) * nd
        self.sum_axes = (0,) + tuple(range(2, 2 + nd))

    def im2col(self, x):
        x = self.padded_input(x)
        for k, index in enumerate(self.slices):
            self.xp.copyto(self.col[:, :, k], x[index])

    def apply(self, w, y):
        """``y`` = the convolution of the gathered windows with ``w`` (no bias)."""
        self.xp.matmul(w.reshape(self.w3), self.col4, out=y.reshape(self.y4))

    def weight_grad(self, dy, dst):
        """``dst`` = the weight gradient for output gradient ``dy`` and the gathered windows."""
        self.xp.matmul(dy.reshape(self.y4), self.col4.swapaxes(-1, -2), out=self.dw_batch)
        self.xp.sum(self.dw_batch, axis=0, out=dst.reshape(self.w3))

    def col2im(self, w, dy, target):
        """``target`` = the data gradient for output gradient ``dy`` (padded if we pad)."""
        dcol4 = self.dcol.reshape(self.col4.shape)
        self.xp.matmul(w.reshape(self.w3).swapaxes(-1, -2), dy.reshape(self.y4), out=dcol4)
        target[...] = 0
        for k, index in enumerate(self.slices):
            target[index] += self.dcol[:, :, k]

    def add_bias(self, y, b):
        y += b.reshape(self.bias_view)

    def bias_grad(self, i, dy, in_grads, req):
        """Argument ``i`` is a per-channel bias: its gradient sums ``dy`` over the other axes."""
        if self.wants(i, in_grads, req):
            self.store_grad(i, in_grads, req, dy.sum(axis=self.sum_axes))


class ConvolutionKernel(ConvWindowsKernel):
    def setup(self):
        a = self.attrs
        kernel = tuple(a.kernel)
        stride, dilate, pad = spatial_params("Convolution", a, len(kernel))
        self.setup_windows(self.in_shapes[0], self.out_shapes[0], a.num_filter, a.num_group,
                           kernel, stride, dilate, pad, self.dtypes["in"][0])
        self.has_bias = not a.no_bias

    def forward(self, is_train, inputs, outputs, aux):
        self.im2col(inputs[0])
        self.apply(inputs[1], outputs[0])
        if self.has_bias:
            self.add_bias(outputs[0], inputs[2])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        dy = out_grads[0]
        if self.has_bias:
            self.bias_grad(2, dy, in_grads, req)
        if self.wants(1, in_grads, req):
            dst = self.grad_dst(1, in_grads, req)
            self.weight_grad(dy, dst)   # from the windows forward gathered
            self.grad_done(1, in_grads, req, dst)
        if self.wants(0, in_grads, req):
            target = self.input_grad_target(in_grads, req)
            self.col2im(inputs[1], dy, target)
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

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        nd = check_conv_attrs(self.name, attrs)
        stride, dilate, pad = spatial_params(self.name, attrs, nd)
        data, out = in_shapes[0], out_shapes[0]
        f, grp = attrs.num_filter, attrs.num_group
        weight = in_shapes[1]
        if not is_unknown(data):
            check_conv_data(self.name, data, nd, grp)
            c = data[1]
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
