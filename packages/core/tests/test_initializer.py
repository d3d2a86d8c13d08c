"""Initializers: distributions, suffix dispatch, ``__init__`` attributes, Load, Mixed."""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, ParameterError, ShapeError, UnknownNameError
from gradloom.initializer import InitDesc


def _init(initializer, name, shape, attrs=None, dtype=np.float32):
    arr = mx.nd.zeros(shape, dtype=dtype) + 123.0
    initializer(InitDesc(name, attrs), arr)
    return arr.asnumpy()


def test_uniform_range_and_moments():
    mx.random.seed(1)
    a = _init(mx.init.Uniform(0.5), "fc_weight", (200, 300))
    assert a.min() >= -0.5 and a.max() <= 0.5
    assert abs(a.mean()) < 0.005
    assert a.std() == pytest.approx(0.5 / np.sqrt(3), rel=0.02)
    assert mx.init.Uniform().scale == 0.07


def test_normal_moments():
    mx.random.seed(2)
    a = _init(mx.init.Normal(0.2), "conv_weight", (100, 50, 3, 3))
    assert abs(a.mean()) < 0.003
    assert a.std() == pytest.approx(0.2, rel=0.02)


@pytest.mark.parametrize("factor_type,fan", [("avg", (64 * 9 + 32 * 9) / 2),
                                             ("in", 32 * 9), ("out", 64 * 9)])
@pytest.mark.parametrize("rnd_type", ["uniform", "gaussian"])
def test_xavier_scale(rnd_type, factor_type, fan):
    mx.random.seed(3)
    magnitude = 2.0
    a = _init(mx.init.Xavier(rnd_type, factor_type, magnitude), "c_weight", (64, 32, 3, 3))
    scale = np.sqrt(magnitude / fan)
    if rnd_type == "uniform":
        assert np.abs(a).max() <= scale
        assert a.std() == pytest.approx(scale / np.sqrt(3), rel=0.03)
    else:
        assert a.std() == pytest.approx(scale, rel=0.03)


def test_xavier_rejects_vectors_and_bad_options():
    with pytest.raises(ShapeError, match="fc_weight"):
        _init(mx.init.Xavier(), "fc_weight", (10,))
    with pytest.raises(ConfigError):
        mx.init.Xavier(rnd_type="cauchy")
    with pytest.raises(ConfigError):
        mx.init.Xavier(factor_type="sum")


def test_msraprelu_is_gaussian_xavier():
    mx.random.seed(4)
    a = _init(mx.init.MSRAPrelu(factor_type="in", slope=0.0), "w_weight", (400, 250))
    assert a.std() == pytest.approx(np.sqrt(2.0 / 250), rel=0.02)
    assert json.loads(mx.init.MSRAPrelu().dumps()) == ["msraprelu",
                                                       {"factor_type": "avg", "slope": 0.25}]


def test_orthogonal_rows_are_orthogonal():
    for rand_type in ("uniform", "normal"):
        a = _init(mx.init.Orthogonal(scale=2.0, rand_type=rand_type), "o_weight", (8, 4, 2))
        m = a.reshape(8, 8)
        np.testing.assert_allclose(m @ m.T, 4.0 * np.eye(8), atol=1e-4)
        a = _init(mx.init.Orthogonal(), "o_weight", (3, 10))
        np.testing.assert_allclose(a @ a.T, 1.414 ** 2 * np.eye(3), atol=1e-4)


def test_constant_zero_one_and_bilinear():
    np.testing.assert_array_equal(_init(mx.init.Constant(0.25), "p_weight", (2, 3)), 0.25)
    np.testing.assert_array_equal(_init(mx.init.Constant([1, 2, 3]), "p_weight", (2, 3)),
                                  [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(_init(mx.init.Zero(), "p_weight", (4,)), 0)
    np.testing.assert_array_equal(_init(mx.init.One(), "p_weight", (4,)), 1)
    k = _init(mx.init.Bilinear(), "up_weight", (1, 1, 4, 4))[0, 0]
    np.testing.assert_allclose(k[0], [0.0625, 0.1875, 0.1875, 0.0625])
    np.testing.assert_allclose(k, k.T)


def test_lstmbias_sets_forget_gate_quarter():
    # RNN cells attach it as the bias's __init__ attribute
    attrs = {"__init__": mx.init.LSTMBias(forget_bias=1.5).dumps()}
    a = _init(mx.init.Uniform(), "lstm_i2h_bias", (16,), attrs)
    np.testing.assert_array_equal(a, [0] * 4 + [1.5] * 4 + [0] * 8)
    # as a global initializer the name suffix rules, as in MXNet: a bias gets zeros
    np.testing.assert_array_equal(_init(mx.init.LSTMBias(1.5), "lstm_i2h_bias", (16,)), 0)


def test_suffix_dispatch():
    init = mx.init.Uniform(0.1)
    np.testing.assert_array_equal(_init(init, "fc_bias", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "bn_gamma", (5,)), 1)
    np.testing.assert_array_equal(_init(init, "bn_beta", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "bn_moving_mean", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "bn_moving_var", (5,)), 1)
    np.testing.assert_array_equal(_init(init, "bn_moving_inv_var", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "x_moving_avg", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "q_min", (5,)), 0)
    np.testing.assert_array_equal(_init(init, "q_max", (5,)), 1)
    w = _init(init, "fc_weight", (50, 5))
    assert np.abs(w).max() <= 0.1 and w.std() > 0.03


def test_unknown_suffix_names_the_parameter():
    with pytest.raises(ParameterError) as err:
        _init(mx.init.Xavier(), "alpha", (3,))
    msg = str(err.value)
    assert "'alpha'" in msg and "init=" in msg


def test_init_attribute_wins_over_suffix():
    attrs = {"__init__": '["constant", {"value": 0.25}]'}
    np.testing.assert_array_equal(_init(mx.init.Xavier(), "prelu_gamma", (3,), attrs), 0.25)
    attrs = {"__init__": mx.init.One().dumps()}
    np.testing.assert_array_equal(_init(mx.init.Uniform(), "free", (3,), attrs), 1)
    attrs = {"__init__": '["zero", {}]'}
    np.testing.assert_array_equal(_init(mx.init.Uniform(), "bn_moving_var", (3,), attrs), 0)
    attrs = {"__init__": mx.init.LSTMBias(2.0).dumps()}
    np.testing.assert_array_equal(_init(mx.init.Uniform(), "l_bias", (4,), attrs),
                                  [0, 2, 0, 0])


def test_plain_string_name_is_accepted():
    arr = np.full(3, 7.0)
    mx.init.Xavier()("fc_bias", arr)
    np.testing.assert_array_equal(arr, 0)


def test_create_and_dumps_round_trip():
    for name, cls in [("xavier", mx.init.Xavier), ("zero", mx.init.Zero),
                      ("zeros", mx.init.Zero), ("one", mx.init.One), ("ones", mx.init.One),
                      ("lstmbias", mx.init.LSTMBias), ("uniform", mx.init.Uniform),
                      ("normal", mx.init.Normal), ("orthogonal", mx.init.Orthogonal),
                      ("msraprelu", mx.init.MSRAPrelu), ("bilinear", mx.init.Bilinear)]:
        assert isinstance(mx.init.create(name), cls)
    assert isinstance(mx.init.create("Xavier"), mx.init.Xavier)
    c = mx.init.create("constant", value=3)
    assert mx.init.Constant(3).dumps() == '["constant", {"value": 3}]'
    assert mx.init.create(c.dumps()) == c
    x = mx.init.Xavier("gaussian", "in", 2)
    assert mx.init.create(x.dumps()) == x
    assert mx.init.create(x) is x
    with pytest.raises(UnknownNameError, match="xavier"):
        mx.init.create("glorot")


def test_register_custom_initializer_with_alias():
    @mx.init.alias("halves")
    @mx.init.register
    class Half(mx.init.Initializer):
        def _init_weight(self, _, arr):
            arr[:] = 0.5

    try:
        np.testing.assert_array_equal(_init(mx.init.create("halves"), "w_weight", (2,)), 0.5)
        attrs = {"__init__": Half().dumps()}
        np.testing.assert_array_equal(_init(mx.init.Zero(), "v", (2,), attrs), 0.5)
    finally:
        from gradloom import initializer
        del initializer._REGISTRY["half"], initializer._REGISTRY["halves"]


def test_same_seed_same_weights():
    mx.random.seed(42)
    a = _init(mx.init.Xavier(), "fc_weight", (20, 10))
    mx.random.seed(42)
    b = _init(mx.init.Xavier(), "fc_weight", (20, 10))
    c = _init(mx.init.Xavier(), "fc_weight", (20, 10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    mx.init.set_host_seed(5)
    d = _init(mx.init.Normal(), "fc_weight", (4,))
    mx.init.set_host_seed(5)
    np.testing.assert_array_equal(d, _init(mx.init.Normal(), "fc_weight", (4,)))


def test_load_from_dict_and_file(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    fname = str(tmp_path / "m-0001.params")
    mx.nd.save(fname, {"arg:fc_weight": mx.nd.array(w), "aux:bn_moving_mean": mx.nd.ones(3)})
    loader = mx.init.Load(fname, default_init=mx.init.Constant(9))
    np.testing.assert_array_equal(_init(loader, "fc_weight", (2, 3)), w)
    np.testing.assert_array_equal(_init(loader, "bn_moving_mean", (3,)), 1)
    np.testing.assert_array_equal(_init(loader, "other_weight", (2,)), 9)
    with pytest.raises(ShapeError, match="fc_weight"):
        _init(loader, "fc_weight", (3, 2))
    strict = mx.init.Load({"a": np.ones(2)})
    np.testing.assert_array_equal(_init(strict, "a", (2,)), 1)
    with pytest.raises(ParameterError, match="missing_weight"):
        _init(strict, "missing_weight", (2,))


def test_mixed_first_match_wins():
    mixed = mx.init.Mixed(["fc1_.*", "fc.*", ".*"],
                          [mx.init.Constant(1), mx.init.Constant(2), mx.init.Constant(3)])
    np.testing.assert_array_equal(_init(mixed, "fc1_weight", (2,)), 1)
    np.testing.assert_array_equal(_init(mixed, "fc2_weight", (2,)), 2)
    np.testing.assert_array_equal(_init(mixed, "fc2_bias", (2,)), 0)    # suffix rule
    np.testing.assert_array_equal(_init(mixed, "conv_weight", (2,)), 3)
    only = mx.init.Mixed(["fc.*"], [mx.init.Zero()])
    with pytest.raises(ParameterError, match="conv_weight"):
        _init(only, "conv_weight", (2,))
    with pytest.raises(ConfigError):
        mx.init.Mixed(["a", "b"], [mx.init.Zero()])


def test_float16_and_float64_targets():
    a = _init(mx.init.Uniform(0.5), "w_weight", (10, 10), dtype=np.float16)
    assert a.dtype == np.float16 and np.abs(a).max() <= 0.5
    b = _init(mx.init.Normal(1.0), "w_weight", (10, 10), dtype=np.float64)
    assert b.dtype == np.float64 and b.std() > 0.5


def test_unseeded_runs_are_reproducible_like_mxnet():
    # a fresh process draws the same initial weights every time (MXNet's fixed default seed)
    import subprocess
    import sys
    code = ("import gradloom as mx; a = mx.nd.zeros((3,)); mx.init.Uniform(1.0)("
            "mx.init.InitDesc('w_weight'), a); print(a.asnumpy().tolist())")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=120).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip() != "[0.0, 0.0, 0.0]"


def test_constant_holding_an_array_dumps_its_values():
    # test-cases G7: numpy or NDArray values dump as nested lists, and the variable that
    # carries such an initializer gets those values
    for value in (np.ones((2, 3)), mx.nd.ones((2, 3)) * 2):
        init = mx.init.Constant(value)
        expected = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)
        assert json.loads(init.dumps()) == ["constant", {"value": expected.tolist()}]
        w = mx.sym.Variable("w", init=init)
        exe = (w * 1).simple_bind(mx.cpu(), w=(2, 3))
        mx.init.Uniform()(mx.init.InitDesc("w", attrs=w.attr_dict()["w"]), exe.arg_dict["w"])
        np.testing.assert_array_equal(exe.arg_dict["w"].asnumpy(), expected)


def test_fused_rnn_fills_mxnets_packed_layout():
    """MXNet 1.9.1's FusedRNN(One(), 4 hidden, 2 layers, lstm, forget_bias=7) on its 304-value
    vector: every weight 1; biases 0 but the forget gates' (both input and hidden biases)."""
    arr = mx.nd.zeros((304,))
    init = mx.init.FusedRNN(mx.init.One(), num_hidden=4, num_layers=2, mode="lstm",
                            forget_bias=7.0)
    init(mx.init.InitDesc("lstm_parameters", {"__init__": init.dumps()}), arr)
    values = arr.asnumpy()
    np.testing.assert_array_equal(values[:240], 1)
    np.testing.assert_array_equal(values[240:].reshape(4, 16),
                                  np.tile(np.repeat([0, 7, 0, 0], 4), (4, 1)))
    # the attribute MXNet writes, read back through create()
    assert init.dumps() == ('["fusedrnn", {"init": "[\\"one\\", {}]", "num_hidden": 4, '
                            '"num_layers": 2, "mode": "lstm", "bidirectional": false, '
                            '"forget_bias": 7.0}]')
    assert mx.init.create(init.dumps()).dumps() == init.dumps()


def test_fused_rnn_gives_each_gate_its_own_weight_scale():
    hidden, inputs = 16, 8
    arr = mx.nd.zeros((3 * hidden * (inputs + hidden + 2),))        # one GRU layer
    mx.init.FusedRNN(mx.init.Xavier(), num_hidden=hidden, num_layers=1, mode="gru")(
        mx.init.InitDesc("gru_parameters"), arr)
    values = arr.asnumpy()
    i2h = values[:3 * hidden * inputs].reshape(3, hidden, inputs)
    h2h = values[3 * hidden * inputs:3 * hidden * (inputs + hidden)].reshape(3, hidden, hidden)
    for blocks, fan_in in ((i2h, inputs), (h2h, hidden)):
        bound = np.sqrt(3 / ((hidden + fan_in) / 2))   # Xavier of one (hidden, fan_in) gate
        for block in blocks:
            assert 0.7 * bound < np.abs(block).max() <= bound
    np.testing.assert_array_equal(values[3 * hidden * (inputs + hidden):], 0)   # GRU biases


def test_fused_rnn_refuses_a_vector_of_another_network_and_a_missing_initializer():
    init = mx.init.FusedRNN(None, num_hidden=4, num_layers=1, mode="lstm")
    with pytest.raises(ShapeError, match="any input size"):
        init(mx.init.InitDesc("p", global_init=mx.init.Uniform()), mx.nd.zeros((101,)))
    with pytest.raises(ConfigError, match="init_params"):
        init._init_weight(mx.init.InitDesc("p"), mx.nd.zeros((144,)))
    # None takes the module's initializer for the weights
    arr = mx.nd.zeros((144,))
    init(mx.init.InitDesc("p", global_init=mx.init.Constant(0.25)), arr)
    assert set(np.unique(arr.asnumpy())) == {0.0, 0.25, 1.0}


def test_fused_rnn_parameters_train_an_rnn_in_a_module():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 3)).astype(np.float32)          # (N, T, I)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    params = mx.sym.Variable("lstm_parameters", init=mx.init.FusedRNN(
        mx.init.Xavier(), num_hidden=8, num_layers=1, mode="lstm"))
    seq = mx.sym.RNN(mx.sym.swapaxes(mx.sym.Variable("data"), dim1=0, dim2=1),
                     parameters=params, state_size=8, num_layers=1, mode="lstm", name="lstm")
    last = mx.sym.SequenceLast(seq)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(last, num_hidden=2, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(net)
    train = mx.io.NDArrayIter(x, y, batch_size=16, shuffle=True)
    mx.random.seed(1)
    mod.fit(train, num_epoch=15, initializer=mx.init.Xavier(), optimizer="adam",
            optimizer_params={"learning_rate": 0.02})
    forget = mod.get_params()[0]["lstm_parameters"].asnumpy()[-64:].reshape(2, 32)[:, 8:16]
    assert np.abs(forget - 1).max() < 0.5            # started at forget_bias 1, then trained
    acc = dict(mod.score(mx.io.NDArrayIter(x, y, batch_size=16), "acc"))["accuracy"]
    assert acc > 0.9
