"""Attribute scopes (MXNet's ``mx.attribute`` / ``mx.AttrScope``).

``with AttrScope(ctx_group='dev1', lr_mult='0.1'):`` attaches those attributes to every symbol
created inside the block (variables, operators and the variables operators create).
"""
from ._scope import ThreadScope
from .base import AttributeValueError

__all__ = ["AttrScope", "current"]


class AttrScope(ThreadScope):
    """Attributes (string values) applied to symbols created while the scope is active.

    ``AttrScope.current`` is the innermost active scope (an empty one outside any ``with``).
    """

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise AttributeValueError(
                    f"AttrScope: attribute {key}={value!r} must be a string; pass "
                    f"{key}={str(value)!r}")
        self._attr = kwargs

    def get(self, attr):
        """This scope's attributes updated with ``attr`` (a dict or ``None``)."""
        if not self._attr:
            return dict(attr) if attr else {}
        merged = dict(self._attr)
        if attr:
            merged.update(attr)
        return merged

    def _entering(self, outer):
        # nested scopes accumulate: the inner one sees the outer one's attributes
        merged = dict(outer._attr)
        merged.update(self._attr)
        self._attr = merged


def current():
    return AttrScope.current
