"""Entry point of the CUDA backend plugin.

Importing this module (and registering the backend) never imports cupy or touches CUDA: the
backend finds out lazily, on first use, whether cupy and a GPU are there, and says why not.
"""
import pluggy

hookimpl = pluggy.HookimplMarker("gradloom")


@hookimpl
def gradloom_register_backends(register):
    from .backend import CudaBackend
    register.add(CudaBackend())


@hookimpl
def gradloom_register_kernels(register):
    from .kernels import KERNELS
    for op_name, kernel_class in KERNELS.items():
        register.add(op_name, "gpu", kernel_class)
