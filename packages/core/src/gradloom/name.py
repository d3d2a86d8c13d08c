"""Automatic node names: ``NameManager`` and ``Prefix`` (MXNet's ``mx.name``).

A node created without ``name=`` is called ``<hint><counter>`` (``fullyconnected0``), where the
counter is per hint and lives in the innermost active manager. ``BucketingModule`` enters a
fresh manager for every ``sym_gen`` call so every bucket produces the same names.
"""
from ._scope import ThreadScope

__all__ = ["NameManager", "Prefix", "current"]


class NameManager(ThreadScope):
    """Gives unique names to unnamed symbols; use as ``with NameManager(): ...``.

    ``NameManager.current`` is the innermost active manager (a default one per thread
    outside any ``with``).
    """

    def __init__(self):
        self._counter = {}

    def get(self, name, hint):
        """``name`` itself when given, else ``hint`` followed by this manager's counter."""
        if name:
            return name
        count = self._counter.get(hint, 0)
        self._counter[hint] = count + 1
        return f"{hint}{count}"


class Prefix(NameManager):
    """A manager that prepends ``prefix`` to every name, given or automatic.

    >>> with Prefix('mynet_'):
    ...     net = FullyConnected(data, num_hidden=10, name='fc1')   # named 'mynet_fc1'
    """

    def __init__(self, prefix):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)


def current():
    """The innermost active ``NameManager``."""
    return NameManager.current
