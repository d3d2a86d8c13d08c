"""Run under mpiexec: the last rank stalls (sleeps instead of reaching the barrier); the
store's barrier_timeout_s makes the others raise, and the abort hook ends the whole job
long before the stalled rank would have woken up."""
import time

import gradloom as mx

kv = mx.kv.create("dist_sync", barrier_timeout_s=1.0)
if kv.rank == kv.num_workers - 1:
    time.sleep(60)
kv.barrier()
