"""Deconvolution (transposed convolution; 1-D, 2-D, 3-D; groups, dilation, adj, target_shape).

A Deconvolution from ``(N, C, *I)`` to ``(N, F, *O)`` is the data gradient of the
Convolution from ``(N, F, *O)`` back to ``(N, C, *I)`` with the same kernel, stride,
dilation, padding and weight ``(C, F/groups, *kernel)``. So the kernel runs Convolution's
steps (``ConvWindowsKernel``) with the roles swapped: forward scatters (col2im), the data
gradient is that convolution's forward (im2col + matmul) and the weight gradient is its
weight gradient with our input as the output gradient.
"""
from ..base import AttributeValueError, ShapeError
from ._common import as_shapes, is_unknown, merge
from ._window import spatial_params
from .conv import ConvWindowsKernel, check_conv_attrs, check_conv_data
from .opdef import (OpDef, Param, choice, optional, parse_bool, parse_int, parse_tuple)

_GEOMETRY = ("stride", "dilate", "pad", "adj")


def deconv_geometry(op, attrs, spatial):
    """``(pad, out_spatial)`` for the data's spatial sizes (a 0 size gives a 0 output size).

    The output spans ``stride*(in-1) + dilate*(kernel-1) + 1`` positions, less ``pad`` at
    both ends, plus ``adj`` at the end. A nonzero ``target_shape`` size replaces ``pad``
    and ``adj`` along its axis by the ones that give it (MXNet's rule: the odd remainder
    goes to ``adj``).
    """
    nd = len(attrs.kernel)
    stride, dilate, pad, adj = spatial_params(op, attrs, nd, _GEOMETRY, (1, 1, 0, 0))
    target = tuple(attrs.target_shape) or (0,) * nd
    if len(target) != nd or any(t < 0 for t in target):
        raise AttributeValueError(f"{op}: target_shape={attrs.target_shape} must give {nd} "
                                  f"output sizes (one per kernel axis)")
    pads, out = [], []
    for axis, (size, k, s, d, p, a, t) in enumerate(zip(spatial, attrs.kernel, stride, dilate,
                                                        pad, adj, target)):
        if not size:   # unknown input size: only a target size is known
            pads.append(p)
            out.append(t)
            continue
        full = s * (size - 1) + d * (k - 1) + 1
        if t:
            if full < t:
                raise ShapeError(f"{op}: target_shape={target} asks for {t} positions along "
                                 f"spatial axis {axis}, but input 'data' {tuple(spatial)} "
                                 f"reaches at most {full}; lower target_shape or raise stride")
            p, a = (full - t + 1) // 2, (full - t) % 2
        if a >= s:
            cause = f"target_shape={target} needs adj={a}" if t else f"adj={tuple(adj)} is"
            raise AttributeValueError(f"{op}: {cause} along spatial axis {axis}, but adj must "
                                      f"be smaller than stride={tuple(stride)}; change "
                                      f"{'target_shape' if t else 'adj'} or raise stride")
        if full - 2 * p + a < 1:
            raise ShapeError(f"{op}: pad={tuple(pad)} crops the whole output of input "
                             f"'data' {tuple(spatial)}; use less padding")
        pads.append(p)
        out.append(full - 2 * p + a)
    return tuple(pads), tuple(out)


class DeconvolutionKernel(ConvWindowsKernel):
    def setup(self):
        a = self.attrs
        data, out = self.in_shapes[0], self.out_shapes[0]
        kernel = tuple(a.kernel)
        stride, dilate, _ = spatial_params("Deconvolution", a, len(kernel))
        pad, _ = deconv_geometry("Deconvolution", a, data[2:])
        # the convolution this one transposes: from our output back to our input
        self.setup_windows(out, data, data[1], a.num_group, kernel, stride, dilate, pad,
                           self.dtypes["in"][0])
        self.has_bias = not a.no_bias

    def forward(self, is_train, inputs, outputs, aux):
        y = outputs[0]
        # scatter onto the padded buffer and crop, or straight onto the output
        target = self.dxpad if self.padded else y
        self.col2im(inputs[1], inputs[0], target)
        if self.padded:
            self.xp.copyto(y, target[self.inner])
        if self.has_bias:
            self.add_bias(y, inputs[2])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        dy = out_grads[0]
        if self.has_bias:
            self.bias_grad(2, dy, in_grads, req)
        if not (self.wants(0, in_grads, req) or self.wants(1, in_grads, req)):
            return
        self.im2col(dy)   # both gradients read the output gradient's windows
        if self.wants(1, in_grads, req):
            dst = self.grad_dst(1, in_grads, req)
            self.weight_grad(inputs[0], dst)
            self.grad_done(1, in_grads, req, dst)
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            self.apply(inputs[1], dst)
            self.grad_done(0, in_grads, req, dst)


class Deconvolution(OpDef):
    name = "Deconvolution"
    kernel = DeconvolutionKernel
    params = {
        "kernel": Param(parse_tuple),
        "stride": Param(parse_tuple, ()),
        "dilate": Param(parse_tuple, ()),
        "pad": Param(parse_tuple, ()),
        "adj": Param(parse_tuple, ()),
        "target_shape": Param(parse_tuple, ()),
        "num_filter": Param(parse_int),
        "num_group": Param(parse_int, 1),
        "workspace": Param(parse_int, 512),
        "no_bias": Param(parse_bool, True),
        "cudnn_tune": Param(optional(choice("off", "limited_workspace", "fastest")), None),
        "cudnn_off": Param(parse_bool, False),
        "layout": Param(optional(choice("NCW", "NCHW", "NCDHW", "NHWC", "NDHWC")), None),
    }

    def arguments(self, attrs):
        return ["data", "weight"] if attrs.no_bias else ["data", "weight", "bias"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        nd = check_conv_attrs(self.name, attrs)
        data, out = in_shapes[0], out_shapes[0]
        f, grp = attrs.num_filter, attrs.num_group
        kernel = tuple(attrs.kernel)
        weight = in_shapes[1]
        if not is_unknown(data):
            check_conv_data(self.name, data, nd, grp)
            if data[1]:
                weight = merge(weight, (data[1], f // grp) + kernel, self.name,
                               "input 'weight'")
            _, spatial = deconv_geometry(self.name, attrs, data[2:])
            out = merge(out, (data[0], f) + spatial, self.name, "output")
        if not is_unknown(out):
            out = merge(out, (out[0], f) + tuple(out[2:]), self.name, "output")
            if not is_unknown(data) and not data[0]:
                data = (out[0],) + tuple(data[1:])
        weight = merge(weight, (0, f // grp) + kernel, self.name, "input 'weight'")
        shapes = [data, weight]
        if not attrs.no_bias:
            shapes.append(merge(in_shapes[2], (f,), self.name, "input 'bias'"))
        return shapes, [out]


DECONVOLUTION = Deconvolution()
OPS = [DECONVOLUTION]
