"""Write the MXNet checkpoint of packages/core/tests/data/mxnet-ops/ (operators beyond LeNet).

Run with MXNet 1.9.1 (its own virtual environment, numpy 1.23.5):

    python scripts/make_mxnet_ops_fixture.py packages/core/tests/data/mxnet-ops

A small encoder-decoder over 1x8x8 images that uses Pad, InstanceNorm, Deconvolution,
UpSampling (nearest and bilinear), L2Normalization, slice, reverse, LayerNorm, comparison
arithmetic, mean, norm, broadcast_div and SequenceMask: trained one epoch (5 SGD steps) on
random data, saved with ``save_checkpoint``, loaded back with ``Module.load`` and run in
inference on a fixed batch; ``ops-io.npz`` holds that batch (``data``) and MXNet's
``softmax`` output.
"""
import os
import sys

import mxnet as mx
import numpy as np


INTERNALS = ["pad0_output", "inorm_output", "dec_output", "upsampling0_output", "bil_output",
             "l2normalization0_output", "reverse0_output", "ln_output", "_plus0_output",
             "norm0_output", "sequencemask0_output", "fc_output"]


def network():
    data = mx.sym.Variable("data")                                   # (N, 1, 8, 8)
    x = mx.sym.Pad(data, mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1))
    x = mx.sym.Convolution(x, kernel=(3, 3), stride=(2, 2), num_filter=4, name="enc")
    x = mx.sym.InstanceNorm(x, name="inorm")
    x = mx.sym.Activation(x, act_type="relu")                       # (N, 4, 4, 4)
    up = mx.sym.Deconvolution(x, kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=3,
                              no_bias=False, name="dec")             # (N, 3, 8, 8)
    near = mx.sym.UpSampling(x, scale=2, sample_type="nearest", num_args=1)
    bil = mx.sym.UpSampling(x, scale=2, sample_type="bilinear", num_filter=4, num_args=1,
                            name="bil")
    x = mx.sym.Concat(up, near, bil, dim=1)                          # (N, 11, 8, 8)
    x = mx.sym.L2Normalization(x, mode="channel")
    x = mx.sym.reverse(mx.sym.slice(x, begin=(None, 1, 0, 0), end=(None, 9, 8, 8)), axis=3)
    x = mx.sym.LayerNorm(x, axis=1, name="ln")                       # (N, 8, 8, 8)
    x = x * (x > 0) + 0.1 * x * (x <= 0)
    pooled = mx.sym.mean(x, axis=(2, 3))                             # (N, 8)
    scale = mx.sym.norm(pooled, axis=1, keepdims=True)
    feat = mx.sym.broadcast_div(pooled, scale + 1)
    seq = mx.sym.SequenceMask(mx.sym.expand_dims(feat, axis=2), use_sequence_length=False)
    feat = mx.sym.reshape(seq, shape=(0, -1))
    logits = mx.sym.FullyConnected(feat, num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(logits, name="softmax")


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(3)
    x = rng.rand(40, 1, 8, 8).astype("f")
    y = rng.randint(0, 3, 40).astype("f")
    mx.random.seed(2)
    train = mx.io.NDArrayIter(x, y, batch_size=8)
    mod = mx.mod.Module(network())
    mod.fit(train, num_epoch=1, optimizer="sgd", initializer=mx.init.Xavier(magnitude=2),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    prefix = os.path.join(out, "ops")
    mod.save_checkpoint(prefix, 1)
    loaded = mx.mod.Module.load(prefix, 1)
    test = rng.rand(6, 1, 8, 8).astype("f")
    loaded.bind(data_shapes=[("data", test.shape)], for_training=False)
    out_nd = loaded.predict(mx.io.NDArrayIter(test, batch_size=6))
    # the values inside the network too: each new operator's output, not only the head's
    sym, args, auxs = mx.model.load_checkpoint(prefix, 1)
    heads = mx.sym.Group([sym.get_internals()[name] for name in INTERNALS])
    exe = heads.simple_bind(mx.cpu(), data=test.shape, grad_req="null")
    exe.copy_params_from(args, auxs, allow_extra_params=True)
    inside = {name: value.asnumpy()
              for name, value in zip(INTERNALS, exe.forward(is_train=False, data=test))}
    np.savez(os.path.join(out, "ops-io.npz"), data=test, softmax=out_nd.asnumpy(), **inside)


if __name__ == "__main__":
    main(sys.argv[1])
