"""One training step without optimizer (forward + backward) per network, samples/s.

gradloom's bound executor against PyTorch CPU in the same run, and MXNet 1.9.1 (its own
interpreter, see ``_common.mxnet_python``) when present, all with ``--threads`` threads
(default 2). Prints the ratios. Parameters get gradients, data and labels do not (as in
``Module.fit``, and as PyTorch computes it); gradloom and PyTorch windows alternate, best of
``--repeat`` each.

    python benchmarks/bench_executor_step.py [--seconds 2] [--repeat 3] [--threads 2]
        [--networks mlp,lenet,tiny]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import threads_from_argv  # noqa: E402

THREADS = threads_from_argv()   # before numpy loads its BLAS

import numpy as np  # noqa: E402

from _common import (NETWORKS, best_rate, best_rates, build, build_torch,  # noqa: E402
                     print_table, run_in_mxnet)
from numpy_reference import STEPS as NUMPY_STEPS  # noqa: E402


def symbolic_step(mx, name, ctx):
    batch, shape = NETWORKS[name]
    sym = build(mx, name)
    req = {n: "null" if n in ("data", "softmax_label") else "write"
           for n in sym.list_arguments()}
    exe = sym.simple_bind(ctx, data=(batch, *shape), grad_req=req)
    rng = np.random.default_rng(0)
    for arr_name, arr in exe.arg_dict.items():
        if arr_name not in ("data", "softmax_label"):
            arr[:] = rng.normal(0, 0.05, arr.shape).astype(np.float32)
    exe.arg_dict["data"][:] = rng.random((batch, *shape), dtype=np.float32)
    exe.arg_dict["softmax_label"][:] = rng.integers(0, 10, batch).astype(np.float32)

    probe = exe.grad_dict["fc1_weight"]
    forward, backward = exe.forward, exe.backward

    def step():
        forward(is_train=True)
        backward()
        probe.wait_to_read()
    return step, batch


def torch_step(name):
    import torch
    torch.set_num_threads(THREADS)
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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--networks", default="mlp,lenet,tiny")
    args = parser.parse_args()
    names = args.networks.split(",")
    if args.framework == "mxnet":  # running inside MXNet's interpreter
        import mxnet as mx
        print(json.dumps({n: best_rate(*symbolic_step(mx, n, mx.cpu()), seconds=args.seconds,
                                       repeats=args.repeat) for n in names}))
        return
    import gradloom as mx
    mxnet_rates = run_in_mxnet(__file__, ["--seconds", str(args.seconds), "--repeat",
                                          str(args.repeat), "--threads", str(args.threads),
                                          "--networks", args.networks]) or {}
    rows = []
    for name in names:
        ours_step, batch = symbolic_step(mx, name, mx.cpu())
        steps = {"ours": ours_step, "torch": torch_step(name)[0]}
        if name in NUMPY_STEPS:
            steps["numpy"] = NUMPY_STEPS[name](batch).step
        rates = best_rates(steps, batch, seconds=args.seconds, repeats=args.repeat)
        ours, ref = rates["ours"], rates["torch"]
        row = {"network": name, "batch": NETWORKS[name][0], "gradloom/s": f"{ours:.0f}",
               "torch/s": f"{ref:.0f}", "gradloom/torch": f"{ours / ref:.2f}x"}
        if "numpy" in rates:
            row["numpy ref/torch"] = f"{rates['numpy'] / ref:.2f}x"
            row["gradloom/numpy ref"] = f"{ours / rates['numpy']:.2f}x"
        if name in mxnet_rates:
            row["mxnet/s"] = f"{mxnet_rates[name]:.0f}"
            row["gradloom/mxnet"] = f"{ours / mxnet_rates[name]:.2f}x"
        rows.append(row)
    print(f"forward+backward step, samples/s (best of {args.repeat} interleaved windows of "
          f"{args.seconds:g} s, {args.threads} threads)")
    print_table(rows, ["network", "batch", "gradloom/s", "torch/s", "gradloom/torch", "mxnet/s",
                       "gradloom/mxnet", "numpy ref/torch", "gradloom/numpy ref"])
    print("numpy ref: the step written by hand in numpy (benchmarks/numpy_reference.py), "
          "the ceiling of an engine on numpy's BLAS on this host")


if __name__ == "__main__":
    main()
