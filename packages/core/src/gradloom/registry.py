"""Registries that plugins fill once, through registrar hooks, and everything else reads.

A ``Registrar`` is what a hook receives; it records which plugin added each entry so a
duplicate name is reported with both plugins.
"""
from .base import PluginError, UnknownNameError


class Registry:
    """Name -> object map with aliases and provenance."""

    kind = "entry"

    def __init__(self):
        self._entries = {}
        self._aliases = {}
        self._origin = {}

    def add(self, name, obj, *, aliases=(), origin="?", replace=False):
        for key in (name, *aliases):
            if not replace and (key in self._entries or key in self._aliases):
                owner = self._origin.get(self._aliases.get(key, key), "?")
                raise PluginError(
                    f"{self.kind} {key!r} is registered twice: by {owner!r} and by {origin!r}; "
                    f"rename one or register with replace=True")
        self._entries[name] = obj
        self._origin[name] = origin
        for alias in aliases:
            self._aliases[alias] = name

    def resolve_name(self, name):
        return self._aliases.get(name, name)

    def get(self, name):
        key = self.resolve_name(name)
        try:
            return self._entries[key]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; registered: {known}") from None

    def __contains__(self, name):
        return self.resolve_name(name) in self._entries

    def names(self):
        return sorted(self._entries)

    def items(self):
        return sorted(self._entries.items())

    def origin(self, name):
        return self._origin.get(self.resolve_name(name))

    def aliases_of(self, name):
        return sorted(a for a, n in self._aliases.items() if n == name)


class BackendRegistry(Registry):
    kind = "backend"


class KVStoreRegistry(Registry):
    kind = "kvstore"


class OpRegistry(Registry):
    kind = "operator"

    def get(self, name):
        from .base import UnknownOperatorError
        try:
            return super().get(name)
        except UnknownNameError:
            raise UnknownOperatorError(
                f"unknown operator {name!r}: gradloom does not provide it (and no installed "
                f"plugin registers it); see `gradloom plugins` for what is registered") from None


class KernelRegistry:
    """(op name, device type) -> kernel class."""

    def __init__(self):
        self._kernels = {}
        self._origin = {}

    def add(self, op_name, device_type, kernel_class, *, origin="?", replace=False):
        key = (op_name, device_type)
        if key in self._kernels and not replace:
            raise PluginError(
                f"kernel for {op_name!r} on {device_type!r} is registered twice: by "
                f"{self._origin[key]!r} and by {origin!r}")
        self._kernels[key] = kernel_class
        self._origin[key] = origin

    def lookup(self, op_name, device_type):
        return self._kernels.get((op_name, device_type))

    def items(self):
        return sorted(self._kernels.items(), key=lambda kv: kv[0])


class _Registrar:
    """What a registrar hook receives: ``add`` records the calling plugin as origin."""

    def __init__(self, registry, origin):
        self._registry = registry
        self._origin = origin
        self.added = []


class BackendRegistrar(_Registrar):
    def add(self, backend, *, replace=False):
        self._registry.add(backend.device_type, backend, origin=self._origin, replace=replace)
        self.added.append(("backend", backend.device_type))


class KVStoreRegistrar(_Registrar):
    def add(self, name, factory, *, aliases=(), description="", replace=False):
        factory.description = getattr(factory, "description", None) or description
        self._registry.add(name, factory, aliases=aliases, origin=self._origin, replace=replace)
        self.added.append(("kvstore", name))


class OpRegistrar(_Registrar):
    def add(self, opdef, *, replace=False):
        self._registry.add(opdef.name, opdef, aliases=opdef.aliases, origin=self._origin,
                           replace=replace)
        self.added.append(("operator", opdef.name))


class KernelRegistrar(_Registrar):
    def add(self, op_name, device_type, kernel_class, *, replace=False):
        self._registry.add(op_name, device_type, kernel_class, origin=self._origin,
                           replace=replace)
        self.added.append(("kernel", f"{op_name}@{device_type}"))
