"""Shared pieces of the benchmarks: the three reference networks, timing, reporting.

The networks are written once against the MXNet symbol API, so the same function builds them
with ``gradloom`` and (in a separate interpreter, see ``mxnet_python``) with MXNet 1.9.1.
"""
import json
import os
import subprocess
import sys
import time


def threads_from_argv(default=2):
    """``--threads N`` from the command line, applied to the BLAS/OpenMP environment.

    Thread pools read these variables when numpy (or torch, or MXNet) loads, so a script
    calls this before importing any of them; every framework then runs with N threads.
    """
    threads = default
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            threads = int(sys.argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    return threads

NETWORKS = {
    # name: (batch size, data shape without batch)
    "mlp": (256, (784,)),
    "lenet": (128, (1, 28, 28)),
    "tiny": (1, (16,)),
}


def build(mx, name):
    data = mx.sym.Variable("data")
    if name == "mlp":
        net = mx.sym.FullyConnected(data, num_hidden=1024, name="fc1")
        net = mx.sym.Activation(net, act_type="relu")
        net = mx.sym.FullyConnected(net, num_hidden=1024, name="fc2")
        net = mx.sym.Activation(net, act_type="relu")
        net = mx.sym.FullyConnected(net, num_hidden=10, name="fc3")
    elif name == "lenet":
        net = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
        net = mx.sym.Activation(net, act_type="tanh")
        net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
        net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=50, name="conv2")
        net = mx.sym.Activation(net, act_type="tanh")
        net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
        net = mx.sym.Flatten(net)
        net = mx.sym.FullyConnected(net, num_hidden=500, name="fc1")
        net = mx.sym.Activation(net, act_type="tanh")
        net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    elif name == "tiny":
        net = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
        net = mx.sym.Activation(net, act_type="relu")
        net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    else:
        raise ValueError(name)
    return mx.sym.SoftmaxOutput(net, name="softmax")


def build_torch(torch, name):
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                             nn.Linear(1024, 10))
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
                             nn.Conv2d(20, 50, 5), nn.Tanh(), nn.MaxPool2d(2, 2), nn.Flatten(),
                             nn.Linear(800, 500), nn.Tanh(), nn.Linear(500, 10))
    if name == "tiny":
        return nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 10))
    raise ValueError(name)


def best_rate(step, batch, seconds=2.0, repeats=3, warmup=3):
    """Samples per second of ``step``: best of ``repeats`` windows of about ``seconds``."""
    for _ in range(warmup):
        step()
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and n >= 3:
                break
        best = max(best, n * batch / elapsed)
    return best


def best_rates(steps, batch, seconds=2.0, repeats=3, warmup=3):
    """Best samples/s of each ``{label: step}``, their windows interleaved.

    The machines these run on are shared: a burst of someone else's work would penalise
    whichever framework it happens to land on. Alternating one window of each, ``repeats``
    times, and keeping each one's best puts both under the same conditions.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    best = dict.fromkeys(steps, 0.0)
    for _ in range(repeats):
        for label, step in steps.items():
            best[label] = max(best[label], best_rate(step, batch, seconds, 1, warmup=0))
    return best


def mxnet_python():
    """Interpreter of a separate MXNet 1.9.1 environment (it needs numpy < 2), if any."""
    path = os.environ.get("GRADLOOM_BENCH_MXNET_PYTHON", "/work/mxvenv/bin/python")
    return path if os.path.exists(path) else None


def run_in_mxnet(script, args):
    """Run ``script`` under MXNet's interpreter with ``--framework mxnet``; parse its JSON."""
    python = mxnet_python()
    if python is None:
        return None
    env = dict(os.environ, MXNET_ENGINE_TYPE="NaiveEngine")
    env.setdefault("OMP_NUM_THREADS", "2")
    result = subprocess.run([python, script, "--framework", "mxnet", *args], env=env,
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        print(f"MXNet run failed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(rows, columns):
    widths = [max(len(str(c)), *(len(f"{r.get(c, '')}") for r in rows)) for c in columns]
    print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(f"{row.get(c, '')}".ljust(w) for c, w in zip(columns, widths)))
