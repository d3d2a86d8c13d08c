"""Run under mpiexec: MXNet's nightly dist_sync_kvstore check, one JSON line per rank.

Keys of shape (2, 3) and (1200, 1200) start at ones; the store runs the 'test' optimizer
(``w += rescale_grad * g``) with rescale_grad=2; in round i every rank pushes
``(rank + 1) * ones`` and pulls. Each rank reports the distinct values it pulled.
"""
import numpy as np

import gradloom as mx

from _report import emit

kv = mx.kv.create("dist_sync")
kv.set_optimizer(mx.optimizer.create("test", rescale_grad=2))
shapes = {"3": (2, 3), "99": (1200, 1200)}
for key, shape in shapes.items():
    kv.init(key, mx.nd.ones(shape))
rounds = []
for _ in range(3):
    pulled = {}
    for key, shape in shapes.items():
        kv.push(key, mx.nd.ones(shape) * (kv.rank + 1))
        out = mx.nd.zeros(shape)
        kv.pull(key, out=out)
        pulled[key] = sorted(set(np.unique(out.asnumpy()).tolist()))
    rounds.append(pulled)
kv.barrier()
emit({"rank": kv.rank, "size": kv.num_workers, "rounds": rounds})
