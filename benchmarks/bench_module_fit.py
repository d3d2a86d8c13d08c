"""Module.fit throughput over one epoch of synthetic data, metric included, samples/s.

For each reference network (``_common.NETWORKS``: MLP 784-1024-1024-10 batch 256, LeNet
batch 128, FC16-relu-FC10 batch 1) it times

* ``gradloom``: ``Module.fit`` (SGD with momentum, accuracy metric) over an NDArrayIter,
* ``module step``: ``forward_backward`` + ``update`` on one prepared batch (no iterator,
  no metric), and ``executor``: the bare bound executor's forward + backward, so
  ``step/executor`` shows what the Module layer (input copies, gradient reduction,
  optimizer step) adds on top,
* ``torch``: a PyTorch CPU loop (2 threads) doing the same work per batch: copy the batch,
  forward, summed cross-entropy, backward, SGD-momentum step, accuracy,
* ``mxnet``: MXNet 1.9.1's ``Module.fit`` in its own interpreter, when one is installed,

in the same run, and prints samples/s and the ratios.

    python benchmarks/bench_module_fit.py [--epochs 3] [--networks mlp,lenet,tiny]
"""
import argparse
import json
import logging
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import NETWORKS, build, build_torch, print_table, run_in_mxnet  # noqa: E402

# samples per timed epoch: enough batches that per-epoch overhead is amortised
EPOCH_BATCHES = {"mlp": 24, "lenet": 16, "tiny": 3000}


def synthetic(name):
    batch, shape = NETWORKS[name]
    n = batch * EPOCH_BATCHES[name]
    rng = np.random.default_rng(0)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.float32)
    return x, y, batch


def fit_rate(mx, name, epochs):
    """Best samples/s of one ``Module.fit`` epoch (the first, binding, epoch not counted)."""
    x, y, batch = synthetic(name)
    it = mx.io.NDArrayIter(x, y, batch_size=batch)
    mod = mx.mod.Module(build(mx, name), context=mx.cpu())
    opt = {"learning_rate": 0.01, "momentum": 0.9}
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params=opt,
            initializer=mx.init.Xavier())
    best = 0.0
    for epoch in range(1, epochs + 1):
        it.reset()
        start = time.perf_counter()
        mod.fit(it, num_epoch=epoch + 1, begin_epoch=epoch, eval_metric="acc")
        best = max(best, len(x) / (time.perf_counter() - start))
    return best


def module_step_rate(mx, name, epochs):
    """Best samples/s of ``forward_backward`` + ``update`` on one batch (no iterator, no
    metric): the Module layer's own cost on top of the executor."""
    x, y, batch = synthetic(name)
    _, shape = NETWORKS[name]
    mod = mx.mod.Module(build(mx, name), context=mx.cpu())
    mod.bind([("data", (batch, *shape))], [("softmax_label", (batch,))])
    mod.init_params(initializer=mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.01, "momentum": 0.9})
    data_batch = mx.io.DataBatch([mx.nd.array(x[:batch])], [mx.nd.array(y[:batch])])
    steps = len(x) // batch
    best = 0.0
    for _ in range(epochs + 1):
        start = time.perf_counter()
        for _ in range(steps):
            mod.forward_backward(data_batch)
            mod.update()
        best = max(best, len(x) / (time.perf_counter() - start))
    return best


def executor_rate(mx, name, epochs):
    """Best samples/s of forward + backward of the bare executor over the same batches."""
    x, y, batch = synthetic(name)
    _, shape = NETWORKS[name]
    sym = build(mx, name)
    # parameters get gradients, data and labels do not: what a bound Module computes
    req = {n: "null" if n in ("data", "softmax_label") else "write"
           for n in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), data=(batch, *shape), grad_req=req)
    exe.arg_dict["data"][:] = x[:batch]
    exe.arg_dict["softmax_label"][:] = y[:batch]
    steps = len(x) // batch
    best = 0.0
    for _ in range(epochs + 1):
        start = time.perf_counter()
        for _ in range(steps):
            exe.forward(is_train=True)
            exe.backward()
        best = max(best, len(x) / (time.perf_counter() - start))
    return best


def torch_rate(name, epochs):
    import torch
    torch.set_num_threads(2)
    x, y, batch = synthetic(name)
    model = build_torch(torch, name)
    opt = torch.optim.SGD(model.parameters(), lr=0.01 / batch, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y).long()
    xb = torch.empty((batch, *x.shape[1:]))
    yb = torch.empty((batch,), dtype=torch.long)

    def epoch():
        correct = 0
        for i in range(0, len(x), batch):
            xb.copy_(xt[i:i + batch])
            yb.copy_(yt[i:i + batch])
            opt.zero_grad(set_to_none=False)
            out = model(xb)
            loss_fn(out, yb).backward()
            opt.step()
            correct += int((out.argmax(1) == yb).sum())
        return correct

    epoch()
    best = 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        epoch()
        best = max(best, len(x) / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", default="all", choices=["all", "mxnet"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--networks", default="mlp,lenet,tiny")
    args = parser.parse_args()
    names = args.networks.split(",")
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")     # repeated fit() calls warn that set-up is done
    if args.framework == "mxnet":     # running inside MXNet's interpreter
        import mxnet as mx
        print(json.dumps({n: fit_rate(mx, n, args.epochs) for n in names}))
        return
    import gradloom as mx
    mxnet = run_in_mxnet(os.path.abspath(__file__),
                         ["--epochs", str(args.epochs), "--networks", args.networks]) or {}
    rows = []
    for name in names:
        ours = fit_rate(mx, name, args.epochs)
        step = module_step_rate(mx, name, args.epochs)
        exe = executor_rate(mx, name, args.epochs)
        torch = torch_rate(name, args.epochs)
        row = {"network": name, "batch": NETWORKS[name][0],
               "gradloom fit/s": f"{ours:.0f}", "module step/s": f"{step:.0f}",
               "executor fwd+bwd/s": f"{exe:.0f}",
               "torch/s": f"{torch:.0f}", "fit/torch": f"{ours / torch:.2f}",
               "step/executor": f"{step / exe:.2f}"}
        if name in mxnet:
            row["mxnet fit/s"] = f"{mxnet[name]:.0f}"
            row["fit/mxnet"] = f"{ours / mxnet[name]:.2f}"
        rows.append(row)
    columns = ["network", "batch", "gradloom fit/s", "module step/s", "executor fwd+bwd/s",
               "torch/s", "fit/torch", "step/executor"]
    if mxnet:
        columns += ["mxnet fit/s", "fit/mxnet"]
    print_table(rows, columns)


if __name__ == "__main__":
    main()
