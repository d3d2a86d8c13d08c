"""Importing the plugin (and registering its stores) must not start MPI or load cupy."""
import json
import subprocess
import sys

CHECK = r"""
import json, sys
import gradloom_mpi.plugin
from gradloom.plugins import load_plugins
state = load_plugins()
names = state.kvstores.names()
print(json.dumps({"names": names,
                  "loaded": [m for m in ("mpi4py", "mpi4py.MPI", "cupy") if m in sys.modules]}))
"""


def test_plugin_import_loads_neither_mpi_nor_cupy():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert {"dist_sync", "dist_device_sync"} <= set(result["names"])


def test_store_factories_are_registered_with_descriptions():
    from gradloom.plugins import build_state
    state = build_state()
    assert "dist_sync_device" in state.kvstores      # MXNet's other spelling
    assert state.kvstores.get("dist_sync").description
    assert state.kvstores.origin("dist_sync") == "mpi"
