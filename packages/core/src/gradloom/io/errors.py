"""The error data iterators raise for inconsistent inputs.

It is a ``GradloomError`` and also an ``AssertionError``, because MXNet scripts and tests
catch ``AssertionError`` for exactly these checks.
"""
from ..base import GradloomError


class DataIterError(GradloomError, AssertionError):
    """A data batch or iterator was given inconsistent data."""


class UnsupportedDataError(GradloomError, NotImplementedError):
    """An input kind an iterator cannot handle in the requested mode (e.g. sparse + pad)."""
