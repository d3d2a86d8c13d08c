"""Elementwise, activation and reduction operators: MXNet's verified numbers."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError
from gradloom.testing.harness import bind_op, resolve_op

X = np.array([-1, 0.5], dtype=np.float32)


@pytest.mark.parametrize("act,expected", [
    ("relu", [0, 0.5]), ("sigmoid", [0.2689, 0.6225]), ("tanh", [-0.7616, 0.4621]),
    ("softrelu", [0.3133, 0.9741]), ("softsign", [-0.5, 0.3333]),
])
def test_activation_values(act, expected):
    out = bind_op("Activation", {"act_type": act}, [(2,)]).forward([X])[0]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_activation_requires_known_type():
    with pytest.raises(AttributeValueError, match="act_type"):
        resolve_op("Activation").parse_attrs({"act_type": "swish"})
    with pytest.raises(AttributeValueError, match="required"):
        resolve_op("Activation").parse_attrs({})


def test_relu_gradient_is_zero_at_zero():
    bound = bind_op("Activation", {"act_type": "relu"}, [(3,)])
    bound.forward([np.array([-1, 0, 2])])
    np.testing.assert_array_equal(bound.backward()[0], [0, 0, 1])


def test_leaky_and_prelu():
    bound = bind_op("LeakyReLU", {}, [(2,)])
    np.testing.assert_allclose(bound.forward([X])[0], [-0.25, 0.5])
    op = resolve_op("LeakyReLU")
    attrs = op.parse_attrs({"act_type": "prelu"})
    assert op.arguments(attrs) == ["data", "gamma"]
    assert op.variable_attrs(attrs, "gamma") == {"__init__": '["Constant", {"value": 0.25}]'}
    bound = bind_op("LeakyReLU", {"act_type": "prelu"}, [(2, 3)])
    assert bound.in_shapes[1] == (3,)
    x = np.array([[-1, -2, 3], [-4, 5, -6]], dtype=np.float32)
    out = bound.forward([x, np.array([0.1, 0.2, 0.3])])[0]
    np.testing.assert_allclose(out, [[-0.1, -0.4, 3], [-0.4, 5, -1.8]], rtol=1e-6)
    dx, dgamma = bound.backward()
    np.testing.assert_allclose(dgamma, [-5, -2, -6])
    np.testing.assert_allclose(dx, [[0.1, 0.2, 1], [0.1, 1, 0.3]], rtol=1e-6)


def test_elu_selu_gelu_values():
    x = np.array([-1.0, 2.0], dtype=np.float32)
    elu = bind_op("LeakyReLU", {"act_type": "elu", "slope": 1.0}, [(2,)]).forward([x])[0]
    np.testing.assert_allclose(elu, [np.expm1(-1), 2], rtol=1e-6)
    selu = bind_op("LeakyReLU", {"act_type": "selu"}, [(2,)]).forward([x])[0]
    np.testing.assert_allclose(selu, [1.0507009873554805 * 1.6732632423543772 * np.expm1(-1),
                                      1.0507009873554805 * 2], rtol=1e-6)
    gelu = bind_op("LeakyReLU", {"act_type": "gelu"}, [(2,)]).forward([x])[0]
    np.testing.assert_allclose(gelu, [-0.158808, 1.954597], atol=1e-5)


def test_softmax_stable_and_gradient():
    bound = bind_op("softmax", {}, [(1, 2)])
    np.testing.assert_allclose(bound.forward([np.array([[1000, 1001]])])[0],
                               [[0.2689, 0.7311]], atol=1e-4)
    # gradient of sum(softmax) is zero
    np.testing.assert_allclose(bound.backward()[0], 0, atol=1e-7)


def test_elemwise_and_scalar_ops():
    a = np.array([1, 2, 4], dtype=np.float32)
    b = np.array([2, 4, 8], dtype=np.float32)
    bound = bind_op("elemwise_div", {}, [(3,), (3,)])
    np.testing.assert_allclose(bound.forward([a, b])[0], [0.5, 0.5, 0.5])
    da, db = bound.backward()
    np.testing.assert_allclose(da, 1 / b)
    np.testing.assert_allclose(db, -a / b ** 2)
    assert resolve_op("_plus") is resolve_op("elemwise_add")
    out = bind_op("_rminus_scalar", {"scalar": "1"}, [(3,)]).forward([a])[0]
    np.testing.assert_allclose(out, [0, -1, -3])
    bound = bind_op("_rdiv_scalar", {"scalar": 2}, [(3,)])
    np.testing.assert_allclose(bound.forward([a])[0], [2, 1, 0.5])
    np.testing.assert_allclose(bound.backward()[0], -2 / a ** 2)


def test_broadcast_gradient_sums_over_broadcast_axes():
    bound = bind_op("broadcast_mul", {}, [(2, 3), (1, 3)])
    assert bound.out_shapes == [(2, 3)]
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([[1, 2, 3]], dtype=np.float32)
    np.testing.assert_allclose(bound.forward([a, b])[0], a * b)
    da, db = bound.backward()
    np.testing.assert_allclose(da, np.broadcast_to(b, (2, 3)))
    np.testing.assert_allclose(db, a.sum(axis=0, keepdims=True))


def test_add_n():
    bound = bind_op("add_n", {"num_args": 3}, [(2,), (2,), (2,)])
    out = bound.forward([np.ones(2), 2 * np.ones(2), 3 * np.ones(2)])[0]
    np.testing.assert_array_equal(out, [6, 6])


@pytest.mark.parametrize("op,axis,keepdims,exclude,shape", [
    ("sum", (), False, False, (1,)), ("sum", (1,), False, False, (2, 4)),
    ("mean", (0, 2), True, False, (1, 3, 1)), ("sum", (1,), False, True, (3,)),
    ("max", (2,), False, False, (2, 3)),
])
def test_reduce_shapes_and_values(op, axis, keepdims, exclude, shape):
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    bound = bind_op(op, {"axis": axis, "keepdims": keepdims, "exclude": exclude}, [(2, 3, 4)])
    assert bound.out_shapes == [shape]
    axes = tuple(axis) if axis else None
    if exclude:
        axes = tuple(i for i in range(3) if i not in axis)
    expected = getattr(np, op)(x, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(bound.forward([x])[0].reshape(np.shape(expected)), expected,
                               rtol=1e-5)


def test_rrelu_draws_slopes_in_training_and_uses_mean_in_inference():
    bound = bind_op("LeakyReLU", {"act_type": "rrelu"}, [(500,)])
    assert bound.out_shapes == [(500,), (500,)]   # hidden output: the slopes
    out, slopes = bound.forward([-np.ones(500)], is_train=True)
    assert 0.125 <= slopes.min() and slopes.max() < 0.334 and slopes.std() > 0.01
    np.testing.assert_allclose(out, -slopes)
    np.testing.assert_allclose(bound.backward()[0], slopes)
    out, _ = bound.forward([-np.ones(500)], is_train=False)
    np.testing.assert_allclose(out, -(0.125 + 0.334) / 2, rtol=1e-6)


def test_infer_shape_accepts_lists():
    op = resolve_op("elemwise_add")
    ins, outs = op.infer_shape(op.parse_attrs({}), [[0, 4], None], [[3, 4]])
    assert ins == [(3, 4), (3, 4)] and outs == [(3, 4)]


def test_rounding_operators_give_mxnets_halves():
    """MXNet 1.9.1's outputs: round takes halves away from zero, rint to the lower integer."""
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -2.7, 2.7], np.float32)
    expected = {
        "round": [-3, -2, -1, 1, 2, 3, -3, 3], "rint": [-3, -2, -1, 0, 1, 2, -3, 3],
        "fix": [-2, -1, 0, 0, 1, 2, -2, 2], "trunc": [-2, -1, 0, 0, 1, 2, -2, 2],
        "floor": [-3, -2, -1, 0, 1, 2, -3, 2], "ceil": [-2, -1, 0, 1, 2, 3, -2, 3],
        "sign": [-1, -1, -1, 1, 1, 1, -1, 1]}
    for name, values in expected.items():
        sym = getattr(mx.sym, name)(mx.sym.Variable("x"))
        out = sym.bind(mx.cpu(), {"x": mx.nd.array(x)}).forward()[0].asnumpy()
        np.testing.assert_array_equal(out, values, err_msg=name)
        if name != "sign":
            np.testing.assert_array_equal(getattr(mx.nd, name)(mx.nd.array(x)).asnumpy(),
                                          values, err_msg=f"nd.{name}")
