"""Run under mpiexec: Module.fit with a dist store. N ranks with batch b/N must end with the
parameters of 1 rank with batch b (SGD with momentum, then Adam, each on a fresh store);
rank 0 alone writes the checkpoint (with optimizer states) and every rank can load it.
argv: output directory."""
import sys

import numpy as np

import gradloom as mx

from _report import emit

outdir = sys.argv[1]
BATCH, STEPS, EPOCHS = 16, 4, 2
rng = np.random.default_rng(3)
X = rng.standard_normal((BATCH * STEPS, 6)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.float32) + (X[:, 2] > 1).astype(np.float32)


def network():
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(net, num_hidden=12, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh", name="tanh1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def train(opt_name):
    kv = mx.kv.create("dist_sync")
    rank, size = kv.rank, kv.num_workers
    mx.random.seed(17 + rank)          # rank-dependent init: rank 0's values must win
    # rank r takes the r-th slice of every full batch: step s sees the same examples overall
    local = BATCH // size
    rows = np.concatenate([np.arange(s * BATCH + rank * local, s * BATCH + (rank + 1) * local)
                           for s in range(STEPS)])
    train_iter = mx.io.NDArrayIter(X[rows], Y[rows], batch_size=local, shuffle=False)
    params = ({"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3} if opt_name == "sgd" else
              {"learning_rate": 0.01, "wd": 1e-3})
    mod = mx.mod.Module(network(), context=mx.cpu())
    mod.fit(train_iter, num_epoch=EPOCHS, kvstore=kv, optimizer=opt_name,
            optimizer_params=params, initializer=mx.init.Xavier())
    arg, _aux = mod.get_params()
    prefix = f"{outdir}/model-n{size}-{opt_name}"
    if kv.should_write_checkpoint:
        mod.save_checkpoint(prefix, EPOCHS, save_optimizer_states=True)
    kv.barrier()                       # nobody reads before rank 0 has written
    mx.mod.Module.load(prefix, EPOCHS, load_optimizer_states=True)   # checks the files
    _sym, loaded_arg, _aux = mx.model.load_checkpoint(prefix, EPOCHS)
    same = all(np.array_equal(loaded_arg[k].asnumpy(), arg[k].asnumpy()) for k in arg)
    kv.close()
    return rank, size, kv.should_write_checkpoint, same, {
        k: v.asnumpy().ravel().tolist() for k, v in sorted(arg.items())}


report = {}
for name in ("sgd", "adam"):
    rank, size, writer, same, params = train(name)
    report[name] = {"writer": writer, "loaded_matches": same, "params": params}
emit({"rank": rank, "size": size, "runs": report})
