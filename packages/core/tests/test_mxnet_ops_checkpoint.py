"""A checkpoint written by MXNet 1.9.1 that uses the operators beyond LeNet predicts MXNet's
numbers, inside the network and at its head (``scripts/make_mxnet_ops_fixture.py``)."""
import os

import numpy as np

import gradloom as mx

DATA = os.path.join(os.path.dirname(__file__), "data", "mxnet-ops")


def test_mxnet_checkpoint_with_newer_operators_reproduces_mxnets_values():
    io = np.load(os.path.join(DATA, "ops-io.npz"))
    prefix = os.path.join(DATA, "ops")
    mod = mx.mod.Module.load(prefix, 1)
    mod.bind(data_shapes=[("data", io["data"].shape)], for_training=False)
    out = mod.predict(mx.io.NDArrayIter(io["data"], batch_size=6)).asnumpy()
    np.testing.assert_allclose(out, io["softmax"], rtol=1e-5, atol=1e-6)

    sym, args, auxs = mx.model.load_checkpoint(prefix, 1)
    names = [k for k in io.files if k not in ("data", "softmax")]
    assert len(names) == 12
    heads = mx.sym.Group([sym.get_internals()[name] for name in names])
    exe = heads.simple_bind(mx.cpu(), data=io["data"].shape, grad_req="null")
    exe.copy_params_from(args, auxs, allow_extra_params=True)
    for name, value in zip(names, exe.forward(is_train=False, data=io["data"])):
        expected = io[name]
        assert value.shape == expected.shape, name
        np.testing.assert_allclose(value.asnumpy(), expected, rtol=1e-4,
                                   atol=1e-5 * max(1.0, np.abs(expected).max()), err_msg=name)
