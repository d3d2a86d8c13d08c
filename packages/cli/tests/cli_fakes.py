"""Fake plugins and entry points shared by the CLI tests."""
import importlib.metadata

import pluggy

from gradloom.testing.fakes import FakeBackend

hookimpl = pluggy.HookimplMarker("gradloom")

__all__ = ["FakeBackend", "hookimpl", "entry_point", "installed_entry_points"]


def entry_point(name, value):
    return importlib.metadata.EntryPoint(name=name, value=value, group="gradloom")


def installed_entry_points(*names):
    """The really installed entry points with these names (e.g. the CPU backend)."""
    return [ep for ep in importlib.metadata.entry_points(group="gradloom") if ep.name in names]
