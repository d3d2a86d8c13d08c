"""SequentialModule (test-cases E1) and its equivalence with one fused Module."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError
from gradloom.module import InputsGradError, NotBoundError


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32) + (x[:, 1] > 0)
    return x, y.astype(np.float32)


def _chain():
    data = mx.sym.Variable("data")
    m1 = mx.mod.Module(mx.sym.FullyConnected(data, num_hidden=5, name="fc1"),
                       label_names=None)
    net2 = mx.sym.SoftmaxOutput(
        mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc2"),
        name="softmax")
    m2 = mx.mod.Module(net2)
    return mx.mod.SequentialModule().add(m1).add(m2, take_labels=True, auto_wiring=True)


def test_chain_fit_and_properties():
    x, y = _data()
    seq = _chain()
    assert seq.data_names == ["data"] and seq.output_names == ["softmax_output"]
    it = mx.io.NDArrayIter(x, y, batch_size=4)
    seq.fit(it, num_epoch=1, optimizer_params={"learning_rate": 0.1})
    args, auxs = seq.get_params()
    assert sorted(args) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]
    assert auxs == {}
    assert seq.output_shapes == [("softmax_output", (4, 3))]
    assert seq.data_shapes[0].shape == (4, 4)
    assert [m.inputs_need_grad for m in seq.modules] == [False, True]
    assert seq.binded and seq.params_initialized and seq.optimizer_initialized
    (name, acc), = seq.score(it, "acc")
    assert name == "accuracy" and 0.0 <= acc <= 1.0
    out = seq.predict(it)
    assert out.shape == (8, 3)
    np.testing.assert_allclose(out.asnumpy().sum(axis=1), 1.0, rtol=1e-5)


def test_add_checks_meta_and_resets_flags():
    seq = _chain()
    with pytest.raises(ParameterError, match='Unknown meta "foo", a typo?'):
        seq.add(mx.mod.Module(mx.sym.Variable("data")), foo=1)
    seq.bind([("data", (4, 4))], [("softmax_label", (4,))])
    seq.init_params()
    assert seq.binded and seq.params_initialized
    seq.add(mx.mod.Module(mx.sym.Variable("data"), label_names=None))
    assert not (seq.binded or seq.params_initialized or seq.optimizer_initialized)
    with pytest.raises(ParameterError, match="empty SequentialModule"):
        mx.mod.SequentialModule().bind([("data", (4, 4))])
    with pytest.raises(NotBoundError):
        mx.mod.SequentialModule().init_params()


def test_duplicate_parameter_names_rejected():
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(fc, label_names=None))
    seq.add(mx.mod.Module(fc, label_names=None), auto_wiring=True)
    seq.bind([("data", (2, 4))])
    with pytest.raises(ParameterError, match="Duplicated parameter names"):
        seq.init_params()


def test_chain_trains_exactly_like_the_fused_network():
    x, y = _data(12, seed=1)
    fused_sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
        mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=5, name="fc1"),
        num_hidden=3, name="fc2"), name="softmax")
    fused = mx.mod.Module(fused_sym)
    seq = _chain()
    for mod in (fused, seq):
        mod.bind([("data", (4, 4))], [("softmax_label", (4,))])
    mx.random.seed(3)
    fused.init_params(mx.init.Xavier())
    args, _ = fused.get_params()
    seq.init_params(arg_params={k: v.copy() for k, v in args.items()})
    for mod in (fused, seq):
        mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5,
                                                              "momentum": 0.9})
    for step in range(3):
        batch = mx.io.DataBatch([mx.nd.array(x[4 * step:4 * step + 4])],
                                [mx.nd.array(y[4 * step:4 * step + 4])])
        for mod in (fused, seq):
            mod.forward_backward(batch)
            mod.update()
        np.testing.assert_allclose(seq.get_outputs()[0].asnumpy(),
                                   fused.get_outputs()[0].asnumpy(), rtol=1e-5, atol=1e-7)
    f_args, s_args = fused.get_params()[0], seq.get_params()[0]
    for name in f_args:
        np.testing.assert_allclose(s_args[name].asnumpy(), f_args[name].asnumpy(),
                                   rtol=1e-5, atol=1e-7)


def test_input_grads_chain_back_to_the_first_module():
    x, y = _data(4)
    seq = _chain()
    seq.bind([("data", (4, 4))], [("softmax_label", (4,))], inputs_need_grad=True)
    seq.init_params()
    seq.forward_backward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)]))
    grad = seq.get_input_grads()[0].asnumpy()
    fused = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
        mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=5, name="fc1"),
        num_hidden=3, name="fc2"), name="softmax"))
    fused.bind([("data", (4, 4))], [("softmax_label", (4,))], inputs_need_grad=True)
    fused.set_params(*seq.get_params())
    fused.forward_backward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)]))
    np.testing.assert_allclose(grad, fused.get_input_grads()[0].asnumpy(), rtol=1e-5,
                               atol=1e-7)
    plain = _chain()
    plain.bind([("data", (4, 4))], [("softmax_label", (4,))])
    plain.init_params()
    with pytest.raises(InputsGradError):
        plain.get_input_grads()
