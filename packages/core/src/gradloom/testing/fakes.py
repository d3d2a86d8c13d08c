"""Stand-ins for plugin-provided objects, for tests of the plugin machinery and the CLI.

``FakeBackend`` keeps its arrays in host memory (numpy) under any device type, so a test can
register "gpu" or "fake" devices, available or not, on a machine that has neither.
"""
import numpy as np

from ..backend import Backend

__all__ = ["FakeBackend"]


class FakeBackend(Backend):
    """A numpy backend registered as ``device_type`` with ``count`` devices.

    ``reason`` (a string) makes it unavailable, as a backend whose driver is missing.
    """

    package = "gradloom-fake"

    def __init__(self, device_type="fake", reason=None, count=2):
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
