"""One full fp32 training step on the GPU: gradloom's Module against PyTorch CUDA eager.

Each step is forward, backward and an SGD-with-momentum update (gradloom: ``Module.forward``
/ ``backward`` / ``update`` on gpu(0); PyTorch: ``model(x)``, ``loss.backward()``,
``optimizer.step()``), with the batch already on the device for both and a device
synchronisation at the end of every step. Windows of the two frameworks alternate (best of
``--repeat`` each, see ``_common.best_rates``); the table shows samples/s and the ratio
gradloom / PyTorch.

    python benchmarks/bench_gpu.py [--seconds 2] [--repeat 3] [--cases mlp-256,lenet-128]

Cases: MLP 784-1024-1024-10 at batch 256 and 8192, MLP 4096-4096-4096-1000 at batch 4096,
LeNet at batch 128 and 2048. Without a usable GPU (no cupy, no driver, no device) it prints
why and exits with status 0.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_rates, build, build_torch, print_table  # noqa: E402

# name: (network, batch, data shape without batch, classes)
CASES = {
    "mlp-256": ("mlp", 256, (784,), 10),
    "mlp-8192": ("mlp", 8192, (784,), 10),
    "mlp4096-4096": ("mlp4096", 4096, (4096,), 1000),
    "lenet-128": ("lenet", 128, (1, 28, 28), 10),
    "lenet-2048": ("lenet", 2048, (1, 28, 28), 10),
}
LR, MOMENTUM = 0.01, 0.9


def build_mlp4096(mx):
    net = mx.sym.Variable("data")
    for i in (1, 2):
        net = mx.sym.FullyConnected(net, num_hidden=4096, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{i}")
    net = mx.sym.FullyConnected(net, num_hidden=1000, name="fc3")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def build_mlp4096_torch(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                         nn.Linear(4096, 1000))


def gpu_reason():
    """``None`` when gradloom can use gpu(0), else why not."""
    try:
        from gradloom.plugins import load_plugins
        backends = load_plugins().backends
    except Exception as exc:   # a broken install is a reason too, not a traceback
        return f"gradloom could not load its plugins: {exc}"
    if "gpu" not in backends:
        return "the gpu backend is not installed: pip install 'gradloom-backend-cuda[cuda12]'"
    return backends.get("gpu").unavailable_reason


def gradloom_step(mx, case):
    network, batch, shape, classes = CASES[case]
    sym = build_mlp4096(mx) if network == "mlp4096" else build(mx, network)
    ctx = mx.gpu(0)
    mod = mx.mod.Module(sym, context=ctx)
    mod.bind(data_shapes=[("data", (batch, *shape))],
             label_shapes=[("softmax_label", (batch,))])
    mx.random.seed(0)
    mod.init_params(initializer=mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={
        "learning_rate": LR, "momentum": MOMENTUM, "rescale_grad": 1.0 / batch})
    rng = np.random.default_rng(0)
    data = mx.nd.array(rng.random((batch, *shape), dtype=np.float32), ctx=ctx)
    label = mx.nd.array(rng.integers(0, classes, batch).astype(np.float32), ctx=ctx)
    data_batch = mx.io.DataBatch(data=[data], label=[label])
    backend = ctx.backend

    def step():
        mod.forward(data_batch, is_train=True)
        mod.backward()
        mod.update()
        backend.synchronize(0)
    return step, batch


def torch_step(torch, case):
    network, batch, shape, classes = CASES[case]
    model = build_mlp4096_torch(torch) if network == "mlp4096" else build_torch(torch, network)
    device = torch.device("cuda", 0)
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(batch, *shape, device=device)
    y = torch.randint(0, classes, (batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        optimizer.step()
        torch.cuda.synchronize(device)
    return step, batch


def torch_reason():
    try:
        import torch
    except ImportError as exc:
        return None, f"PyTorch is not installed ({exc})"
    if not torch.cuda.is_available():
        return None, f"PyTorch {torch.__version__} sees no CUDA device"
    return torch, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, from {', '.join(CASES)}")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    reason = gpu_reason()
    if reason is not None:
        print(f"bench_gpu: no usable GPU, nothing to measure: {reason}")
        return 0
    import gradloom as mx
    torch, why_not_torch = torch_reason()
    if torch is not None:
        torch.backends.cudnn.benchmark = True
    else:
        print(f"bench_gpu: measuring gradloom only: {why_not_torch}")
    rows, report = [], {}
    for case in cases:
        steps = {"gradloom": gradloom_step(mx, case)[0]}
        if torch is not None:
            steps["torch"] = torch_step(torch, case)[0]
        batch = CASES[case][1]
        rates = best_rates(steps, batch, seconds=args.seconds, repeats=args.repeat)
        row = {"case": case, "batch": batch,
               "gradloom samples/s": f"{rates['gradloom']:.0f}"}
        if "torch" in rates:
            row["torch samples/s"] = f"{rates['torch']:.0f}"
            row["gradloom/torch"] = f"{rates['gradloom'] / rates['torch']:.2f}"
        rows.append(row)
        report[case] = rates
        del steps
    print_table(rows, ["case", "batch", "gradloom samples/s", "torch samples/s",
                       "gradloom/torch"])
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
