"""Run under mpiexec: exercises a dist store and prints one JSON line per rank.

argv: store name, fusion threshold in bytes. Every rank pushes ``rank + k`` so the expected
sums are rank-invariant; the pytest side compares them with numpy references.
"""
import sys

import numpy as np

import gradloom as mx

from _report import emit

name, threshold = sys.argv[1], int(sys.argv[2])
kv = mx.kv.create(name, fusion_threshold_bytes=threshold)
rank, size = kv.rank, kv.num_workers

KEYS = {                    # key -> (shape, dtype); 'big' exceeds the small thresholds used
    "a": ((3, 4), np.float32),
    "b": ((5,), np.float64),
    "c": ((2, 2), np.int32),
    "d": ((7,), np.float16),
    "big": ((300,), np.float32),
}
names = sorted(KEYS)
# init: every rank offers its own value, rank 0's must win
kv.init(names, [mx.nd.array(np.full(s, 100 + rank, d), dtype=d) for s, d in
                (KEYS[k] for k in names)])
init_out = {k: mx.nd.zeros(KEYS[k][0], dtype=KEYS[k][1]) for k in names}
kv.pull(names, out=[init_out[k] for k in names])

report = {"rank": rank, "size": size, "type": kv.type,
          "init": {k: init_out[k].asnumpy().ravel().tolist() for k in names}, "rounds": []}
for rep in range(2):        # twice: a lazily built plan must give the same answer again
    values = {k: mx.nd.array(np.full(KEYS[k][0], rank + i + rep, KEYS[k][1]), dtype=KEYS[k][1])
              for i, k in enumerate(names)}
    # shuffled key order: the store must sort so every rank reduces in the same order
    order = names[::-1] if rank % 2 else names
    kv.pushpull(order, [values[k] for k in order])
    # two devices' worth of values for one key: summed locally, then over ranks
    two = [mx.nd.array(np.full((3,), rank + rep, np.float32)),
           mx.nd.array(np.full((3,), 1.0, np.float32))]
    if rep == 0:
        kv.init("pair", mx.nd.zeros((3,)))
    out_pair = mx.nd.zeros((3,))
    kv.push("pair", two)
    kv.pull("pair", out=out_pair)
    # the Module's fast path on a raw flat buffer
    flat = np.arange(10, dtype=np.float32) * (rank + 1)
    kv.allreduce_flat(flat)
    report["rounds"].append({
        "pushpull": {k: values[k].asnumpy().ravel().tolist() for k in names},
        "pair": out_pair.asnumpy().tolist(),
        "flat": flat.tolist(),
    })
kv.barrier()
emit(report)
