"""``--context`` values: ``cpu``, ``cpu:0,1``, ``gpu:0,1`` -> a list of gradloom Contexts."""
from gradloom.base import ConfigError


def parse_contexts(text, where="--context"):
    """Turn ``TYPE[:ID[,ID...]]`` into contexts, checking each one can really be used.

    The device type must be registered by a backend plugin; ``ctx.backend`` then raises
    ``BackendUnavailableError`` (with its reason) for a device that exists in name only.
    """
    from gradloom.context import Context
    from gradloom.plugins import load_plugins
    text = str(text).strip()
    device_type, _, ids = text.partition(":")
    device_type = device_type.strip().lower()
    backends = load_plugins().backends
    if not device_type or device_type not in backends:
        known = ", ".join(backends.names()) or "none"
        raise ConfigError(f"unknown context {text!r} ({where}): device type {device_type!r} "
                          f"is not provided by any installed backend (registered: {known}); "
                          f"write e.g. cpu, cpu:0,1 or gpu:0")
    if ids.strip():
        try:
            device_ids = [int(part) for part in ids.split(",")]
        except ValueError:
            raise ConfigError(f"bad context {text!r} ({where}): device ids must be integers "
                              f"separated by commas, e.g. {device_type}:0,1") from None
    else:
        device_ids = [0]
    if len(set(device_ids)) != len(device_ids) or min(device_ids) < 0:
        raise ConfigError(f"bad context {text!r} ({where}): device ids must be distinct "
                          f"and not negative")
    contexts = [Context(device_type, i) for i in device_ids]
    for ctx in contexts:
        ctx.backend  # raises BackendUnavailableError naming the device and the fix
    return contexts
