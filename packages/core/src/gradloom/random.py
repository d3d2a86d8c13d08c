"""Seeding and drawing random numbers (``gradloom.random``, MXNet's ``mx.random``).

Every draw comes from a backend's per-device generator (``backend.rng(device_id)``), never
from numpy's global state, so ``seed(n)`` makes whole runs reproducible.
"""
from .ndarray.random import normal, randint, shuffle, uniform

__all__ = ["seed", "host_rng", "uniform", "normal", "randint", "shuffle"]

# Only used when no "cpu" backend is installed; seed() re-seeds it too.
_fallback_rng = None


def host_rng():
    """The numpy ``Generator`` for host-side draws (initial weights, shuffling).

    It is the CPU backend's generator of device 0, so ``seed(n)`` makes initial weights and
    data order reproducible whatever device trains.
    """
    global _fallback_rng
    from .plugins import load_plugins
    backends = load_plugins().backends
    if "cpu" in backends:
        return backends.get("cpu").rng(0)
    if _fallback_rng is None:
        from .backend import DEFAULT_SEED
        import numpy as np
        _fallback_rng = np.random.default_rng(DEFAULT_SEED)
    return _fallback_rng


def seed(seed_state, ctx="all"):
    """Seed the generators of every usable backend (``ctx='all'``) or of ``ctx``'s backend.

    Generators are per device and derived from ``(seed_state, device_id)``, so two devices
    never draw the same stream.
    """
    from .base import DTypeError
    if isinstance(seed_state, bool) or not isinstance(seed_state, int):
        try:
            seed_state = int(seed_state)
        except (TypeError, ValueError):
            raise DTypeError(f"random.seed expects an integer, got {seed_state!r}") from None
    if seed_state < 0:
        raise DTypeError(f"random.seed expects a non-negative integer, got {seed_state}")
    if ctx == "all":
        global _fallback_rng
        import numpy as np
        _fallback_rng = np.random.default_rng(seed_state)
        from .plugins import load_plugins
        for _name, backend in load_plugins().backends.items():
            if backend.is_available():
                backend.seed(seed_state)
        return
    from .ndarray.ndarray import _resolve_ctx
    _resolve_ctx(ctx).backend.seed(seed_state)
