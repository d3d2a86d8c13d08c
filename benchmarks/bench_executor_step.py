"""One training step without optimizer (forward + backward) per network, samples/s.

gradloom's bound executor against PyTorch CPU (2 threads) in the same run, and MXNet 1.9.1
(its own interpreter, see ``_common.mxnet_python``) when present. Prints the ratios.

    python benchmarks/bench_executor_step.py [--seconds 2] [--networks mlp,lenet,tiny]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import NETWORKS, best_rate, build, build_torch, print_table, run_in_mxnet  # noqa: E402


def symbolic_step(mx, name, ctx):
    batch, shape = NETWORKS[name]
    sym = build(mx, name)
    exe = sym.simple_bind(ctx, data=(batch, *shape), grad_req="write")
    rng = np.random.default_rng(0)
    for arr_name, arr in exe.arg_dict.items():
        if arr_name not in ("data", "softmax_label"):
            arr[:] = rng.normal(0, 0.05, arr.shape).astype(np.float32)
    exe.arg_dict["data"][:] = rng.random((batch, *shape), dtype=np.float32)
    exe.arg_dict["softmax_label"][:] = rng.integers(0, 10, batch).astype(np.float32)

    def step():
        exe.forward(is_train=True)
        exe.backward()
        exe.grad_arrays[1].wait_to_read()
    return step, batch


def torch_step(name):
    import torch
    torch.set_num_threads(2)
    batch, shape = NETWORKS[name]
    model = build_torch(torch, name)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))

    def step():
        model.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
    return step, batch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", default="all", choices=["all", "mxnet"])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--networks", default="mlp,lenet,tiny")
    args = parser.parse_args()
    names = args.networks.split(",")
    if args.framework == "mxnet":  # running inside MXNet's interpreter
        import mxnet as mx
        print(json.dumps({n: best_rate(*symbolic_step(mx, n, mx.cpu()), seconds=args.seconds)
                          for n in names}))
        return
    import gradloom as mx
    mxnet_rates = run_in_mxnet(__file__, ["--seconds", str(args.seconds),
                                          "--networks", args.networks]) or {}
    rows = []
    for name in names:
        ours = best_rate(*symbolic_step(mx, name, mx.cpu()), seconds=args.seconds)
        ref = best_rate(*torch_step(name), seconds=args.seconds)
        row = {"network": name, "batch": NETWORKS[name][0], "gradloom/s": f"{ours:.0f}",
               "torch/s": f"{ref:.0f}", "gradloom/torch": f"{ours / ref:.2f}x"}
        if name in mxnet_rates:
            row["mxnet/s"] = f"{mxnet_rates[name]:.0f}"
            row["gradloom/mxnet"] = f"{ours / mxnet_rates[name]:.2f}x"
        rows.append(row)
    print("forward+backward step, samples/s (best of 3 windows)")
    print_table(rows, ["network", "batch", "gradloom/s", "torch/s", "gradloom/torch", "mxnet/s",
                       "gradloom/mxnet"])


if __name__ == "__main__":
    main()
