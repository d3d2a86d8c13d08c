"""Structural operators: Reshape special codes, split/concat shapes, constants, casts."""
import numpy as np
import pytest

from gradloom.base import ShapeError
from gradloom.testing.harness import bind_op, infer_shapes, resolve_op


@pytest.mark.parametrize("spec,expected", [
    ((-1,), (24,)), ((0, -1), (2, 12)), ((-2,), (2, 3, 4)), ((-3, 4), (6, 4)),
    ((-4, 1, 2, -2), (1, 2, 3, 4)), ((2, -1, 0), (2, 3, 4)),
])
def test_reshape_special_codes(spec, expected):
    bound = bind_op("Reshape", {"shape": spec}, [(2, 3, 4)])
    assert bound.out_shapes == [expected]
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(bound.forward([x])[0], x.reshape(expected))
    g = np.arange(24, dtype=np.float32).reshape(expected)
    np.testing.assert_array_equal(bound.backward([g])[0], g.reshape(2, 3, 4))


def test_reshape_reverse_and_string_attrs():
    assert bind_op("Reshape", {"shape": "(-1, 0)", "reverse": "True"},
                   [(10, 5, 4)]).out_shapes == [(50, 4)]


def test_reshape_size_mismatch_is_shape_error():
    with pytest.raises(ShapeError, match="Reshape"):
        bind_op("Reshape", {"shape": (5, -1)}, [(2, 3, 4)])


def test_reshape_infers_input_batch_from_output():
    op = resolve_op("Reshape")
    attrs = op.parse_attrs({"shape": (-1, 8)})
    ins, outs = op.infer_shape(attrs, [(0, 8)], [(6, 8)])
    assert ins == [(6, 8)]


def test_slicechannel_outputs_and_gradient():
    bound = bind_op("SliceChannel", {"num_outputs": 2}, [(2, 4, 3)])
    assert bound.out_shapes == [(2, 2, 3), (2, 2, 3)]
    assert resolve_op("split").outputs(bound.attrs) == ["output0", "output1"]
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    a, b = bound.forward([x])
    np.testing.assert_array_equal(a, x[:, :2])
    np.testing.assert_array_equal(b, x[:, 2:])
    grad = bound.backward([np.ones((2, 2, 3)), 2 * np.ones((2, 2, 3))])[0]
    np.testing.assert_array_equal(grad[:, :2], 1)
    np.testing.assert_array_equal(grad[:, 2:], 2)


def test_slicechannel_squeeze_axis():
    bound = bind_op("SliceChannel", {"num_outputs": 3, "axis": 1, "squeeze_axis": 1},
                    [(2, 3, 5)])
    assert bound.out_shapes == [(2, 5)] * 3
    with pytest.raises(ShapeError):
        bind_op("SliceChannel", {"num_outputs": 2, "squeeze_axis": True}, [(2, 4, 5)])


def test_concat_shapes_both_directions():
    assert bind_op("Concat", {"num_args": 2}, [(2, 3), (2, 4)]).out_shapes == [(2, 7)]
    op = resolve_op("concat")
    attrs = op.parse_attrs({"num_args": 2, "dim": 1})
    ins, outs = infer_shapes(op, attrs, [(2, 3), (0, 0)], [(2, 7)])
    assert ins == [(2, 3), (2, 4)]


def test_expand_dims_swapaxis_transpose():
    assert bind_op("expand_dims", {"axis": 1}, [(4, 5)]).out_shapes == [(4, 1, 5)]
    assert bind_op("expand_dims", {"axis": -1}, [(4, 5)]).out_shapes == [(4, 5, 1)]
    bound = bind_op("SwapAxis", {"dim1": 0, "dim2": 2}, [(2, 3, 4)])
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(bound.forward([x])[0], x.swapaxes(0, 2))
    bound = bind_op("transpose", {"axes": (1, 2, 0)}, [(2, 3, 4)])
    np.testing.assert_array_equal(bound.forward([x])[0], x.transpose(1, 2, 0))
    g = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    np.testing.assert_array_equal(bound.backward([g])[0], g.transpose(2, 0, 1))


def test_zeros_shape_inferred_from_graph():
    op = resolve_op("_zeros")
    attrs = op.parse_attrs({"shape": "(0, 8)", "dtype": "float32"})
    ins, outs = op.infer_shape(attrs, [], [(4, 8)])
    assert outs == [(4, 8)]
    bound = bind_op("_ones", {"shape": (2, 3)}, [])
    np.testing.assert_array_equal(bound.forward()[0], np.ones((2, 3)))


def test_blockgrad_and_cast():
    bound = bind_op("BlockGrad", {}, [(3,)])
    x = np.array([1, 2, 3], dtype=np.float32)
    np.testing.assert_array_equal(bound.forward([x])[0], x)
    np.testing.assert_array_equal(bound.backward()[0], 0)
    bound = bind_op("Cast", {"dtype": "float16"}, [(3,)])
    assert bound.dtypes["out"] == ["float16"]
    out = bound.forward([np.array([1.5, 2, 3])])[0]
    assert out.dtype == np.float16
    assert bound.backward()[0].dtype == np.float32


def test_slice_axis():
    bound = bind_op("slice_axis", {"axis": 1, "begin": 1, "end": None}, [(2, 4)])
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(bound.forward([x])[0], x[:, 1:])
    np.testing.assert_array_equal(bound.backward()[0], [[0, 1, 1, 1]] * 2)


def test_flatten_partial_inference_keeps_feature_size():
    op = resolve_op("flatten")
    attrs = op.parse_attrs({})
    assert op.infer_shape(attrs, [(0, 3, 4)], [None]) == ([(0, 3, 4)], [(0, 12)])
    assert op.infer_shape(attrs, [(0, 3, 4)], [(5, 12)]) == ([(5, 3, 4)], [(5, 12)])
