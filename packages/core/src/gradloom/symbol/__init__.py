"""Symbols (MXNet's ``mx.sym`` / ``mx.symbol``): graph construction, inference and JSON.

Operator functions (``FullyConnected``, ``Activation``, ``split``, ...) are generated on first
access from the operator registry, under every operator's canonical name and aliases.
"""
from .symbol import (Group, Symbol, Variable, load, load_json, maximum, minimum, ones, pow,
                     power, var, zeros)

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json", "zeros", "ones",
           "maximum", "minimum", "power", "pow"]

_functions = {}


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    fn = _functions.get(name)
    if fn is None:
        from ..plugins import load_plugins
        if name not in load_plugins().ops:
            raise AttributeError(f"module 'gradloom.symbol' has no attribute {name!r} (no "
                                 f"operator of that name is registered)")
        from .register import make_function
        fn = _functions[name] = make_function(name)
    return fn


class _Namespace:
    """``mx.sym._internal`` / ``mx.sym.op``: the same operator functions by name."""

    def __getattr__(self, name):
        return __getattr__(name)


_internal = _Namespace()
op = _Namespace()


def __dir__():
    from ..plugins import load_plugins
    ops = load_plugins().ops
    names = set(ops.names())
    for n in list(names):
        names.update(ops.aliases_of(n))
    return sorted(set(globals()) | names)
