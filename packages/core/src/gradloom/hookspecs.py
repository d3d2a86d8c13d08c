"""The plugin API of gradloom: every hook a plugin may implement.

Plugins are modules (or objects) with functions decorated by ``gradloom.hookimpl`` and
exposed through the ``gradloom`` entry-point group. Registrar hooks receive a registrar and
call ``register.add(...)``; they run once, when ``gradloom.plugins.load_plugins()`` fills the
registries, never on the per-batch path.
"""
import pluggy

hookspec = pluggy.HookspecMarker("gradloom")


@hookspec
def gradloom_register_backends(register):
    """Add device backends.

    :param register: a ``BackendRegistrar``; call ``register.add(backend)`` with a
        ``gradloom.backend.Backend`` instance whose ``device_type`` (``"cpu"``, ``"gpu"``) is
        unique, or ``register.add(backend, replace=True)`` to take over an existing type.
    Called once when plugins load. Register the backend even when its hardware or library
    is missing: ``is_available()`` and ``unavailable_reason`` explain why, so ``gradloom
    plugins`` and the error for ``gpu(0)`` can tell the user. Must not import cupy or touch
    a device. Returns nothing.
    """


@hookspec
def gradloom_register_kvstores(register):
    """Add key-value stores (gradient aggregation strategies).

    :param register: a ``KVStoreRegistrar``; call ``register.add(name, factory,
        aliases=(), description="")``. ``factory(name, **options)`` returns a
        ``gradloom.kvstore.KVStore`` and imports heavy dependencies (mpi4py) only when called.
    Called once when plugins load. Returns nothing.
    """


@hookspec
def gradloom_register_ops(register):
    """Add operators usable in symbols (third-party operators).

    :param register: an ``OpRegistrar``; call ``register.add(opdef)`` with a
        ``gradloom.ops.OpDef``. Names (and aliases) must be unique.
    Called once when plugins load; core registers its own operators the same way.
    Returns nothing.
    """


@hookspec
def gradloom_register_kernels(register):
    """Add faster kernels for existing operators on one backend.

    :param register: a ``KernelRegistrar``; call ``register.add(op_name, device_type,
        kernel_class)`` where ``kernel_class`` subclasses ``gradloom.ops.Kernel``.
    Called once when plugins load. Executors resolve kernels at bind time: the kernel
    registered for the executor's device type, else the operator's generic kernel.
    Returns nothing.
    """


@hookspec
def gradloom_register_commands(cli):
    """Add commands to the ``gradloom`` command line.

    :param cli: the ``click.Group`` of the ``gradloom`` command; call ``cli.add_command``.
    Called lazily, the first time the CLI lists or looks up a command. Import heavy modules
    inside the command functions so ``gradloom --help`` stays fast. Returns nothing.
    """
