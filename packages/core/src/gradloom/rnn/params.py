"""``RNNParams``: the named parameter variables a cell (or a group of cells) uses."""
from .. import symbol

__all__ = ["RNNParams"]


class RNNParams:
    """A container of parameter variables, all named ``prefix + name``.

    Passing one container to several cells makes them share weights: the first ``get`` of a
    name creates the variable, later calls return the same one.
    """

    def __init__(self, prefix=""):
        self._prefix = prefix
        self._params = {}

    def get(self, name, **kwargs):
        """The variable ``prefix + name`` (created with ``kwargs`` on first use)."""
        name = self._prefix + name
        if name not in self._params:
            self._params[name] = symbol.Variable(name, **kwargs)
        return self._params[name]
