"""Core's own plugin: the operators and kvstores that ship with ``gradloom-core``.

It registers through the same hooks as any external plugin, so core has no privileged path.
"""
import pluggy

hookimpl = pluggy.HookimplMarker("gradloom")


@hookimpl
def gradloom_register_ops(register):
    from .ops import all_ops
    for opdef in all_ops():
        register.add(opdef)


@hookimpl
def gradloom_register_kvstores(register):
    from .kvstore.builtin import register_builtin_kvstores
    register_builtin_kvstores(register)
