"""Activation functions: Activation, LeakyReLU (leaky/prelu/rrelu/elu/selu/gelu), softmax."""
import math

import numpy as np

from ._common import OpKernel, UnaryOp, as_shapes, is_unknown, merge
from ._math import UNARY
from .elementwise import UnaryMathKernel
from .opdef import OpDef, Param, choice, optional, parse_float, parse_int, parse_str


# -- Activation -------------------------------------------------------------------------
class ActivationKernel(UnaryMathKernel):
    def setup(self):
        self.fwd, self.bwd = UNARY[self.attrs.act_type]


class Activation(UnaryOp):
    name = "Activation"
    kernel = ActivationKernel
    params = {"act_type": Param(choice("relu", "sigmoid", "tanh", "softrelu", "softsign"))}


# -- LeakyReLU --------------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
GELU_C = math.sqrt(2.0 / math.pi)
GELU_CUBE = 0.044715


class LeakyReLUKernel(OpKernel):
    def setup(self):
        self.act = self.attrs.act_type
        shape = self.in_shapes[0]
        # prelu's gamma is per channel (axis 1); view it broadcastable against the data
        self.gamma_view = (1, -1) + (1,) * (len(shape) - 2) if len(shape) >= 2 else (-1,)
        self.gamma_axes = tuple(i for i in range(len(shape)) if i != 1) if len(shape) >= 2 \
            else ()

    def _slope(self, inputs, outputs, is_train):
        if self.act == "prelu":
            return inputs[1].reshape(self.gamma_view)
        if self.act == "rrelu":
            return outputs[1]
        return self.attrs.slope

    def forward(self, is_train, inputs, outputs, aux):
        xp, x, out, a = self.xp, inputs[0], outputs[0], self.attrs
        if self.act in ("leaky", "prelu", "rrelu"):
            if self.act == "rrelu":
                mask = outputs[1]
                if is_train:  # slopes uniform in [lower, upper), drawn on the device
                    u = self.__dict__.get("uniform")
                    if u is None:
                        u = self.uniform = xp.empty(mask.shape, dtype=np.float32)
                    self.backend.rng(self.device_id).random(mask.shape, dtype=np.float32, out=u)
                    xp.multiply(u, a.upper_bound - a.lower_bound, out=mask)
                    mask += a.lower_bound
                else:
                    mask[...] = (a.lower_bound + a.upper_bound) / 2
            slope = self._slope(inputs, outputs, is_train)
            xp.multiply(x, slope, out=out)
            xp.copyto(out, x, where=x > 0)
        elif self.act in ("elu", "selu"):
            alpha = a.slope if self.act == "elu" else SELU_ALPHA
            xp.minimum(x, 0, out=out)
            xp.expm1(out, out=out)
            out *= alpha
            xp.copyto(out, x, where=x > 0)
            if self.act == "selu":
                out *= SELU_LAMBDA
        else:  # gelu, tanh approximation as in MXNet 1.x
            xp.multiply(x, x, out=out)
            out *= GELU_CUBE * GELU_C
            out += GELU_C
            out *= x
            xp.tanh(out, out=out)
            out += 1
            out *= x
            out *= 0.5

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp, x, y, g, a = self.xp, inputs[0], outputs[0], out_grads[0], self.attrs
        pos = x > 0
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            if self.act in ("leaky", "prelu", "rrelu"):
                xp.multiply(g, self._slope(inputs, outputs, True), out=dst)
            elif self.act == "elu":
                xp.add(y, a.slope, out=dst)          # d/dx slope*(e^x - 1) = y + slope
                dst *= g
            elif self.act == "selu":
                xp.add(y, SELU_LAMBDA * SELU_ALPHA, out=dst)
                dst *= g
            else:
                self._gelu_grad(x, g, dst)
            if self.act != "gelu":
                scale = SELU_LAMBDA if self.act == "selu" else 1
                xp.copyto(dst, g * scale, where=pos)
            self.grad_done(0, in_grads, req, dst)
        if self.act == "prelu" and self.wants(1, in_grads, req):
            # d/dgamma of gamma*x on x <= 0, summed over all but the channel axis
            contrib = g * xp.where(pos, 0, x)
            dgamma = xp.sum(contrib, axis=self.gamma_axes).reshape(in_grads[1].shape) \
                if self.gamma_axes else contrib.reshape(in_grads[1].shape)
            self.store_grad(1, in_grads, req, dgamma)

    def _gelu_grad(self, x, g, dst):
        xp = self.xp
        x2 = x * x
        inner = xp.tanh(GELU_C * (x + GELU_CUBE * x2 * x))
        # d/dx 0.5 x (1 + tanh(u)) = 0.5 (1 + t) + 0.5 x (1 - t^2) u'
        du = GELU_C * (1 + 3 * GELU_CUBE * x2)
        xp.multiply(inner, inner, out=dst)
        xp.subtract(1, dst, out=dst)
        dst *= du
        dst *= x
        dst += 1 + inner
        dst *= 0.5
        dst *= g


class LeakyReLU(OpDef):
    name = "LeakyReLU"
    kernel = LeakyReLUKernel
    params = {
        "act_type": Param(choice("leaky", "prelu", "rrelu", "elu", "selu", "gelu"), "leaky"),
        "slope": Param(parse_float, 0.25),
        "lower_bound": Param(parse_float, 0.125),
        "upper_bound": Param(parse_float, 0.334),
    }

    def arguments(self, attrs):
        return ["data", "gamma"] if attrs.act_type == "prelu" else ["data"]

    def num_hidden_outputs(self, attrs):
        return 1 if attrs.act_type == "rrelu" else 0  # rrelu keeps its random slopes

    def variable_attrs(self, attrs, input_name):
        if attrs.act_type == "prelu" and input_name == "gamma":
            return {"__init__": '["Constant", {"value": 0.25}]'}
        return {}

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        outs = [data] * len(out_shapes)
        if attrs.act_type != "prelu":
            return [data], outs
        gamma = in_shapes[1]
        if not is_unknown(data) and data[1 if len(data) > 1 else 0]:
            channels = data[1] if len(data) > 1 else data[0]
            if is_unknown(gamma) or tuple(gamma) != (1,):
                gamma = merge(gamma, (channels,), self.name, "input 'gamma'")
        return [data, gamma], outs


# -- softmax family ---------------------------------------------------------------------
def _shifted_into(xp, x, out, axis, temperature):
    """``out = x / temperature - max``: the exponent of both softmaxes, never above 0 so
    ``exp`` cannot overflow."""
    if temperature is not None and temperature != 1.0:
        xp.divide(x, temperature, out=out)
        xp.subtract(out, out.max(axis=axis, keepdims=True), out=out)
    else:
        xp.subtract(x, x.max(axis=axis, keepdims=True), out=out)


def softmax_into(xp, x, out, axis, temperature=None):
    """Numerically stable softmax of ``x`` along ``axis`` written into ``out``."""
    _shifted_into(xp, x, out, axis, temperature)
    xp.exp(out, out=out)
    out /= out.sum(axis=axis, keepdims=True)


def log_softmax_into(xp, x, out, axis, temperature=None):
    _shifted_into(xp, x, out, axis, temperature)
    out -= xp.log(xp.exp(out).sum(axis=axis, keepdims=True))


class SoftmaxKernel(OpKernel):
    """softmax / log_softmax / SoftmaxActivation, along one axis of a (possibly reshaped) view."""

    log = False

    def setup(self):
        shape = self.in_shapes[0]
        a = self.attrs
        self.temperature = a.get("temperature")
        if "mode" in a:  # SoftmaxActivation
            self.axis = 1
            self.view = (shape[0], -1) if a.mode == "instance" else shape
        else:
            self.axis = a.axis % len(shape)
            self.view = shape
        self.log = self.op.name == "log_softmax"

    def forward(self, is_train, inputs, outputs, aux):
        x = inputs[0].reshape(self.view)
        out = outputs[0].reshape(self.view)
        fn = log_softmax_into if self.log else softmax_into
        fn(self.xp, x, out, self.axis, self.temperature)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        y = outputs[0].reshape(self.view)
        g = out_grads[0].reshape(self.view)
        dst = self.grad_dst(0, in_grads, req)
        d = dst.reshape(self.view)
        if self.log:  # dx = g - softmax * sum(g)
            xp.exp(y, out=d)
            d *= g.sum(axis=self.axis, keepdims=True)
            xp.subtract(g, d, out=d)
        else:  # dx = y * (g - sum(g * y))
            xp.multiply(g, y, out=d)
            s = d.sum(axis=self.axis, keepdims=True)
            xp.subtract(g, s, out=d)
            d *= y
        if self.temperature is not None and self.temperature != 1.0:
            d /= self.temperature
        self.grad_done(0, in_grads, req, dst)


class Softmax(UnaryOp):
    name = "softmax"
    kernel = SoftmaxKernel
    params = {"axis": Param(parse_int, -1),
              "temperature": Param(optional(parse_float), None),
              "dtype": Param(optional(parse_str), None),
              "use_length": Param(optional(parse_str), None)}


class LogSoftmax(Softmax):
    name = "log_softmax"


class SoftmaxActivation(UnaryOp):
    name = "SoftmaxActivation"
    kernel = SoftmaxKernel
    params = {"mode": Param(choice("instance", "channel"), "instance")}


OPS = [Activation(), LeakyReLU(), Softmax(), LogSoftmax(), SoftmaxActivation()]
