"""Attribute scopes (MXNet's ``mx.attribute`` / ``mx.AttrScope``).

``with AttrScope(ctx_group='dev1', lr_mult='0.1'):`` attaches those attributes to every symbol
created inside the block (variables, operators and the variables operators create).
"""
import threading

from .base import AttributeValueError

__all__ = ["AttrScope", "current"]


class _AttrScopeMeta(type):
    @property
    def current(cls):
        value = getattr(AttrScope._local, "value", None)
        if value is None:
            value = AttrScope._local.value = AttrScope()
        return value


class AttrScope(metaclass=_AttrScopeMeta):
    """Attributes (string values) applied to symbols created while the scope is active."""

    _local = threading.local()

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise AttributeValueError(
                    f"AttrScope: attribute {key}={value!r} must be a string; pass "
                    f"{key}={str(value)!r}")
        self._attr = kwargs
        self._old_scope = None

    def get(self, attr):
        """This scope's attributes updated with ``attr`` (a dict or ``None``)."""
        if not self._attr:
            return dict(attr) if attr else {}
        merged = dict(self._attr)
        if attr:
            merged.update(attr)
        return merged

    def __enter__(self):
        self._old_scope = AttrScope.current
        # nested scopes accumulate: the inner one sees the outer one's attributes
        merged = dict(self._old_scope._attr)
        merged.update(self._attr)
        self._attr = merged
        AttrScope._local.value = self
        return self

    def __exit__(self, *exc):
        AttrScope._local.value = self._old_scope
        self._old_scope = None


def current():
    return AttrScope.current
