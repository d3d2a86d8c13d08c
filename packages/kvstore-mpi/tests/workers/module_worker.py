"""Run under mpiexec: Module.fit with a dist store. N ranks with batch b/N must end with the
parameters of 1 rank with batch b; rank 0 alone writes the checkpoint (with optimizer
states) and every rank can load it. argv: optimizer name, output directory."""
import sys

import numpy as np

import gradloom as mx

from _report import emit

opt_name, outdir = sys.argv[1], sys.argv[2]
BATCH, STEPS, EPOCHS = 16, 4, 2
kv = mx.kv.create("dist_sync")
rank, size = kv.rank, kv.num_workers
mx.random.seed(17 + rank)          # rank-dependent init: rank 0's values must win

rng = np.random.default_rng(3)
X = rng.standard_normal((BATCH * STEPS, 6)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.float32) + (X[:, 2] > 1).astype(np.float32)
# rank r takes the r-th slice of every full batch, so step s sees the same examples overall
local = BATCH // size
rows = np.concatenate([np.arange(s * BATCH + rank * local, s * BATCH + (rank + 1) * local)
                       for s in range(STEPS)])
train = mx.io.NDArrayIter(X[rows], Y[rows], batch_size=local, shuffle=False)

data = mx.sym.Variable("data")
net = mx.sym.FullyConnected(data, num_hidden=12, name="fc1")
net = mx.sym.Activation(net, act_type="tanh", name="tanh1")
net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
net = mx.sym.SoftmaxOutput(net, name="softmax")
mod = mx.mod.Module(net, context=mx.cpu())
params = {"learning_rate": 0.1, "wd": 1e-3}
if opt_name == "sgd":
    params["momentum"] = 0.9
else:
    params["learning_rate"] = 0.01
mod.fit(train, num_epoch=EPOCHS, kvstore=kv, optimizer=opt_name, optimizer_params=params,
        initializer=mx.init.Xavier())
arg, aux = mod.get_params()

prefix = f"{outdir}/model-n{size}-{opt_name}"
if kv.should_write_checkpoint:
    mod.save_checkpoint(prefix, EPOCHS, save_optimizer_states=True)
kv.barrier()
loaded = mx.mod.Module.load(prefix, EPOCHS, load_optimizer_states=True)
_sym, loaded_arg, _aux = mx.model.load_checkpoint(prefix, EPOCHS)
same = all(np.array_equal(loaded_arg[k].asnumpy(), arg[k].asnumpy()) for k in arg)
emit({"rank": rank, "size": size, "writer": kv.should_write_checkpoint,
      "loaded_matches": same, "params": {k: v.asnumpy().ravel().tolist() for k, v in
                                         sorted(arg.items())}})
