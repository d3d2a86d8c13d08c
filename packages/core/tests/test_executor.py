"""The graph executor: numbers against numpy, grad_req, sharing, reshape, fixtures."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError, ShapeError

FIXTURES = "/work/shared/fixtures/mxnet"


@pytest.fixture(autouse=True)
def fresh_names():
    with mx.name.NameManager():
        yield


def rng():
    return np.random.default_rng(0)


def fc_tanh():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    return mx.sym.Activation(fc, act_type="tanh", name="act")


def test_forward_backward_match_numpy():
    net = fc_tanh()
    r = rng()
    x = r.standard_normal((4, 5)).astype(np.float32)
    w = r.standard_normal((3, 5)).astype(np.float32)
    b = r.standard_normal(3).astype(np.float32)
    g = r.standard_normal((4, 3)).astype(np.float32)
    ex = net.simple_bind(mx.cpu(), data=(4, 5))
    ex.copy_params_from({"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(b)})
    out = ex.forward(is_train=True, data=x)
    y = np.tanh(x @ w.T + b)
    np.testing.assert_allclose(out[0].asnumpy(), y, rtol=1e-5, atol=1e-6)
    assert ex.outputs[0] is out[0] and ex.output_dict["act_output"] is out[0]
    ex.backward([mx.nd.array(g)])
    dz = g * (1 - y ** 2)
    np.testing.assert_allclose(ex.grad_dict["fc_weight"].asnumpy(), dz.T @ x, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(ex.grad_dict["fc_bias"].asnumpy(), dz.sum(0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy(), dz @ w, rtol=1e-4, atol=1e-5)
    # default head gradient is ones, also after explicit out_grads were given
    ex.backward()
    dz1 = 1 - y ** 2
    np.testing.assert_allclose(ex.grad_dict["fc_bias"].asnumpy(), dz1.sum(0), rtol=1e-4)


def test_grad_req_write_add_null():
    net = fc_tanh()
    x = rng().standard_normal((2, 5)).astype(np.float32)
    req = {"data": "null", "fc_weight": "add", "fc_bias": "write"}
    ex = net.simple_bind(mx.cpu(), grad_req=req, data=(2, 5))
    assert ex.grad_dict["data"] is None and ex.grad_arrays[0] is None
    ex.arg_dict["fc_weight"][:] = mx.nd.array(np.full((3, 5), 0.1, np.float32))
    ex.forward(is_train=True, data=x)
    ex.backward()
    w1 = ex.grad_dict["fc_weight"].asnumpy().copy()
    b1 = ex.grad_dict["fc_bias"].asnumpy().copy()
    ex.forward(is_train=True, data=x)
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["fc_weight"].asnumpy(), 2 * w1, rtol=1e-6)
    np.testing.assert_allclose(ex.grad_dict["fc_bias"].asnumpy(), b1, rtol=1e-6)
    none = net.simple_bind(mx.cpu(), grad_req="null", data=(2, 5))
    assert none._bwd == [] and all(g is None for g in none.grad_arrays)


def test_entry_used_several_times_gets_summed_gradient():
    x = mx.sym.Variable("x")
    h = mx.sym.Activation(x, act_type="tanh", name="h")
    net = h * h + h  # h consumed three times, twice by the same node
    xs = rng().standard_normal((3, 4)).astype(np.float32)
    ex = net.simple_bind(mx.cpu(), x=(3, 4))
    ex.forward(is_train=True, x=xs)
    t = np.tanh(xs)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), t * t + t, rtol=1e-6)
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), (2 * t + 1) * (1 - t * t),
                               rtol=1e-5, atol=1e-6)
    # a variable used by two layers: its gradient is the sum of both
    w = mx.sym.Variable("w")
    d = mx.sym.Variable("d")
    a = mx.sym.FullyConnected(d, weight=w, num_hidden=2, no_bias=True, name="a")
    b = mx.sym.FullyConnected(d, weight=w, num_hidden=2, no_bias=True, name="b")
    ex = (a + b).simple_bind(mx.cpu(), d=(3, 4))
    ds = rng().standard_normal((3, 4)).astype(np.float32)
    ex.forward(is_train=True, d=ds)
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["w"].asnumpy(), 2 * np.ones((2, 3)) @ ds,
                               rtol=1e-5)


def test_given_arrays_are_used_in_place():
    net = fc_tanh()
    flat = np.zeros(3 * 5 + 3, np.float32)
    gflat = np.zeros_like(flat)
    w, b = flat[:15].reshape(3, 5), flat[15:]
    gw, gb = gflat[:15].reshape(3, 5), gflat[15:]
    x = np.ones((2, 5), np.float32)
    ex = net.bind(mx.cpu(), args={"data": mx.nd.array(x), "fc_weight": mx.nd.NDArray(w),
                                  "fc_bias": mx.nd.NDArray(b)},
                  args_grad={"fc_weight": mx.nd.NDArray(gw), "fc_bias": mx.nd.NDArray(gb)})
    assert ex.grad_dict["data"] is None
    flat[:] = 0.1  # the executor sees the change: no copy was made
    ex.forward(is_train=True)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), np.tanh(np.full((2, 3), 0.6)),
                               rtol=1e-6)
    ex.backward()
    expected_gb = 2 * (1 - np.tanh(0.6) ** 2)
    np.testing.assert_allclose(gflat[15:], np.full(3, expected_gb), rtol=1e-5)
    assert np.shares_memory(ex.arg_dict["fc_weight"].raw, flat)
    with pytest.raises(ParameterError, match="fc_bias"):
        net.bind(mx.cpu(), args={"data": mx.nd.array(x), "fc_weight": mx.nd.NDArray(w)})


def test_loss_head_ignores_out_grads_and_labels_get_no_gradient():
    data = mx.sym.Variable("data")
    net = mx.sym.LinearRegressionOutput(data, name="lro")
    ex = net.simple_bind(mx.cpu(), data=(2, 3))
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    ex.forward(is_train=True, data=x, lro_label=np.zeros((2, 3)))
    ex.backward([mx.nd.array(np.full((2, 3), 7.0, np.float32))])
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy(), x / 3, rtol=1e-6)


def test_batchnorm_aux_updates_in_training_forward_only():
    data = mx.sym.Variable("data")
    net = mx.sym.BatchNorm(data, fix_gamma=False, momentum=0.9, eps=1e-3, name="bn")
    ex = net.simple_bind(mx.cpu(), data=(4, 2))
    ex.arg_dict["bn_gamma"][:] = 1
    ex.aux_dict["bn_moving_var"][:] = 1
    x = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32)
    ex.forward(is_train=False, data=x)
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"].asnumpy(), [0, 0])
    ex.forward(is_train=True, data=x)
    np.testing.assert_allclose(ex.outputs[0].asnumpy()[:, 0],
                               [-1.3415, -0.4472, 0.4472, 1.3415], atol=1e-4)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_mean"].asnumpy(), [0.4, 0.5], rtol=1e-5)
    np.testing.assert_allclose(ex.aux_dict["bn_moving_var"].asnumpy(), [1.4, 1.4], rtol=1e-5)


def test_reshape_shares_parameters_and_pool():
    net = mx.sym.SoftmaxOutput(fc_tanh(), name="softmax")
    ex = net.simple_bind(mx.cpu(), data=(8, 5))
    ex.arg_dict["fc_weight"][:] = mx.nd.array(rng().standard_normal((3, 5)).astype(np.float32))
    small = ex.reshape(data=(4, 5), softmax_label=(4,))
    assert small.arg_dict["fc_weight"] is ex.arg_dict["fc_weight"]
    assert small.grad_dict["fc_weight"] is ex.grad_dict["fc_weight"]
    assert np.shares_memory(small.arg_dict["data"].raw, ex.arg_dict["data"].raw)
    assert small._pool is ex._pool and small.pool_nbytes() == ex.pool_nbytes()
    x = rng().standard_normal((8, 5)).astype(np.float32)
    small.forward(data=x[:4])
    ex.forward(data=x)
    np.testing.assert_allclose(small.outputs[0].asnumpy(), ex.outputs[0].asnumpy()[:4],
                               rtol=1e-6)
    with pytest.raises(ShapeError, match="allow_up_sizing"):
        ex.reshape(data=(16, 5), softmax_label=(16,))
    with pytest.raises(ShapeError, match="partial_shaping"):
        ex.reshape(allow_up_sizing=True, data=(16, 5))
    big = ex.reshape(allow_up_sizing=True, data=(16, 5), softmax_label=(16,))
    assert big.arg_dict["data"].shape == (16, 5)
    assert big.arg_dict["fc_weight"] is ex.arg_dict["fc_weight"]


def test_shared_exec_pool_is_the_max_not_the_sum():
    net = mx.sym.SoftmaxOutput(fc_tanh(), name="softmax")
    params = ["fc_weight", "fc_bias"]
    small = net.simple_bind(mx.cpu(), data=(4, 5))
    small_alone = small.pool_nbytes()
    big = net.simple_bind(mx.cpu(), data=(64, 5), shared_exec=small, shared_arg_names=params)
    alone = net.simple_bind(mx.cpu(), data=(64, 5)).pool_nbytes()
    assert big._pool is small._pool
    assert big.pool_nbytes() == alone > small_alone
    assert big.arg_dict["fc_weight"] is small.arg_dict["fc_weight"]
    assert big.grad_dict["fc_bias"] is small.grad_dict["fc_bias"]
    # the small executor re-carves its views after the pool grew and still computes right
    w = rng().standard_normal((3, 5)).astype(np.float32)
    small.arg_dict["fc_weight"][:] = mx.nd.array(w)
    x = rng().standard_normal((64, 5)).astype(np.float32)
    big.forward(is_train=True, data=x)
    big_out = big.outputs[0].asnumpy().copy()
    small.forward(is_train=True, data=x[:4])
    np.testing.assert_allclose(small.outputs[0].asnumpy(), big_out[:4], rtol=1e-6)
    labels = np.array([0, 1, 2, 0], np.float32)
    small.forward(is_train=True, data=x[:4], softmax_label=labels)
    small.backward()
    prob = big_out[:4].copy()
    prob[np.arange(4), labels.astype(int)] -= 1
    assert np.isfinite(small.grad_dict["fc_weight"].asnumpy()).all()
    assert np.abs(small.grad_dict["fc_bias"].asnumpy()).sum() > 0


def test_shared_buffer_keeps_inputs_in_one_array():
    net = fc_tanh()
    buffer = {}
    params = ["fc_weight", "fc_bias"]
    big = net.simple_bind(mx.cpu(), data=(8, 5), shared_buffer=buffer, shared_arg_names=params)
    small = net.simple_bind(mx.cpu(), data=(2, 5), shared_buffer=buffer, shared_exec=big,
                            shared_arg_names=params)
    assert set(buffer) == {"data"}
    assert np.shares_memory(small.arg_dict["data"].raw, big.arg_dict["data"].raw)


def test_copy_params_and_errors():
    net = fc_tanh()
    ex = net.simple_bind(mx.cpu(), data=(2, 5))
    ex.copy_params_from({"fc_bias": np.array([1, 2, 3], np.float64)})
    np.testing.assert_array_equal(ex.arg_dict["fc_bias"].asnumpy(), [1, 2, 3])
    assert ex.arg_dict["fc_bias"].dtype == np.float32
    with pytest.raises(ParameterError, match="extra"):
        ex.copy_params_from({"extra": np.zeros(3)})
    ex.copy_params_from({"extra": np.zeros(3)}, allow_extra_params=True)
    with pytest.raises(ShapeError, match="reshape"):
        ex.forward(data=np.zeros((3, 5)))
    with pytest.raises(ParameterError, match="nope"):
        ex.forward(nope=np.zeros((2, 5)))


def test_monitor_callback():
    net = fc_tanh()
    ex = net.simple_bind(mx.cpu(), data=(2, 5))
    seen = []
    ex.forward(data=np.ones((2, 5)))
    assert seen == []
    ex.set_monitor_callback(lambda name, arr: seen.append((name, arr.shape)))
    ex.forward(is_train=True, data=np.ones((2, 5)))
    assert seen == [("fc_output", (2, 3)), ("act_output", (2, 3))]
    seen.clear()
    ex.set_monitor_callback(lambda name, arr: seen.append(name), monitor_all=True)
    ex.forward(is_train=True, data=np.ones((2, 5)))
    assert seen == ["fc_data", "fc_weight", "fc_bias", "fc_output", "act_data", "act_output"]
    seen.clear()
    ex.backward()
    assert seen == ["act_backward_data", "fc_backward_data", "fc_backward_weight",
                    "fc_backward_bias"]


def test_dtype_float64_end_to_end():
    net = fc_tanh()
    ex = net.simple_bind(mx.cpu(), type_dict={"data": np.float64}, data=(2, 5))
    assert all(a.dtype == np.float64 for a in ex.arg_arrays)
    assert ex.outputs[0].dtype == np.float64


@pytest.mark.parametrize("name,logits", [("mlp", "fc3_output"), ("lenet_bn", "fc2_output")])
def test_mxnet_fixture_forward(name, logits):
    net = mx.sym.load(f"{FIXTURES}/{name}-symbol.json")
    params = mx.nd.load(f"{FIXTURES}/{name}-0001.params")
    io = np.load(f"{FIXTURES}/{name}-io.npz")
    both = mx.sym.Group([net.get_internals()[logits], net])
    ex = both.simple_bind(mx.cpu(), grad_req="null", data=io["data"].shape)
    ex.copy_params_from({k[4:]: v for k, v in params.items() if k.startswith("arg:")},
                        {k[4:]: v for k, v in params.items() if k.startswith("aux:")})
    ex.forward(is_train=False, data=io["data"])
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), io["logits"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ex.outputs[1].asnumpy(), io["softmax"], atol=1e-5)
    np.testing.assert_array_equal(ex.outputs[1].asnumpy().argmax(1), io["argmax"])


def test_pool_layout_never_overlaps_live_buffers():
    from gradloom.executor.plan import assign_offsets
    r = np.random.default_rng(3)
    buffers = []
    for k in range(300):
        first = int(r.integers(0, 100))
        buffers.append((k, "float32", int(r.integers(1, 500)), first,
                        first + int(r.integers(0, 20))))
    offsets, needs = assign_offsets(buffers)
    spans = {k: (offsets[k][1], offsets[k][1] + n, a, b) for k, _, n, a, b in buffers}
    for i in range(300):
        for j in range(i + 1, 300):
            o1, e1, a1, b1 = spans[i]
            o2, e2, a2, b2 = spans[j]
            if a1 <= b2 and a2 <= b1:  # alive at the same time
                assert e1 <= o2 or e2 <= o1
            assert max(e1, e2) <= needs["float32"]
    assert needs["float32"] < sum(n for _, _, n, _, _ in buffers)


def test_inference_executor_reuses_dead_buffers():
    x = mx.sym.Variable("x")
    h = x
    for i in range(6):
        h = mx.sym.Activation(h, act_type="tanh", name=f"t{i}")
    ex = h.simple_bind(mx.cpu(), grad_req="null", x=(16, 16))
    # five intermediate outputs, but only two are ever alive at once
    assert ex.pool_nbytes() == 2 * 16 * 16 * 4
    xs = rng().standard_normal((16, 16)).astype(np.float32)
    ex.forward(x=xs)
    expected = xs
    for _ in range(6):
        expected = np.tanh(expected)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), expected, rtol=1e-6)


def test_head_also_consumed_and_unused_split_output():
    x = mx.sym.Variable("x")
    h = mx.sym.Activation(x, act_type="tanh", name="h")
    net = mx.sym.Group([h, h * 2])
    xs = rng().standard_normal((2, 3)).astype(np.float32)
    ex = net.simple_bind(mx.cpu(), x=(2, 3))
    dt = 1 - np.tanh(xs) ** 2
    for _ in range(2):  # the head gradient is re-seeded every step, not accumulated
        ex.forward(is_train=True, x=xs)
        ex.backward()
        np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 3 * dt, rtol=1e-5)
    ex.backward([mx.nd.array(np.full((2, 3), 2.0, np.float32)),
                 mx.nd.array(np.ones((2, 3), np.float32))])
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 4 * dt, rtol=1e-5)
    # only one of three split outputs is used: the others contribute zero gradient
    parts = mx.sym.split(x, num_outputs=3, axis=1, name="sp")
    ex = (parts[1] * 5).simple_bind(mx.cpu(), x=(2, 3))
    ex.forward(is_train=True, x=xs)
    ex.backward()
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), [[0, 5, 0], [0, 5, 0]])


def test_dropout_hidden_mask_and_train_mode():
    x = mx.sym.Variable("x")
    net = mx.sym.Dropout(x, p=0.5, name="drop")
    ex = net.simple_bind(mx.cpu(), x=(50, 40))
    ones = np.ones((50, 40), np.float32)
    ex.forward(is_train=False, x=ones)
    np.testing.assert_array_equal(ex.outputs[0].asnumpy(), ones)
    ex.forward(is_train=True, x=ones)
    out = ex.outputs[0].asnumpy()
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.3 < (out == 0).mean() < 0.7
    ex.backward()
    np.testing.assert_array_equal(ex.grad_dict["x"].asnumpy(), out)


def test_head_listed_twice_sums_gradients():
    x = mx.sym.Variable("x")
    h = mx.sym.Activation(x, act_type="tanh", name="h")
    ex = mx.sym.Group([h, h]).simple_bind(mx.cpu(), x=(2, 2))
    xs = np.full((2, 2), 0.5, np.float32)
    ex.forward(is_train=True, x=xs)
    ex.backward()
    dt = 1 - np.tanh(0.5) ** 2
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), np.full((2, 2), 2 * dt), rtol=1e-6)
    ex.backward([np.full((2, 2), 1.0, np.float32), np.full((2, 2), 3.0, np.float32)])
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), np.full((2, 2), 4 * dt), rtol=1e-6)


@pytest.mark.parametrize("req,expected", [("write", [2, 2]), ("add", [2, 4])])
def test_bucket_executors_share_parameter_gradients(req, expected):
    # test-cases D2 at executor level: a parameter and its gradient shared by two buckets
    def sym_gen():
        with mx.name.NameManager():
            a = mx.sym.Variable("a", shape=(1,))
            return mx.sym.make_loss(mx.sym.broadcast_mul(mx.sym.Variable("data"), a))
    net = sym_gen()
    big = net.simple_bind(mx.cpu(), grad_req={"a": req}, data=(2,))
    small = sym_gen().simple_bind(mx.cpu(), grad_req={"a": req}, shared_exec=big,
                                  shared_arg_names=["a"], data=(2,))
    assert small.grad_dict["a"] is big.grad_dict["a"]
    big.arg_dict["a"][:] = 1
    seen = []
    for ex in (big, small):
        ex.forward(is_train=True, data=np.ones(2, np.float32))
        ex.backward()
        seen.append(float(ex.grad_dict["a"].asnumpy()[0]))
    assert seen == expected
