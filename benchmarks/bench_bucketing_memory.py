"""Peak memory of bucketed training against binding only the largest bucket.

A 2-layer LSTM language model (the one of examples/lstm_bucketing.py: vocabulary 65,
batch 32) is trained for 200 batches that cycle through 10 bucket lengths (6, 12, ..., 60)
with ``BucketingModule``, and, as the reference, for 200 batches of the largest length with
a plain ``Module`` bound once. Each run is its own process, so its peak RSS is its own.
Reported per run (peaks over all batches):

* ``pool``: the executors' intermediate-buffer pool (all buckets share one),
* ``params``: flat parameter, gradient and host buffers,
* ``private``: each executor's own head outputs and head gradients,
* ``inputs``: data/label buffers (all buckets share one per input),
* ``tracemalloc``: peak of Python/numpy allocations (numpy reports its buffers to it),
* ``rss``: the process's peak resident set size.

The target is bucketing / largest-only <= 1.2 for pool + params.

    python benchmarks/bench_bucketing_memory.py [--batches 200] [--hidden 200]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import print_table  # noqa: E402

VOCAB = 65
BATCH = 32
LENGTHS = [6 * (i + 1) for i in range(10)]


def sym_gen_for(mx, hidden, embed):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(2):
        stack.add(mx.rnn.LSTMCell(num_hidden=hidden, prefix=f"lstm_l{i}_"))

    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        net = mx.sym.Embedding(data=data, input_dim=VOCAB, output_dim=embed, name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=net, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, hidden))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=VOCAB, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        return (mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax"), ("data",),
                ("softmax_label",))

    return sym_gen


def make_batch(mx, seq_len, rng):
    data = rng.integers(1, VOCAB, (BATCH, seq_len)).astype(np.float32)
    label = np.concatenate([data[:, 1:], np.zeros((BATCH, 1), np.float32)], axis=1)
    return mx.io.DataBatch(
        [mx.nd.array(data)], [mx.nd.array(label)], pad=0, bucket_key=seq_len,
        provide_data=[mx.io.DataDesc("data", (BATCH, seq_len), layout="NT")],
        provide_label=[mx.io.DataDesc("softmax_label", (BATCH, seq_len), layout="NT")])


def run(variant, batches, hidden, embed):
    """One measured run in this process; returns the peaks as a dict."""
    import gradloom as mx
    from gradloom.module.memory_usage import module_memory
    tracemalloc.start()
    rng = np.random.default_rng(0)
    sym_gen = sym_gen_for(mx, hidden, embed)
    largest = max(LENGTHS)
    if variant == "largest-only":
        mod = mx.mod.Module(sym_gen(largest)[0])
        modules = lambda: [mod]  # noqa: E731
        schedule = [largest] * batches
        first = largest
    else:
        first = largest if variant == "bucketing" else min(LENGTHS)
        mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=first)
        modules = lambda: list(mod._buckets.values())  # noqa: E731
        # every length in turn, in a shuffled order each cycle
        schedule = []
        while len(schedule) < batches:
            schedule.extend(rng.permutation(LENGTHS).tolist())
        schedule = schedule[:batches]
    mod.bind([("data", (BATCH, first))], [("softmax_label", (BATCH, first))])
    mod.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.01})
    batch_cache = {n: make_batch(mx, n, rng) for n in set(schedule)}
    peak = {"pool": 0, "params": 0, "private": 0, "inputs": 0, "pool+params": 0, "total": 0}
    tic = time.time()
    for n in schedule:
        mod.forward_backward(batch_cache[n])
        mod.update()
        usage = module_memory(modules())
        usage["pool+params"] = usage["pool"] + usage["params"]
        for key in peak:
            peak[key] = max(peak[key], usage[key])
    elapsed = time.time() - tic
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux
    return dict(peak, tracemalloc=traced, rss=rss, seconds=elapsed,
                buckets=len(set(schedule)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--embed", type=int, default=200)
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run(args.variant, args.batches, args.hidden, args.embed)))
        return
    results = {}
    for variant in ("largest-only", "bucketing", "bucketing-small-default"):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--batches",
                              str(args.batches), "--hidden", str(args.hidden), "--embed",
                              str(args.embed)], check=True, capture_output=True, text=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results["largest-only"]
    keys = ["pool", "params", "pool+params", "private", "inputs", "total", "tracemalloc",
            "rss"]
    rows = []
    for variant, res in results.items():
        row = {"run": variant, "buckets": res["buckets"], "s": f"{res['seconds']:.1f}"}
        for key in keys:
            row[key] = f"{res[key] / 2**20:.1f} MiB"
        rows.append(row)
    for variant in ("bucketing", "bucketing-small-default"):
        row = {"run": f"{variant} / largest", "buckets": "", "s": ""}
        for key in keys:
            row[key] = f"{results[variant][key] / base[key]:.3f}x" if base[key] else "-"
        rows.append(row)
    print(f"LSTM LM, 2 layers, hidden {args.hidden}, embed {args.embed}, vocab {VOCAB}, "
          f"batch {BATCH}, lengths {LENGTHS}, {args.batches} batches")
    print_table(rows, ["run", "buckets", "s"] + keys)
    ratio = results["bucketing"]["pool+params"] / base["pool+params"]
    print(f"pool+params ratio {ratio:.3f} (target <= 1.2): {'OK' if ratio <= 1.2 else 'OVER'}")


if __name__ == "__main__":
    main()
