"""Forward, backward, reshape and outputs of a Module (test-cases B)."""
from collections import namedtuple

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ShapeError, StateError

TWO_CPUS = [mx.cpu(0), mx.cpu(1)]


def test_input_grads_follow_data_names_order():
    a = mx.sym.Variable("a", __layout__="NC")
    b = mx.sym.Variable("b", __layout__="NC")
    c = mx.sym.Variable("c", __layout__="NC")
    c = a + 2 * b + 3 * c
    mod = mx.mod.Module(c, data_names=["b", "c", "a"], label_names=None, context=TWO_CPUS)
    mod.bind(data_shapes=[["b", (5, 5)], ["c", (5, 5)], ["a", (5, 5)]],
             inputs_need_grad=True)
    mod.init_params()
    mod.forward(mx.io.DataBatch(data=[mx.nd.ones((5, 5))] * 3, label=None), is_train=True)
    mod.backward([mx.nd.ones((5, 5))])
    b_grad, c_grad, a_grad = [g.asnumpy() for g in mod.get_input_grads()]
    assert np.all(a_grad == 1) and np.all(b_grad == 2) and np.all(c_grad == 3)
    unmerged = mod.get_input_grads(merge_multi_context=False)
    assert [g.shape for g in unmerged[0]] == [(2, 5), (3, 5)]  # 2.5 rounds to 2


def _tnc_module(dtype=np.float32):
    data = mx.sym.Variable("data", __layout__="TNC")
    act = mx.sym.Activation(data, act_type="relu", __layout__="TNC")
    mod = mx.mod.Module(act, ("data",), None, context=TWO_CPUS)
    mod.bind(data_shapes=[mx.io.DataDesc("data", (3, 8, 7), dtype, layout="TNC")])
    mod.init_params()
    return mod


def test_layout_aware_splitting_and_merging():
    mod = _tnc_module()
    x = np.random.default_rng(0).standard_normal((3, 8, 7)).astype(np.float32)
    mod.forward(mx.io.DataBatch(data=[mx.nd.array(x)], label=None))
    mod.backward([mx.nd.ones((3, 8, 7))])
    assert mod.get_outputs()[0].shape == (3, 8, 7)
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), np.maximum(x, 0))
    assert [o.shape for o in mod.get_outputs(merge_multi_context=False)[0]] == [(3, 4, 7)] * 2
    assert mod.output_shapes == [(mod.output_names[0], (3, 8, 7))]


def test_dtype_propagates_to_outputs():
    mod = _tnc_module(np.float16)
    mod.forward(mx.io.DataBatch(data=[mx.nd.ones((3, 8, 7), dtype=np.float16)], label=None))
    mod.backward([mx.nd.ones((3, 8, 7), dtype=np.float16)])
    for out in mod.get_outputs():
        assert out.dtype == np.float16


def _fc20(context=TWO_CPUS, batch=7):
    data = mx.sym.Variable("data")
    sym = mx.sym.FullyConnected(data, num_hidden=20, name="fc")
    mod = mx.mod.Module(sym, ("data",), None, context=context)
    mod.bind(data_shapes=[("data", (batch, 20))])
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 1})
    return mod


def _step(mod, n):
    mod.forward(mx.io.DataBatch(data=[mx.nd.ones((n, 20))], label=None))
    mod.backward([mx.nd.ones((n, 20))])
    mod.update()
    assert mod.get_outputs()[0].shape == (n, 20)


def test_reshape_keeps_parameters_and_rescale_follows_the_batch():
    mod = _fc20()
    _step(mod, 7)
    assert [(s.start, s.stop) for s in mod._exec_group.slices] == [(0, 4), (4, 7)]
    np.testing.assert_array_equal(mod.get_params()[0]["fc_bias"].asnumpy(), -np.ones(20))
    mod.reshape(data_shapes=[("data", (14, 20))])
    _step(mod, 14)
    # gradient 14 x rescale 1/14: the step is a mean over the batch actually run
    # (MXNet kept rescale 1/7 from bind time and reached -3)
    np.testing.assert_allclose(mod.get_params()[0]["fc_bias"].asnumpy(), -2 * np.ones(20))


def test_batch_smaller_than_device_count_leaves_devices_idle():
    mod = _fc20(context=[mx.cpu(0), mx.cpu(1), mx.cpu(2)], batch=6)
    _step(mod, 2)
    assert mod._exec_group.slices[2] is None
    np.testing.assert_allclose(mod.get_params()[0]["fc_bias"].asnumpy(), -np.ones(20))
    _step(mod, 1)
    np.testing.assert_allclose(mod.get_params()[0]["fc_bias"].asnumpy(), -2 * np.ones(20))
    for k in range(3):   # every device copy, idle ones included, holds the new weights
        np.testing.assert_allclose(
            mod._exec_group.params.arg_views(k)["fc_bias"].asnumpy(), -2 * np.ones(20))


def test_reshape_that_changes_a_parameter_shape_fails():
    mod = _fc20(batch=7)
    with pytest.raises(ShapeError, match="fc_weight"):
        mod.reshape(data_shapes=[("data", (3, 10))])


def test_implicit_reshape_in_forward_with_two_inputs():
    d1 = mx.sym.Variable("data1")
    d2 = mx.sym.Variable("data2")
    x1 = mx.sym.Convolution(d1, kernel=(2, 2), num_filter=2, stride=(2, 2))
    x1 = mx.sym.sum(mx.sym.flatten(mx.sym.Pooling(x1, kernel=(2, 2), pool_type="avg",
                                                  stride=(1, 1))), axis=1)
    x2 = mx.sym.Convolution(d2, kernel=(3, 3), num_filter=3)
    x2 = mx.sym.sum(mx.sym.flatten(mx.sym.Pooling(x2, kernel=(2, 2), pool_type="max",
                                                  stride=(1, 1))), axis=1)
    x = mx.sym.Reshape(x1 + x2, shape=(-1, 1))
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(x, num_hidden=10), name="softmax")
    mod = mx.mod.Module(out, data_names=["data1", "data2"])
    mod.bind(data_shapes=[("data1", (10, 3, 16, 16)), ("data2", (10, 3, 8, 8))],
             label_shapes=[("softmax_label", (10,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.01})
    for shape1, shape2 in [((10, 3, 16, 16), (10, 3, 8, 8)), ((3, 3, 16, 16), (3, 3, 8, 8)),
                           ((20, 3, 16, 16), (20, 3, 8, 8)), ((20, 3, 24, 24), (20, 3, 8, 12)),
                           ((5, 3, 10, 14), (5, 3, 6, 4))]:
        batch = mx.io.DataBatch(data=[mx.nd.ones(shape1), mx.nd.ones(shape2)],
                                label=[mx.nd.ones((shape1[0],))])
        mod.forward(batch)
        assert mod.get_outputs()[0].shape == (shape1[0], 10)
        mod.backward()
        mod.update()
    it = mx.io.NDArrayIter({"data1": np.ones((30, 3, 12, 12), np.float32),
                            "data2": np.ones((30, 3, 8, 10), np.float32)},
                           np.ones(30, np.float32), batch_size=5)
    assert len(mod.score(it, "acc")) == 1
    mod.bind(data_shapes=[("data1", (1, 3, 12, 12)), ("data2", (1, 3, 8, 10))],
             for_training=False, force_rebind=True)
    it = mx.io.NDArrayIter({"data1": np.ones((10, 3, 12, 12), np.float32),
                            "data2": np.ones((10, 3, 8, 10), np.float32)}, batch_size=1)
    assert mod.predict(it).shape == (10, 10)


def test_any_object_with_data_is_a_batch():
    data = mx.sym.Variable("data")
    out = data * 2
    mod = mx.mod.Module(out, label_names=None)
    mod.bind(data_shapes=[("data", (1, 10))])
    mod.init_params()
    Batch = namedtuple("Batch", ["data"])
    mod.forward(Batch([mx.nd.ones((1, 10))]))
    assert mod.get_outputs()[0].shape == (1, 10)
    mod.forward(Batch([mx.nd.ones((3, 5))]))
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), 2 * np.ones((3, 5)))
    assert mod.predict(mx.nd.ones((1, 10))).shape == (1, 10)
    assert mod.predict(np.ones((1, 10))).shape == (1, 10)


def test_forward_mode_follows_for_training():
    data = mx.sym.Variable("data")
    mod = mx.mod.Module(mx.sym.Dropout(data, p=0.5), label_names=None)
    mod.bind([("data", (4, 100))])
    mod.init_params()
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 100))]))
    out = mod.get_outputs()[0].asnumpy()
    assert set(np.unique(out)) <= {0.0, 2.0} and (out == 0).any()
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 100))]), is_train=False)
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), np.ones((4, 100)))


def _softmax_module(context=TWO_CPUS):
    data = mx.sym.Variable("data")
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(out, context=context)
    mod.bind([("data", (4, 3))], [("softmax_label", (4,))])
    mod.init_params()
    return mod


def test_presliced_batches_and_metric():
    mod = _softmax_module()
    b1 = mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.zeros((2,))])
    b2 = mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.zeros((2,))])
    mod.forward([b1, b2], is_train=False)
    acc = mx.metric.create("acc")
    mod.update_metric(acc, [b1.label, b2.label], pre_sliced=True)
    assert acc.num_inst == 4


def test_training_forward_without_labels_raises_instead_of_using_stale_labels():
    mod = _softmax_module([mx.cpu(0)])
    with pytest.raises(StateError, match="is_train=False"):
        mod.forward(mx.io.DataBatch([mx.nd.ones((4, 3))]), is_train=True)
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 3))]), is_train=False)
    assert mod.get_outputs()[0].shape == (4, 2)


def test_states_set_and_get():
    data = mx.sym.Variable("data")
    state = mx.sym.Variable("state")
    out = mx.sym.FullyConnected(data, num_hidden=2, name="fc") + state
    mod = mx.mod.Module(out, label_names=None, state_names=["state"], context=TWO_CPUS)
    mod.bind([("data", (4, 3))], for_training=False)
    mod.init_params(initializer=mx.init.Zero())
    mod.set_states(value=1)
    mod.forward(mx.io.DataBatch([mx.nd.zeros((4, 3))]))
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), np.ones((4, 2)))
    with pytest.raises(ValueError, match="merge_multi_context"):
        mod.get_states()
    states = mod.get_states(merge_multi_context=False)
    assert [s.shape for s in states[0]] == [(2, 2), (2, 2)]
    mod.set_states(states=[[mx.nd.ones((2, 2)) * 3, mx.nd.ones((2, 2)) * 5]])
    mod.forward(mx.io.DataBatch([mx.nd.zeros((4, 3))]))
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy()[:, 0], [3, 3, 5, 5])
    with pytest.raises(ValueError):
        mod.set_states(states=states, value=1)


def test_grad_req_add_accumulates_until_zero_grad():
    data = mx.sym.Variable("data")
    sym = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    mod = mx.mod.Module(sym, label_names=None, context=TWO_CPUS)
    mod.bind([("data", (4, 3))], grad_req="add")
    mod.init_params()
    for _ in range(2):
        mod.forward(mx.io.DataBatch([mx.nd.ones((4, 3))]), is_train=True)
        mod.backward([mx.nd.ones((4, 2))])
    grads = mod.get_grads(merge_multi_context=False)
    np.testing.assert_array_equal(grads[0]["fc_bias"].asnumpy(), [4.0, 4.0])   # 2 x 2 rows
    mod.zero_grad()
    np.testing.assert_array_equal(mod.get_grads()["fc_bias"].asnumpy(), [0.0, 0.0])


def test_merged_outputs_of_an_earlier_batch_keep_their_values():
    # test-cases B9: outputs merged over two devices are new arrays for each forward
    mod = mx.mod.Module(mx.sym.Variable("data") * 2, label_names=None,
                        context=[mx.cpu(0), mx.cpu(1)])
    mod.bind([("data", (4, 3))], for_training=False)
    mod.init_params()
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 3))]))
    first = mod.get_outputs()[0]
    assert mod.get_outputs()[0] is first             # no forward in between: the same arrays
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 3)) * 5]))
    second = mod.get_outputs()[0]
    np.testing.assert_array_equal(first.asnumpy(), np.full((4, 3), 2.0))
    np.testing.assert_array_equal(second.asnumpy(), np.full((4, 3), 10.0))
    pieces = mod.get_outputs(merge_multi_context=False)[0]
    assert [p.shape for p in pieces] == [(2, 3), (2, 3)]


def test_get_grads_sums_the_devices_gradients():
    # y = w*x with a 1x1 weight, loss gradient 1 per sample: dL/dw = sum of x = 1 + 3 = 4
    data = mx.sym.Variable("data")
    net = mx.sym.MakeLoss(mx.sym.FullyConnected(data, num_hidden=1, no_bias=True, name="w"))
    batch = mx.io.DataBatch([mx.nd.array([[1.0], [3.0]])])
    grads = []
    for contexts in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        mod = mx.mod.Module(net, label_names=None, context=contexts)
        mod.bind([("data", (2, 1))])
        mod.init_params(mx.init.One())
        mod.forward_backward(batch)
        grads.append(mod.get_grads()["w_weight"].asnumpy())
        if len(contexts) == 2:
            pieces = [g["w_weight"].asnumpy() for g in mod.get_grads(merge_multi_context=False)]
            assert [p.item() for p in pieces] == [1.0, 3.0]
    np.testing.assert_array_equal(grads[0], [[4.0]])
    np.testing.assert_array_equal(grads[1], [[4.0]])


@pytest.mark.parametrize("contexts", [[mx.cpu(0)], TWO_CPUS])
def test_accumulated_gradients_step_by_their_mean(contexts):
    # dL/dw = x = 1 per sample; SGD with lr 1 moves w by the mean gradient, 1, whether the
    # gradients come from one batch or are accumulated over several with grad_req='add'
    data = mx.sym.Variable("data")
    net = mx.sym.MakeLoss(mx.sym.FullyConnected(data, num_hidden=1, no_bias=True, name="w"))
    batch = mx.io.DataBatch([mx.nd.ones((2, 1))])
    for req, batches in (("write", 1), ("add", 3)):
        mod = mx.mod.Module(net, label_names=None, context=contexts)
        mod.bind([("data", (2, 1))], grad_req=req)
        mod.init_params(mx.init.Zero())
        mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 1.0})
        for _ in range(batches):
            mod.forward_backward(batch)
        mod.update()
        assert mod.get_params()[0]["w_weight"].asnumpy().item() == pytest.approx(-1.0), req
        if req == "add":   # after zero_grad() the count starts again
            mod.zero_grad()
            mod.forward_backward(batch)
            mod.update()
            assert mod.get_params()[0]["w_weight"].asnumpy().item() == pytest.approx(-2.0)


def test_metrics_reuse_the_merge_buffers_until_outputs_are_handed_out():
    mod = _softmax_module()
    batch = mx.io.DataBatch([mx.nd.ones((4, 3))], [mx.nd.zeros((4,))])
    metric = mx.metric.create("acc")
    buffers = []
    for _ in range(3):                        # what fit does: no get_outputs() call
        mod.forward(batch, is_train=True)
        mod.update_metric(metric, batch.label)
        buffers.append(mod._exec_group.plan.merged[0].raw)
    assert buffers[0] is buffers[1] is buffers[2] and metric.num_inst == 12
    kept = mod.get_outputs()[0]
    mod.forward(batch, is_train=True)
    mod.update_metric(metric, batch.label)
    assert mod._exec_group.plan.merged[0] is not kept   # the caller's arrays stay theirs
