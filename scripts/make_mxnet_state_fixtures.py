"""Write the MXNet optimizer-state fixtures of packages/core/tests/data/mxnet-states/.

Run with MXNet 1.9.1 (its own virtual environment, numpy 1.23.5):

    python scripts/make_mxnet_state_fixtures.py packages/core/tests/data/mxnet-states

A small MLP (6 -> fc1 5 -> relu -> fc2 3 -> SoftmaxOutput) is trained 3 steps per case and
checkpointed with ``save_optimizer_states=True``; MXNet then resumes from the files in a fresh
Module and takes a 4th step, whose parameters are stored as ``<case>-next.npz`` beside the
batch it used. The cases cover both ways MXNet keyed its states: optimizer indices
(``index * devices + device``; one and two devices) and parameter names (update on kvstore).
``MXNET_UPDATE_ON_KVSTORE`` is set per case, as MXNet reads it when the optimizer is set up.
"""
import os
import sys

import mxnet as mx
import numpy as np

CASES = {
    # name: (devices, kvstore, update on kvstore, optimizer, optimizer params)
    "sgd-1dev": (1, None, False, "sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    # summed gradients, one updater per device (with kvstore=None MXNet's devices drift apart)
    "sgd-2dev": (2, "local", False, "sgd",
                 {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    "adam-kvstore": (2, "local", True, "adam", {"learning_rate": 0.01}),
}
SHAPES = {"data_shapes": [("data", (8, 6))], "label_shapes": [("softmax_label", (8,))]}


def network():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=5, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def step(mod, data, label):
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(data)], [mx.nd.array(label)]))
    mod.update()


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(7)
    batches = [(rng.rand(8, 6).astype("f"), rng.randint(0, 3, 8).astype("f"))
               for _ in range(4)]
    for case, (devices, kvstore, on_kvstore, optimizer, params) in CASES.items():
        os.environ["MXNET_UPDATE_ON_KVSTORE"] = str(int(on_kvstore))
        contexts = [mx.cpu(i) for i in range(devices)]
        mx.random.seed(1)
        mod = mx.mod.Module(network(), context=contexts)
        mod.bind(**SHAPES)
        mod.init_params(mx.init.Xavier(magnitude=2))
        mod.init_optimizer(kvstore=kvstore, optimizer=optimizer, optimizer_params=params)
        for data, label in batches[:3]:
            step(mod, data, label)
        prefix = os.path.join(out, case)
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
        resumed = mx.mod.Module.load(prefix, 1, load_optimizer_states=True, context=contexts)
        resumed.bind(**SHAPES)
        resumed.init_optimizer(kvstore=kvstore, optimizer=optimizer, optimizer_params=params)
        step(resumed, *batches[3])
        args, _ = resumed.get_params()
        np.savez(f"{prefix}-next.npz", data=batches[3][0], label=batches[3][1],
                 **{name: value.asnumpy() for name, value in args.items()})


if __name__ == "__main__":
    main(sys.argv[1])
