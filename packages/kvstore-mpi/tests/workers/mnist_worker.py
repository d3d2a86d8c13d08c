"""Run under mpiexec: an MNIST MLP trained with a dist store; each rank reads its share of
the files (MNISTIter num_parts/part_index) and scores its share of the test set, and the
accuracy is summed over ranks with reduce_metric. argv: data directory, global batch size,
epochs."""
import os
import sys

import gradloom as mx
from gradloom_mpi import reduce_metric

from _report import emit

data_dir, global_batch, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kv = mx.kv.create("dist_sync")
rank, size = kv.rank, kv.num_workers
mx.random.seed(42)


def mnist(kind, batch, shuffle):
    return mx.io.MNISTIter(image=os.path.join(data_dir, f"{kind}-images-idx3-ubyte"),
                           label=os.path.join(data_dir, f"{kind}-labels-idx1-ubyte"),
                           batch_size=batch, flat=True, shuffle=shuffle, seed=rank,
                           num_parts=size, part_index=rank)


train = mnist("train", global_batch // size, True)
val = mnist("t10k", 100, False)
net = mx.sym.Variable("data")
net = mx.sym.FullyConnected(net, num_hidden=128, name="fc1")
net = mx.sym.Activation(net, act_type="relu", name="relu1")
net = mx.sym.FullyConnected(net, num_hidden=64, name="fc2")
net = mx.sym.Activation(net, act_type="relu", name="relu2")
net = mx.sym.FullyConnected(net, num_hidden=10, name="fc3")
net = mx.sym.SoftmaxOutput(net, name="softmax")
mod = mx.mod.Module(net, context=mx.cpu())
mod.fit(train, num_epoch=epochs, kvstore=kv, optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
        initializer=mx.init.Xavier())
metric = mx.metric.create("acc")
mod.score(val, metric)
local = metric.get()[1]
reduce_metric(metric, kv)
emit({"rank": rank, "size": size, "local_acc": local, "acc": metric.get()[1],
      "num_inst": metric.num_inst})
