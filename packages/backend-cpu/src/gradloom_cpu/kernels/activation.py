"""Activations without temporaries, split over the host's threads when large.

Core's math (``gradloom.ops._math.UNARY``) is already written with ``out=``; only relu's
gradient builds a fresh boolean array (``x > 0``) per call, a page-faulting allocation the
size of the activation, so its mask lives in a bind-time buffer here. Large activations
(LeNet's 1.5M-element tanh) run core's math on slices from several threads
(``_parallel``), since numpy's transcendental loops are single-threaded.
"""
import numpy as np

from gradloom.ops.activation import ActivationKernel
from gradloom.ops.elementwise import UnaryMathKernel

from ._parallel import run_sliced


class _FastUnaryMixin:
    """relu's gradient with a preallocated mask; large arrays split over threads.

    ``elementwise``: input, output and their gradients are read and written element by
    element, so the executor may store them in any axis order it keeps for a neighbour
    (``gradloom.executor.layout``); nothing here depends on the axis order.
    """

    elementwise = True

    def setup(self):
        super().setup()
        self.relu = self._is_relu()
        if self.relu:
            self.mask = np.empty(self.in_shapes[0], dtype=bool)
        fwd, bwd = self.fwd, self.bwd
        self._fwd_part = lambda x, y: fwd(np, x, y)
        self._bwd_part = lambda x, y, g, d: bwd(np, x, y, g, d)

    def forward(self, is_train, inputs, outputs, aux):
        run_sliced(self._fwd_part, (inputs[0], outputs[0]))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        dst = self.grad_dst(0, in_grads, req)
        x = inputs[0]
        if self.relu:
            mask = self.mask if self.mask.shape == x.shape else self.mask.reshape(x.shape)
            run_sliced(_relu_grad, (x, out_grads[0], mask, dst))
        else:
            run_sliced(self._bwd_part, (x, outputs[0], out_grads[0], dst))
        if req[0] == "add":
            np.add(in_grads[0], dst, out=in_grads[0])


def _relu_grad(x, g, mask, dst):
    np.greater(x, 0, out=mask)
    np.multiply(g, mask, out=dst)


class CpuActivationKernel(_FastUnaryMixin, ActivationKernel):
    def _is_relu(self):
        return self.attrs.act_type == "relu"


class CpuReluKernel(_FastUnaryMixin, UnaryMathKernel):
    """The standalone ``relu`` operator."""

    def _is_relu(self):
        return self.op.name == "relu"
