"""Entry point of the MPI plugin: the ``dist_sync``/``dist_device_sync`` stores and the
``gradloom launch`` command.

Importing it is cheap and has no side effect: ``mpi4py.MPI`` (which runs ``MPI_Init``) is
imported only when a store is created, and click only when the CLI asks for commands.
"""
import pluggy

hookimpl = pluggy.HookimplMarker("gradloom")


def _dist_sync(name="dist_sync", **options):
    from .kvstore import create_store
    return create_store(name, **options)


def _dist_device_sync(name="dist_device_sync", **options):
    from .kvstore import create_store
    # one worker's device copies are summed on the device before the host-staged allreduce
    options.setdefault("reduce_on", "device")
    return create_store(name, **options)


@hookimpl
def gradloom_register_kvstores(register):
    register.add("dist_sync", _dist_sync,
                 description="sum over MPI ranks (host-staged, fused in-place allreduce)")
    register.add("dist_device_sync", _dist_device_sync, aliases=("dist_sync_device",),
                 description="sum over MPI ranks after summing each worker's devices on device")


@hookimpl
def gradloom_register_commands(cli):
    from .launch import launch_command
    cli.add_command(launch_command())
