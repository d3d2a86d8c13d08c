"""Operator conformance on every registered backend (unavailable backends are skipped)."""
from gradloom.testing.conformance.suite import *  # noqa: F401,F403  (pytest collects them)
