"""Dropout (inverted): training keeps each element with probability 1-p and scales by 1/(1-p).

The mask is the hidden second output; ``axes`` shares one mask value along those axes
(variational dropout). Random numbers come from the backend's per-device generator, so
``gradloom.random.seed`` makes runs reproducible.
"""
import numpy as np

from ..base import AttributeValueError
from ._common import OpKernel, SameShapeMixin
from .opdef import OpDef, Param, choice, parse_bool, parse_float, parse_tuple


class DropoutKernel(OpKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        shape = self.in_shapes[0]
        axes = {ax % len(shape) for ax in a.axes}
        self.draw_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
        self.uniform = xp.empty(self.draw_shape, dtype=np.float32)
        self.keep = xp.empty(self.draw_shape, dtype=bool)
        self.p = a.p
        self.scale = 1.0 / (1.0 - a.p) if a.p < 1 else 0.0

    def active(self, is_train):
        return self.p > 0 and (is_train or self.attrs.mode == "always")

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x, y, mask = inputs[0], outputs[0], outputs[1]
        if not self.active(is_train):
            xp.copyto(y, x)
            mask[...] = 1
            return
        self.backend.rng(self.device_id).random(self.draw_shape, dtype=np.float32,
                                                out=self.uniform)
        xp.less(self.uniform, 1.0 - self.p, out=self.keep)
        xp.multiply(self.keep, self.scale, out=mask)   # broadcasts over shared axes
        xp.multiply(x, mask, out=y)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            self.xp.multiply(out_grads[0], outputs[1], out=dst)
            self.grad_done(0, in_grads, req, dst)


class Dropout(SameShapeMixin, OpDef):
    name = "Dropout"
    kernel = DropoutKernel
    params = {"p": Param(parse_float, 0.5),
              "mode": Param(choice("training", "always"), "training"),
              "axes": Param(parse_tuple, ()), "cudnn_off": Param(parse_bool, False)}

    def num_hidden_outputs(self, attrs):
        return 1   # the mask

    def parse_attrs(self, raw, node_name="?"):
        attrs = super().parse_attrs(raw, node_name)
        if not 0 <= attrs.p <= 1:
            raise AttributeValueError(f"Dropout {node_name!r}: p={attrs.p} must be in [0, 1]")
        return attrs


OPS = [Dropout()]
