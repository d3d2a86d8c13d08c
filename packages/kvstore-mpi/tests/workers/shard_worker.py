"""Run under mpiexec: ShardedIter gives every rank the same number of batches, together
covering the data set, with the shuffle seed chosen by rank 0; reduce_metric sums a metric
over the ranks. argv: number of examples, batch size per rank."""
import sys

import numpy as np

import gradloom as mx
from gradloom_mpi import ShardedIter, reduce_metric

from _report import emit

n, batch_size = int(sys.argv[1]), int(sys.argv[2])
kv = mx.kv.create("dist_sync")
x = np.arange(n, dtype=np.float32).reshape(n, 1) * np.ones((1, 3), np.float32)
y = np.arange(n, dtype=np.float32)
# every rank passes its own seed: rank 0's must be the one used
it = ShardedIter(x, kv, batch_size=batch_size, label=y, seed=1000 + kv.rank)
epochs = []
for _epoch in range(2):
    labels = []
    for batch in it:
        real = batch_size - (batch.pad or 0)
        labels.extend(batch.label[0].asnumpy()[:real].astype(int).tolist())
    epochs.append(labels)
    it.reset()

metric = mx.metric.create("acc")
# rank r "predicts" its first r+1 labels right and the rest wrong (one-hot predictions)
labels = mx.nd.array(np.zeros(4, np.float32))
preds = np.zeros((4, 2), np.float32)
preds[:, 1] = 1.0
preds[: kv.rank + 1, 0] = 2.0
metric.update([labels], [mx.nd.array(preds)])
local = metric.get()[1]
reduce_metric(metric, kv)
emit({"rank": kv.rank, "seed": it.seed, "epochs": epochs, "local_acc": local,
      "acc": metric.get()[1], "num_inst": metric.num_inst})
