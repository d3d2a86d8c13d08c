"""PythonModule / PythonLossModule: state flags (test-cases E2) and a Python loss head that
trains like SoftmaxOutput."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError
from gradloom.module import NotBoundError, NotForTrainingError


def _softmax_ce_grad(scores, labels):
    s = scores.asnumpy()
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(p)), labels.asnumpy().astype(int)] -= 1.0
    return p


def test_loss_module_flags_are_set():
    loss = mx.mod.PythonLossModule(grad_func=_softmax_ce_grad)
    assert not loss.binded
    with pytest.raises(NotBoundError):
        loss.output_shapes  # noqa: B018
    loss.bind([("data", (4, 3))], [("softmax_label", (4,))])
    assert loss.binded and loss.for_training          # MXNet left binded False
    assert loss.output_shapes == [("pyloss_output", (4, 3))]
    assert loss.output_names == ["pyloss_output"]
    loss.init_params()
    assert loss.params_initialized and loss.get_params() == ({}, {})
    loss.init_optimizer()
    assert loss.optimizer_initialized
    loss.update()   # nothing to update


def test_loss_module_forward_backward_and_errors():
    loss = mx.mod.PythonLossModule(grad_func=_softmax_ce_grad)
    loss.bind([("data", (2, 3))], [("softmax_label", (2,))])
    scores = mx.nd.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = mx.nd.array([2, 1])
    loss.forward(mx.io.DataBatch([scores], [labels]), is_train=True)
    assert loss.get_outputs()[0] is scores
    loss.backward()
    grad = loss.get_input_grads()[0].asnumpy()
    np.testing.assert_allclose(grad, _softmax_ce_grad(scores, labels), rtol=1e-6)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)
    with pytest.raises(ParameterError):
        loss.backward(out_grads=[scores])
    metric = mx.metric.Accuracy()
    loss.update_metric(metric, [labels])
    assert metric.get() == ("accuracy", 0.5)
    with pytest.raises(ParameterError, match="exactly one"):
        mx.mod.PythonLossModule(data_names=("a", "b"))
    with pytest.raises(ParameterError, match="grad_req"):
        mx.mod.PythonLossModule().bind([("data", (2, 3))], grad_req="add")
    with pytest.raises(ParameterError, match="data_names"):
        mx.mod.PythonLossModule().bind([("x", (2, 3))])
    no_grad = mx.mod.PythonLossModule()
    no_grad.bind([("data", (2, 3))], [("softmax_label", (2,))])
    no_grad.forward(mx.io.DataBatch([scores], [labels]))
    with pytest.raises(ParameterError, match="grad_func"):
        no_grad.backward()
    inference = mx.mod.PythonLossModule(grad_func=_softmax_ce_grad)
    inference.bind([("data", (2, 3))], for_training=False)
    inference.forward(mx.io.DataBatch([scores]))
    with pytest.raises(NotForTrainingError):
        inference.backward()


def test_python_loss_head_trains_like_softmax_output():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 3, 8).astype(np.float32)
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(fc, label_names=None))
    seq.add(mx.mod.PythonLossModule(grad_func=_softmax_ce_grad), take_labels=True,
            auto_wiring=True)
    ref = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"))
    for mod in (seq, ref):
        mod.bind([("data", (4, 4))], [("softmax_label", (4,))])
    mx.random.seed(1)
    ref.init_params(mx.init.Xavier())
    seq.init_params(arg_params={k: v.copy() for k, v in ref.get_params()[0].items()})
    for mod in (seq, ref):
        mod.init_optimizer(optimizer_params={"learning_rate": 0.3})
    for step in range(2):
        batch = mx.io.DataBatch([mx.nd.array(x[4 * step:4 * step + 4])],
                                [mx.nd.array(y[4 * step:4 * step + 4])])
        for mod in (seq, ref):
            mod.forward_backward(batch)
            mod.update()
    for name, value in ref.get_params()[0].items():
        np.testing.assert_allclose(seq.get_params()[0][name].asnumpy(), value.asnumpy(),
                                   rtol=1e-5, atol=1e-7)
