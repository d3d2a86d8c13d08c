"""Run under mpiexec: N ranks with batch b/N must end with the parameters of 1 rank with b.

A small tanh MLP with softmax cross-entropy, gradients computed by hand in float64 and
stored in float32. Every rank starts from its own random weights: ``kv.init`` must replace
them with rank 0's. Runs every combination of optimizer (SGD with momentum 0.9, Adam) and
path ('local' runs the optimizer after kv.pushpull / allreduce_flat; 'store' installs it
with kv.set_optimizer), each on a fresh store.
"""
import numpy as np

import gradloom as mx
from gradloom_mpi.data import scatter_index

from _report import emit

STEPS, BATCH = 6, 16


def gradients(p, x, y):
    """Summed (not averaged) gradients of the batch's cross-entropy, by hand in float64."""
    w1, b1 = p["fc1_weight"].asnumpy().astype(np.float64), p["fc1_bias"].asnumpy()
    w2, b2 = p["fc2_weight"].asnumpy().astype(np.float64), p["fc2_bias"].asnumpy()
    h = np.tanh(x @ w1.T + b1)
    z = h @ w2.T + b2
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    dz = prob.copy()
    dz[np.arange(len(y)), y] -= 1
    dh = (dz @ w2) * (1 - h ** 2)
    return {"fc1_weight": dh.T @ x, "fc1_bias": dh.sum(0), "fc2_weight": dz.T @ h,
            "fc2_bias": dz.sum(0)}


def train(opt_name, path):
    """Final parameters after STEPS updates of this rank's share of every batch."""
    kv = mx.kv.create("dist_sync", fusion_threshold_bytes=200)
    rank, size = kv.rank, kv.num_workers
    data_rng = np.random.default_rng(7)
    X = data_rng.standard_normal((STEPS, BATCH, 5))
    Y = data_rng.integers(0, 3, size=(STEPS, BATCH))
    mine = scatter_index(BATCH, rank, size, equal_length=False)

    init_rng = np.random.default_rng(100 + rank)        # rank-dependent on purpose
    shapes = {"fc1_weight": (8, 5), "fc1_bias": (8,), "fc2_weight": (3, 8), "fc2_bias": (3,)}
    names = sorted(shapes)
    params = {k: mx.nd.array(init_rng.standard_normal(shapes[k]).astype(np.float32) * 0.5)
              for k in names}
    kv.init(names, [params[k] for k in names])
    kv.pull(names, out=[params[k] for k in names])

    extra = {"momentum": 0.9} if opt_name == "sgd" else {}
    optimizer = mx.optimizer.create(opt_name, learning_rate=0.05, wd=1e-3,
                                    rescale_grad=1.0 / (len(mine) * size), **extra)
    if path == "store":
        kv.set_optimizer(optimizer)
    else:
        updater = mx.optimizer.get_updater(optimizer)

    grads = {k: mx.nd.zeros(shapes[k]) for k in names}
    flat = np.zeros(sum(int(np.prod(s)) for s in shapes.values()), np.float32)
    for step in range(STEPS):
        g = gradients(params, X[step][mine], Y[step][mine])
        if path == "store":
            kv.push(names, [mx.nd.array(g[k].astype(np.float32)) for k in names])
            kv.pull(names, out=[params[k] for k in names])
            continue
        if step % 2 == 0:       # the list form of pushpull (fused)...
            for k in names:
                grads[k][:] = g[k].astype(np.float32)
            kv.pushpull(names, [grads[k] for k in names])
        else:                   # ...and the Module's flat fast path
            offset = 0
            for k in names:
                n = grads[k].size
                flat[offset:offset + n] = g[k].ravel()
                offset += n
            kv.allreduce_flat(flat)
            offset = 0
            for k in names:
                n = grads[k].size
                grads[k][:] = flat[offset:offset + n].reshape(shapes[k])
                offset += n
        for i, k in enumerate(names):
            updater(i, grads[k], params[k])
    kv.close()
    return rank, size, {k: params[k].asnumpy().ravel().tolist() for k in names}


results = {}
for opt_name in ("sgd", "adam"):
    for path in ("local", "store"):
        rank, size, results[f"{opt_name}/{path}"] = train(opt_name, path)
emit({"rank": rank, "size": size, "params": results})
