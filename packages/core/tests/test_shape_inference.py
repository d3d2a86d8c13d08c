"""Shape and dtype inference through Symbol.infer_shape / infer_type."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import DTypeError, ShapeError
from gradloom.ops import Kernel, OpDef, Param
from gradloom.ops.opdef import parse_int


@pytest.fixture(autouse=True)
def fresh_names():
    with mx.name.NameManager():
        yield


def test_mlp_shapes():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=6, name="fc")
    net = mx.sym.SoftmaxOutput(mx.sym.Activation(fc, act_type="relu"), name="softmax")
    arg, out, aux = net.infer_shape(data=(4, 5))
    assert dict(zip(net.list_arguments(), arg)) == {
        "data": (4, 5), "fc_weight": (6, 5), "fc_bias": (6,), "softmax_label": (4,)}
    assert out == [(4, 6)] and aux == []
    assert net.infer_shape((4, 5)) == (arg, out, aux)


def test_conv_bn_shapes_and_aux():
    data = mx.sym.Variable("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=8,
                              name="conv")
    bn = mx.sym.BatchNorm(conv, name="bn")
    arg, out, aux = bn.infer_shape(data=(2, 3, 9, 9))
    shapes = dict(zip(bn.list_arguments(), arg))
    assert shapes["conv_weight"] == (8, 3, 3, 3) and shapes["bn_gamma"] == (8,)
    assert out == [(2, 8, 5, 5)] and aux == [(8,), (8,)]


def test_backward_inference_fills_begin_state_batch():
    # LSTM pattern: zeros((0, H)) learns its batch size through i2h + h2h
    data = mx.sym.Variable("data")
    state = mx.sym.zeros(shape=(0, 4))
    i2h = mx.sym.FullyConnected(data, num_hidden=4, name="i2h")
    h2h = mx.sym.FullyConnected(state, num_hidden=4, name="h2h")
    net = i2h + h2h
    arg, out, _ = net.infer_shape(data=(3, 7))
    assert dict(zip(net.list_arguments(), arg))["h2h_weight"] == (4, 4)
    assert out == [(3, 4)]
    zeros_out = net.get_internals()
    _, outs, _ = zeros_out.infer_shape(data=(3, 7))
    assert dict(zip(zeros_out.list_outputs(), outs))["_zeros0_output"] == (3, 4)


def test_declared_variable_shape_and_partial():
    x = mx.sym.Variable("x", shape=(0, 5))
    fc = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    with pytest.warns(UserWarning, match="x"):
        assert fc.infer_shape() == (None, None, None)
    arg, out, _ = fc.infer_shape_partial()
    assert arg == [(0, 5), (2, 5), (2,)] and out == [(0, 2)]
    assert fc.infer_shape(x=(3, 5))[1] == [(3, 2)]
    arg, out, _ = mx.sym.Activation(mx.sym.Variable("y"), act_type="relu").infer_shape_partial()
    assert arg == [()] and out == [()]


def test_shape_error_names_node_input_and_shapes():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    net = mx.sym.elemwise_add(a, b, name="add")
    with pytest.raises(ShapeError) as info:
        net.infer_shape(a=(2, 3), b=(2, 4))
    message = str(info.value)
    assert "add" in message and "(2, 3)" in message and "(2, 4)" in message
    with pytest.raises(ShapeError, match="not an input"):
        net.infer_shape(c=(2, 3))
    x = mx.sym.Variable("x", shape=(2, 3))
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(2, 3\)|\(2, 3\).*\(4, 3\)"):
        mx.sym.Activation(x, act_type="relu").infer_shape(x=(4, 3))


def test_infer_type():
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    arg, out, aux = net.infer_type(data=np.float64)
    assert arg == [np.float64] * 4 and out == [np.float64] and aux == []
    assert net.infer_type() == (None, None, None)
    v = mx.sym.Variable("v", dtype="float16")
    assert mx.sym.Activation(v, act_type="relu").infer_type()[1] == [np.float16]
    with pytest.raises(DTypeError, match="float32"):
        mx.sym.Activation(v, act_type="relu").infer_type(v="float32")


class TakeFirstRows(OpDef):
    """Test operator: output = data[:rows] (its shape needs an attribute and the input)."""

    name = "_test_take_rows"
    params = {"rows": Param(parse_int)}

    def infer_shape(self, attrs, in_shapes, out_shapes):
        data = in_shapes[0]
        if data:
            return [data], [(attrs.rows,) + tuple(data[1:])]
        out = out_shapes[0]
        return [(0,) + tuple(out[1:]) if out else None], [out]


class TakeFirstRowsKernel(Kernel):
    def forward(self, is_train, inputs, outputs, aux):
        outputs[0][...] = inputs[0][:self.attrs.rows]

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if req[0] == "write":
            in_grads[0][...] = 0
        in_grads[0][:self.attrs.rows] += out_grads[0]


TakeFirstRows.kernel = TakeFirstRowsKernel


class FakePlugin:
    import pluggy
    hookimpl = pluggy.HookimplMarker("gradloom")

    @hookimpl
    def gradloom_register_ops(self, register):
        register.add(TakeFirstRows())


@pytest.fixture
def fake_ops():
    state = mx.plugins.build_state(extra_plugins=[("fake-ops", FakePlugin())])
    previous = mx.plugins.set_state(state)
    try:
        yield state
    finally:
        mx.plugins.set_state(previous)


def test_plugin_operator_in_isolated_state(fake_ops):
    x = mx.sym.Variable("x")
    net = mx.sym._test_take_rows(x, rows=2)
    assert net.name == "_test_take_rows0"
    assert net.infer_shape(x=(5, 3))[1] == [(2, 3)]
    # backward: the output shape alone gives the trailing dims of the input
    arg, out, _ = net.infer_shape_partial()
    assert out == [()]
    ex = net.simple_bind(mx.cpu(), x=(5, 3))
    xs = np.arange(15, dtype=np.float32).reshape(5, 3)
    ex.forward(is_train=True, x=xs)
    np.testing.assert_array_equal(ex.outputs[0].asnumpy(), xs[:2])
    ex.backward(mx.nd.array(np.full((2, 3), 3.0, dtype=np.float32)))
    expected = np.zeros((5, 3), np.float32)
    expected[:2] = 3
    np.testing.assert_array_equal(ex.grad_dict["x"].asnumpy(), expected)
