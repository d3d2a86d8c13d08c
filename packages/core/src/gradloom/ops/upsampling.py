"""UpSampling of NCHW data: 'nearest' (repeat each pixel) and 'bilinear' (a Deconvolution).

Nearest takes ``num_args`` inputs: the first is enlarged ``scale`` times, every other one by
whatever integer factor brings it to the same height and width, and the results are
concatenated on the channel axis (or summed, ``multi_input_mode='sum'``). An input enlarged
``s`` times fills the output positions ``[a::s, b::s]`` once for each of the ``s*s`` offsets
``(a, b)``, and its gradient sums those slices of the output gradient.

Bilinear is MXNet's grouped Deconvolution: one filter per channel (``num_filter`` must equal
the channel count), a ``(C, 1, k, k)`` weight input with ``k = 2*scale - scale%2`` (the
Bilinear initializer fills it with the interpolation kernel), stride ``scale`` and padding
``ceil((scale-1)/2)``. It runs on ``DeconvolutionKernel`` with those attributes.
"""
from ..base import AttributeValueError, ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge
from .deconv import DECONVOLUTION, DeconvolutionKernel
from .opdef import OpDef, Param, choice, parse_int


def bilinear_deconv_attrs(attrs):
    """The Deconvolution attributes that bilinear UpSampling runs as."""
    s = attrs.scale
    k = 2 * s - s % 2
    return DECONVOLUTION.parse_attrs({
        "kernel": (k, k), "stride": (s, s), "pad": (s // 2,) * 2,   # ceil((scale - 1) / 2)
        "num_filter": attrs.num_filter, "num_group": attrs.num_filter, "no_bias": True})


class UpSamplingKernel(OpKernel):
    def setup(self):
        a = self.attrs
        self.deconv = None
        if a.sample_type == "bilinear":
            self.deconv = DeconvolutionKernel(DECONVOLUTION, bilinear_deconv_attrs(a),
                                              self.in_shapes, self.out_shapes, self.dtypes,
                                              self.backend, self.device_id)
            return
        out = self.out_shapes[0]
        self.sum = a.multi_input_mode == "sum"
        self.offsets = []   # per input: the output slices its s*s copies fill
        start = 0
        for shape in self.in_shapes:
            s = out[2] // shape[2]
            channels = slice(None) if self.sum else slice(start, start + shape[1])
            start += shape[1]
            self.offsets.append([(slice(None), channels, slice(i, None, s), slice(j, None, s))
                                 for i in range(s) for j in range(s)])

    def forward(self, is_train, inputs, outputs, aux):
        if self.deconv is not None:
            self.deconv.forward(is_train, inputs, outputs, aux)
            return
        y = outputs[0]
        for i, (x, offsets) in enumerate(zip(inputs, self.offsets)):
            for index in offsets:
                if self.sum and i:
                    y[index] += x
                else:
                    self.xp.copyto(y[index], x)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.deconv is not None:
            self.deconv.backward(out_grads, inputs, outputs, aux, in_grads, req)
            return
        dy = out_grads[0]
        for i, offsets in enumerate(self.offsets):
            if self.wants(i, in_grads, req):
                dst = self.grad_dst(i, in_grads, req)
                self.xp.copyto(dst, dy[offsets[0]])
                for index in offsets[1:]:
                    dst += dy[index]
                self.grad_done(i, in_grads, req, dst)


def _check_4d(shape, what):
    if len(shape) != 4:
        raise ShapeError(f"UpSampling: {what} has shape {tuple(shape)}; it needs 4-d "
                         f"(N, C, H, W) data")


class UpSampling(OpDef):
    name = "UpSampling"
    kernel = UpSamplingKernel
    params = {
        "scale": Param(parse_int),
        "num_filter": Param(parse_int, 0),
        "sample_type": Param(choice("nearest", "bilinear")),
        "multi_input_mode": Param(choice("concat", "sum"), "concat"),
        "num_args": Param(parse_int),
        "workspace": Param(parse_int, 512),
    }

    def arguments(self, attrs):
        if attrs.sample_type == "bilinear":
            return ["data", "weight"]
        return [f"arg{i}" for i in range(attrs.num_args)]

    def variable_attrs(self, attrs, input_name):
        # MXNet gives the second input a Bilinear initializer, whatever the sample type
        return {"__init__": '["bilinear", {}]'} if input_name in ("weight", "arg1") else {}

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        if attrs.scale < 1 or attrs.num_args < 1:
            raise AttributeValueError(f"UpSampling: scale={attrs.scale} and "
                                      f"num_args={attrs.num_args} must be at least 1")
        if attrs.sample_type == "bilinear":
            return self._infer_bilinear(attrs, in_shapes, out_shapes)
        first, out = in_shapes[0], out_shapes[0]
        if is_unknown(first):
            return in_shapes, [out]
        _check_4d(first, "input 'arg0'")
        n, c, h, w = first
        oh, ow = h * attrs.scale, w * attrs.scale
        channels = [c]
        for i, shape in enumerate(in_shapes[1:], 1):
            channels.append(0 if is_unknown(shape) else shape[1])
            if is_unknown(shape) or not (oh and ow and all(shape)):
                continue
            _check_4d(shape, f"input 'arg{i}'")
            factor = oh // shape[2]
            if shape[0] != n or (shape[2] * factor, shape[3] * factor) != (oh, ow):
                raise ShapeError(f"UpSampling: input 'arg{i}' {tuple(shape)} cannot be "
                                 f"enlarged by one integer factor to {n} x {oh} x {ow} "
                                 f"(arg0 {tuple(first)} times scale={attrs.scale}); give it "
                                 f"batch size {n} and a height and width that one integer "
                                 f"multiplies to {oh} x {ow}")
            if attrs.multi_input_mode == "sum" and shape[1] != c:
                raise ShapeError(f"UpSampling: input 'arg{i}' has {shape[1]} channels but "
                                 f"arg0 has {c}; multi_input_mode='sum' needs equal channels")
        if attrs.multi_input_mode == "concat":
            c = sum(channels) if all(channels) else 0
        return in_shapes, [merge(out, (n, c, oh, ow), self.name, "output")]

    def _infer_bilinear(self, attrs, in_shapes, out_shapes):
        if attrs.num_filter < 1:
            raise AttributeValueError("UpSampling: bilinear sampling needs num_filter, the "
                                      "number of channels of input 'data'")
        data = in_shapes[0]
        if not is_unknown(data):
            _check_4d(data, "input 'data'")
            if data[1] and data[1] != attrs.num_filter:
                raise ShapeError(f"UpSampling: bilinear sampling has one filter per channel, "
                                 f"so num_filter={attrs.num_filter} must equal the "
                                 f"{data[1]} channels of input 'data'; pass "
                                 f"num_filter={data[1]}")
        return DECONVOLUTION.infer_shape(bilinear_deconv_attrs(attrs), in_shapes, out_shapes)


OPS = [UpSampling()]
