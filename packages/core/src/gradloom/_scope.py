"""``with``-scopes with a per-thread innermost instance (name managers, attribute scopes).

Entering a scope makes it the thread's current one and exiting restores the one before it,
so scopes nest. Outside any ``with`` block, ``Cls.current`` is a default instance created on
first use and kept for the thread, so state such as name counters persists between calls.
"""
import threading


class _ScopeMeta(type):
    @property
    def current(cls):
        """The innermost active scope of this thread (a default one outside any ``with``)."""
        root = cls._scope_root
        value = getattr(root._local, "value", None)
        if value is None:
            value = root._local.value = root()
        return value


class ThreadScope(metaclass=_ScopeMeta):
    """Base of a scope family: a direct subclass is a root with its own per-thread stack;
    its subclasses (e.g. ``Prefix`` under ``NameManager``) share the root's stack."""

    _outer = None   # the scope that was current when this one was entered

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if ThreadScope in cls.__bases__:
            cls._scope_root = cls
            cls._local = threading.local()

    def _entering(self, outer):
        """Hook run on ``__enter__`` with the scope being shadowed."""

    def __enter__(self):
        self._outer = type(self).current
        self._entering(self._outer)
        self._scope_root._local.value = self
        return self

    def __exit__(self, *exc):
        self._scope_root._local.value = self._outer
        self._outer = None
