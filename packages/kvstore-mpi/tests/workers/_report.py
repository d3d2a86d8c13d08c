"""How workers hand results to pytest: one JSON line per rank on stdout.

The line goes out in a single ``write`` system call so that mpiexec, which merges the ranks'
output streams, cannot splice another rank's output into the middle of it.
"""
import json
import os
import sys


def emit(obj):
    sys.stdout.flush()
    data = (json.dumps(obj) + "\n").encode()
    while data:
        written = os.write(1, data)
        data = data[written:]
