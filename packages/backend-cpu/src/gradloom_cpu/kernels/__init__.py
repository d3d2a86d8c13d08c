"""numpy kernels that replace core's generic ones on the CPU where they are faster.

Each subclasses core's kernel for the same operator, so attribute parsing, shapes and the
rare attribute combinations stay defined once; only the hot paths are rewritten.
"""
from .activation import CpuActivationKernel, CpuReluKernel
from .conv import CpuConvolutionKernel
from .dense import CpuFullyConnectedKernel
from .loss import CpuSoftmaxOutputKernel
from .pooling import CpuPoolingKernel

KERNELS = {
    "FullyConnected": CpuFullyConnectedKernel,
    "Activation": CpuActivationKernel,
    "relu": CpuReluKernel,
    "Convolution": CpuConvolutionKernel,
    "Pooling": CpuPoolingKernel,
    "SoftmaxOutput": CpuSoftmaxOutputKernel,
}
