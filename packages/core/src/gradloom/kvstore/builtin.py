"""Registers the single-process stores that ship with core."""


def register_builtin_kvstores(register):
    pass
