"""Run under mpiexec with GRADLOOM_KVSTORE_DEBUG=1: ranks that disagree get a named error.

Each scenario is collective and fails the same way on every rank, so the worker can catch
the error and go on to the next one; one JSON line per rank lists the messages.
"""

import numpy as np

import gradloom as mx
from gradloom.base import DistributedError

from _report import emit

kv = mx.kv.create("dist_sync")
rank = kv.rank
assert kv.debug, "GRADLOOM_KVSTORE_DEBUG=1 must turn the check on"
errors = {}

# 1. init with a rank-dependent shape
try:
    kv.init("w", mx.nd.zeros((3,) if rank == 0 else (4,)))
except DistributedError as exc:
    errors["init_shape"] = str(exc)

# 2. push with a key set that differs on the last rank
kv.init(["a", "b"], [mx.nd.zeros((2,)), mx.nd.zeros((2,), dtype=np.float64)])
keys = ["a"] if rank == kv.num_workers - 1 else ["a", "b"]
try:
    kv.push(keys, [mx.nd.ones((2,), dtype=np.float32 if k == "a" else np.float64)
                   for k in keys])
except DistributedError as exc:
    errors["push_keys"] = str(exc)

# 3. a flat buffer of another dtype on rank 0
try:
    kv.allreduce_flat(np.ones(5, dtype=np.float64 if rank == 0 else np.float32))
except DistributedError as exc:
    errors["flat_dtype"] = str(exc)

# 4. a NaN gradient on rank 0 poisons the sum on every rank
try:
    kv.push("a", mx.nd.array(np.array([np.nan if rank == 0 else 1.0, 1.0], np.float32)))
except DistributedError as exc:
    errors["nan"] = str(exc)

# 5. after all that, agreeing ranks still work
value = mx.nd.ones((2,))
kv.pushpull("a", value)
emit({"rank": rank, "errors": errors, "after": value.asnumpy().tolist()})
