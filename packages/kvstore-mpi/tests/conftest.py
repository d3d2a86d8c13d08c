"""Helpers for launching worker scripts under ``mpiexec`` from a single-process pytest."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

WORKERS = pathlib.Path(__file__).parent / "workers"


def find_mpiexec():
    candidate = pathlib.Path(sys.executable).parent / "mpiexec"
    if candidate.exists():
        return str(candidate)
    return shutil.which("mpiexec")


@pytest.fixture(scope="session")
def mpiexec():
    path = find_mpiexec()
    if path is None:
        pytest.skip("mpiexec not found (pip install 'gradloom-kvstore-mpi[mpich]')")
    return path


class MPIRun:
    """The outcome of one ``mpiexec`` run: status, wall time, output, per-rank JSON."""

    def __init__(self, completed, seconds):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.seconds = seconds

    def reports(self):
        """One JSON object per rank (lines starting with '{'), sorted by rank."""
        rows = [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]
        return sorted(rows, key=lambda r: r["rank"])


@pytest.fixture
def run_mpi(mpiexec):
    def run(n, worker, *args, timeout=60, plain_python=False, env=None):
        command = [mpiexec, "-n", str(n), sys.executable]
        if not plain_python:
            command += ["-m", "mpi4py"]
        command += [str(WORKERS / worker), *map(str, args)]
        full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
        start = time.monotonic()
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                   env=full_env)
        return MPIRun(completed, time.monotonic() - start)
    return run
