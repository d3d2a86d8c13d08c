"""Gradient aggregation time per step over MPI: gradloom's dist store vs a bare Allreduce.

Run:  python benchmarks/bench_allreduce.py            (relaunches itself on 2 ranks)
      mpiexec -n 4 python -m mpi4py benchmarks/bench_allreduce.py [--steps 30]

For each model's parameter shapes (an MLP 784-1024-1024-10 and a 25M-parameter stack), every
rank times, in interleaved rounds so machine noise hits all methods alike:

* ``bare``:        one mpi4py ``Allreduce(IN_PLACE)`` of a flat buffer of the same bytes;
* ``flat``:        ``kv.allreduce_flat(buffer)``, the path ``Module.update`` takes;
* ``fused``:       ``kv.pushpull(keys, grads)`` with the default 64 MiB fusion threshold
                   (pack, one allreduce per buffer, unpack);
* ``per-key``:     ``kv.pushpull`` with ``fusion_threshold_bytes=0`` (one allreduce per key).

A step's time is the slowest rank's; the table shows the median over steps and the ratio to
``bare``. Methods run in rotating order inside each round.
"""
import argparse
import os
import subprocess
import time


def mlp_shapes():
    dims = [784, 1024, 1024, 10]
    shapes = {}
    for i, (n_in, n_out) in enumerate(zip(dims, dims[1:]), 1):
        shapes[f"fc{i}_weight"] = (n_out, n_in)
        shapes[f"fc{i}_bias"] = (n_out,)
    return shapes


def big_shapes(total=25_000_000):
    """A ResNet-like mix: many small tensors and a few large ones, 25M floats in all."""
    shapes = {}
    for i in range(36):
        shapes[f"conv{i:02d}_weight"] = (256, 256, 3, 3)      # 589,824 each
        shapes[f"bn{i:02d}_gamma"] = (256,)
        shapes[f"bn{i:02d}_beta"] = (256,)
    used = sum(_size(s) for s in shapes.values())
    shapes["fc_weight"] = (1000, (total - used - 1000) // 1000)
    shapes["fc_bias"] = (1000,)
    return shapes


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def bench(name, shapes, steps, comm_world):
    import numpy as np
    from mpi4py import MPI

    import gradloom as mx
    from gradloom_mpi.kvstore import create_store

    keys = sorted(shapes)
    n_params = sum(_size(s) for s in shapes.values())
    rank = comm_world.Get_rank()
    bare_comm = comm_world.Dup()
    stores = {"fused": create_store("dist_sync"),
              "per-key": create_store("dist_sync", fusion_threshold_bytes=0)}
    rng = np.random.default_rng(rank)
    grads = [mx.nd.array(rng.standard_normal(shapes[k]).astype(np.float32)) for k in keys]
    for kv in stores.values():
        kv.init(keys, grads)
    flat_bare = np.ones(n_params, np.float32)
    flat_kv = np.ones(n_params, np.float32)

    methods = {
        "bare": lambda: bare_comm.Allreduce(MPI.IN_PLACE, flat_bare, op=MPI.SUM),
        "flat": lambda: stores["fused"].allreduce_flat(flat_kv),
        "fused": lambda: stores["fused"].pushpull(keys, grads),
        "per-key": lambda: stores["per-key"].pushpull(keys, grads),
    }
    times = {m: [] for m in methods}
    order = list(methods)
    for step in range(steps + 3):
        # rotate the order every round so no method always runs right after another
        for method in order[step % len(order):] + order[:step % len(order)]:
            fn = methods[method]
            comm_world.Barrier()
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            slowest = comm_world.allreduce(elapsed, op=MPI.MAX)
            if step >= 3:                      # the first rounds build plans and warm caches
                times[method].append(slowest)
    for kv in stores.values():
        kv.close()
    bare_comm.Free()
    med = {m: float(np.median(t)) for m, t in times.items()}
    rows = []
    for method in methods:
        rows.append((name, n_params, len(keys), method, med[method] * 1e3,
                     med[method] / med["bare"], 4 * n_params / med[method] / 1e9))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ranks", type=int, default=2, help="ranks when relaunching")
    args = parser.parse_args()
    under_mpi = any(v in os.environ for v in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                               "PMIX_RANK"))
    if not under_mpi:
        from gradloom_mpi.launch import build_command
        cmd = build_command(args.ranks, [os.path.abspath(__file__), "--steps",
                                         str(args.steps)])
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        raise SystemExit(subprocess.run(cmd, env=env).returncode)

    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rows = bench("mlp-784-1024-1024-10", mlp_shapes(), args.steps, comm)
    rows += bench("25M-params", big_shapes(), max(args.steps // 2, 5), comm)
    if comm.Get_rank() == 0:
        print(f"gradient aggregation per step, {comm.Get_size()} ranks, "
              f"{MPI.Get_library_version().splitlines()[0].strip()}, median of steps, "
              f"slowest rank")
        header = f"{'model':<22}{'params':>11}{'keys':>6}  {'method':<9}{'ms/step':>10}" \
                 f"{'vs bare':>9}{'GB/s':>8}"
        print(header)
        print("-" * len(header))
        for name, n, k, method, ms, ratio, gbs in rows:
            print(f"{name:<22}{n:>11,}{k:>6}  {method:<9}{ms:>10.2f}{ratio:>8.2f}x{gbs:>8.2f}")


if __name__ == "__main__":
    main()
