"""Activation without temporaries: the relu mask lives in a bind-time buffer.

Core's math (``gradloom.ops._math.UNARY``) is already written with ``out=``; only relu's
gradient builds a fresh boolean array (``x > 0``) per call, which is a page-faulting
allocation the size of the activation. Every other activation type runs core's math.
"""
import numpy as np

from gradloom.ops.activation import ActivationKernel
from gradloom.ops.elementwise import UnaryMathKernel


class _ReluMaskMixin:
    """relu's gradient ``g * (x > 0)`` with the mask in a preallocated buffer."""

    def setup(self):
        super().setup()
        self.relu = self._is_relu()
        if self.relu:
            self.mask = np.empty(self.in_shapes[0], dtype=bool)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.relu:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        dst = self.grad_dst(0, in_grads, req)
        np.greater(inputs[0], 0, out=self.mask)
        np.multiply(out_grads[0], self.mask, out=dst)
        if req[0] == "add":
            np.add(in_grads[0], dst, out=in_grads[0])


class CpuActivationKernel(_ReluMaskMixin, ActivationKernel):
    def _is_relu(self):
        return self.attrs.act_type == "relu"


class CpuReluKernel(_ReluMaskMixin, UnaryMathKernel):
    """The standalone ``relu`` operator."""

    def _is_relu(self):
        return self.op.name == "relu"
