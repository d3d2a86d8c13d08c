"""Fake plugins and entry points shared by the CLI tests."""
import importlib.metadata

import numpy as np
import pluggy

from gradloom.backend import Backend

hookimpl = pluggy.HookimplMarker("gradloom")


class FakeBackend(Backend):
    """A host-memory backend under another device type; ``reason`` makes it unavailable."""

    package = "gradloom-fake"

    def __init__(self, device_type="fake", reason=None, count=3):
        super().__init__()
        self.device_type = device_type
        self._reason = reason
        self._count = count

    @property
    def unavailable_reason(self):
        return self._reason

    def device_count(self):
        return self._count

    @property
    def xp(self):
        return np

    def owns(self, array):
        return isinstance(array, np.ndarray)

    def to_host(self, array):
        return np.asarray(array)

    def from_host(self, array, device_id=0):
        return np.array(array)


def entry_point(name, value):
    return importlib.metadata.EntryPoint(name=name, value=value, group="gradloom")


def installed_entry_points(*names):
    """The really installed entry points with these names (e.g. the CPU backend)."""
    return [ep for ep in importlib.metadata.entry_points(group="gradloom") if ep.name in names]
