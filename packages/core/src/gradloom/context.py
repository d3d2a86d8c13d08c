"""Devices: ``Context(device_type, device_id)``, ``cpu(i)``, ``gpu(i)``, ``current_context()``.

A context resolves to the backend registered for its device type; nothing here knows which
device types exist.
"""
import threading

from .base import BackendUnavailableError

# Which distribution to install for a device type nobody registered (a hint only; the
# registry, not this table, decides what exists).
_INSTALL_HINTS = {
    "gpu": "pip install 'gradloom-backend-cuda[cuda12]' (or [cuda13] for CUDA 13)",
    "cpu": "pip install gradloom-backend-cpu",
}


class Context:
    """A device: ``Context('cpu', 0)``, ``Context('gpu', 1)`` or ``Context(other_context)``."""

    _local = threading.local()
    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type = {v: k for k, v in devtype2str.items()}

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if isinstance(device_type, int):
            device_type = self.devtype2str.get(device_type, str(device_type))
        if device_type in ("cpu_pinned", "cpu_shared"):
            device_type = "cpu"  # host memory kinds are all plain host memory here
        self.device_type = str(device_type)
        self.device_id = int(device_id)
        self._old_ctx = None

    @property
    def device_typeid(self):
        return self.devstr2type.get(self.device_type, 0)

    @property
    def backend(self):
        """The registered backend of this device type; raises if it cannot be used."""
        from .plugins import load_plugins
        backends = load_plugins().backends
        if self.device_type not in backends:
            hint = _INSTALL_HINTS.get(self.device_type, "install a plugin that provides it")
            raise BackendUnavailableError(
                f"no backend is installed for device type {self.device_type!r} "
                f"(context {self}); {hint}")
        backend = backends.get(self.device_type)
        reason = backend.unavailable_reason
        if reason is not None:
            raise BackendUnavailableError(f"context {self} cannot be used: {reason}")
        if not backend.has_device(self.device_id):
            raise BackendUnavailableError(
                f"context {self} does not exist: {backend.device_count()} {self.device_type} "
                f"device(s) found")
        return backend

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self):
        self._old_ctx = current_context()
        Context._local.value = self
        return self

    def __exit__(self, *exc):
        Context._local.value = self._old_ctx

    def empty_cache(self):
        """Release cached device memory (no-op where the backend keeps no cache)."""


def cpu(device_id=0):
    """The ``device_id``-th CPU context. CPU ids only separate executors; memory is shared."""
    return Context("cpu", device_id)


def cpu_pinned(device_id=0):
    return Context("cpu", device_id)


def gpu(device_id=0):
    """The ``device_id``-th GPU context (needs ``gradloom-backend-cuda``)."""
    return Context("gpu", device_id)


def current_context():
    """The default context: the innermost ``with ctx:`` block, else ``cpu(0)``."""
    return getattr(Context._local, "value", None) or Context("cpu", 0)


def num_gpus():
    """Number of usable GPUs (0 when the CUDA backend is missing or unusable)."""
    from .plugins import load_plugins
    backends = load_plugins().backends
    if "gpu" not in backends:
        return 0
    backend = backends.get("gpu")
    return backend.device_count() if backend.is_available() else 0
