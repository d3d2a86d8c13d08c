"""DataParallelExecutorGroup: slicing, sharing, flat parameter memory (inventory §5)."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError, ShapeError
from gradloom.module import DataParallelExecutorGroup
from gradloom.module.slicing import split_input_slice


def _slices(batch, work):
    return [None if s is None else (s.start, s.stop) for s in split_input_slice(batch, work)]


def test_split_follows_mxnet_and_leaves_devices_idle_instead_of_failing():
    assert _slices(10, [1, 1, 1]) == [(0, 3), (3, 6), (6, 10)]
    assert _slices(7, [1, 1]) == [(0, 4), (4, 7)]
    assert _slices(5, [1, 1]) == [(0, 2), (2, 5)]
    assert _slices(8, [1, 3]) == [(0, 2), (2, 8)]
    assert _slices(9, [2, 1]) == [(0, 6), (6, 9)]
    # MXNet raised "Too many slices" for these two
    assert _slices(3, [1, 1, 1, 1]) == [(0, 1), (1, 2), (2, 3), None]
    assert _slices(6, [1, 1, 1, 1]) == [(0, 2), (2, 4), (4, 5), (5, 6)]
    assert _slices(1, [1, 3]) == [None, (0, 1)]
    with pytest.raises(ShapeError):
        split_input_slice(0, [1, 1])


def _mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=4, name="fc1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")


def _group(shared=None, batch=6, contexts=(mx.cpu(0), mx.cpu(1))):
    sym = _mlp()
    params = [n for n in sym.list_arguments() if n not in ("data", "softmax_label")]
    return DataParallelExecutorGroup(
        sym, list(contexts), [1] * len(contexts), [mx.io.DataDesc("data", (batch, 5))],
        [mx.io.DataDesc("softmax_label", (batch,))], params, True, False, shared_group=shared)


def test_executors_share_one_flat_buffer_per_device():
    group = _group()
    store = group.params
    assert len(store.arg_groups) == 1          # one dtype -> one buffer per device
    flat = store.arg_groups[0].values[0]
    for name in group.param_names:
        view = group.execs[0].arg_dict[name].raw
        assert np.shares_memory(view, flat)
        grad = group.execs[0].grad_dict[name].raw
        assert np.shares_memory(grad, store.arg_groups[0].grads[0])
    assert not np.shares_memory(group.execs[1].arg_dict["fc1_weight"].raw, flat)


def test_shared_group_uses_the_same_parameter_and_gradient_memory():
    group1 = _group()
    group2 = _group(shared=group1, batch=4)
    assert group2.params is group1.params
    for name in group1.param_names:
        for k in range(2):
            a = group1.params.arg_views(k)[name].raw
            assert np.shares_memory(group2.plan.execs[k].arg_dict[name].raw, a)
            assert np.shares_memory(group2.plan.execs[k].grad_dict[name].raw,
                                    group1.params.grad_views(k)[name].raw)
    assert group1.grad_req == group2.grad_req
    # test-cases D3: both groups' inputs are views of the same per-device buffers
    shared1, shared2 = group1.shared_data_arrays, group2.shared_data_arrays
    assert [set(d) for d in shared1] == [{"data", "softmax_label"}] * 2
    for k in range(2):
        for name in ("data", "softmax_label"):
            assert np.shares_memory(shared1[k][name].raw, shared2[k][name].raw)
        assert np.shares_memory(group2.plan.execs[k].arg_dict["data"].raw,
                                shared1[k]["data"].raw)


def test_plain_name_shape_pairs_describe_inputs():
    sym = _mlp()
    params = [n for n in sym.list_arguments() if n not in ("data", "softmax_label")]
    group = DataParallelExecutorGroup(sym, [mx.cpu(0)], [1], [("data", (3, 5))],
                                      [("softmax_label", (3,))], params, True, False)
    assert group.data_shapes == [mx.io.DataDesc("data", (3, 5))]
    assert group.execs[0].arg_dict["data"].shape == (3, 5)


def test_grad_req_forms():
    sym = _mlp()
    params = ["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"]
    descs = [mx.io.DataDesc("data", (4, 5))]
    labels = [mx.io.DataDesc("softmax_label", (4,))]
    g = DataParallelExecutorGroup(sym, [mx.cpu()], [1], descs, labels, params, True, True,
                                  grad_req={"fc2_bias": "null"})
    assert g.grad_req["data"] == "write" and g.grad_req["fc2_bias"] == "null"
    assert g.grad_req["fc1_weight"] == "write" and g.grad_req["softmax_label"] == "null"
    g = DataParallelExecutorGroup(sym, [mx.cpu()], [1], descs, labels, params, True, False,
                                  grad_req=["null", "add", "write", "write", "write", "null"])
    assert g.grad_req["fc1_weight"] == "add"
    with pytest.raises(ParameterError, match="one of str, list, tuple, or dict"):
        DataParallelExecutorGroup(sym, [mx.cpu()], [1], descs, labels, params, True, False,
                                  grad_req=3)
    g = DataParallelExecutorGroup(sym, [mx.cpu()], [1], descs, labels, params, False, False)
    assert set(g.grad_req.values()) == {"null"} and g.grad_arrays is None


def test_plans_are_cached_per_shape_and_outputs_merge():
    group = _group()
    plan6 = group.plan
    group.reshape([mx.io.DataDesc("data", (3, 5))], [mx.io.DataDesc("softmax_label", (3,))])
    plan3 = group.plan
    assert plan3 is not plan6 and group.batch_size == 3
    group.reshape([mx.io.DataDesc("data", (6, 5))], [mx.io.DataDesc("softmax_label", (6,))])
    assert group.plan is plan6
    x = np.arange(30, dtype=np.float32).reshape(6, 5) / 30
    group.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros((6,))]), is_train=False)
    merged = group.get_outputs()[0].asnumpy()
    parts = [o.asnumpy() for o in group.get_outputs(merge_multi_context=False)[0]]
    np.testing.assert_array_equal(merged, np.concatenate(parts))
    assert group.get_output_shapes() == [("softmax_output", (6, 3))]


def test_group_parameter_access_slices_and_bookkeeping_lists():
    from gradloom.base import ShapeError
    from gradloom.module import ExtraParamError
    group = _group()
    weight = np.arange(20, dtype=np.float32).reshape(4, 5)
    group.set_params({"fc1_weight": weight}, {})
    for k in range(2):
        np.testing.assert_array_equal(group.params.arg_views(k)["fc1_weight"].asnumpy(), weight)
    before = group.params.arg_views(0)["fc2_weight"].asnumpy().copy()
    with pytest.raises(ExtraParamError, match="nope"):
        group.set_params({"fc2_weight": np.ones((3, 4)), "nope": np.ones(1)}, {})
    with pytest.raises(ShapeError, match="fc2_weight"):
        group.set_params({"fc2_weight": np.ones((4, 3))}, {})
    np.testing.assert_array_equal(group.params.arg_views(0)["fc2_weight"].asnumpy(), before)
    group.set_params({"fc2_weight": np.ones((3, 4)), "nope": np.ones(1)}, {}, allow_extra=True)
    held = mx.nd.zeros((4, 5))
    args, aux = {"fc1_weight": held}, {}
    group.get_params(args, aux)
    assert args["fc1_weight"] is held                   # filled in place, as MXNet
    np.testing.assert_array_equal(held.asnumpy(), weight)
    np.testing.assert_array_equal(args["fc2_weight"].asnumpy(), np.ones((3, 4)))
    assert group.decide_slices([("data", (6, 5))]) == [slice(0, 3), slice(3, 6)]
    assert group.input_grad_arrays is None and group.state_arrays == []
    sym = _mlp()
    params = [n for n in sym.list_arguments() if n not in ("data", "softmax_label")]
    with_grads = DataParallelExecutorGroup(
        sym, [mx.cpu(0), mx.cpu(1)], [1, 1], [("data", (6, 5))], [("softmax_label", (6,))],
        params, True, True)
    assert [[a.shape for a in per] for per in with_grads.input_grad_arrays] == \
        [[(3, 5), (3, 5)]]
