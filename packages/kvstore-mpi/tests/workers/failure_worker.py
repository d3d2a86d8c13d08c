"""Run under mpiexec: the last rank fails mid-epoch while the others sit in allreduces.

argv: 'raise' (an uncaught exception; the store's abort hook must end every rank), 'exit'
(os._exit(3), a rank that vanishes) or 'kill' (SIGKILL to itself).
"""
import os
import signal
import sys

import numpy as np

import gradloom as mx

mode = sys.argv[1]
kv = mx.kv.create("dist_sync")
grad = mx.nd.zeros((1000,))
kv.init("w", grad)
for step in range(100000):
    grad[:] = float(kv.rank)
    kv.pushpull("w", grad)
    if step == 5 and kv.rank == kv.num_workers - 1:
        print(f"rank {kv.rank} fails now ({mode})", flush=True)
        if mode == "raise":
            raise RuntimeError(f"injected failure on rank {kv.rank}")
        if mode == "exit":
            os._exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    assert np.all(grad.asnumpy() == kv.num_workers * (kv.num_workers - 1) / 2)
