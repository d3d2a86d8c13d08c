"""Fixtures: an isolated plugin state per test and a CliRunner."""
import warnings

import pytest
from click.testing import CliRunner

from gradloom.plugins import build_state, set_state

from cli_fakes import installed_entry_points


@pytest.fixture
def isolated(monkeypatch):
    """``isolated(**build_state_kwargs)`` installs a fresh plugin state for this test."""
    monkeypatch.delenv("GRADLOOM_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("GRADLOOM_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GRADLOOM_DEBUG", raising=False)
    previous = []

    def install(**kwargs):
        kwargs.setdefault("entry_points", [])
        with warnings.catch_warnings():  # a broken fake entry point warns by design
            warnings.simplefilter("ignore", RuntimeWarning)
            state = build_state(**kwargs)
        old = set_state(state)
        if not previous:
            previous.append(old)
        return state

    yield install
    if previous:
        set_state(previous[0])


@pytest.fixture
def cpu_state(isolated):
    """Only core and the real CPU backend (no MPI, no CUDA, no third-party plugins)."""
    return isolated(entry_points=installed_entry_points("cpu"))


@pytest.fixture
def runner():
    return CliRunner()
