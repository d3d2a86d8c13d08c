"""Run under mpiexec: the last rank stalls (sleeps) instead of joining a collective; the
store's timeouts make the others raise, and the abort hook ends the whole job long before
the stalled rank would have woken up. argv: 'barrier', 'sum' (pushpull) or 'flat'."""
import sys
import time

import numpy as np

import gradloom as mx

mode = sys.argv[1]
kv = mx.kv.create("dist_sync", barrier_timeout_s=1.0, stall_timeout_s=1.0)
kv.init("w", mx.nd.zeros((4,)))
if kv.rank == kv.num_workers - 1:
    time.sleep(60)
if mode == "barrier":
    kv.barrier()
elif mode == "sum":
    kv.pushpull("w", mx.nd.ones((4,)))
else:
    kv.allreduce_flat(np.ones(8, np.float32))
