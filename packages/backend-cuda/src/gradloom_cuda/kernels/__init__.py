"""cupy kernels that replace core's generic ones on the GPU, one module per family.

Importing this package never imports cupy: each module only declares its CUDA sources and
kernel classes; cupy objects are built when an executor binds (``_cuda``) and compiled on
the first launch. ``KERNELS`` maps operator names to kernel classes for
``gradloom_register_kernels``.
"""
from . import activation, batchnorm, convolution, dense, pooling, softmax_output

KERNELS = {}
for _module in (activation, dense, softmax_output, batchnorm, convolution, pooling):
    KERNELS.update(_module.KERNELS)
