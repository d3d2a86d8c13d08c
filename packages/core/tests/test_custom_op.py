"""Python custom operators (``mx.operator`` + ``mx.sym.Custom``), MXNet's classic examples.

Constants marked "MXNet 1.9.1" were printed by running the same op code under mxnet 1.9.1.
"""
import json

import gradloom as mx
import numpy as np
import pytest
from gradloom.base import DTypeError, ShapeError, UnknownNameError, UnsupportedError


# -- MXNet's example custom softmax loss (example/numpy-ops/custom_softmax.py) ---------------
class Softmax(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        y = np.exp(x - x.max(axis=1).reshape((x.shape[0], 1)))
        y /= y.sum(axis=1).reshape((x.shape[0], 1))
        self.assign(out_data[0], req[0], mx.nd.array(y))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        label = in_data[1].asnumpy().ravel().astype(int)
        y = out_data[0].asnumpy()
        y[np.arange(label.shape[0]), label] -= 1.0
        self.assign(in_grad[0], req[0], mx.nd.array(y))


@mx.operator.register("test_softmax")
class SoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=False)

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return Softmax()


# -- an op with a weight argument, an auxiliary counter and string keyword arguments -------
LOG = []


class ScaledSin(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        x, w = in_data
        self.assign(out_data[0], req[0], x * w + mx.nd.sin(x))
        aux[0][:] = aux[0] + 1

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        x, w = in_data
        g = out_grad[0]
        self.assign(in_grad[0], req[0], g * (w + mx.nd.cos(x)))
        self.assign(in_grad[1], req[1], (g * x).sum(axis=0, keepdims=True))


@mx.operator.register("test_wprobe")
class ScaledSinProp(mx.operator.CustomOpProp):
    def __init__(self, scale=1.0, flag=False):
        LOG.append(("init", scale, flag))
        super().__init__(need_top_grad=True)

    def list_arguments(self):
        return ["data", "weight"]

    def list_auxiliary_states(self):
        return ["count"]

    def infer_shape(self, in_shape):
        LOG.append(("shape", in_shape))
        return [in_shape[0], [1, in_shape[0][1]]], [in_shape[0]], [[1]]

    def infer_type(self, in_type):
        LOG.append(("type", in_type))
        return [in_type[0]] * 2, [in_type[0]], [in_type[0]]

    def create_operator(self, ctx, shapes, dtypes):
        LOG.append(("create", ctx, shapes, dtypes))
        return ScaledSin()


@mx.operator.register("test_bad_shape")
class BadShapeProp(mx.operator.CustomOpProp):
    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0], in_shape[0]], []   # declares one output, returns two


@mx.operator.register("test_no_forward")
class NoForwardProp(mx.operator.CustomOpProp):
    pass


def _softmax_sym():
    data, label = mx.sym.var("data"), mx.sym.var("softmax_label")
    return mx.sym.Custom(data, label, op_type="test_softmax", name="softmax")


def test_softmax_matches_mxnet_with_req_add():
    sym = _softmax_sym()
    assert sym.list_arguments() == ["data", "softmax_label"]
    assert sym.list_outputs() == ["softmax_output"]
    assert sym.infer_shape(data=(3, 4)) == ([(3, 4), (3,)], [(3, 4)], [])
    ex = sym.simple_bind(mx.cpu(), data=(3, 4), grad_req={"data": "add",
                                                          "softmax_label": "null"})
    ex.arg_dict["data"][:] = np.array([[1., 2, 3, 4], [0, -1, 0.5, 2], [3, 3, 1, 0]])
    ex.arg_dict["softmax_label"][:] = np.array([3, 0, 1])
    ex.grad_dict["data"][:] = 1
    ex.forward(is_train=True)
    ex.backward()
    # MXNet 1.9.1
    out = [[0.0320586, 0.08714432, 0.2368828, 0.6439143],
           [0.09610157, 0.03535379, 0.1584447, 0.71009994],
           [0.4576403, 0.4576403, 0.06193488, 0.02278457]]
    grad = [[1.0320586, 1.0871444, 1.2368828, 0.6439143],
            [0.09610158, 1.0353538, 1.1584446, 1.7100999],
            [1.4576403, 0.4576403, 1.0619348, 1.0227846]]
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), out, rtol=1e-6)
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy(), grad, rtol=1e-6)


def test_custom_softmax_trains_in_module_fit():
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 2.0], [0.0, -2.5]])
    y = rng.integers(0, 3, 300)
    x = (centers[y] + rng.normal(0, 0.5, (300, 2))).astype(np.float32)
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    net = mx.sym.Custom(fc, mx.sym.var("softmax_label"), op_type="test_softmax",
                        name="softmax")
    train = mx.io.NDArrayIter(x, y.astype(np.float32), batch_size=30, shuffle=True)
    mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    mod.fit(train, num_epoch=10, optimizer="sgd",
            optimizer_params={"learning_rate": 0.5}, initializer=mx.init.Xavier())
    train.reset()
    acc = dict(mod.score(train, "acc"))["accuracy"]
    assert acc > 0.9


def test_weight_aux_kwargs_match_mxnet():
    LOG.clear()
    data = mx.sym.var("data")
    sym = mx.sym.Custom(data, op_type="test_wprobe", scale=2.5, flag=True)
    name = sym.name
    assert sym.list_arguments() == ["data", f"{name}_weight"]
    assert sym.list_outputs() == [f"{name}_output"]
    assert sym.list_auxiliary_states() == [f"{name}_count"]
    # MXNet 1.9.1: keyword arguments reach the Prop as strings
    assert LOG[0] == ("init", "2.5", "True")
    node = next(n for n in json.loads(sym.tojson())["nodes"] if n["op"] == "Custom")
    assert node["attrs"] == {"flag": "True", "op_type": "test_wprobe", "scale": "2.5"}

    LOG.clear()
    weight = f"{name}_weight"
    ex = sym.simple_bind(mx.cpu(), data=(3, 4), grad_req={"data": "write", weight: "add"})
    assert ("shape", [[3, 4], []]) in LOG      # unknown inputs reach the Prop as []
    assert LOG[-1] == ("create", mx.cpu(0), [[3, 4], [1, 4], [1]], [0, 0, 0])   # MXNet 1.9.1
    ex.arg_dict["data"][:] = np.arange(12).reshape(3, 4) / 10.0
    ex.arg_dict[weight][:] = np.array([[1, 2, 3, 4]]) / 4.0
    ex.grad_dict[weight][:] = 1
    ex.forward(is_train=True)
    ex.backward(mx.nd.ones((3, 4)))
    # MXNet 1.9.1
    out = [[0.0, 0.14983343, 0.34866935, 0.59552026],
           [0.48941833, 0.72942555, 1.01464248, 1.34421766],
           [0.91735607, 1.23332691, 1.59147096, 1.99120736]]
    dx = [[1.25, 1.49500418, 1.73006654, 1.95533657],
          [1.17106104, 1.37758255, 1.57533562, 1.76484227],
          [0.94670671, 1.12160993, 1.29030228, 1.45359612]]
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy(), dx, rtol=1e-6)
    np.testing.assert_allclose(ex.grad_dict[weight].asnumpy(), [[2.2, 2.5, 2.8, 3.1]],
                               rtol=1e-6)
    np.testing.assert_allclose(ex.aux_dict[f"{name}_count"].asnumpy(), [1.0])
    ex.forward(is_train=True)
    np.testing.assert_allclose(ex.aux_dict[f"{name}_count"].asnumpy(), [2.0])


def test_views_are_made_once_per_bind():
    seen = []

    class Recorder(ScaledSin):
        def forward(self, is_train, req, in_data, out_data, aux):
            seen.append((in_data, out_data, aux))
            super().forward(is_train, req, in_data, out_data, aux)

    @mx.operator.register("test_recorder")
    class RecorderProp(ScaledSinProp):
        def create_operator(self, ctx, shapes, dtypes):
            return Recorder()

    sym = mx.sym.Custom(mx.sym.var("data"), op_type="test_recorder", name="rec")
    ex = sym.simple_bind(mx.cpu(), data=(2, 3))
    ex.forward()
    ex.forward()
    assert all(a is b for a, b in zip(seen[0], seen[1]))
    # the views write through to the executor's arrays
    assert seen[0][1][0].raw is ex.outputs[0].raw or np.shares_memory(
        seen[0][1][0].raw, ex.outputs[0].raw)


def test_json_round_trip():
    sym = mx.sym.Custom(mx.sym.var("data"), op_type="test_wprobe", scale=0.5, name="c")
    loaded = mx.sym.load_json(sym.tojson())
    assert loaded.tojson() == sym.tojson()
    assert loaded.list_arguments() == ["data", "c_weight"]
    assert loaded.list_auxiliary_states() == ["c_count"]
    args = {"data": mx.nd.array(np.ones((2, 3))), "c_weight": mx.nd.array(np.ones((1, 3)))}
    outs = []
    for s in (sym, loaded):
        ex = s.bind(mx.cpu(), dict(args), aux_states={"c_count": mx.nd.zeros((1,))})
        outs.append(ex.forward()[0].asnumpy())
    np.testing.assert_allclose(outs[0], outs[1])
    np.testing.assert_allclose(outs[0], 1 + np.sin(1.0) * np.ones((2, 3)), rtol=1e-6)


def test_infer_shape_and_type_through_prop():
    sym = mx.sym.Custom(mx.sym.var("data"), op_type="test_wprobe", name="c")
    assert sym.infer_shape(data=(5, 2)) == ([(5, 2), (1, 2)], [(5, 2)], [(1,)])
    assert sym.infer_type(data=np.float64) == ([np.float64] * 2, [np.float64], [np.float64])
    # partial inference waits for the first input instead of failing as MXNet did
    _, outs, _ = sym.infer_shape_partial()
    assert outs == [()] or outs == [None]
    ex = sym.simple_bind(mx.cpu(), data=(2, 2), type_dict={"data": np.float64})
    ex.arg_dict["data"][:] = 1
    assert ex.forward()[0].dtype == np.float64


def test_default_prop_infers_like_first_input():
    sym = mx.sym.Custom(mx.sym.var("x"), op_type="test_no_forward", name="n")
    assert sym.list_arguments() == ["x"]
    assert sym.infer_shape(x=(2, 7)) == ([(2, 7)], [(2, 7)], [])
    ex = sym.simple_bind(mx.cpu(), x=(2, 7))
    with pytest.raises(UnsupportedError, match="forward"):
        ex.forward()


def test_unknown_op_type():
    with pytest.raises(UnknownNameError, match="'nope'.*test_softmax"):
        mx.sym.Custom(mx.sym.var("data"), op_type="nope")
    text = _softmax_sym().tojson().replace("test_softmax", "not_registered")
    with pytest.raises(UnknownNameError, match="not_registered"):
        mx.sym.load_json(text)


def test_bad_infer_shape_names_the_prop():
    sym = mx.sym.Custom(mx.sym.var("data"), op_type="test_bad_shape")
    with pytest.raises(ShapeError, match="BadShapeProp.*2 output"):
        sym.infer_shape(data=(2, 3))


def test_bad_kwarg_and_dtype_errors():
    with pytest.raises(mx.base.AttributeValueError, match="SoftmaxProp"):
        mx.sym.Custom(mx.sym.var("data"), op_type="test_softmax", bogus=1)

    @mx.operator.register("test_bad_type")
    class BadTypeProp(mx.operator.CustomOpProp):
        def infer_type(self, in_type):
            return in_type, [], []

    sym = mx.sym.Custom(mx.sym.var("data"), op_type="test_bad_type")
    with pytest.raises(DTypeError, match="BadTypeProp"):
        sym.infer_type(data=np.float32)


def test_assign_modes():
    op = mx.operator.CustomOp()
    dst = mx.nd.array(np.ones(3))
    op.assign(dst, "null", mx.nd.array(np.full(3, 5.0)))
    op.assign(dst, "add", mx.nd.array(np.full(3, 2.0)))
    np.testing.assert_allclose(dst.asnumpy(), 3.0)
    op.assign(dst, "write", mx.nd.array(np.full(3, 7.0)))
    np.testing.assert_allclose(dst.asnumpy(), 7.0)
    op.assign(dst, "inplace", np.full(3, 1.0))
    np.testing.assert_allclose(dst.asnumpy(), 1.0)
