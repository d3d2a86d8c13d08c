"""Entry point of the CPU backend plugin. Importing it is cheap: only registrations."""
import pluggy

hookimpl = pluggy.HookimplMarker("gradloom")


@hookimpl
def gradloom_register_backends(register):
    from .backend import CpuBackend
    register.add(CpuBackend())


@hookimpl
def gradloom_register_kernels(register):
    from .kernels import KERNELS
    for op_name, kernel_class in KERNELS.items():
        register.add(op_name, "cpu", kernel_class)
