"""Registers the single-process stores that ship with core."""


def register_builtin_kvstores(register):
    from .local import create_device, create_local
    register.add("local", create_local, aliases=("local_allreduce_cpu", "local_update_cpu"),
                 description="sums per-device values in host memory (one process)")
    register.add("device", create_device, aliases=("local_allreduce_device",),
                 description="sums per-device values on the devices (one process)")
