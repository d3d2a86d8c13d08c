"""FullyConnected on cuBLAS whose bias-add can be handed to the next activation.

The math is the generic kernel's (``cupy.matmul`` is cuBLAS); the only addition is
``defer_bias``: when an executor fuses this layer with the activation that alone consumes
its output (``gradloom_cuda.fusion``), the forward writes ``x @ W.T`` and the activation
kernel adds the bias in its own pass, saving one read and one write of the output.
"""
from gradloom.ops.dense import FullyConnectedKernel


class FullyConnectedKernelGPU(FullyConnectedKernel):
    defer_bias = False

    @property
    def can_defer_bias(self):
        return self.has_bias

    def bias_views(self):
        """(output view, bias view) for a fused bias-add: bias broadcast over rows."""
        return self.y2, (1, self.y2[1])

    def forward(self, is_train, inputs, outputs, aux):
        out = outputs[0].reshape(self.y2)
        self.xp.matmul(inputs[0].reshape(self.x2), inputs[1].T, out=out)
        if self.has_bias and not self.defer_bias:
            out += inputs[2]


KERNELS = {"FullyConnected": FullyConnectedKernelGPU}
