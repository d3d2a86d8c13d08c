"""Operator conformance suite, parametrised over every registered backend.

Use it from a test module with ``from gradloom.testing.conformance.suite import *``; the
``backend`` fixture (from ``gradloom.testing.pytest_plugin``) yields each registered backend
and skips unavailable ones with their reason. ``CASES`` lists the operator cases.
"""
from .cases import CASES, Case

__all__ = ["CASES", "Case"]
