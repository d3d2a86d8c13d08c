"""one_hot, argmax/argmin, pick, take, topk/sort/argsort, prod and norm.

Expected numbers marked "MXNet 1.9.1" are that version's outputs and gradients
(``simple_bind`` + ``backward`` with the output gradient ``1, 2, 3, ...`` in C order unless
stated), pasted as constants.
"""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.ops.indexing import IndexOutOfRangeError
from gradloom.testing.harness import bind_op, infer_shapes, resolve_op

T = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
A = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], dtype=np.float32)


def run(op, attrs, inputs, out_grads=None):
    """Forward and backward in float32; the output gradient defaults to 1, 2, 3, ..."""
    inputs = [np.asarray(x, dtype=np.float32) for x in inputs]
    bound = bind_op(op, attrs, [x.shape for x in inputs])
    outs = bound.forward(inputs)
    if out_grads is None:
        out_grads = [np.arange(1, o.size + 1, dtype=np.float32).reshape(o.shape)
                     for o in outs[:bound.num_visible]]
    return outs[:bound.num_visible], bound.backward(out_grads)


def shapes_of(op, attrs, in_shapes, out_shapes=None):
    op = resolve_op(op)
    return infer_shapes(op, op.parse_attrs(attrs), in_shapes, out_shapes)


# -- one_hot ----------------------------------------------------------------------------
def test_one_hot_truncates_and_ignores_out_of_range():
    outs, grads = run("one_hot", {"depth": 4, "on_value": 5, "off_value": -1},
                      [[[0, 1.7, -1], [3, 4, -2.5]]])
    # MXNet 1.9.1
    np.testing.assert_array_equal(outs[0], [
        [[5, -1, -1, -1], [-1, 5, -1, -1], [-1, -1, -1, -1]],
        [[-1, -1, -1, 5], [-1, -1, -1, -1], [-1, -1, -1, -1]]])
    np.testing.assert_array_equal(grads[0], 0)


def test_one_hot_shapes_and_dtype():
    assert shapes_of("one_hot", {"depth": 4}, [(2, 3)]) == ([(2, 3)], [(2, 3, 4)])
    # the indices' shape also follows from the output
    assert shapes_of("one_hot", {"depth": 4}, [None], [(5, 4)]) == ([(5,)], [(5, 4)])
    bound = bind_op("one_hot", {"depth": 3, "dtype": "int32"}, [(3,)])
    assert bound.dtypes == {"in": ["float32"], "out": ["int32"]}
    np.testing.assert_array_equal(bound.forward([np.array([0, 1, 2])])[0], np.eye(3))


def test_one_hot_bad_attributes():
    op = resolve_op("one_hot")
    with pytest.raises(AttributeValueError, match="required attribute 'depth'"):
        op.parse_attrs({})
    with pytest.raises(AttributeValueError, match="depth=-1 is invalid: must be a positive"):
        op.parse_attrs({"depth": -1})
    with pytest.raises(ShapeError, match="one_hot: output has shape"):
        shapes_of("one_hot", {"depth": 4}, [(2,)], [(2, 5)])


# -- argmax / argmin --------------------------------------------------------------------
def test_argmax_argmin_values_first_of_ties_zero_gradient():
    x = [[1, 3, 3], [5, 2, 5]]
    # MXNet 1.9.1: [1, 0], [[0, 1, 0]], [3]
    outs, grads = run("argmax", {"axis": 1}, [x])
    np.testing.assert_array_equal(outs[0], [1, 0])
    np.testing.assert_array_equal(grads[0], 0)
    np.testing.assert_array_equal(run("argmin", {"axis": 0, "keepdims": True}, [x])[0][0],
                                  [[0, 1, 0]])
    np.testing.assert_array_equal(run("argmax", {}, [x])[0][0], [3])   # flattened index


@pytest.mark.parametrize("attrs,shape", [
    ({}, (1,)), ({"axis": 1}, (2, 4)), ({"axis": -1, "keepdims": True}, (2, 3, 1)),
    ({"axis": "None", "keepdims": True}, (1, 1, 1)),
])
def test_argmax_shapes(attrs, shape):   # MXNet 1.9.1's inferred shapes
    assert shapes_of("argmax", attrs, [(2, 3, 4)])[1] == [shape]


def test_argmax_keeps_the_data_dtype_and_checks_axis():
    bound = bind_op("argmax", {"axis": 0}, [(3,)], in_types=["float64"])
    assert bound.dtypes["out"] == ["float64"] and bound.out_shapes == [(1,)]
    with pytest.raises(ShapeError, match="argmax: axis 3 is out of range for the 2-d input"):
        shapes_of("argmax", {"axis": 3}, [(2, 3)])


# -- pick -------------------------------------------------------------------------------
def test_pick_modes_and_gradient():
    # MXNet 1.9.1: wrap [2, 6], clip [3, 4], truncation [2, 4]
    outs, grads = run("pick", {"mode": "wrap"}, [T, [7, -1]])
    np.testing.assert_array_equal(outs[0], [2, 6])
    np.testing.assert_array_equal(grads[0], [[0, 1, 0], [0, 0, 2]])
    np.testing.assert_array_equal(grads[1], 0)
    outs, grads = run("pick", {}, [T, [7, -1]])
    np.testing.assert_array_equal(outs[0], [3, 4])
    np.testing.assert_array_equal(grads[0], [[0, 0, 1], [2, 0, 0]])
    np.testing.assert_array_equal(run("pick", {}, [T, [1.9, -0.5]])[0][0], [2, 4])
    outs, grads = run("pick", {"axis": 0, "keepdims": True}, [T, [[0, 1, 1]]])
    np.testing.assert_array_equal(outs[0], [[1, 5, 6]])
    np.testing.assert_array_equal(grads[0], [[1, 0, 0], [0, 2, 3]])


def test_pick_index_shapes():
    # MXNet 1.9.1 infers the index without the picked axis and accepts it with the axis kept
    assert shapes_of("pick", {"axis": 1, "keepdims": True}, [(2, 3, 4)]) == \
        ([(2, 3, 4), (2, 4)], [(2, 1, 4)])
    assert shapes_of("pick", {}, [(2, 3, 4), (2, 3, 1)]) == ([(2, 3, 4), (2, 3, 1)], [(2, 3)])
    with pytest.raises(ShapeError, match=r"pick: input 'index' has shape \(3, 2\) but \(2, 3\)"):
        shapes_of("pick", {}, [(2, 3, 4), (3, 2)])
    with pytest.raises(AttributeValueError, match="axis=None .* not supported"):
        shapes_of("pick", {"axis": "None"}, [(2, 3)])
    with pytest.raises(AttributeValueError, match="mode='raise' is invalid: must be one of"):
        resolve_op("pick").parse_attrs({"mode": "raise"})
    assert resolve_op("choose_element_0index") is resolve_op("pick")


# -- take -------------------------------------------------------------------------------
def test_take_modes_and_summed_gradient():
    idx = [[0, 2, 2], [-1, 7, 2]]
    # MXNet 1.9.1 (repeated indices sum their gradients)
    outs, grads = run("take", {"axis": 1}, [T, idx])
    np.testing.assert_array_equal(outs[0], [[[1, 3, 3], [1, 3, 3]], [[4, 6, 6], [4, 6, 6]]])
    np.testing.assert_array_equal(grads[0], [[5, 0, 16], [17, 0, 40]])
    np.testing.assert_array_equal(grads[1], 0)
    outs, grads = run("take", {"axis": 1, "mode": "wrap"}, [T, idx])
    np.testing.assert_array_equal(outs[0], [[[1, 3, 3], [3, 2, 3]], [[4, 6, 6], [6, 5, 6]]])
    np.testing.assert_array_equal(grads[0], [[1, 5, 15], [7, 11, 39]])
    frac = [-4, 5.7, 1.9, -0.5, -3.5]
    outs, grads = run("take", {"axis": 1, "mode": "wrap"}, [T, frac])
    np.testing.assert_array_equal(outs[0], [[3, 3, 2, 1, 1], [6, 6, 5, 4, 4]])
    np.testing.assert_array_equal(grads[0], [[9, 3, 3], [19, 8, 13]])
    outs, grads = run("take", {"axis": 1}, [T, frac])
    np.testing.assert_array_equal(outs[0], [[1, 3, 2, 1, 1], [4, 6, 5, 4, 4]])
    np.testing.assert_array_equal(grads[0], [[10, 3, 2], [25, 8, 7]])


def test_take_raise_checks_the_raw_index():
    # MXNet 1.9.1: values in [0, size-1] pass (then truncate); 2.5 and -0.2 do not
    outs, grads = run("take", {"axis": 1, "mode": "raise"}, [T, [1.9, 2.0, -0.0, 0.5]])
    np.testing.assert_array_equal(outs[0], [[2, 3, 1, 1], [5, 6, 4, 4]])
    np.testing.assert_array_equal(grads[0], [[7, 1, 2], [15, 5, 6]])
    bound = bind_op("take", {"axis": 1, "mode": "raise"}, [(2, 3), (2,)])
    for bad in (2.5, -0.2):
        with pytest.raises(IndexOutOfRangeError, match=f"index {bad:g} is outside 0..2"):
            bound.forward([T, np.array([0, bad])])
    assert issubclass(IndexOutOfRangeError, IndexError)


def test_take_shapes():
    # MXNet 1.9.1: a.shape[:axis] + indices.shape + a.shape[axis+1:]
    assert shapes_of("take", {}, [(2, 3, 4), (5, 2)])[1] == [(5, 2, 3, 4)]
    assert shapes_of("take", {"axis": -1}, [(2, 3, 4), (5, 2)])[1] == [(2, 3, 5, 2)]
    op = resolve_op("take")
    attrs = op.parse_attrs({"axis": 1})
    # partial shapes: the indexed axis need not be known; the output fixes the other axes
    assert op.infer_shape(attrs, [(2, 0, 4), (5,)], [None]) == ([(2, 0, 4), (5,)], [(2, 5, 4)])
    assert op.infer_shape(attrs, [(0, 3, 0), (5,)], [(2, 5, 4)])[0] == [(2, 3, 4), (5,)]
    with pytest.raises(ShapeError, match="take: axis 3 is out of range for the 3-d input"):
        shapes_of("take", {"axis": 3}, [(2, 3, 4), (5,)])
    bound = bind_op("take", {}, [(3, 2), (4,)], in_types=["float64", "int32"])
    assert bound.dtypes == {"in": ["float64", "int32"], "out": ["float64"]}


# -- topk / sort / argsort --------------------------------------------------------------
def test_topk_return_types():
    # MXNet 1.9.1
    outs, grads = run("topk", {"k": 2}, [A])
    np.testing.assert_array_equal(outs[0], [[4, 2], [0, 2]])
    np.testing.assert_array_equal(grads[0], 0)
    outs, grads = run("topk", {"k": 2, "ret_typ": "value"}, [A])
    np.testing.assert_array_equal(outs[0], [[5, 4], [9, 6]])
    np.testing.assert_array_equal(grads[0], [[0, 0, 2, 0, 1], [3, 0, 4, 0, 0]])
    outs, grads = run("topk", {"k": 2, "ret_typ": "mask"}, [A])
    np.testing.assert_array_equal(outs[0], [[0, 0, 1, 0, 1], [1, 0, 1, 0, 0]])
    np.testing.assert_array_equal(grads[0], 0)
    outs, grads = run("topk", {"k": 2, "ret_typ": "both", "is_ascend": True}, [A])
    np.testing.assert_array_equal(outs[0], [[1, 1], [2, 3]])
    np.testing.assert_array_equal(outs[1], [[1, 3], [1, 4]])
    np.testing.assert_array_equal(grads[0], [[0, 1, 0, 2, 0], [0, 3, 0, 0, 4]])
    outs, grads = run("topk", {"k": 3, "ret_typ": "both", "axis": "None"}, [A])
    np.testing.assert_array_equal(outs, [[9, 6, 5], [5, 7, 4]])
    np.testing.assert_array_equal(grads[0], [[0, 0, 0, 0, 3], [1, 0, 2, 0, 0]])


def test_sort_argsort_and_ties():
    # MXNet 1.9.1
    outs, grads = run("sort", {"axis": 1, "is_ascend": False}, [A])
    np.testing.assert_array_equal(outs[0], [[5, 4, 3, 1, 1], [9, 6, 5, 3, 2]])
    np.testing.assert_array_equal(grads[0], [[3, 4, 2, 5, 1], [6, 10, 7, 8, 9]])
    outs, grads = run("sort", {"axis": "None"}, [A])
    np.testing.assert_array_equal(outs[0], [1, 1, 2, 3, 3, 4, 5, 5, 6, 9])
    np.testing.assert_array_equal(grads[0], [[4, 1, 6, 2, 7], [10, 3, 9, 8, 5]])
    outs, grads = run("argsort", {}, [A])
    np.testing.assert_array_equal(outs[0], [[1, 3, 0, 2, 4], [1, 4, 3, 2, 0]])
    np.testing.assert_array_equal(grads[0], 0)
    ties = [[1, 2, 2, 1, 2]]   # equal values keep their input order, both directions
    outs, grads = run("topk", {"k": 0, "ret_typ": "both"}, [ties])
    np.testing.assert_array_equal(outs, [[[2, 2, 2, 1, 1]], [[1, 2, 4, 0, 3]]])
    np.testing.assert_array_equal(grads[0], [[4, 1, 2, 5, 3]])
    np.testing.assert_array_equal(run("argsort", {}, [ties])[0][0], [[0, 3, 1, 2, 4]])


def test_ordering_outputs_shapes_and_dtypes():
    # MXNet 1.9.1: output names, the JSON output count and the inferred shapes/dtypes
    x = mx.sym.var("x")
    with mx.name.NameManager():   # fresh counters: topk0, topk1, ...
        cases = [(mx.sym.topk(x), ["topk0_output"], 1, [(2, 3, 1)], ["float32"]),
                 (mx.sym.topk(x, ret_typ="value"), ["topk1_output0"], 2, [(2, 3, 1)],
                  ["float64"]),
                 (mx.sym.topk(x, ret_typ="both", k=2, axis=0),
                  ["topk2_output0", "topk2_output1"], 2, [(2, 3, 4), (2, 3, 4)],
                  ["float64", "float32"]),
                 (mx.sym.topk(x, ret_typ="mask", dtype="int32"), ["topk3_output"], 1,
                  [(2, 3, 4)], ["float64"]),
                 (mx.sym.topk(x, axis=None, k=3), ["topk4_output"], 1, [(3,)], ["float32"]),
                 (mx.sym.sort(x, axis=None), ["sort0_output0"], 2, [(24,)], ["float64"]),
                 (mx.sym.argsort(x, dtype="int32"), ["argsort0_output"], 1, [(2, 3, 4)],
                  ["int32"])]
    for sym, names, count, shapes, dtypes in cases:
        assert sym.list_outputs() == names
        graph = json.loads(sym.tojson())
        assert graph["node_row_ptr"][-1] - graph["node_row_ptr"][-2] == count
        assert sym.infer_shape(x=(2, 3, 4))[1] == shapes
        assert [np.dtype(t).name for t in sym.infer_type(x="float64")[1]] == dtypes
        loaded = mx.sym.load_json(sym.tojson())
        assert loaded.list_outputs() == names and loaded.tojson() == sym.tojson()


def test_ordering_bad_attributes():
    with pytest.raises(ShapeError, match="topk: k=5 exceeds the 4 elements along axis 2"):
        shapes_of("topk", {"k": 5}, [(2, 3, 4)])
    with pytest.raises(ShapeError, match="sort: axis 2 is out of range for the 2-d input"):
        shapes_of("sort", {"axis": 2}, [(2, 3)])
    with pytest.raises(AttributeValueError, match="dtype='int8' is invalid: must be one of"):
        resolve_op("topk").parse_attrs({"dtype": "int8"})
    with pytest.raises(AttributeValueError, match="ret_typ='top' is invalid"):
        resolve_op("topk").parse_attrs({"ret_typ": "top"})


# -- prod / norm ------------------------------------------------------------------------
P = [[1, -2, 3], [4, 5, -6]]


def test_prod_values_and_gradient():
    # MXNet 1.9.1
    outs, grads = run("prod", {}, [P])
    np.testing.assert_array_equal(outs[0], [720])
    np.testing.assert_array_equal(grads[0], [[720, -360, 240], [180, 144, -120]])
    outs, grads = run("prod", {"axis": 1, "exclude": True, "keepdims": True}, [P])
    np.testing.assert_array_equal(outs[0], [[4, -10, -18]])
    np.testing.assert_array_equal(grads[0], [[4, 10, -18], [1, -4, 9]])
    # no axis reduces everything even with exclude (MXNet 1.9.1: shape (1,))
    assert shapes_of("prod", {"exclude": True}, [(2, 3)])[1] == [(1,)]


def test_prod_gradient_at_zero_is_the_product_of_the_others():
    outs, grads = run("prod", {"axis": 1}, [[[1, -2, 3], [0, 5, -6]]])
    np.testing.assert_array_equal(outs[0], [-6, 0])
    # (output gradient [1, 2]) MXNet 1.9.1 gives [[-6, 3, -2], [nan, -0, 0]]: it divides the
    # product by the element; the exact gradient, 2 * 5 * -6 there, is finite
    np.testing.assert_array_equal(grads[0], [[-6, 3, -2], [-60, 0, 0]])


def test_norm_values_and_gradients():
    x = [[3, -4, 0], [1, 2, -2]]
    # MXNet 1.9.1
    outs, grads = run("norm", {}, [x])
    np.testing.assert_allclose(outs[0], [5.830952], rtol=1e-6)
    np.testing.assert_allclose(grads[0], [[0.514496, -0.685994, 0], [0.171499, 0.342997,
                                                                      -0.342997]], rtol=1e-5)
    outs, grads = run("norm", {"ord": 1}, [x])
    np.testing.assert_array_equal(outs[0], [12])
    np.testing.assert_array_equal(grads[0], [[1, -1, 0], [1, 1, -1]])
    outs, grads = run("norm", {"axis": 1}, [x])
    np.testing.assert_allclose(outs[0], [5, 3])
    np.testing.assert_allclose(grads[0], [[0.6, -0.8, 0], [0.666667, 1.333333, -1.333333]],
                               rtol=1e-5)
    outs, grads = run("norm", {"ord": 1, "axis": 0, "keepdims": True}, [x])
    np.testing.assert_array_equal(outs[0], [[4, 6, 2]])
    np.testing.assert_array_equal(grads[0], [[1, -2, 0], [1, 2, -3]])
    # no overflow of the squares (MXNet 1.9.1: 2.236068e+30)
    np.testing.assert_allclose(run("norm", {}, [[[1e30, 2e30], [3, 4]]])[0][0], [2.236068e30],
                               rtol=1e-6)


def test_norm_of_zeros_has_zero_gradient():
    outs, grads = run("norm", {"axis": 1}, [[[0, 0, 0], [1, 2, -2]]])
    np.testing.assert_allclose(outs[0], [0, 3])
    # MXNet 1.9.1 gives NaN for the zero row (0/0); 0 is a subgradient there
    np.testing.assert_allclose(grads[0], [[0, 0, 0], [0.666667, 1.333333, -1.333333]],
                               rtol=1e-5)


def test_norm_and_reduction_attribute_errors():
    with pytest.raises(AttributeValueError, match="norm supports ord=1 and ord=2 only"):
        resolve_op("norm").parse_attrs({"ord": 3})
    with pytest.raises(ShapeError, match=r"norm: axis=\(1, -1\) names an axis twice"):
        shapes_of("norm", {"axis": (1, -1)}, [(2, 3)])
    with pytest.raises(ShapeError, match=r"prod: axis=\(2,\) is out of range for a 2-d"):
        shapes_of("prod", {"axis": 2}, [(2, 3)])
    bound = bind_op("norm", {"out_dtype": "float64"}, [(2, 2)])
    assert bound.dtypes == {"in": ["float32"], "out": ["float64"]}
    assert shapes_of("norm", {"axis": (0, 2)}, [(2, 3, 4)])[1] == [(3,)]


def test_symbols_round_trip_through_json():
    x, i = mx.sym.var("x"), mx.sym.var("i")
    for sym in (mx.sym.one_hot(i, depth=3), mx.sym.pick(x, i, axis=0, mode="wrap"),
                mx.sym.take(x, i, mode="raise"), mx.sym.argmin(x, axis=1),
                mx.sym.prod(x, axis=(0,), exclude=True), mx.sym.norm(x, ord=1)):
        loaded = mx.sym.load_json(sym.tojson())
        assert loaded.list_arguments() == sym.list_arguments()
        assert loaded.list_outputs() == sym.list_outputs()
        assert loaded.tojson() == sym.tojson()
