"""LayerNorm, InstanceNorm and L2Normalization: MXNet 1.9.1's numbers, graph names, shapes
and errors.

Every array constant below marked "MXNet 1.9.1" is the output of ``mxnet==1.9.1`` (float32,
``mx.nd.<op>`` under ``mx.autograd.record()`` with ``y.backward(H)``) on the inputs ``X``,
``H`` and the gamma/beta given next to it.
"""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op, resolve_op

X = np.array([[[0.5, -1.0, 2.0], [0.25, 1.5, 0.0]],
              [[-0.5, 3.0, -2.0], [1.0, 0.75, -0.25]]], dtype=np.float32)
H = np.array([[[1.0, 0.5, -1.0], [2.0, 0.25, -0.5]],
              [[0.0, 1.5, -2.0], [0.5, 1.0, 1.0]]], dtype=np.float32)


def _run(op, attrs, inputs, head=H):
    """Forward (training) and backward with ``head``; returns ``(outputs, gradients)``."""
    bound = bind_op(op, attrs, [np.shape(v) for v in inputs])
    outs = bound.forward([np.asarray(v, np.float32) for v in inputs])
    grads = bound.backward([head] + [np.zeros(s, np.float32)
                                     for s in bound.out_shapes[1:bound.num_visible]])
    return outs, grads


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6)


# -- LayerNorm ---------------------------------------------------------------------------
def test_layernorm_last_axis_matches_mxnet():
    outs, (dx, dgamma, dbeta) = _run("LayerNorm", {}, [X, [2.0, -1.0, 0.5], [0.5, 0.0, -0.25]])
    # MXNet 1.9.1: LayerNorm(X, gamma=[2, -1, .5], beta=[.5, 0, -.25]) (axis -1, eps 1e-5)
    _close(outs[0], [[[0.5, 1.2247407, 0.3623704], [-0.5159892, -1.3969852, -0.6944953]],
                     [[-0.1364451, -1.3524457, -0.7671117], [2.3516083, -0.4629021, -0.9443532]]])
    _close(dx, [[[1.3608232, -0.6804116, -0.6804116], [3.7608116, -0.6268353, -3.1339762]],
                [[0.3474267, -0.1042285, -0.2431982], [1.6752602, -2.0940833, 0.4188229]]])
    _close(dgamma, [-0.5530871, 2.2284467, -0.1005052])
    _close(dbeta, [3.5, 3.25, -2.5])
    # the mean and std are hidden outputs without output_mean_var
    assert len(outs) == 3 and bind_op("LayerNorm", {}, [(2, 3)]).num_visible == 1


def test_layernorm_axis1_eps_matches_mxnet():
    outs, (dx, dgamma, dbeta) = _run("LayerNorm", {"axis": 1, "eps": 0.01},
                                     [X, [1.5, -0.5], [0.0, 0.5]])
    # MXNet 1.9.1: LayerNorm(X, gamma=[1.5, -.5], beta=[0, .5], axis=1, eps=0.01)
    _close(outs[0], [[[1.1713032, -1.4952229, 1.4925557], [0.8904344, 0.0015924, 0.9975185]],
                     [[-1.4868419, 1.4941089, -1.490299], [0.004386, 0.9980363, 0.0032337]]])
    _close(dx, [[[3.0472932, 0.0022187, -0.0086204], [-3.0472932, -0.0022187, 0.0086204]],
                [[0.0028857, 0.0095437, -0.0182992], [-0.0028857, -0.0095437, 0.0182993]]])
    _close(dgamma, [2.7685983, -0.3219412])
    _close(dbeta, [0.0, 4.25])


def test_layernorm_mean_std_outputs_and_their_gradients_ignored_like_mxnet():
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 3.0],
                  [-2.0, 1.0, 0.75, -0.25]], dtype=np.float32)
    dy = np.arange(12, dtype=np.float32).reshape(3, 4) / 5 - 1
    bound = bind_op("LayerNorm", {"eps": 0.5, "output_mean_var": True}, [(3, 4)])
    out, mean, std = bound.forward([x, [1.0, -0.5, 2.0, 0.3], [0.1, 0.2, -0.3, 0.0]])
    # MXNet 1.9.1 (mean and std = sqrt(var + eps) keep the normalised axis as size 1)
    _close(out, [[0.1488532, 0.76181173, 2.14266, -0.04396788],
                 [0.42444283, 0.52444285, -2.2466571, 0.38933143],
                 [-1.2636364, -0.2090909, 0.97272724, -0.02727273]])
    _close(mean, [[0.4375], [1.0], [-0.125]])
    _close(std, [[1.2793431], [1.5411035], [1.375]])
    # MXNet 1.9.1 gives the same gradients whether the mean/std head gradients are 0 or 1
    dx, dgamma, dbeta = bound.backward([dy, np.ones((3, 1)), np.ones((3, 1))])
    _close(dx, [[-0.38787806, 0.26050064, -0.09827542, 0.22565281],
                [-0.16597815, -0.0833306, 0.16051385, 0.08879488],
                [-0.00564991, -0.77042824, 0.9781518, -0.20207365]])
    _close(dgamma, [-0.9319236, 1.5534441, -0.2911001, 0.4686414])
    _close(dbeta, [-0.6, 0.0, 0.6, 1.2])


def test_layernorm_symbol_names_shapes_and_json():
    data = mx.sym.Variable("data")
    ln = mx.sym.LayerNorm(data)
    assert ln.list_arguments() == ["data", "layernorm0_gamma", "layernorm0_beta"]
    assert ln.list_outputs() == ["layernorm0_output"]
    assert ln.list_auxiliary_states() == []
    assert ln.infer_shape(data=(2, 3, 4, 5)) == ([(2, 3, 4, 5), (5,), (5,)], [(2, 3, 4, 5)], [])
    # MXNet 1.9.1: three outputs in the JSON (two hidden)
    assert json.loads(ln.tojson())["node_row_ptr"] == [0, 1, 2, 3, 6]
    full = mx.sym.LayerNorm(data, axis=0, output_mean_var=True, name="ln")
    assert full.list_outputs() == ["ln_output", "ln_mean", "ln_std"]
    # MXNet 1.9.1: axis 0 of (2, 3, 4) -> gamma (2,), mean/std (1, 3, 4)
    assert full.infer_shape(data=(2, 3, 4)) == (
        [(2, 3, 4), (2,), (2,)], [(2, 3, 4), (1, 3, 4), (1, 3, 4)], [])
    for sym in (ln, full):
        loaded = mx.sym.load_json(sym.tojson())
        assert loaded.list_arguments() == sym.list_arguments()
        assert loaded.list_outputs() == sym.list_outputs()
        assert loaded.tojson() == sym.tojson()


def test_layernorm_partial_shapes_flow_both_ways():
    ln = mx.sym.LayerNorm(mx.sym.Variable("data"), name="ln")
    args, outs, _ = ln.infer_shape_partial(data=(0, 4))
    assert args == [(0, 4), (4,), (4,)] and outs == [(0, 4)]
    # gamma gives the data's normalised axis when the data leaves it open
    args, _, _ = ln.infer_shape_partial(data=(3, 0), ln_gamma=(4,))
    assert args == [(3, 4), (4,), (4,)]


def test_layernorm_shape_errors():
    data = mx.sym.Variable("data")
    with pytest.raises(ShapeError, match=r"axis=3 is out of range .*\(2, 3\).*\[-2, 1\]"):
        mx.sym.LayerNorm(data, axis=3).infer_shape(data=(2, 3))
    with pytest.raises(ShapeError, match=r"axis=-3 is out of range"):
        mx.sym.LayerNorm(data, axis=-3).infer_shape(data=(2, 3))
    with pytest.raises(ShapeError, match=r"gamma.*\(2, 3\).*\(4,\).*\(3,\)"):
        mx.sym.LayerNorm(data, name="ln").infer_shape(data=(2, 3), ln_gamma=(4,))
    with pytest.raises(ShapeError, match=r"'beta'.*\(5,\).*\(4,\)"):
        mx.sym.LayerNorm(data, name="ln").infer_shape(ln_gamma=(4,), ln_beta=(5,))


# -- InstanceNorm ------------------------------------------------------------------------
def test_instancenorm_matches_mxnet():
    outs, (dx, dgamma, dbeta) = _run("InstanceNorm", {}, [X, [1.5, -0.5], [0.25, 1.0]])
    # MXNet 1.9.1: InstanceNorm(X, gamma=[1.5, -.5], beta=[.25, 1]) (eps 1e-3)
    _close(outs[0], [[[0.25, -1.5865052, 2.0865052], [1.2537059, 0.3023091, 1.4439852]],
                     [[-0.22728, 2.27844, -1.30116], [0.5378815, 0.7689407, 1.6931777]]])
    _close(dx, [[[1.0202806, -0.5095285, -0.5107521], [-1.0496719, 0.1751168, 0.8745551]],
                [[0.4303873, -0.1288361, -0.3015512], [0.1764963, -0.2198308, 0.0433346]]])
    _close(dgamma, [2.260148, -0.6841112])
    _close(dbeta, [0.0, 4.25])
    assert len(outs) == 3   # output plus the hidden mean and variance, each (N, C)
    _close(outs[1], X.mean(axis=2))
    _close(outs[2], X.var(axis=2))


def test_instancenorm_symbol_and_shape_errors():
    data = mx.sym.Variable("data")
    inorm = mx.sym.InstanceNorm(data)
    assert inorm.list_arguments() == ["data", "instancenorm0_gamma", "instancenorm0_beta"]
    assert inorm.list_outputs() == ["instancenorm0_output"]
    assert inorm.infer_shape(data=(2, 3, 4, 5))[0] == [(2, 3, 4, 5), (3,), (3,)]
    assert json.loads(inorm.tojson())["node_row_ptr"] == [0, 1, 2, 3, 6]
    assert mx.sym.load_json(inorm.tojson()).list_arguments() == inorm.list_arguments()
    # MXNet 1.9.1 accepts 2-D data here and fails only in forward; gradloom says so at once
    with pytest.raises(ShapeError, match=r"\(2, 3\).*at least 3 dimensions"):
        inorm.infer_shape(data=(2, 3))
    with pytest.raises(ShapeError, match=r"gamma.*\(4,\).*\(3,\)"):
        mx.sym.InstanceNorm(data, name="n").infer_shape(data=(2, 3, 5), n_gamma=(4,))


# -- L2Normalization ---------------------------------------------------------------------
# MXNet 1.9.1: L2Normalization(X, mode=...) (eps 1e-10): output, then d/dX for head H
L2_MXNET = {
    "instance": (
        [[[0.1818182, -0.3636364, 0.7272727], [0.0909091, 0.5454546, 0.0]],
         [[-0.1296407, 0.7778444, -0.518563], [0.2592815, 0.1944611, -0.0648204]]],
        [[[0.3906837, 0.1277235, -0.255447], [0.7407964, 0.1720511, -0.1818182]],
         [[0.0827958, -0.1078524, -0.1873799], [-0.0359508, 0.1350878, 0.3006794]]]),
    "channel": (
        [[[0.8944272, -0.5547002, 1.0], [0.4472136, 0.8320503, 0.0]],
         [[-0.4472136, 0.9701425, -0.9922779], [0.8944272, 0.2425356, -0.1240347]]],
        [[[-1.0733124, 0.2560155, 0.0], [2.1466253, 0.170677, -0.25]],
         [[0.1788854, -0.047556, -0.0763291], [0.0894427, 0.190224, 0.6106325]]]),
    "spatial": (
        [[[0.2182179, -0.4364358, 0.8728715], [0.164399, 0.9863939, 0.0]],
         [[-0.1373606, 0.8241634, -0.5494422], [0.7844645, 0.5883484, -0.1961161]]],
        [[[0.5195664, 0.0519566, -0.1039133], [1.2529868, -0.2088311, -0.328798]],
         [[0.0881181, -0.1166269, -0.1969699], [-0.0905152, 0.422404, 0.9051514]]]),
}


@pytest.mark.parametrize("mode", sorted(L2_MXNET))
def test_l2normalization_matches_mxnet(mode):
    outs, (dx,) = _run("L2Normalization", {"mode": mode}, [X])
    expected_out, expected_dx = L2_MXNET[mode]
    _close(outs[0], expected_out)
    _close(dx, expected_dx)
    norm_shape = {"instance": (2,), "channel": (2, 3), "spatial": (2, 2)}[mode]
    assert outs[1].shape == norm_shape   # the hidden norm


def test_l2normalization_eps_inside_the_root():
    # MXNet 1.9.1: L2Normalization([[3, 4]], eps=25) -> [[0.42426407, 0.56568545]]
    outs, _ = _run("L2Normalization", {"eps": 25.0}, [[[3.0, 4.0]]], head=np.ones((1, 2)))
    _close(outs[0], [[0.42426407, 0.56568545]])


def test_l2normalization_symbol_attrs_and_errors():
    data = mx.sym.Variable("data")
    l2 = mx.sym.L2Normalization(data, mode="spatial")
    assert l2.list_arguments() == ["data"]
    assert l2.list_outputs() == ["l2normalization0_output"]
    assert json.loads(l2.tojson())["node_row_ptr"] == [0, 1, 3]
    assert mx.sym.load_json(l2.tojson()).tojson() == l2.tojson()
    assert l2.infer_shape(data=(2, 3, 4))[1] == [(2, 3, 4)]
    attrs = resolve_op("L2Normalization").parse_attrs({})
    assert (attrs.mode, attrs.eps) == ("instance", 1e-10)
    for mode in ("channel", "spatial"):
        with pytest.raises(ShapeError, match=rf"mode='{mode}'.*at least 3 dimensions.*\(2, 3\)"):
            mx.sym.L2Normalization(data, mode=mode).infer_shape(data=(2, 3))
    with pytest.raises(AttributeValueError, match="mode='foo'.*instance, channel, spatial"):
        mx.sym.L2Normalization(data, mode="foo")


def test_defaults_and_bad_attributes():
    ln = resolve_op("LayerNorm").parse_attrs({})
    assert (ln.axis, ln.eps, ln.output_mean_var) == (-1, 1e-5, False)
    assert resolve_op("InstanceNorm").parse_attrs({}).eps == 1e-3
    with pytest.raises(AttributeValueError, match="eps='x'"):
        resolve_op("LayerNorm").parse_attrs({"eps": "x"})
    with pytest.raises(AttributeValueError, match="unknown attribute 'mode'.*eps"):
        resolve_op("InstanceNorm").parse_attrs({"mode": "channel"})
    with pytest.raises(AttributeValueError, match="output_mean_var"):
        resolve_op("LayerNorm").parse_attrs({"output_mean_var": "maybe"})


# -- in a Module -------------------------------------------------------------------------
def _layernorm_net():
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    net = mx.sym.LayerNorm(net, name="ln")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=2, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


@pytest.mark.parametrize("init", [mx.init.Xavier(), mx.init.Uniform()])
def test_gamma_and_beta_initialised_like_mxnet(init):
    # MXNet 1.9.1 (Module.init_params): ln_gamma ones, ln_beta zeros, by the name rules
    net = mx.sym.InstanceNorm(mx.sym.Reshape(_layernorm_net().get_internals()["ln_output"],
                                             shape=(0, 2, 8)), name="inorm")
    mod = mx.mod.Module(net, label_names=None)
    mod.bind(data_shapes=[("data", (4, 3))])
    mod.init_params(init)
    params, _ = mod.get_params()
    for prefix, size in (("ln", 16), ("inorm", 2)):
        np.testing.assert_array_equal(params[f"{prefix}_gamma"].asnumpy(), np.ones(size))
        np.testing.assert_array_equal(params[f"{prefix}_beta"].asnumpy(), np.zeros(size))


def test_module_with_layernorm_trains():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    it = mx.io.NDArrayIter(x, y, batch_size=16)
    mod = mx.mod.Module(_layernorm_net())
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.init_params(mx.init.Xavier())
    before = dict(mod.score(it, "ce"))["cross-entropy"]
    arg_params, aux_params = mod.get_params()
    it.reset()   # score left it exhausted; fit starts where the iterator is, as in MXNet
    mod.fit(it, num_epoch=15, optimizer="sgd", arg_params=arg_params, aux_params=aux_params,
            force_init=True, optimizer_params={"learning_rate": 0.2, "momentum": 0.9})
    after = dict(mod.score(it, "ce"))["cross-entropy"]
    assert after < 0.5 * before, (before, after)
    params, _ = mod.get_params()
    assert not np.allclose(params["ln_gamma"].asnumpy(), 1)   # gamma learned too
