"""Loss heads: SoftmaxOutput normalisation/ignore, regression heads, MakeLoss (MXNet numbers)."""
import numpy as np
import pytest

from gradloom.base import ShapeError
from gradloom.testing.harness import bind_op, resolve_op

LABELS = np.array([0, 1, -1, 2], dtype=np.float32)


@pytest.mark.parametrize("norm,row0", [
    ("null", [-1.3333, 0.6667, 0.6667]), ("batch", [-0.3333, 0.1667, 0.1667]),
    ("valid", [-0.4444, 0.2222, 0.2222]),
])
def test_softmax_output_normalization_and_ignore(norm, row0):
    bound = bind_op("SoftmaxOutput", {"use_ignore": True, "ignore_label": -1, "grad_scale": 2,
                                      "normalization": norm}, [(4, 3)])
    bound.forward([np.zeros((4, 3)), LABELS])
    grad, label_grad = bound.backward()
    np.testing.assert_allclose(grad[0], row0, atol=1e-4)
    np.testing.assert_array_equal(grad[2], 0)
    np.testing.assert_array_equal(label_grad, 0)


def test_softmax_output_out_of_range_labels_give_probabilities():
    bound = bind_op("SoftmaxOutput", {}, [(2, 3)])
    bound.forward([np.zeros((2, 3)), np.array([-1, 5])])
    np.testing.assert_allclose(bound.backward()[0], 1 / 3, rtol=1e-6)


def test_softmax_output_label_shapes():
    assert bind_op("SoftmaxOutput", {}, [(5, 3)]).in_shapes[1] == (5,)
    bound = bind_op("SoftmaxOutput", {"multi_output": True}, [(2, 3, 4)])
    assert bound.in_shapes[1] == (2, 4)
    bound.forward([np.zeros((2, 3, 4)), np.zeros((2, 4))])
    np.testing.assert_allclose(bound.backward()[0][0, :, 0], [-0.1667, 0.0833, 0.0833],
                               atol=1e-4)
    assert bind_op("SoftmaxOutput", {"preserve_shape": True}, [(2, 3, 4)]).in_shapes[1] == (2, 3)
    op = resolve_op("Softmax")
    with pytest.raises(ShapeError, match="label"):
        op.infer_shape(op.parse_attrs({}), [(4, 3), (5,)], [None])


def test_softmax_output_forward_stable_and_soft_labels():
    bound = bind_op("SoftmaxOutput", {"grad_scale": 0.5}, [(1, 2), (1, 2)])
    out = bound.forward([np.array([[1000, 1001]]), np.array([[0.25, 0.75]])])[0]
    np.testing.assert_allclose(out, [[0.2689, 0.7311]], atol=1e-4)
    np.testing.assert_allclose(bound.backward()[0], 0.5 * (out - [[0.25, 0.75]]), atol=1e-6)


def test_softmax_output_label_dtype_follows_data():
    op = resolve_op("SoftmaxOutput")
    ins, outs = op.infer_type(op.parse_attrs({}), ["float64", "int32"], [None])
    assert ins == ["float64", "float64"] and outs == ["float64"]


def test_softmax_output_smoothing_and_out_grad():
    bound = bind_op("SoftmaxOutput", {"smooth_alpha": 0.3, "out_grad": True}, [(1, 3)])
    bound.forward([np.zeros((1, 3)), np.array([1])])
    grad = bound.backward([np.full((1, 3), 2.0)])[0]
    np.testing.assert_allclose(grad, 2 * (1 / 3 - np.array([[0.15, 0.7, 0.15]])), rtol=1e-5)


D = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)


@pytest.mark.parametrize("op,out0,grad0", [
    ("LinearRegressionOutput", [1, 2, 3], [1 / 3, 2 / 3, 1]),
    ("LogisticRegressionOutput", [0.7311, 0.8808, 0.9526], [0.2437, 0.2936, 0.3175]),
    ("MAERegressionOutput", [1, 2, 3], [1 / 3, 1 / 3, 1 / 3]),
])
def test_regression_heads(op, out0, grad0):
    bound = bind_op(op, {}, [(2, 3)])
    assert bound.in_shapes[1] == (2, 3)
    out = bound.forward([D, np.zeros((2, 3))])[0]
    np.testing.assert_allclose(out[0], out0, atol=1e-4)
    grad, label_grad = bound.backward()
    np.testing.assert_allclose(grad[0], grad0, atol=1e-4)
    np.testing.assert_array_equal(label_grad, 0)


def test_regression_label_shapes():
    assert bind_op("LinearRegressionOutput", {}, [(2, 1)]).in_shapes[1] == (2,)
    op = resolve_op("LinearRegressionOutput")
    with pytest.raises(ShapeError, match="label"):
        op.infer_shape(op.parse_attrs({}), [(2, 3), (3, 2)], [None])
    bound = bind_op("LinearRegressionOutput", {"grad_scale": 2}, [(2, 3)])
    bound.forward([D, np.zeros((2, 3))])
    np.testing.assert_allclose(bound.backward()[0][0], [2 / 3, 4 / 3, 2], rtol=1e-6)


def test_make_loss_variants():
    bound = bind_op("make_loss", {}, [(2, 2)])
    bound.forward([D[:, :2]])
    np.testing.assert_array_equal(bound.backward([np.full((2, 2), 7.0)])[0], 1)
    bound = bind_op("MakeLoss", {"normalization": "batch", "grad_scale": 3}, [(2, 2)])
    bound.forward([np.ones((2, 2))])
    np.testing.assert_array_equal(bound.backward()[0], 1.5)
    bound = bind_op("MakeLoss", {"normalization": "valid", "valid_thresh": 0.5}, [(2, 2)])
    bound.forward([np.array([[0, 1], [1, 0]])])
    np.testing.assert_array_equal(bound.backward()[0], 0.5)


def test_softmax_output_3d_default_label_rows_follow_the_label():
    # MXNet: forward normalises over all non-batch elements; with the default (n, d1) label
    # the backward treats each label as a row over the last axis
    bound = bind_op("SoftmaxOutput", {}, [(2, 3, 4)])
    assert bound.in_shapes[1] == (2, 3)
    out = bound.forward([np.zeros((2, 3, 4)), np.zeros((2, 3))])[0]
    np.testing.assert_allclose(out, 1 / 12, rtol=1e-6)
    np.testing.assert_allclose(bound.backward()[0][0, 0], [1 / 12 - 1, 1 / 12, 1 / 12, 1 / 12],
                               rtol=1e-5)
